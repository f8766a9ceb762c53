//! The A2F web service: `create`, `checkToken` and `revoke` of the ID-SESSIONE.
//!
//! Both directions are here, because the simulator uses the same codecs as the client:
//!
//! | | client | simulator |
//! |---|---|---|
//! | requests ([`CreateRequest`], [`TokenRequest`]) | build + [`CreateRequest::to_envelope`] | [`CreateRequest::from_payload`] |
//! | responses ([`Response`]) | [`Response::parse`] → typed outcome | build + [`Response::to_envelope`] |
//!
//! Typed outcomes ([`CreateOutcome`], [`TokenStatus`], [`RevokeOutcome`]) and the official
//! error codes ([`A2fError`], [`A2fErrorKind`]) are what callers should match on.
//!
//! Element names in the wire structs follow the XSD (`cod_esito` for `codEsito`).

mod codes;
mod dates;
mod outcome;
mod request;
mod response;
pub(crate) mod service;

pub use codes::{A2fError, A2fErrorKind, Severity};
pub use dates::{
    format_date_time, format_revoke_date, parse_date_time, parse_revoke_date, rome_offset, to_rome,
};
pub use outcome::{CreateOutcome, RevokeOutcome, TokenStatus, Validity};
pub use request::{CreateRequest, Identifier, KeyValue, TokenRequest, UserIdentity};
pub use response::{Comunicazione, Errore, InfoToken, Response};
pub use service::{
    AUTH_NS, Application, COMM_TOKEN, CONTEXT_RICETTA_DEM, DATATYPE_NS, DEFAULT_SSA,
    IDENTIFIER_KIND_PIN, INFO_EMAIL_STATUS, INFO_LAST_REVOKE, INFO_REVOKE_STATUS, Operation,
    SERVICE_PATH, WSDL_NS,
};
