//! Settings of one certified mailbox.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};
use sistemats::secret::Password;

/// How the IMAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// TLS from the first byte (IMAPS, usually port 993).
    #[default]
    Implicit,
    /// Plain connection upgraded with `STARTTLS` (usually port 143).
    StartTls,
    /// No encryption: allowed only towards a loopback address (tests, local relays).
    Plain,
}

impl Tls {
    /// The customary port for this kind of connection.
    pub fn default_port(self) -> u16 {
        match self {
            Tls::Implicit => 993,
            Tls::StartTls | Tls::Plain => 143,
        }
    }
}

/// What happens to a mail whose code was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnProcessed {
    /// Flag it `\Seen` (the default: the doctor still finds it in the mailbox).
    #[default]
    MarkSeen,
    /// Move it into this folder (flagged `\Seen`).
    Move(String),
    /// Delete it (flag `\Deleted` and expunge it).
    Delete,
}

/// Settings of one certified mailbox. `Debug` and `Serialize` never show the password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxSettings {
    /// IMAP server host name or address.
    pub host: String,
    /// IMAP port; `None` takes the usual one for `security` (993 or 143).
    #[serde(default)]
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default)]
    pub security: Tls,
    /// IMAP user name (often the mail address itself).
    pub username: String,
    /// IMAP password: read from the configuration, never written back.
    #[serde(
        skip_serializing,
        deserialize_with = "deserialize_password",
        default = "empty_password"
    )]
    pub password: Password,
    /// PEM of the certificate authority that signed the server certificate, for private
    /// servers; `None` trusts the system roots (and the Mozilla roots when the system has none).
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Folders watched besides `INBOX` and the spam folder found automatically.
    #[serde(default)]
    pub folders: Vec<String>,
    /// Find the spam folder by itself (`\Junk` special use, or the usual names).
    #[serde(default = "yes")]
    pub find_junk: bool,
    /// Senders whose mails are read: full addresses, or domains that also cover their
    /// sub-domains. A mail from another sender is read only when its subject matches.
    #[serde(default = "default_senders")]
    pub accepted_senders: Vec<String>,
    /// Words that mark a subject as an ID-SESSIONE mail (case-insensitive).
    #[serde(default = "default_keywords")]
    pub subject_keywords: Vec<String>,
    /// Mails received more than this many seconds before the request are ignored (clocks of
    /// the mail server and of tsgate may differ).
    #[serde(default = "default_margin")]
    pub max_age_margin_secs: u64,
    /// What to do with a mail whose code was accepted.
    #[serde(default)]
    pub on_processed: OnProcessed,
    /// Seconds between two checks of the folders not covered by IDLE (or of every folder
    /// when the server has no IDLE).
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// Seconds without mail after a request before the "no mail" diagnostic.
    #[serde(default = "default_no_mail")]
    pub no_mail_after_secs: u64,
    /// Seconds after which a request nobody answered is given up.
    #[serde(default = "default_await")]
    pub await_timeout_secs: u64,
    /// Longest pause between two reconnection attempts (the pause doubles up to this).
    #[serde(default = "default_reconnect")]
    pub reconnect_max_secs: u64,
    /// Timeout of connection, login and of each IMAP exchange.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Command used for OCR of image codes (the Debian `tesseract` program).
    #[serde(default = "default_tesseract")]
    pub tesseract: String,
}

fn yes() -> bool {
    true
}
fn default_margin() -> u64 {
    600
}
fn default_poll() -> u64 {
    30
}
fn default_no_mail() -> u64 {
    120
}
fn default_await() -> u64 {
    1800
}
fn default_reconnect() -> u64 {
    300
}
fn default_timeout() -> u64 {
    30
}
fn default_tesseract() -> String {
    "tesseract".to_owned()
}

/// Sender domains accepted by default. The real Sistema TS sender is not documented, so
/// the list is generous and every code is verified with `checkToken` anyway.
pub const DEFAULT_SENDERS: &[&str] = &[
    "sistemats.it",
    "sanita.finanze.it",
    "finanze.it",
    "sogei.it",
    "sistemats.sim.tsgate.test",
];

/// Subject words accepted by default (case-insensitive).
pub const DEFAULT_KEYWORDS: &[&str] = &["ID-SESSIONE", "ID SESSIONE", "IDSESSIONE", "codice"];

