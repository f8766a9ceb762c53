//! The SAC DEM prescriber services (Invio, Visualizza, Annulla, InterrogaNreUtilizzati,
//! DichiarazioneSostituzioneMedico) with the rules of PROTOCOL §4 and §5. Requests are read
//! and receipts written with the `sistemats::dem` codecs.

pub mod store;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng as _;
use sistemats::dem::{
    AnnullaPrescrittoReceipt, AnnullaPrescrittoRequest, CodAutenticazione, Comunicazione,
    DemReceipt, DichiarazioneSostituzioneMedicoReceipt, DichiarazioneSostituzioneMedicoRequest,
    EncryptedValue, ErroreRicetta, InterrogaNreUtilizzatiReceipt, InterrogaNreUtilizzatiRequest,
    InvioPrescrittoReceipt, InvioPrescrittoRequest, Nre, NreUtilRecord, Request, Sensitive,
    Service, StatoProcesso, VisualizzaPrescrittoReceipt, VisualizzaPrescrittoRequest,
    format_data_ora,
};
use sistemats::xml::Element;

use crate::clock::{local, year_month};
use crate::config::{Enforcement, Mode};
use crate::soap_http::{client_fault, xml_response};
use crate::state::Sim;
use crate::sync::lock;
use crate::users::{Role, TestUser};
use store::{Prescription, Substitution};

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
    /// A client-chosen NRE that is not a well-formed NRE.
    pub const NRE_INVALID: &str = "1007";
    /// Operation on an NRE by a doctor not associated with it (real code).
    pub const NOT_ALLOWED: &str = "1125";
    /// Cancellation of a prescription not in state 3 (real code).
    pub const BAD_STATE: &str = "1120";
    /// Unknown NRE (real code).
    pub const UNKNOWN_NRE: &str = "5005";
}

const REGIONAL_SENTENCE: &str =
    "REGIONE ABRUZZO: Frase di prova di interesse regionale da stampare nel promemoria";

/// Remarks of a call that may go on (a `9101` warning), or the errors that block it.
pub(crate) type Gate = Result<Vec<ErroreRicetta>, Vec<ErroreRicetta>>;

/// Checks `Authorization2F` (per enforcement) and the PIN, common to all DEM prescriber calls
/// and to the RBE ones (which take the same PRESCRITTORE ID-SESSIONE).
pub(crate) fn gate(sim: &Sim, headers: &HeaderMap, user: &TestUser, pin: &EncryptedValue) -> Gate {
    gate_for(sim, headers, user, pin, "PRESCRITTORE")
}

/// Checks `Authorization2F` for an ID-SESSIONE of `applicazione` (`PRESCRITTORE` on the
/// prescriber services, `EROGATORE` on the dispenser ones; a code of the other domain is
/// not valid, PROTOCOL §2.7) per enforcement, then the PIN.
pub(crate) fn gate_for(
    sim: &Sim,
    headers: &HeaderMap,
    user: &TestUser,
    pin: &EncryptedValue,
    applicazione: &str,
) -> Gate {
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
            return user.applicazione() == applicazione;
        }
        lock(&sim.tokens)
            .use_on_dem(code, &user.user_id, applicazione, now)
            .is_ok()
    });
    let mut warnings = Vec::new();
    if !valid {
        match settings.enforcement {
            Enforcement::Off => {}
            Enforcement::Warn => {
                warnings.push(ErroreRicetta::second_factor(false));
                sim.with_stats(|s| s.warnings_9101 += 1);
            }
            Enforcement::Block => {
                sim.with_stats(|s| s.warnings_9101 += 1);
                return Err(vec![ErroreRicetta::second_factor(true)]);
            }
        }
    }
    if sim.keys.decrypt_b64(pin.as_str()).as_deref() != Some(user.pin.as_str()) {
        return Err(vec![ErroreRicetta::blocking(
            codes::PIN,
            "PinCode errato: il PIN cifrato non corrisponde a quello dell'utente inviante",
        )]);
    }
    Ok(warnings)
}

