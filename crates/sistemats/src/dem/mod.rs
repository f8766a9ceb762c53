//! SAC "ricetta dematerializzata" (DEM) prescriber services: typed requests and receipts.
//!
//! One module per service ([`invio`], [`visualizza`], [`annulla`], [`interroga`],
//! [`sostituzione`]); each has a request type implementing [`DemRequest`] and a receipt
//! type implementing [`DemReceipt`]. Both directions are implemented, because the
//! simulator parses requests and builds receipts with the same codecs the client uses.
//!
//! - Requests are checked against the XSD facets and the cheap rules of the specification
//!   with [`DemRequest::validate`] **before** they are sent; the error names the field.
//! - Requests are parsed strictly by (namespace, local name); receipts are parsed
//!   tolerantly by local name, because the real services change prefixes and default
//!   namespaces between operations.
//! - Receipt serializers reproduce the real services' quirks (PROTOCOL §5.3–5.4): the
//!   output for the values of a captured response is byte-identical to that response.
//! - [`DemOutcome`] turns a receipt into accepted / accepted with warnings / rejected,
//!   with Italian messages for the known codes; `9101` (second factor missing or invalid)
//!   is recognised by [`DemReceipt::second_factor_problem`].

pub mod annulla;
mod any;
pub(crate) mod codec;
mod dettaglio;
pub(crate) mod errore;
pub mod interroga;
pub mod invio;
mod outcome;
pub(crate) mod receipt;
mod service;
pub mod sostituzione;
mod types;
pub(crate) mod validate;
pub mod visualizza;

pub use annulla::{AnnullaPrescrittoReceipt, AnnullaPrescrittoRequest};
pub use any::{Receipt, Request};
pub use codec::DemError;
pub use dettaglio::DettaglioPrescrizione;
pub use errore::{ErroreRicetta, Severity};
pub use interroga::{InterrogaNreUtilizzatiReceipt, InterrogaNreUtilizzatiRequest, NreUtilRecord};
pub use invio::{InvioPrescrittoReceipt, InvioPrescrittoRequest};
pub use outcome::{DemOutcome, Diagnostic, KnownCode};
pub use receipt::{Comunicazione, DemReceipt, Nota};
pub use service::{DemRequest, Service, TIPODATI_NS, TIPODATI_SOSTITUZIONE_NS};
pub use sostituzione::{
    DichiarazioneSostituzioneMedicoReceipt, DichiarazioneSostituzioneMedicoRequest, Opzione,
};
pub use types::{
    CodAutenticazione, EncryptedValue, Nre, NreError, Promemoria, Sensitive, StatoProcesso,
    format_data_ora,
};
pub use validate::{Problem, ValidationError};
pub use visualizza::{VisualizzaPrescrittoReceipt, VisualizzaPrescrittoRequest};
