//! The A2F service (create / checkToken / revoke) with the rules of PROTOCOL §2 and §6.3.
//! Requests are read and answers written with the `sistemats::a2f` codecs.

use std::net::IpAddr;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::Response as HttpResponse;
use sistemats::a2f::{
    COMM_TOKEN, CreateRequest, Errore, INFO_EMAIL_STATUS, INFO_LAST_REVOKE, INFO_REVOKE_STATUS,
    InfoToken, Operation, Response, Severity, TokenRequest, format_revoke_date,
};
use sistemats::xml::Element;

use crate::config::Mode;
use crate::mail::CodeMail;
use crate::soap_http::{client_fault, xml_response};
use crate::state::Sim;
use crate::sync::lock;
use crate::tokens::{Status, TokenRecord};
use crate::users::TestUser;

fn error(code: &str, text: impl Into<String>) -> Errore {
    Errore::new(code, Severity::Error, text)
}

fn warning(code: &str, text: impl Into<String>) -> Errore {
    Errore::new(code, Severity::Warning, text)
}

/// The fields of an A2F request the rules look at. Empty elements read as absent, as the
/// real service treats them.
struct Fields<'a> {
    user_id: Option<&'a str>,
    tipo: Option<&'a str>,
    valore: Option<&'a str>,
    cf_utente: Option<&'a str>,
    contesto: Option<&'a str>,
    applicazione: &'a str,
    /// `codRegione`, `codAslAo`, `codSsa` (create only).
    location: [Option<&'a str>; 3],
    /// The ID-SESSIONE (checkToken and revoke only).
    token: &'a str,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A parsed A2F request.
enum Request {
    Create(CreateRequest),
    Token(TokenRequest),
}

impl Request {
    fn parse(op: Operation, payload: &Element) -> Result<Self, String> {
        let parsed = match op {
            Operation::Create => CreateRequest::from_payload(payload).map(Self::Create),
            Operation::CheckToken | Operation::Revoke => {
                TokenRequest::from_payload(payload).map(|(_, r)| Self::Token(r))
            }
        };
        parsed.map_err(|e| e.to_string())
    }

    fn fields(&self) -> Fields<'_> {
        let (user_id, identificativo, cf_utente, contesto, applicazione) = match self {
            Self::Create(r) => (
                &r.user_id,
                &r.identificativo,
                &r.cf_utente,
                &r.contesto,
                &r.applicazione,
            ),
            Self::Token(r) => (
                &r.user_id,
                &r.identificativo,
                &r.cf_utente,
                &r.contesto,
                &r.applicazione,
            ),
        };
        let (location, token) = match self {
            Self::Create(r) => (
                [
                    present(&r.cod_regione),
                    present(&r.cod_asl_ao),
                    present(&r.cod_ssa),
                ],
                "",
            ),
            Self::Token(r) => ([None; 3], r.token.expose_secret()),
        };
        Fields {
            user_id: present(user_id),
            tipo: identificativo
                .as_ref()
                .map(|i| i.kind.as_str())
                .filter(|v| !v.is_empty()),
            valore: identificativo
                .as_ref()
                .map(|i| i.value.as_str())
                .filter(|v| !v.is_empty()),
            cf_utente: present(cf_utente),
            contesto: present(contesto),
            applicazione: present(applicazione).unwrap_or_default(),
            location,
            token,
        }
    }
}