/// Handles one DEM call (the SOAP body is already schema-valid and the user authenticated).
pub fn handle(sim: &Sim, user: &TestUser, headers: &HeaderMap, payload: &Element) -> Response {
    let request = match Request::from_payload(payload) {
        Ok(request) => request,
        Err(e) => return client_fault(e.to_string()),
    };
    let gate = gate(sim, headers, user, request.pin_code());
    let body = match request {
        Request::Invio(r) => answer(
            gate,
            |w| invio(sim, user, *r, w),
            |e| {
                let nessuna = Comunicazione::nessuna(Service::InvioPrescritto);
                InvioPrescrittoReceipt::rejected(e, vec![nessuna])
            },
        ),
        Request::Visualizza(r) => answer(
            gate,
            |w| visualizza(sim, user, &r, w),
            |e| VisualizzaPrescrittoReceipt::rejected(r.nre.clone(), e),
        ),
        Request::Annulla(r) => answer(
            gate,
            |w| annulla(sim, user, &r, w),
            |e| AnnullaPrescrittoReceipt::rejected(r.nre.clone(), e),
        ),
        Request::Interroga(r) => answer(
            gate,
            |w| interroga(sim, user, &r, w),
            InterrogaNreUtilizzatiReceipt::rejected,
        ),
        Request::Sostituzione(r) => answer(
            gate,
            |w| sostituzione(sim, user, r, w),
            DichiarazioneSostituzioneMedicoReceipt::rejected,
        ),
    };
    xml_response(StatusCode::OK, true, body)
}

/// Runs a service past the gate: its receipt, or the `9999` one `reject` makes from the
/// blocking errors of the gate or of the service.
fn answer<R: DemReceipt>(
    gate: Gate,
    serve: impl FnOnce(Vec<ErroreRicetta>) -> Result<R, ErroreRicetta>,
    reject: impl FnOnce(Vec<ErroreRicetta>) -> R,
) -> String {
    let receipt = gate
        .and_then(|warnings| serve(warnings).map_err(|e| vec![e]))
        .unwrap_or_else(reject);
    receipt.to_envelope()
}

