//! Ricetta bianca elettronica (RBE): the prescriber services for class-C medicines
//! (InvioPrescrittoRicettaBianca, VisualizzaPrescrittoRicettaBianca,
//! AnnullaPrescrittoRicettaBianca), on their own host (`ricettabiancaservice…`).
//!
//! **Confidence.** No official RBE kit (WSDL/XSD) is public (docs/PROTOCOL.md §5.10):
//! paths, SOAPActions, roots, namespaces and element names come from one third-party client
//! and are LIKELY; what that client does not show is marked UNKNOWN where it is used (the
//! annulla receipt, the list elements of errors and communications, the NRBE's inner
//! structure). No field was added that the client does not send or read. The messages
//! cannot be checked with `xmllint`; the tests check that writers and parsers agree and
//! that the simulator, which parses requests strictly, accepts what the library writes.
//!
//! The same first factor as DEM (`Authorization: Basic`, `pinCode` encrypted with the
//! SanitelCF certificate) and the same second factor (`Authorization2F: Bearer
//! <ID-SESSIONE>`) apply; the patient's fiscal code `codicePaziente` is encrypted like the
//! DEM `codiceAss`. Which `contesto`/`applicazione` an RBE ID-SESSIONE needs is UNKNOWN:
//! tsgate uses the doctor's `RICETTA-DEM`/`PRESCRITTORE` code.
//!
//! Errors reuse the DEM types ([`crate::dem::ErroreRicetta`], [`crate::dem::DemOutcome`]):
//! the known client reads the same `codEsito`/`esito`/`tipoErrore` and the same
//! `0000`/`9999` convention, and `9101` is recognised the same way.

mod receipt;
mod request;
mod service;
mod types;

pub use receipt::RbeReceipt;
pub use request::{
    AnnullaRbeRequest, AnyRbeRequest, DettaglioRbe, InvioRbeRequest, NrbeQuery, RbeRequest,
    VisualizzaRbeRequest,
};
pub use service::RbeService;
pub use types::{Nrbe, NrbeError, PinNrbe};

#[cfg(test)]
mod tests;
