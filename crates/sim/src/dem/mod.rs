//! The SAC DEM prescriber services (Invio, Visualizza, Annulla, InterrogaNreUtilizzati,
//! DichiarazioneSostituzioneMedico) with the rules of PROTOCOL §4 and §5.

pub mod receipts;
pub mod store;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use sistemats::xml::Element;

use crate::clock::{compact_datetime, dem_datetime, year_month};
use crate::config::{Enforcement, Mode};
use crate::ops::Operation;
use crate::soap_http::xml_response;
use crate::state::{Sim, lock};
use crate::users::{Role, TestUser};
use receipts::{ANNULLA, ErroreRicetta, INTERROGA, INVIO, SOSTITUZIONE, VISUALIZZA, envelope};
use store::{Prescription, STATE_CANCELLED, STATE_TO_DISPENSE};

/// Text of error 9101 (missing or invalid `Authorization2F`).
pub const TEXT_9101: &str = "id-sessione non presente o non valido. Valore atteso in http header \
     con campo Authorization2F e valore secondo il seguente formato: Bearer <id-sessione>";

/// Simulator-specific codes for conditions whose real SAC code is not public.
pub mod codes {
    /// Wrong or undecryptable `pinCode`.
    pub const PIN: &str = "1001";
    /// InterrogaNreUtilizzati without NRE and without a complete date range.
    pub const CRITERIA: &str = "1002";
    /// `codiceAss` not decryptable with the simulator's key.
    pub const CODICE_ASS: &str = "1003";
    /// The doctor fiscal codes do not match the sending user (Invio, Interroga, Dichiarazione).
    pub const CF_MEDICO: &str = "1004";
    /// `codRegione` differs from the titolare's region.
    pub const REGIONE: &str = "1005";
    /// A client-chosen NRE already in use.
    pub const NRE_USED: &str = "1006";
    /// Operation on an NRE by a doctor not associated with it (real code).
    pub const NOT_ALLOWED: &str = "1125";
    /// Cancellation of a prescription not in state 3 (real code).
    pub const BAD_STATE: &str = "1120";
    /// Unknown NRE (real code).
    pub const UNKNOWN_NRE: &str = "5005";
}

const REGIONAL_SENTENCE: &str =
    "REGIONE ABRUZZO: Frase di prova di interesse regionale da stampare nel promemoria";
const NESSUNA: &str = "Nessuna comunicazione.";

fn field(payload: &Element, name: &str) -> String {
    payload
        .child_text_local(name)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned()
}

/// Result of the checks common to all DEM calls.
struct Gate {
    warn_9101: bool,
}

