//! Simulator configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which Sistema TS environment the simulator imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Production: the ID-SESSIONE travels only by e-mail; no test wildcard.
    #[default]
    Production,
    /// Test ("VALIDAZIONE"): `create` also returns the code in `comunicazioni`, and the monthly
    /// wildcard `USER-yyyy-MM-RICETTA-DEM[-PRESCRITTORE]` is accepted on DEM calls.
    Test,
}

/// How the DEM services treat a missing or invalid `Authorization2F` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Not checked at all (before 01/12/2025).
    Off,
    /// Accepted with warning 9101 and `codEsito…` `0001` (SAC behaviour since 01/12/2025).
    Warn,
    /// Refused with `9999` and error 9101 (`Bloccante`).
    #[default]
    Block,
}

/// How the ID-SESSIONE is shown in the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CodeFormat {
    /// Plain text (and an HTML part).
    #[default]
    Text,
    /// A PNG picture of the code (as the SSN mails do); the text only says where it is.
    Image,
}

/// Where mails are delivered in the Maildir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MailFolder {
    /// The Maildir root.
    #[default]
    #[serde(rename = "INBOX")]
    Inbox,
    /// `.Junk/` (Dovecot Maildir++ layout), to test spam-folder handling.
    #[serde(rename = "Junk")]
    Junk,
}

/// Everything the simulator needs to start. All fields have usable defaults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Production or test environment behaviour.
    pub mode: Mode,
    /// `Authorization2F` enforcement on DEM services.
    pub enforcement: Enforcement,
    /// Validity of a new ID-SESSIONE (16 h like production).
    pub validity: Duration,
    /// Deliver mails also into this directory: `DIR/<recipient>/` is a Maildir.
    pub maildir: Option<PathBuf>,
    /// Deliver mails also to this SMTP server (`host:port`, plain SMTP, no TLS).
    pub smtp: Option<String>,
    /// Text or image code in the mails.
    pub code_format: CodeFormat,
    /// Maildir folder that receives new mails.
    pub mail_folder: MailFolder,
    /// Keeps the RSA test key pair and certificate here (`sim-key.pem`, `sim-cert.pem`),
    /// so a client configured once keeps working across restarts. `None`: a fresh pair
    /// is generated at every start.
    pub data_dir: Option<PathBuf>,
    /// Font used to draw the code in image mails; `None` tries the DejaVu Sans Mono system
    /// font and falls back to the embedded copy.
    pub font_path: Option<PathBuf>,
    /// Prescriptions kept in memory (NRE and data); beyond this the oldest are forgotten
    /// and their NRE answers like an unknown one. Keeps memory flat in long benchmarks.
    pub max_prescriptions: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mode: Mode::Production,
            enforcement: Enforcement::Block,
            validity: Duration::from_secs(16 * 3600),
            maildir: None,
            smtp: None,
            code_format: CodeFormat::Text,
            mail_folder: MailFolder::Inbox,
            data_dir: None,
            font_path: None,
            max_prescriptions: crate::dem::store::DEFAULT_MAX_PRESCRIPTIONS,
        }
    }
}
