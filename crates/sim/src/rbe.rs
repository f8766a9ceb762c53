//! The ricetta bianca elettronica (RBE) prescriber services: an NRBE and its PIN issued,
//! visualised and cancelled, with the same A2F enforcement as the DEM services.
//!
//! Production semantics are known only in outline (PROTOCOL §5.10, LIKELY): the receipt
//! carries `nrbe` (12 characters) and `pinNrbe` (5), errors use the DEM codes and
//! `0000`/`0001`/`9999`. The NRBE's structure and the RBE error codes are not public: the
//! simulator issues 12 digits and a 5-digit PIN, and answers with the DEM codes it already
//! uses (5005 unknown, 1125 another doctor's, 1120 state not valid; 1001/1003/1004 of
//! [`crate::dem::codes`]). There is no RBE XSD, so requests are not schema-validated;
//! they are parsed strictly (namespaces, required elements) and refused with a SOAP Fault
//! when they cannot be read.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng as _;
use sistemats::dem::{ErroreRicetta, StatoProcesso, format_data_ora};
use sistemats::rbe::{
    AnyRbeRequest, DettaglioRbe, InvioRbeRequest, NrbeQuery, PinNrbe, RbeReceipt, RbeService,
};
use sistemats::xml::Element;

use crate::clock::local;
use crate::dem::codes;
use crate::soap_http::{client_fault, xml_response};
use crate::state::Sim;
use crate::sync::lock;
use crate::users::TestUser;

/// One issued ricetta bianca.
#[derive(Clone)]
pub struct RbePrescription {
    /// 12 digits.
    pub nrbe: String,
    /// 5 digits (a secret: `Debug` hides it).
    pub pin_nrbe: String,
    /// The prescribing doctor.
    pub cf_medico: String,
    /// Decrypted patient fiscal code (never logged; `Debug` hides it).
    pub cf_assistito: String,
    /// The medicines, as sent.
    pub dettagli: Vec<DettaglioRbe>,
    /// `tipoPrescrizione`, as sent.
    pub tipo_prescrizione: Option<String>,
    /// `statoProcesso`: 3 to dispense, 4 cancelled.
    pub stato: StatoProcesso,
    /// `yyyy-MM-dd HH:mm:ss`.
    pub data_inserimento: String,
}

impl std::fmt::Debug for RbePrescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbePrescription")
            .field("nrbe", &self.nrbe)
            .field("cf_medico", &self.cf_medico)
            .field("stato", &self.stato)
            .finish_non_exhaustive()
    }
}

/// The most recent ricette bianche, by NRBE, at most `max` of them (the oldest goes
/// first; its NRBE then answers as unknown).
#[derive(Debug)]
pub struct RbeStore {
    stored: Mutex<(HashMap<String, RbePrescription>, VecDeque<String>)>,
    max: usize,
}

impl RbeStore {
    /// An empty store keeping at most `max` prescriptions (at least one).
    pub fn with_limit(max: usize) -> Self {
        Self {
            stored: Mutex::new(Default::default()),
            max: max.max(1),
        }
    }