fn invio(
    sim: &Sim,
    user: &TestUser,
    mut req: InvioPrescrittoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<InvioPrescrittoReceipt, ErroreRicetta> {
    let titolare = sim
        .user_by_cf(&req.cf_medico1)
        .filter(|t| t.role == Role::Titolare);
    let sender_ok = match req.cf_medico2.as_deref() {
        None => user.cf == req.cf_medico1,
        Some(cf2) => user.cf == cf2 && user.role == Role::Sostituto,
    };
    let Some(titolare) = titolare.filter(|_| sender_ok) else {
        return Err(ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Invio non consentito - cf medico non valido, diverso da quello dell'utente inviante",
        ));
    };
    let wrong_region = || {
        ErroreRicetta::blocking(
            codes::REGIONE,
            "Codice regione non coerente con il medico titolare",
        )
    };
    if req.cod_regione != titolare.region {
        return Err(wrong_region());
    }
    let cf_assistito = match &req.codice_ass {
        None => String::new(),
        Some(encrypted) => sim.keys.decrypt_b64(encrypted.as_str()).ok_or_else(|| {
            ErroreRicetta::blocking(
                codes::CODICE_ASS,
                "Codice assistito non valido: cifratura non riconosciuta",
            )
        })?,
    };
    let nre = match req.nre.as_deref() {
        None => sim
            .prescriptions
            .allocate_nre(&req.cod_regione)
            .map_err(|_| wrong_region())?,
        Some(requested) if sim.prescriptions.contains(requested) => {
            return Err(ErroreRicetta::blocking(
                codes::NRE_USED,
                "NRE già utilizzato",
            ));
        }
        Some(requested) => Nre::parse(requested).map_err(|e| {
            ErroreRicetta::blocking(codes::NRE_INVALID, format!("{e}: indicare un NRE valido"))
        })?,
    };
    let now = local(sim.clock.now());
    let serial = rand::rng().random_range(1..10_000_000_000_000_000u64);
    let cod_aut = CodAutenticazione::generate(now, serial);
    let data_inserimento = format_data_ora(now);
    let items: Vec<String> = req
        .dettagli
        .iter()
        .map(|d| {
            format!(
                "{} {} x{}",
                d.cod_prod_prest
                    .as_deref()
                    .or(d.cod_gruppo_equival.as_deref())
                    .unwrap_or("-"),
                d.descr_prod_prest
                    .as_deref()
                    .or(d.descr_gruppo_equival.as_deref())
                    .unwrap_or(""),
                Some(d.quantita.as_str())
                    .filter(|q| !q.is_empty())
                    .unwrap_or("1")
            )
        })
        .collect();
    let pdf = crate::pdf::promemoria(&crate::pdf::Promemoria {
        nre: nre.as_str(),
        doctor: &format!("{} {}", titolare.surname, titolare.name),
        cf_medico: &titolare.cf,
        date: &req.data_compilazione,
        cod_autenticazione: cod_aut.as_str(),
        items: &items,
    });
    let comunicazioni = vec![
        Comunicazione::new("0199", format!("COGNOME_MEDICO={}", titolare.surname)),
        Comunicazione::new("0198", format!("NOME_MEDICO={}", titolare.name)),
        Comunicazione::new("0197", REGIONAL_SENTENCE),
        Comunicazione::nessuna(Service::InvioPrescritto),
    ];
    let receipt = InvioPrescrittoReceipt::accepted(
        &nre,
        &cod_aut,
        data_inserimento.clone(),
        comunicazioni,
        Some(sistemats::dem::Promemoria(pdf)),
        warnings,
    );
    // The encrypted PIN and patient code are never echoed: do not keep them.
    req.pin_code = EncryptedValue::default();
    req.codice_ass = None;
    sim.prescriptions.insert(Prescription {
        nre: nre.as_str().to_owned(),
        sent: req,
        cf_assistito,
        stato: StatoProcesso::DaErogare,
        cod_autenticazione: cod_aut.as_str().to_owned(),
        data_inserimento,
        erogazione: None,
    });
    Ok(receipt)
}

/// What production answers for an NRE it does not know (5005).
pub(crate) fn unknown_nre() -> ErroreRicetta {
    ErroreRicetta::blocking(
        codes::UNKNOWN_NRE,
        "Numero Ricetta Elettronica non presente sul sistema",
    )
}

/// Looks up the NRE and checks the doctor may act on it (`cancel` = only the compiler).
fn authorize_nre(
    sim: &Sim,
    user: &TestUser,
    nre: &str,
    cf: &str,
    cancel: bool,
) -> Result<Prescription, ErroreRicetta> {
    let Some(p) = sim.prescriptions.get(nre) else {
        return Err(unknown_nre());
    };
    let allowed = if cancel {
        cf == p.compiler()
    } else {
        cf == p.cf_medico1() || p.sent.cf_medico2.as_deref() == Some(cf)
    };
    if !allowed || cf != user.cf {
        return Err(ErroreRicetta::blocking(
            codes::NOT_ALLOWED,
            "Visualizzazione non consentita - cf medico non valido, diverso da quello associato NRE",
        ));
    }
    Ok(p)
}