fn default_senders() -> Vec<String> {
    DEFAULT_SENDERS.iter().map(|s| (*s).to_owned()).collect()
}
fn default_keywords() -> Vec<String> {
    DEFAULT_KEYWORDS.iter().map(|s| (*s).to_owned()).collect()
}
fn empty_password() -> Password {
    Password::new("")
}
fn deserialize_password<'de, D: Deserializer<'de>>(d: D) -> Result<Password, D::Error> {
    String::deserialize(d).map(Password::new)
}

/// A setting that cannot work. Messages are in Italian and say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No host.
    #[error("Indica il server IMAP della casella (es. imap.esempio.it).")]
    MissingHost,
    /// No user name.
    #[error("Indica il nome utente della casella (spesso è l'indirizzo e-mail).")]
    MissingUsername,
    /// Plain IMAP towards a non-loopback host.
    #[error(
        "La connessione senza cifratura è ammessa solo verso questo computer (127.0.0.1): \
         scegli TLS o STARTTLS nelle impostazioni della casella."
    )]
    PlainNotLoopback,
    /// The CA PEM holds no usable certificate.
    #[error(
        "Il certificato CA indicato non è leggibile (serve un file PEM): correggilo o lascialo \
         vuoto per usare i certificati di sistema."
    )]
    BadCaPem,
}

impl MailboxSettings {
    /// Settings with the defaults for everything but the account.
    pub fn new(
        host: impl Into<String>,
        security: Tls,
        username: impl Into<String>,
        password: Password,
    ) -> Self {
        Self {
            host: host.into(),
            port: None,
            security,
            username: username.into(),
            password,
            ca_pem: None,
            folders: Vec::new(),
            find_junk: true,
            accepted_senders: default_senders(),
            subject_keywords: default_keywords(),
            max_age_margin_secs: default_margin(),
            on_processed: OnProcessed::default(),
            poll_interval_secs: default_poll(),
            no_mail_after_secs: default_no_mail(),
            await_timeout_secs: default_await(),
            reconnect_max_secs: default_reconnect(),
            timeout_secs: default_timeout(),
            tesseract: default_tesseract(),
        }
    }

    /// The port actually used.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    /// Checks what can be checked without connecting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.host.trim().is_empty() {
            return Err(SettingsError::MissingHost);
        }
        if self.username.trim().is_empty() {
            return Err(SettingsError::MissingUsername);
        }
        if self.security == Tls::Plain && !is_loopback(&self.host) {
            return Err(SettingsError::PlainNotLoopback);
        }
        if let Some(pem) = &self.ca_pem {
            let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| SettingsError::BadCaPem)?;
            if certs.is_empty() {
                return Err(SettingsError::BadCaPem);
            }
        }
        Ok(())
    }
}

/// `localhost` or a loopback IP address (brackets around IPv6 allowed).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_on_loopback() {
        let mut s = MailboxSettings::new("127.0.0.1", Tls::Plain, "u", Password::new("p"));
        assert_eq!(s.validate(), Ok(()));
        for host in ["localhost", "::1", "[::1]", "127.0.0.2"] {
            s.host = host.into();
            assert_eq!(s.validate(), Ok(()), "{host}");
        }
        for host in ["imap.example.it", "10.0.0.1", "192.168.1.2"] {
            s.host = host.into();
            let err = s.validate().unwrap_err();
            assert_eq!(err, SettingsError::PlainNotLoopback);
            assert!(err.to_string().contains("TLS o STARTTLS"));
        }
        s.security = Tls::StartTls;
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn password_is_read_but_never_written() {
        let s: MailboxSettings = toml::from_str(
            r#"
            host = "imap.example.it"
            username = "dott.rossi@example.it"
            password = "Segreta!1"
            security = "start_tls"
            on_processed = { move = "Archivio" }
            "#,
        )
        .unwrap();
        assert_eq!(s.password.expose_secret(), "Segreta!1");
        assert_eq!(s.effective_port(), 143);
        assert_eq!(s.on_processed, OnProcessed::Move("Archivio".into()));
        assert!(s.find_junk);
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("Segreta"), "{json}");
        assert!(!json.contains("password"), "{json}");
        assert!(!format!("{s:?}").contains("Segreta"));
        let back: MailboxSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.password.expose_secret(), "");
        assert_eq!(back.accepted_senders, s.accepted_senders);
    }

    #[test]
    fn bad_ca_is_refused() {
        let mut s = MailboxSettings::new("imap.example.it", Tls::Implicit, "u", Password::new(""));
        s.ca_pem = Some("not a certificate".into());
        assert_eq!(s.validate(), Err(SettingsError::BadCaPem));
    }
}
