//! SAC "ricetta dematerializzata" **dispenser** (erogatore) services: what a pharmacy sends
//! to take a prescription in charge, dispense it, suspend it and cancel a dispensing.
//!
//! One module per service ([`visualizza`], [`invio`], [`sospendi`], [`annulla`]); each has a
//! request type implementing [`ErogatoreRequest`] and a receipt type implementing
//! [`ErogatoreReceipt`], in both directions (the simulator uses the same codecs). The
//! shapes follow the prescriber codecs of [`crate::dem`]:
//!
//! - every request starts with the same header ([`Testata`]: encrypted PIN, the pharmacy's
//!   three codes [`Erogatore`], `pwd`, `nre`, encrypted `cfAssistito`) and is checked
//!   against the XSD facets with [`ErogatoreRequest::validate`] before it is sent;
//! - requests are parsed strictly by (namespace, local name), receipts tolerantly by
//!   local name;
//! - receipts share `ErroreRicetta`, the 4-digit operation codes (`0000`/`0001`/`9999`) and
//!   the Italian outcome of [`crate::dem::DemOutcome`]; `9101` (second factor) is recognised
//!   by [`ErogatoreReceipt::second_factor_problem`].
//!
//! The pharmacy's ID-SESSIONE is an A2F code with `applicazione` `EROGATORE`
//! ([`crate::a2f::Application::Dispenser`]); [`Erogatore::identity`] builds the A2F identity
//! from the same codes.

pub mod annulla;
mod common;
pub mod invio;
mod service;
pub mod sospendi;
pub mod visualizza;

pub use annulla::{AnnullaErogatoReceipt, AnnullaErogatoRequest};
pub use common::{Erogatore, Testata};
pub use invio::{
    DatiErogazione, DettaglioPrescrizioneInvioErogato, DettaglioTicket, InvioErogatoReceipt,
    InvioErogatoRequest, TipoOperazioneInvio,
};
pub use service::{ErogatoreReceipt, ErogatoreRequest, ErogatoreService};
pub use sospendi::{SospendiErogatoReceipt, SospendiErogatoRequest, TipoOperazioneSospendi};
pub use visualizza::{
    DettaglioPrescrizioneVisualErogato, RicettaErogatore, TipoOperazioneVisualizza,
    VisualizzaErogatoReceipt, VisualizzaErogatoRequest,
};