/// Checks `Authorization2F` (per enforcement) and the PIN. `Err` carries the blocking errors.
fn gate(
    sim: &Sim,
    headers: &HeaderMap,
    user: &TestUser,
    pin_b64: &str,
) -> Result<Gate, Vec<ErroreRicetta>> {
    let settings = sim.settings();
    let now = sim.clock.now();
    let presented = headers
        .get("Authorization2F")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.trim()
                .strip_prefix("Bearer ")
                .or_else(|| v.trim().strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let valid = presented.is_some_and(|code| {
        let wildcard = format!("{}-{}-RICETTA-DEM", user.user_id, year_month(now));
        if settings.mode == Mode::Test
            && (code == wildcard || code == format!("{wildcard}-{}", user.applicazione()))
        {
            return user.applicazione() == "PRESCRITTORE";
        }
        lock(&sim.tokens)
            .use_on_dem(code, &user.user_id, "PRESCRITTORE", now)
            .is_ok()
    });
    let mut warn_9101 = false;
    if !valid {
        match settings.enforcement {
            Enforcement::Off => {}
            Enforcement::Warn => {
                warn_9101 = true;
                sim.with_stats(|s| s.warnings_9101 += 1);
            }
            Enforcement::Block => {
                sim.with_stats(|s| s.warnings_9101 += 1);
                return Err(vec![ErroreRicetta::blocking("9101", TEXT_9101)]);
            }
        }
    }
    if sim.keys.decrypt_b64(pin_b64).as_deref() != Some(user.pin.as_str()) {
        return Err(vec![ErroreRicetta::blocking(
            codes::PIN,
            "PinCode errato: il PIN cifrato non corrisponde a quello dell'utente inviante",
        )]);
    }
    Ok(Gate { warn_9101 })
}

fn ok_response(body: String) -> Response {
    xml_response(StatusCode::OK, true, body)
}

/// Handles one DEM call (the SOAP body is already schema-valid and the user authenticated).
pub fn handle(
    sim: &Sim,
    op: Operation,
    user: &TestUser,
    headers: &HeaderMap,
    payload: &Element,
) -> Response {
    let pin = field(payload, "pinCode");
    let gate = gate(sim, headers, user, &pin);
    let body = match op {
        Operation::InvioPrescritto => invio(sim, user, payload, gate),
        Operation::VisualizzaPrescritto => visualizza(sim, user, payload, gate),
        Operation::AnnullaPrescritto => annulla(sim, user, payload, gate),
        Operation::InterrogaNreUtilizzati => interroga(sim, user, payload, gate),
        _ => sostituzione(sim, user, payload, gate),
    };
    ok_response(body)
}

/// Operation code and error list of a positive answer, plus 9101 when warned.
fn positive(gate: &Gate, ok_tipo: Option<&'static str>) -> (&'static str, Vec<ErroreRicetta>) {
    if gate.warn_9101 {
        ("0001", vec![ErroreRicetta::warning("9101", TEXT_9101)])
    } else {
        ("0000", vec![ErroreRicetta::ok(ok_tipo)])
    }
}

/// Request children kept for Visualizza (all but the ones rebuilt or secret).
const NOT_ECHOED: [&str; 6] = [
    "pinCode",
    "nre",
    "codiceAss",
    "cfMedico1",
    "cfMedico2",
    "ElencoDettagliPrescrizioni",
];

fn invio(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    gate: Result<Gate, Vec<ErroreRicetta>>,
) -> String {
    let reject = |errors: Vec<ErroreRicetta>| {
        envelope(INVIO, false, |w| {
            w.leaf("codEsitoInserimento", "9999");
            w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
            w.communications(&[("0100", NESSUNA.into())]);
        })
    };
    let gate = match gate {
        Ok(g) => g,
        Err(errors) => return reject(errors),
    };
    let cf1 = field(payload, "cfMedico1");
    let cf2 = field(payload, "cfMedico2");
    let titolare = sim.user_by_cf(&cf1).filter(|t| t.role == Role::Titolare);
    let sender_ok = if cf2.is_empty() {
        user.cf == cf1
    } else {
        user.cf == cf2 && user.role == Role::Sostituto
    };
    let Some(titolare) = titolare.filter(|_| sender_ok) else {
        return reject(vec![ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Invio non consentito - cf medico non valido, diverso da quello dell'utente inviante",
        )]);
    };
    let region = field(payload, "codRegione");
    if region != titolare.region {
        return reject(vec![ErroreRicetta::blocking(
            codes::REGIONE,
            "Codice regione non coerente con il medico titolare",
        )]);
    }
    let codice_ass = field(payload, "codiceAss");
    let cf_assistito = if codice_ass.is_empty() {
        String::new()
    } else {
        match sim.keys.decrypt_b64(&codice_ass) {
            Some(cf) => cf,
            None => {
                return reject(vec![ErroreRicetta::blocking(
                    codes::CODICE_ASS,
                    "Codice assistito non valido: cifratura non riconosciuta",
                )]);
            }
        }
    };
    let requested_nre = field(payload, "nre");
    let nre = if requested_nre.is_empty() {
        sim.prescriptions.allocate_nre(&region)
    } else if sim.prescriptions.get(&requested_nre).is_some() {
        return reject(vec![ErroreRicetta::blocking(
            codes::NRE_USED,
            "NRE già utilizzato",
        )]);
    } else {
        requested_nre
    };
    let now = sim.clock.now();
    let cod_aut = store::cod_autenticazione(&compact_datetime(now));
    let data_inserimento = dem_datetime(now);
    let header: Vec<(String, String)> = payload
        .children
        .iter()
        .filter(|c| !NOT_ECHOED.contains(&c.name.as_str()))
        .map(|c| (c.name.clone(), c.text.trim().to_owned()))
        .collect();
    let details: Vec<Vec<(String, String)>> = payload
        .child_local("ElencoDettagliPrescrizioni")
        .map(|list| {
            list.children_local("DettaglioPrescrizione")
                .map(|d| {
                    d.children
                        .iter()
                        .map(|c| (c.name.clone(), c.text.trim().to_owned()))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let items: Vec<String> = details
        .iter()
        .map(|d| {
            let get = |k: &str| {
                d.iter()
                    .find(|(n, v)| n == k && !v.is_empty())
                    .map(|(_, v)| v.as_str())
            };
            format!(
                "{} {} x{}",
                get("codProdPrest")
                    .or(get("codGruppoEquival"))
                    .unwrap_or("-"),
                get("descrProdPrest")
                    .or(get("descrGruppoEquival"))
                    .unwrap_or(""),
                get("quantita").unwrap_or("1")
            )
        })
        .collect();
    let data_compilazione = field(payload, "dataCompilazione");
    let pdf = crate::pdf::promemoria(&crate::pdf::Promemoria {
        nre: &nre,
        doctor: &format!("{} {}", titolare.surname, titolare.name),
        cf_medico: &titolare.cf,
        date: &data_compilazione,
        cod_autenticazione: &cod_aut,
        items: &items,
    });
    sim.prescriptions.insert(Prescription {
        nre: nre.clone(),
        cf_medico1: cf1,
        cf_medico2: cf2,
        header,
        details,
        tipo_prescrizione: field(payload, "tipoPrescrizione"),
        data_compilazione,
        cf_assistito,
        stato: STATE_TO_DISPENSE,
        cod_autenticazione: cod_aut.clone(),
        data_inserimento: data_inserimento.clone(),
    });
    // The real Invio receipt omits tipoErrore on success.
    let (code, errors) = positive(&gate, None);
    envelope(INVIO, false, |w| {
        w.leaf("nre", &nre)
            .leaf("codAutenticazione", &cod_aut)
            .leaf("dataInserimento", &data_inserimento)
            .leaf("codEsitoInserimento", code);
        w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
        w.communications(&[
            ("0199", format!("COGNOME_MEDICO={}", titolare.surname)),
            ("0198", format!("NOME_MEDICO={}", titolare.name)),
            ("0197", REGIONAL_SENTENCE.into()),
            ("0100", NESSUNA.into()),
        ]);
        w.leaf("flagPromemoria", "0").leaf(
            "pdfPromemoria",
            &base64::engine::general_purpose::STANDARD.encode(&pdf),
        );
    })
}

/// Looks up the NRE and checks the doctor may act on it (`cancel` = only the compiler).
fn authorize_nre(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    cancel: bool,
) -> Result<Prescription, ErroreRicetta> {
    let nre = field(payload, "nre");
    let cf = field(payload, "cfMedico");
    let Some(p) = sim.prescriptions.get(&nre) else {
        return Err(ErroreRicetta::blocking(
            codes::UNKNOWN_NRE,
            "Numero Ricetta Elettronica non presente sul sistema",
        ));
    };
    let allowed = if cancel {
        let compiler = if p.cf_medico2.is_empty() {
            &p.cf_medico1
        } else {
            &p.cf_medico2
        };
        &cf == compiler
    } else {
        cf == p.cf_medico1 || (!p.cf_medico2.is_empty() && cf == p.cf_medico2)
    };
    if !allowed || cf != user.cf {
        return Err(ErroreRicetta::blocking(
            codes::NOT_ALLOWED,
            "Visualizzazione non consentita - cf medico non valido, diverso da quello associato NRE",
        ));
    }
    Ok(p)
}

/// Visualizza receipt fields in XSD order.
const VISUALIZZA_FIELDS: [&str; 37] = [
    "nre",
    "cfMedico1",
    "cfMedico2",
    "codRegione",
    "codASLAo",
    "codStruttura",
    "codSpecializzazione",
    "testata1",
    "testata2",
    "tipoRic",
    "codiceAss",
    "cognNome",
    "indirizzo",
    "oscuramDati",
    "numTessSasn",
    "socNavigaz",
    "tipoPrescrizione",
    "ricettaInterna",
    "codEsenzione",
    "nonEsente",
    "reddito",
    "codDiagnosi",
    "descrizioneDiagnosi",
    "dataCompilazione",
    "tipoVisita",
    "dispReg",
    "provAssistito",
    "aslAssistito",
    "indicazionePrescr",
    "altro",
    "classePriorita",
    "statoEstero",
    "istituzCompetente",
    "numIdentPers",
    "numIdentTess",
    "dataNascitaEstero",
    "dataScadTessera",
];

fn visualizza(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    gate: Result<Gate, Vec<ErroreRicetta>>,
) -> String {
    let nre = field(payload, "nre");
    let reject = |errors: Vec<ErroreRicetta>| {
        envelope(VISUALIZZA, true, |w| {
            w.leaf("nre", &nre).leaf("codEsitoVisualizzazione", "9999");
            w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
            w.communications(&[("0200", NESSUNA.into())]);
        })
    };
    let gate = match gate {
        Ok(g) => g,
        Err(errors) => return reject(errors),
    };
    let p = match authorize_nre(sim, user, payload, false) {
        Ok(p) => p,
        Err(e) => return reject(vec![e]),
    };
    let titolare = sim.user_by_cf(&p.cf_medico1);
    let testata1 = titolare
        .map(|t| format!("COGNOME_MEDICO={};NOME_MEDICO={}", t.surname, t.name))
        .unwrap_or_default();
    let (code, errors) = positive(&gate, Some(""));
    envelope(VISUALIZZA, true, |w| {
        for name in VISUALIZZA_FIELDS {
            let value = match name {
                "nre" => p.nre.clone(),
                "cfMedico1" => p.cf_medico1.clone(),
                "cfMedico2" => p.cf_medico2.clone(),
                "testata1" => testata1.clone(),
                // The SAC never returns the patient's CF here: an empty element.
                "codiceAss" => {
                    w.leaf("codiceAss", "");
                    continue;
                }
                other => p
                    .header
                    .iter()
                    .find(|(n, _)| n == other)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            };
            if !value.is_empty() {
                w.leaf(name, &value);
            }
        }
        w.open("ElencoDettagliPrescrizioni");
        for detail in &p.details {
            w.td_open("DettaglioPrescrizione");
            for (name, value) in detail {
                if !value.is_empty() {
                    w.td_leaf(name, value);
                }
            }
            w.td_close("DettaglioPrescrizione");
        }
        w.close("ElencoDettagliPrescrizioni");
        w.leaf("statoProcesso", &p.stato.to_string())
            .leaf("codAutenticazione", &p.cod_autenticazione)
            .leaf("dataInserimento", &p.data_inserimento)
            .leaf("codEsitoVisualizzazione", code);
        w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
        w.communications(&[("0200", NESSUNA.into())]);
    })
}

fn annulla(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    gate: Result<Gate, Vec<ErroreRicetta>>,
) -> String {
    let nre = field(payload, "nre");
    let answer = |code: &str, errors: Vec<ErroreRicetta>| {
        envelope(ANNULLA, false, |w| {
            w.leaf("nre", &nre).leaf("codEsitoAnnullamento", code);
            w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
            w.communications(&[("0300", NESSUNA.into())]);
        })
    };
    let gate = match gate {
        Ok(g) => g,
        Err(errors) => return answer("9999", errors),
    };
    if let Err(e) = authorize_nre(sim, user, payload, true) {
        return answer("9999", vec![e]);
    }
    let cancelled = sim.prescriptions.update(&nre, |p| {
        if p.stato == STATE_TO_DISPENSE {
            p.stato = STATE_CANCELLED;
            true
        } else {
            false
        }
    });
    if cancelled != Some(true) {
        return answer(
            "9999",
            vec![ErroreRicetta::blocking(
                codes::BAD_STATE,
                "Operazione non consentita - Annullamento ricetta, stato non valido",
            )],
        );
    }
    let (code, errors) = positive(&gate, Some(""));
    answer(code, errors)
}

fn interroga(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    gate: Result<Gate, Vec<ErroreRicetta>>,
) -> String {
    let reject = |errors: Vec<ErroreRicetta>| {
        envelope(INTERROGA, false, |w| {
            w.leaf("codEsitoInterrogaNreUtilizzati", "9999");
            w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
            w.communications(&[("0400", NESSUNA.into())]);
        })
    };
    let gate = match gate {
        Ok(g) => g,
        Err(errors) => return reject(errors),
    };
    let cf_medico = field(payload, "cfMedico");
    let sender_ok = cf_medico == user.cf
        || (user.role == Role::Sostituto && sim.user_by_cf(&cf_medico).is_some());
    if !sender_ok {
        return reject(vec![ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Interrogazione non consentita - cf medico non valido, diverso da quello dell'utente inviante",
        )]);
    }
    let nre = field(payload, "nre");
    let (from, to) = (
        field(payload, "dataCompilazioneRicettaDal"),
        field(payload, "dataCompilazioneRicettaAl"),
    );
    if nre.is_empty() && (from.is_empty() || to.is_empty()) {
        return reject(vec![ErroreRicetta::blocking(
            codes::CRITERIA,
            "Parametri di ricerca insufficienti: indicare l'NRE oppure l'intervallo di date di compilazione",
        )]);
    }
    let region = field(payload, "codRegione");
    let lotto = field(payload, "codLotto");
    let tipo = field(payload, "tipoPrescr");
    let assistito = field(payload, "cfAssistito");
    let found = sim.prescriptions.query(|p| {
        p.cf_medico1 == cf_medico
            && p.nre.starts_with(&region)
            && (nre.is_empty() || p.nre == nre)
            && (!nre.is_empty()
                || (p.data_compilazione.as_str() >= from.as_str()
                    && p.data_compilazione.as_str() <= to.as_str()))
            && (lotto.is_empty() || p.nre.starts_with(&lotto))
            && (tipo.is_empty() || p.tipo_prescrizione == tipo)
            && (assistito.is_empty() || p.cf_assistito == assistito)
    });
    let (code, errors) = positive(&gate, Some(""));
    envelope(INTERROGA, false, |w| {
        w.leaf("codEsitoInterrogaNreUtilizzati", code);
        if !found.is_empty() {
            w.open("ElencoNreUtilRecord");
            for p in &found {
                w.td_open("NreUtilRecord")
                    .td_leaf("nre", &p.nre)
                    .td_leaf("cfMedico", &p.cf_medico1)
                    .td_leaf("tipoPrescrizione", &p.tipo_prescrizione)
                    .td_leaf("dataCompilazioneRicetta", &p.data_compilazione)
                    .td_leaf("cfAssistito", "")
                    .td_leaf("provenienza", "0")
                    .td_leaf("lotto", &p.nre[..7.min(p.nre.len())])
                    .td_leaf("codAutenticazione", &p.cod_autenticazione)
                    .td_close("NreUtilRecord");
            }
            w.close("ElencoNreUtilRecord");
        }
        w.errors("ElencoErroriRicette", "ErroreRicetta", &errors, true);
        w.communications(&[("0400", NESSUNA.into())]);
    })
}

fn sostituzione(
    sim: &Sim,
    user: &TestUser,
    payload: &Element,
    gate: Result<Gate, Vec<ErroreRicetta>>,
) -> String {
    let now = sim.clock.now();
    let answer = |code: &str, errors: Vec<ErroreRicetta>| {
        envelope(SOSTITUZIONE, false, |w| {
            w.leaf("codEsitoInserimento", code);
            if code != "9999" {
                w.leaf("dataInserimento", &dem_datetime(now));
            }
            w.errors("ElencoErrori", "Errore", &errors, false);
        })
    };
    let gate = match gate {
        Ok(g) => g,
        Err(errors) => return answer("9999", errors),
    };
    let titolare = field(payload, "cfMedicoTitolare");
    let sostituto = field(payload, "cfMedicoSostituto");
    let roles_ok = sim
        .user_by_cf(&titolare)
        .is_some_and(|u| u.role == Role::Titolare)
        && sim
            .user_by_cf(&sostituto)
            .is_some_and(|u| u.role == Role::Sostituto);
    if !roles_ok || (user.cf != titolare && user.cf != sostituto) {
        return answer(
            "9999",
            vec![ErroreRicetta::blocking(
                codes::CF_MEDICO,
                "Dichiarazione non consentita - cf medico titolare o sostituto non valido",
            )],
        );
    }
    sim.prescriptions.declare_substitution(store::Substitution {
        titolare,
        sostituto,
        from: field(payload, "dataInizioSostituzione"),
        to: field(payload, "dataFineSostituzione"),
    });
    let (code, errors) = positive(&gate, Some(""));
    answer(code, errors)
}