    /// How many are stored now.
    pub fn len(&self) -> usize {
        lock(&self.stored).0.len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The prescription with this NRBE.
    pub fn get(&self, nrbe: &str) -> Option<RbePrescription> {
        lock(&self.stored).0.get(nrbe).cloned()
    }

    /// Stores a new prescription under a fresh NRBE and returns it.
    fn issue(&self, make: impl FnOnce(String) -> RbePrescription) -> RbePrescription {
        let mut stored = lock(&self.stored);
        let nrbe = loop {
            let candidate = format!("{:012}", rand::rng().random_range(0..1_000_000_000_000u64));
            if !stored.0.contains_key(&candidate) {
                break candidate;
            }
        };
        let p = make(nrbe.clone());
        stored.0.insert(nrbe.clone(), p.clone());
        stored.1.push_back(nrbe);
        while stored.1.len() > self.max {
            if let Some(old) = stored.1.pop_front() {
                stored.0.remove(&old);
            }
        }
        p
    }

    /// Applies `f` to the prescription; `None` when it is not stored.
    fn update<T>(&self, nrbe: &str, f: impl FnOnce(&mut RbePrescription) -> T) -> Option<T> {
        lock(&self.stored).0.get_mut(nrbe).map(f)
    }
}

/// Handles one RBE call (the user is authenticated, the body is a SOAP payload).
pub fn handle(sim: &Sim, user: &TestUser, headers: &HeaderMap, payload: &Element) -> Response {
    let request = match AnyRbeRequest::from_payload(payload) {
        Ok(request) => request,
        Err(e) => return client_fault(e.to_string()),
    };
    let service = request.service();
    let receipt = crate::dem::gate(sim, headers, user, request.pin_code())
        .and_then(|warnings| {
            match request {
                AnyRbeRequest::Invio(r) => invio(sim, user, &r, warnings),
                AnyRbeRequest::Visualizza(r) => visualizza(sim, user, &r.0, warnings),
                AnyRbeRequest::Annulla(r) => annulla(sim, user, &r.0, warnings),
            }
            .map_err(|e| vec![e])
        })
        .unwrap_or_else(|errors| RbeReceipt::rejected(service, errors));
    xml_response(StatusCode::OK, true, receipt.to_envelope())
}

fn decrypt_patient(sim: &Sim, encrypted: &str) -> Result<String, ErroreRicetta> {
    sim.keys.decrypt_b64(encrypted).ok_or_else(|| {
        ErroreRicetta::blocking(
            codes::CODICE_ASS,
            "Codice paziente non valido: cifratura non riconosciuta",
        )
    })
}

fn invio(
    sim: &Sim,
    user: &TestUser,
    req: &InvioRbeRequest,
    warnings: Vec<ErroreRicetta>,
) -> Result<RbeReceipt, ErroreRicetta> {
    if req.cf_medico != user.cf {
        return Err(ErroreRicetta::blocking(
            codes::CF_MEDICO,
            "Invio non consentito - cf medico non valido, diverso da quello dell'utente inviante",
        ));
    }
    let cf_assistito = decrypt_patient(sim, req.codice_paziente.as_str())?;
    if req.dettagli.is_empty() {
        return Err(ErroreRicetta::blocking(
            codes::CRITERIA,
            "Nessun medicinale prescritto",
        ));
    }
    let now = format_data_ora(local(sim.clock.now()));
    let p = sim.rbe.issue(|nrbe| RbePrescription {
        nrbe,
        pin_nrbe: format!("{:05}", rand::rng().random_range(0..100_000u32)),
        cf_medico: req.cf_medico.clone(),
        cf_assistito,
        dettagli: req.dettagli.clone(),
        tipo_prescrizione: req.tipo_prescrizione.clone(),
        stato: StatoProcesso::DaErogare,
        data_inserimento: now.clone(),
    });
    let mut receipt = RbeReceipt::accepted(RbeService::Invio, warnings);
    receipt.protocollo_transazione = Some(protocollo());
    receipt.data_inserimento = Some(now);
    receipt.cognome_medico = Some(user.surname.clone());
    receipt.nome_medico = Some(user.name.clone());
    receipt.nrbe = Some(p.nrbe);
    receipt.pin_nrbe = Some(PinNrbe::new(p.pin_nrbe));
    Ok(receipt)
}

fn protocollo() -> String {
    format!(
        "{:016}",
        rand::rng().random_range(0..10_000_000_000_000_000u64)
    )
}

/// The prescription a Visualizza or Annulla names, if this doctor may act on it.
fn authorize(sim: &Sim, user: &TestUser, q: &NrbeQuery) -> Result<RbePrescription, ErroreRicetta> {
    let unknown = || {
        ErroreRicetta::blocking(
            codes::UNKNOWN_NRE,
            "Numero Ricetta Bianca Elettronica non presente sul sistema",
        )
    };
    let p = q
        .nrbe
        .as_deref()
        .and_then(|n| sim.rbe.get(n))
        .ok_or_else(unknown)?;
    if q.pin_nrbe
        .as_ref()
        .is_some_and(|pin| pin.expose() != p.pin_nrbe)
    {
        return Err(unknown());
    }
    if q.cf_medico != p.cf_medico || q.cf_medico != user.cf {
        return Err(ErroreRicetta::blocking(
            codes::NOT_ALLOWED,
            "Operazione non consentita - cf medico non valido, diverso da quello associato NRBE",
        ));
    }
    if let Some(encrypted) = &q.codice_paziente
        && decrypt_patient(sim, encrypted.as_str())? != p.cf_assistito
    {
        return Err(unknown());
    }
    Ok(p)
}

fn visualizza(
    sim: &Sim,
    user: &TestUser,
    q: &NrbeQuery,
    warnings: Vec<ErroreRicetta>,
) -> Result<RbeReceipt, ErroreRicetta> {
    let p = authorize(sim, user, q)?;
    let mut receipt = RbeReceipt::accepted(RbeService::Visualizza, warnings);
    receipt.protocollo_transazione = Some(protocollo());
    receipt.data_ricezione = Some(p.data_inserimento);
    receipt.cf_medico = Some(p.cf_medico);
    receipt.cognome_medico = Some(user.surname.clone());
    receipt.nome_medico = Some(user.name.clone());
    receipt.nrbe = Some(p.nrbe);
    receipt.pin_nrbe = Some(PinNrbe::new(p.pin_nrbe));
    receipt.stato_processo = Some(p.stato.code().to_owned());
    receipt.dettagli = p.dettagli;
    Ok(receipt)
}

fn annulla(
    sim: &Sim,
    user: &TestUser,
    q: &NrbeQuery,
    warnings: Vec<ErroreRicetta>,
) -> Result<RbeReceipt, ErroreRicetta> {
    let p = authorize(sim, user, q)?;
    let cancelled = sim.rbe.update(&p.nrbe, |p| {
        let can = p.stato.can_cancel();
        if can {
            p.stato = StatoProcesso::Annullata;
        }
        can
    });
    if cancelled != Some(true) {
        return Err(ErroreRicetta::blocking(
            codes::BAD_STATE,
            "Operazione non consentita - Annullamento ricetta, stato non valido",
        ));
    }
    let mut receipt = RbeReceipt::accepted(RbeService::Annulla, warnings);
    receipt.nrbe = Some(p.nrbe);
    Ok(receipt)
}