/// Checks common to the three operations: user id, contesto/applicazione, PIN, CF.
fn check_identity(
    sim: &Sim,
    user: &TestUser,
    req: &Fields<'_>,
    op: Operation,
) -> Result<(), Errore> {
    match req.user_id {
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
    let Some(contesto) = req.contesto else {
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
    match (req.tipo, req.valore) {
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
    match req.cf_utente {
        Some(cf) if cf != user.cf => Err(error("306", format!("Codice fiscale errato. {cf}"))),
        None if op == Operation::Create => Err(error("306", "Codice fiscale errato. ")),
        _ => Ok(()),
    }
}

/// Handles one A2F call (the SOAP body is already schema-valid and the user authenticated).
pub async fn handle(
    sim: &Sim,
    op: Operation,
    user: &TestUser,
    payload: &Element,
    client_ip: Option<IpAddr>,
) -> HttpResponse {
    let started = Instant::now();
    let request = match Request::parse(op, payload) {
        Ok(request) => request,
        Err(reason) => return client_fault(reason),
    };
    let req = request.fields();
    let answer = match check_identity(sim, user, &req, op) {
        Err(e) => Response::failure(e),
        Ok(()) => match op {
            Operation::Create => create(sim, user, &req, started, client_ip).await,
            Operation::CheckToken => check_token(sim, user, &req),
            Operation::Revoke => revoke(sim, user, &req),
        },
    };
    xml_response(StatusCode::OK, true, answer.to_envelope(op))
}

async fn create(
    sim: &Sim,
    user: &TestUser,
    req: &Fields<'_>,
    started: Instant,
    client_ip: Option<IpAddr>,
) -> Response {
    let [region, asl, ssa] = req.location;
    let location_ok = region == Some(user.region.as_str())
        && asl == Some(user.asl.as_str())
        && ssa.unwrap_or("000000") == user.ssa;
    if !location_ok {
        return Response::failure(error(
            "307",
            "I codici regione/ASL/SSA dell'utente sono errati",
        ));
    }
    let Some(email) = user.email.as_deref() else {
        return Response::failure(error(
            "200",
            "Nessun contatto email certificato trovato per l'invio dell'ID-SESSIONE",
        ));
    };
    let settings = sim.settings();
    let now = sim.clock.now();
    let validity = time::Duration::try_from(sim.validity()).unwrap_or(time::Duration::hours(16));
    let contesto = req.contesto.unwrap_or("RICETTA-DEM");
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
        return Response::failure(error(
            "100",
            "Errore nell'invio della mail con l'ID-SESSIONE all'indirizzo di posta certificato",
        ));
    }
    sim.with_stats(|s| {
        *s.creates_by_user.entry(user.user_id.clone()).or_default() += 1;
        s.mails_sent += 1;
    });
    let answer = Response::success().with_info(
        INFO_EMAIL_STATUS,
        "Email con token inviata con successo all'indirizzo di posta certificato",
    );
    if settings.mode != Mode::Test {
        return answer;
    }
    answer
        .with_comunicazione(COMM_TOKEN, code)
        .with_comunicazione("working-mode", "TEST")
        .with_comunicazione(
            "client-ip",
            client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        )
        .with_comunicazione(
            "execution-time-in-seconds",
            format!("{:.3}", started.elapsed().as_secs_f64()).replace('.', ","),
        )
}

/// Finds the token of a check/revoke request: 603 when it never existed, 04 when it belongs
/// to another user, contesto or applicazione.
fn find_token(sim: &Sim, user: &TestUser, req: &Fields<'_>) -> Result<TokenRecord, Errore> {
    let tokens = lock(&sim.tokens);
    let record = tokens
        .get(req.token)
        .ok_or_else(|| error("603", "Operazione non consentita: l'ID-SESSIONE non esiste"))?;
    if record.user_id != user.user_id
        || record.contesto != req.contesto.unwrap_or_default()
        || record.applicazione != req.applicazione
    {
        return Err(error(
            "04",
            "Nessun ID-SESSIONE trovato per i parametri forniti",
        ));
    }
    Ok(record.clone())
}

fn check_token(sim: &Sim, user: &TestUser, req: &Fields<'_>) -> Response {
    let record = match find_token(sim, user, req) {
        Ok(found) => found,
        Err(e) => return Response::failure(e),
    };
    let (stato, descrizione, warned) = match record.status {
        Status::Revocato(_) => (
            1,
            "Revocato",
            Some(warning(
                "06",
                "ID-SESSIONE richiesto in consultazione risulta già revocato",
            )),
        ),
        _ if record.expired(sim.clock.now()) => (
            2,
            "Scaduto",
            Some(warning(
                "07",
                "ID-SESSIONE richiesto in consultazione risulta non più valido",
            )),
        ),
        _ => (0, "Valido", None),
    };
    let answer = warned.map_or_else(Response::success, Response::failure);
    answer.with_info_token(InfoToken {
        stato,
        descrizione: descrizione.into(),
        data_inizio_validita: record.issued,
        data_fine_validita: record.expires,
    })
}

fn revoke(sim: &Sim, user: &TestUser, req: &Fields<'_>) -> Response {
    let record = match find_token(sim, user, req) {
        Ok(found) => found,
        Err(e) => return Response::failure(e),
    };
    let now = sim.clock.now();
    let already = match record.status {
        Status::Revocato(at) => Some(at),
        _ if record.expired(now) => Some(record.expires),
        _ => None,
    };
    if let Some(at) = already {
        return Response::failure(warning(
            "05",
            "ID-SESSIONE da revocare risulta già revocato.",
        ))
        .with_info(INFO_LAST_REVOKE, format_revoke_date(at));
    }
    lock(&sim.tokens).revoke(req.token, now);
    Response::success().with_info(
        INFO_REVOKE_STATUS,
        "Revoca del token eseguita correttamente",
    )
}
