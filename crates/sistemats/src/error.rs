//! Error types of the crate.
//!
//! Every message is Italian (a doctor or a support person reads it) and says what to do next.
//! No error ever carries a secret: passwords, PINs and ID-SESSIONE codes are not part of any
//! variant, and field errors name the field, never its value.

use crate::env::EnvError;
use crate::sanitel::SanitelError;
use crate::soap::{Fault, SoapError};

/// A request field that breaks a facet of the official XSD, found before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "campo '{field}' non valido: {problem}. Correggere la configurazione dell'utente e riprovare"
)]
pub struct FieldError {
    /// The XSD element name (`cfUtente`, `token`, …).
    pub field: &'static str,
    /// What is wrong, in Italian, without the value.
    pub problem: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Why a Sistema TS message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not XML, or not a SOAP envelope.
    #[error("risposta di Sistema TS illeggibile: {0}")]
    Soap(#[from] SoapError),
    /// The envelope carries a SOAP Fault instead of the expected message.
    #[error("Sistema TS ha risposto con un errore SOAP: {}", .0.string)]
    Fault(Fault),
    /// The payload element is not the one expected for the operation.
    #[error("messaggio inatteso: atteso '{expected}', ricevuto '{found}'")]
    UnexpectedRoot {
        /// Expected local name.
        expected: &'static str,
        /// Local name found (namespace omitted).
        found: String,
    },
    /// A mandatory element is missing.
    #[error("elemento obbligatorio '{0}' mancante")]
    Missing(&'static str),
    /// An element has a value of the wrong form.
    #[error("elemento '{field}' non valido: {reason}")]
    Invalid {
        /// Element name.
        field: &'static str,
        /// Why (never the value of a secret element).
        reason: String,
    },
}

/// Everything that can go wrong when talking to Sistema TS through [`crate::client`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The environment configuration is not acceptable.
    #[error(transparent)]
    Environment(#[from] EnvError),
    /// A request field breaks the XSD (nothing was sent).
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The SanitelCF certificate cannot be used.
    #[error(transparent)]
    Sanitel(#[from] SanitelError),
    /// The HTTP client could not be configured (TLS roots, CA file).
    #[error("configurazione del client HTTP non valida: {0}")]
    Client(String),
    /// Sistema TS could not be reached (DNS, TCP, TLS, connection reset).
    #[error(
        "Sistema TS non raggiungibile ({0}). Controllare la connessione a internet e riprovare tra qualche minuto"
    )]
    Transport(String),
    /// Sistema TS did not answer in time.
    #[error(
        "Sistema TS non ha risposto in tempo. Riprovare tra qualche minuto; se persiste, verificare lo stato del servizio"
    )]
    Timeout,
    /// HTTP 401: the Basic credentials were refused (wrong or expired password).
    #[error(
        "Sistema TS ha rifiutato la password dell'utente (HTTP 401). Verificare la password in tsgate; se è scaduta, cambiarla sul portale Sistema TS"
    )]
    PasswordRefused,
    /// HTTP 500 with the Fault "Errore generico di autenticazione": the user id is unknown.
    #[error(
        "Sistema TS non riconosce l'utente (errore generico di autenticazione). Verificare il codice utente configurato in tsgate"
    )]
    UnknownUser,
    /// A SOAP Fault for an XML-schema violation (`cvc-…`): a bug in the request.
    #[error(
        "Sistema TS ha rifiutato il formato del messaggio ({}). Segnalare il problema all'assistenza tsgate", .0.string
    )]
    SchemaRejected(Fault),
    /// Any other SOAP Fault.
    #[error("Sistema TS ha risposto con un errore (HTTP {status}: {}). Riprovare più tardi", .fault.string)]
    Fault {
        /// HTTP status of the response.
        status: u16,
        /// The fault.
        fault: Fault,
    },
    /// A non-success HTTP status without a SOAP Fault.
    #[error("Sistema TS ha risposto con lo stato HTTP {0}. Riprovare più tardi")]
    HttpStatus(u16),
    /// A response that could not be understood.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl Error {
    /// Whether retrying the same call later may succeed (network trouble, server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout => true,
            Error::HttpStatus(status) => *status >= 500,
            Error::Fault { fault, .. } => !fault.is_schema_error(),
            _ => false,
        }
    }
}

/// An error and its `source()` chain on one line ("a: b: c"), skipping a cause whose text
/// the line already contains (many errors repeat their source in their own message).
///
/// For logs and diagnostics: the errors of this crate never contain secrets, and transport
/// errors name hosts and paths, never credentials.
pub fn describe_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
