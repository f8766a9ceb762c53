//! The A2F service (create / checkToken / revoke) with the rules of PROTOCOL §2 and §6.3.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response;
use sistemats::xml::{Element, XmlWriter};

use crate::clock::{it_datetime, xs_datetime};
use crate::config::Mode;
use crate::mail::CodeMail;
use crate::ops::{AUT_NS, DAT_NS, Operation};
use crate::soap_http::xml_response;
use crate::state::{Sim, lock};
use crate::tokens::{Status, TokenRecord};
use crate::users::TestUser;

/// One `errore` of an A2F answer.
#[derive(Debug, Clone)]
struct Errore {
    tipo: &'static str,
    code: &'static str,
    text: String,
}

fn error(code: &'static str, text: impl Into<String>) -> Errore {
    Errore {
        tipo: "E",
        code,
        text: text.into(),
    }
}

fn warning(code: &'static str, text: impl Into<String>) -> Errore {
    Errore {
        tipo: "W",
        code,
        text: text.into(),
    }
}

/// An A2F answer, serialized like the MEF examples (`ns2:` = authservice, default = datatype).
#[derive(Debug, Default)]
struct A2fAnswer {
    errori: Vec<Errore>,
    info_token: Option<(u8, &'static str, String, String)>,
    info: Option<(&'static str, String)>,
    comunicazioni: Vec<(&'static str, String)>,
}

impl A2fAnswer {
    fn failed(e: Errore) -> Self {
        Self {
            errori: vec![e],
            ..Self::default()
        }
    }

    fn to_envelope(&self, op: Operation) -> String {
        let root = match op {
            Operation::Create => "ns2:CreateAuthRes",
            Operation::CheckToken => "ns2:CheckTokenRes",
            _ => "ns2:RevokeAuthRes",
        };
        let mut w = XmlWriter::with_capacity(1024);
        w.raw(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        w.open_with(
            "soap:Envelope",
            &[("xmlns:soap", sistemats::soap::ENVELOPE_NS)],
        );
        w.open("soap:Body");
        w.open_with(root, &[("xmlns:ns2", AUT_NS), ("xmlns", DAT_NS)]);
        let negative = !self.errori.is_empty();
        w.leaf("ns2:codEsito", if negative { "1" } else { "0" });
        if !self.errori.is_empty() {
            w.open("ns2:errori");
            for e in &self.errori {
                w.open("errore")
                    .leaf("tipoErrore", e.tipo)
                    .leaf("codEsito", e.code)
                    .leaf("descrEsito", &e.text)
                    .close("errore");
            }
            w.close("ns2:errori");
        }
        if let Some((stato, descrizione, from, until)) = &self.info_token {
            w.open("ns2:infoToken")
                .leaf("stato", &stato.to_string())
                .leaf("descrizione", descrizione)
                .leaf("dataInizioValidita", from)
                .leaf("dataFineValidita", until)
                .close("ns2:infoToken");
        }
        if let Some((key, value)) = &self.info {
            w.open("ns2:info")
                .leaf("chiave", key)
                .leaf("valore", value)
                .close("ns2:info");
        }
        if !self.comunicazioni.is_empty() {
            w.open("ns2:comunicazioni");
            for (code, message) in &self.comunicazioni {
                w.open("comunicazione")
                    .leaf("codice", code)
                    .leaf("messaggio", message)
                    .close("comunicazione");
            }
            w.close("ns2:comunicazioni");
        }
        w.close(root).close("soap:Body").close("soap:Envelope");
        w.finish()
    }
}

/// Request fields, read by (namespace, local name).
struct A2fRequest {
    user_id: Option<String>,
    tipo: Option<String>,
    valore: Option<String>,
    cf_utente: Option<String>,
    cod_regione: Option<String>,
    cod_asl: Option<String>,
    cod_ssa: Option<String>,
    token: Option<String>,
    contesto: Option<String>,
    applicazione: String,
}

fn value(element: &Element, ns: &str, name: &str) -> Option<String> {
    element
        .child_text(ns, name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl A2fRequest {
    fn read(payload: &Element) -> Self {
        let identificativo = payload.child(AUT_NS, "identificativo");
        Self {
            user_id: value(payload, AUT_NS, "userId"),
            tipo: identificativo.and_then(|i| value(i, DAT_NS, "tipo")),
            valore: identificativo.and_then(|i| value(i, DAT_NS, "valore")),
            cf_utente: value(payload, AUT_NS, "cfUtente"),
            cod_regione: value(payload, AUT_NS, "codRegione"),
            cod_asl: value(payload, AUT_NS, "codAslAo"),
            cod_ssa: value(payload, AUT_NS, "codSsa"),
            token: value(payload, AUT_NS, "token"),
            contesto: value(payload, AUT_NS, "contesto"),
            applicazione: value(payload, AUT_NS, "applicazione").unwrap_or_default(),
        }
    }
}

/// Checks common to the three operations: user id, contesto/applicazione, PIN, CF.
fn check_identity(
    sim: &Sim,
    user: &TestUser,
    req: &A2fRequest,
    op: Operation,
) -> Result<(), Errore> {
    match req.user_id.as_deref() {
        None => {
            return Err(error(
                "01",
                "Parametro di input obbligatorio non presente: userId",
            ));
        }
        Some(id) if id != user.user_id => {
            return Err(error(
                "602",
                "Utente non autorizzato: l'utente autenticato è diverso dallo userId indicato",
            ));
        }
        Some(_) => {}
    }
    let Some(contesto) = req.contesto.as_deref() else {
        return Err(error("12", "OPZIONI: il contesto non può essere nullo"));
    };
    let app_ok = req.applicazione.is_empty() || req.applicazione == user.applicazione();
    if contesto != "RICETTA-DEM" || !app_ok {
        return Err(error(
            "9998",
            "Errore di parametri: verificare la configurazione per contesto-applicazione",
        ));
    }
    // The identifier is mandatory on create and checked when present on the others.
    match (&req.tipo, &req.valore) {
        (None, _) if op == Operation::Create => {
            return Err(error("21", "Tipo identificativo non presente"));
        }
        (Some(tipo), _) if tipo != "P" => {
            return Err(error("303", "Tipo identificativo non valido per l'utente"));
        }
        (Some(_), None) => return Err(error("300", "Parametro di input obbligatorio: valore")),
        (Some(_), Some(valore)) => match sim.keys.decrypt_b64(valore) {
            None => return Err(error("700", "Errore di cifratura/decifratura")),
            Some(pin) if pin != user.pin => return Err(error("302", "Pincode non valido")),
            Some(_) => {}
        },
        (None, _) => {}
    }
    match req.cf_utente.as_deref() {
        Some(cf) if cf != user.cf => Err(error("306", format!("Codice fiscale errato. {cf}"))),
        None if op == Operation::Create => Err(error("306", "Codice fiscale errato. ")),
        _ => Ok(()),
    }
}

fn info_token(
    record: &TokenRecord,
    now: time::OffsetDateTime,
) -> (u8, &'static str, String, String) {
    let (stato, descrizione) = match record.status {
        Status::Revocato(_) => (1, "Revocato"),
        _ if record.expired(now) => (2, "Scaduto"),
        _ => (0, "Valido"),
    };
    (
        stato,
        descrizione,
        xs_datetime(record.issued),
        xs_datetime(record.expires),
    )
}

/// Handles one A2F call (the SOAP body is already schema-valid and the user authenticated).
pub async fn handle(
    sim: &Sim,
    op: Operation,
    user: &TestUser,
    payload: &Element,
    client_ip: Option<IpAddr>,
) -> Response {
    let started = Instant::now();
    let req = A2fRequest::read(payload);
    let answer = match check_identity(sim, user, &req, op) {
        Err(e) => A2fAnswer::failed(e),
        Ok(()) => match op {
            Operation::Create => create(sim, user, &req, started, client_ip).await,
            Operation::CheckToken => check_token(sim, user, &req),
            _ => revoke(sim, user, &req),
        },
    };
    xml_response(StatusCode::OK, true, answer.to_envelope(op))
}

async fn create(
    sim: &Sim,
    user: &TestUser,
    req: &A2fRequest,
    started: Instant,
    client_ip: Option<IpAddr>,
) -> A2fAnswer {
    let location_ok = req.cod_regione.as_deref() == Some(user.region.as_str())
        && req.cod_asl.as_deref() == Some(user.asl.as_str())
        && req.cod_ssa.as_deref().unwrap_or("000000") == user.ssa;
    if !location_ok {
        return A2fAnswer::failed(error(
            "307",
            "I codici regione/ASL/SSA dell'utente sono errati",
        ));
    }
    let Some(email) = user.email.as_deref() else {
        return A2fAnswer::failed(error(
            "200",
            "Nessun contatto email certificato trovato per l'invio dell'ID-SESSIONE",
        ));
    };
    let settings = sim.settings();
    let now = sim.clock.now();
    let validity = time::Duration::try_from(sim.validity()).unwrap_or(time::Duration::hours(16));
    let contesto = req.contesto.as_deref().unwrap_or("RICETTA-DEM");
    let applicazione = if req.applicazione.is_empty() {
        ""
    } else {
        user.applicazione()
    };
    let (code, record) =
        lock(&sim.tokens).create(&user.user_id, contesto, applicazione, now, validity);
    let delivered = sim
        .mailer
        .send_code(CodeMail {
            to: email,
            user_id: &user.user_id,
            applicazione: if applicazione.is_empty() {
                "(vuota)"
            } else {
                applicazione
            },
            code: &code,
            from: record.issued,
            until: record.expires,
            format: settings.code_format,
            folder: settings.mail_folder,
        })
        .await;
    if let Err(reason) = delivered {
        lock(&sim.tokens).revoke(&code, now);
        tracing::warn!(user = %user.user_id, %reason, "simulated mail delivery failed");
        return A2fAnswer::failed(error(
            "100",
            "Errore nell'invio della mail con l'ID-SESSIONE all'indirizzo di posta certificato",
        ));
    }
    sim.with_stats(|s| {
        *s.creates_by_user.entry(user.user_id.clone()).or_default() += 1;
        s.mails_sent += 1;
    });
    let mut answer = A2fAnswer {
        info: Some((
            "emailStatus",
            "Email con token inviata con successo all'indirizzo di posta certificato".into(),
        )),
        ..A2fAnswer::default()
    };
    if settings.mode == Mode::Test {
        answer.comunicazioni = vec![
            ("token", code),
            ("working-mode", "TEST".into()),
            (
                "client-ip",
                client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            ),
            (
                "execution-time-in-seconds",
                format!("{:.3}", started.elapsed().as_secs_f64()).replace('.', ","),
            ),
        ];
    }
    answer
}

/// Finds the token of a check/revoke request: 603 when it never existed, 04 when it belongs
/// to another user, contesto or applicazione.
fn find_token(
    sim: &Sim,
    user: &TestUser,
    req: &A2fRequest,
) -> Result<(String, TokenRecord), Errore> {
    let code = req.token.clone().unwrap_or_default();
    let tokens = lock(&sim.tokens);
    let record = tokens
        .get(&code)
        .ok_or_else(|| error("603", "Operazione non consentita: l'ID-SESSIONE non esiste"))?;
    let contesto = req.contesto.as_deref().unwrap_or_default();
    if record.user_id != user.user_id
        || record.contesto != contesto
        || record.applicazione != req.applicazione
    {
        return Err(error(
            "04",
            "Nessun ID-SESSIONE trovato per i parametri forniti",
        ));
    }
    Ok((code, record.clone()))
}

fn check_token(sim: &Sim, user: &TestUser, req: &A2fRequest) -> A2fAnswer {
    let (_, record) = match find_token(sim, user, req) {
        Ok(found) => found,
        Err(e) => return A2fAnswer::failed(e),
    };
    let now = sim.clock.now();
    let info = info_token(&record, now);
    let errori = match info.0 {
        1 => vec![warning(
            "06",
            "ID-SESSIONE richiesto in consultazione risulta già revocato",
        )],
        2 => vec![warning(
            "07",
            "ID-SESSIONE richiesto in consultazione risulta non più valido",
        )],
        _ => Vec::new(),
    };
    A2fAnswer {
        errori,
        info_token: Some(info),
        ..A2fAnswer::default()
    }
}

fn revoke(sim: &Sim, user: &TestUser, req: &A2fRequest) -> A2fAnswer {
    let (code, record) = match find_token(sim, user, req) {
        Ok(found) => found,
        Err(e) => return A2fAnswer::failed(e),
    };
    let now = sim.clock.now();
    let already = match record.status {
        Status::Revocato(at) => Some(at),
        _ if record.expired(now) => Some(record.expires),
        _ => None,
    };
    if let Some(at) = already {
        return A2fAnswer {
            errori: vec![warning(
                "05",
                "ID-SESSIONE da revocare risulta già revocato.",
            )],
            info: Some(("lastRevokePreviousDate", it_datetime(at))),
            ..A2fAnswer::default()
        };
    }
    lock(&sim.tokens).revoke(&code, now);
    A2fAnswer {
        info: Some((
            "revokeStatus",
            "Revoca del token eseguita correttamente".into(),
        )),
        ..A2fAnswer::default()
    }
}
