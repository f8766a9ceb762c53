//! # sistemats
//!
//! Protocol library for the Italian *Sistema TS* (Tessera Sanitaria) web services used by
//! prescribing doctors and pharmacies:
//!
//! - [`a2f`]: the A2F service that issues, checks and revokes the **ID-SESSIONE**, the
//!   second authentication factor sent as `Authorization2F: Bearer <code>`;
//! - [`dem`]: the SAC "ricetta dematerializzata" prescriber services (InvioPrescritto,
//!   VisualizzaPrescritto, AnnullaPrescritto, InterrogaNreUtilizzati,
//!   DichiarazioneSostituzioneMedico);
//! - [`rbe`]: the "ricetta bianca elettronica" (class-C, NRBE) prescriber services on their
//!   own host (InvioPrescrittoRicettaBianca, VisualizzaPrescrittoRicettaBianca,
//!   AnnullaPrescrittoRicettaBianca); no official kit is public, see the module's confidence
//!   notes;
//! - [`erogatore`]: the SAC DEM dispenser services of pharmacies (VisualizzaErogato with
//!   presa in carico, InvioErogato, SospendiErogato, AnnullaErogato);
//! - [`sanitel`]: RSA PKCS#1 v1.5 encryption of PINs and fiscal codes with the SanitelCF
//!   certificate;
//! - [`client`]: an HTTPS client that sends these messages with the headers Sistema TS expects.
//!
//! The crate has no server and no storage: it only builds, sends and parses messages.
//! Every DEM and A2F message it builds is valid against the official XSDs (checked in its tests with
//! `xmllint --schema`), and every parser matches elements by (namespace, local name), never by
//! prefix, because the real services change prefixes between operations.
//!
//! `PROTOCOL §n` in the comments is a section of `docs/PROTOCOL.md` in the repository: the
//! protocol as the public sources describe it, with what each statement rests on.

pub mod a2f;
pub mod client;
pub mod code;
pub mod dem;
pub mod env;
pub mod erogatore;
pub mod error;
pub mod rbe;
pub mod sanitel;
pub mod secret;
pub mod soap;
pub mod xml;

pub use secret::{Password, Pin, SessionCode};