fn visualizza(
    sim: &Sim,
    user: &TestUser,
    req: &VisualizzaPrescrittoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<VisualizzaPrescrittoReceipt, ErroreRicetta> {
    let p = authorize_nre(sim, user, &req.nre, &req.cf_medico, false)?;
    // The SAC rebuilds testata1 from the titolare's registry entry.
    let testata1 = sim
        .user_by_cf(p.cf_medico1())
        .map(|t| format!("COGNOME_MEDICO={};NOME_MEDICO={}", t.surname, t.name));
    let mut receipt = VisualizzaPrescrittoReceipt::found(
        p.sent,
        p.nre,
        p.stato,
        p.cod_autenticazione,
        p.data_inserimento,
        warnings,
    );
    receipt.testata1 = testata1;
    Ok(receipt)
}

fn annulla(
    sim: &Sim,
    user: &TestUser,
    req: &AnnullaPrescrittoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<AnnullaPrescrittoReceipt, ErroreRicetta> {
    authorize_nre(sim, user, &req.nre, &req.cf_medico, true)?;
    let cancelled = sim.prescriptions.update(&req.nre, |p| {
        let can = p.stato.can_cancel();
        if can {
            p.stato = StatoProcesso::Annullata;
        }
        can
    });
    match cancelled {
        Some(true) => {}
        // Forgotten (beyond `max_prescriptions`) since it was looked up: unknown now.
        None => return Err(unknown_nre()),
        Some(false) => {
            return Err(ErroreRicetta::blocking(
                codes::BAD_STATE,
                "Operazione non consentita - Annullamento ricetta, stato non valido",
            ));
        }
    }
    Ok(AnnullaPrescrittoReceipt::accepted(
        req.nre.clone(),
        warnings,
    ))
}

fn interroga(
    sim: &Sim,
    user: &TestUser,
    req: &InterrogaNreUtilizzatiRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<InterrogaNreUtilizzatiReceipt, ErroreRicetta> {
    let cf_medico = req.cf_medico.as_str();
    let sender_ok = cf_medico == user.cf
        || (user.role == Role::Sostituto && sim.user_by_cf(cf_medico).is_some());
    if !sender_ok {
        return Err(ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Interrogazione non consentita - cf medico non valido, diverso da quello dell'utente inviante",
        ));
    }
    let nre = req.nre.as_deref();
    let range = match (
        req.data_compilazione_ricetta_dal.as_deref(),
        req.data_compilazione_ricetta_al.as_deref(),
    ) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    if nre.is_none() && range.is_none() {
        return Err(ErroreRicetta::blocking(
            codes::CRITERIA,
            "Parametri di ricerca insufficienti: indicare l'NRE oppure l'intervallo di date di compilazione",
        ));
    }
    let lotto = req.cod_lotto.as_deref();
    let tipo = req.tipo_prescr.as_deref();
    let assistito = req.cf_assistito.as_ref().map(Sensitive::expose);
    let found = sim.prescriptions.query(|p| {
        let compiled = p.sent.data_compilazione.as_str();
        p.cf_medico1() == cf_medico
            && p.nre.starts_with(&req.cod_regione)
            && match nre {
                Some(nre) => p.nre == nre,
                None => range.is_some_and(|(from, to)| compiled >= from && compiled <= to),
            }
            && lotto.is_none_or(|l| p.nre.starts_with(l))
            && tipo.is_none_or(|t| p.sent.tipo_prescrizione == t)
            && assistito.is_none_or(|a| p.cf_assistito == a)
    });
    let records = found
        .into_iter()
        .map(|p| {
            NreUtilRecord::sent(
                &p.nre,
                p.sent.cf_medico1,
                p.sent.tipo_prescrizione,
                p.sent.data_compilazione,
                p.cod_autenticazione,
            )
        })
        .collect();
    Ok(InterrogaNreUtilizzatiReceipt::found(records, warnings))
}

fn sostituzione(
    sim: &Sim,
    user: &TestUser,
    req: DichiarazioneSostituzioneMedicoRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<DichiarazioneSostituzioneMedicoReceipt, ErroreRicetta> {
    let now = local(sim.clock.now());
    let (titolare, sostituto) = (req.cf_medico_titolare, req.cf_medico_sostituto);
    let roles_ok = sim
        .user_by_cf(&titolare)
        .is_some_and(|u| u.role == Role::Titolare)
        && sim
            .user_by_cf(&sostituto)
            .is_some_and(|u| u.role == Role::Sostituto);
    if !roles_ok || (user.cf != titolare && user.cf != sostituto) {
        return Err(ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Dichiarazione non consentita - cf medico titolare o sostituto non valido",
        ));
    }
    sim.prescriptions.declare_substitution(Substitution {
        titolare,
        sostituto,
        from: req.data_inizio_sostituzione,
        to: req.data_fine_sostituzione,
    });
    Ok(DichiarazioneSostituzioneMedicoReceipt::accepted(
        format_data_ora(now),
        warnings,
    ))
}
