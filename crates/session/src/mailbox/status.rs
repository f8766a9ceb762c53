//! What the watcher tells doctors and administrators: diagnostics in Italian that say the
//! next step, and the state of the mailbox. Nothing here ever holds a password or a code.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Kind of a diagnostic: stable identifiers for the UI and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticCode {
    /// The settings cannot work (see the message).
    Settings,
    /// The server refused user name or password.
    LoginRefused,
    /// TLS failed (certificate, host name, protocol).
    Tls,
    /// The server could not be reached, or the connection dropped.
    Connection,
    /// The server answered something unexpected.
    Protocol,
    /// The mailbox is (almost) full.
    MailboxFull,
    /// No mail with a code arrived in time after a request.
    NoMail,
    /// The mail was in the spam folder.
    FoundInJunk,
    /// A code was found but Sistema TS did not accept it.
    CodeRejected,
    /// A mail from Sistema TS arrived but no code could be read in it.
    CodeUnreadable,
    /// Images cannot be read on this server.
    OcrUnavailable,
    /// A request was given up after the waiting time.
    GaveUp,
}

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Kind.
    pub code: DiagnosticCode,
    /// Italian text with the next step.
    pub message: String,
    /// The user it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When it was raised.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Diagnostic {
    /// A diagnostic raised now.
    pub fn new(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            user: None,
            at: OffsetDateTime::now_utc(),
        }
    }

    /// The same diagnostic, about `user`.
    pub fn for_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Whether it reports a failure of the mailbox itself (rather than of one request).
    pub fn is_error(&self) -> bool {
        matches!(
            self.code,
            DiagnosticCode::Settings
                | DiagnosticCode::LoginRefused
                | DiagnosticCode::Tls
                | DiagnosticCode::Connection
                | DiagnosticCode::Protocol
        )
    }
}

/// State of the mailbox for the API (`GET …/mailbox`): never the password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxStatus {
    /// Settings present and valid.
    pub configured: bool,
    /// Logged in right now.
    pub connected: bool,
    /// Last successful look at the folders.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_check: Option<OffsetDateTime>,
    /// Last failure of the mailbox itself, cleared by the next successful login.
    pub last_error: Option<Diagnostic>,
    /// Current diagnostics (one per kind and user, newest).
    pub diagnostics: Vec<Diagnostic>,
    /// Highest quota usage reported by the server (percent), when it reports quotas.
    pub quota_percent: Option<u8>,
    /// Folders watched.
    pub folders: Vec<String>,
    /// Users whose code is awaited.
    pub awaiting: Vec<String>,
    /// The server supports IDLE (mail is noticed at once).
    pub idle: bool,
}

impl MailboxStatus {
    /// Adds or replaces the diagnostic of the same kind and user.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics
            .retain(|d| !(d.code == diagnostic.code && d.user == diagnostic.user));
        if diagnostic.is_error() {
            self.last_error = Some(diagnostic.clone());
        }
        self.diagnostics.push(diagnostic);
    }

    /// Removes the diagnostics of these kinds (for every user when `user` is `None`).
    pub fn clear(&mut self, codes: &[DiagnosticCode], user: Option<&str>) {
        self.diagnostics.retain(|d| {
            !(codes.contains(&d.code) && (user.is_none() || d.user.as_deref() == user))
        });
    }
}

/// Italian texts, in one place so that they stay consistent.
pub mod text {
    /// A failed read, write or connection said in Italian: the standard library's texts
    /// ("uncategorized error", "connection reset") are English, and a diagnosis never mixes
    /// the two languages.
    pub fn io_error(kind: std::io::ErrorKind) -> &'static str {
        use std::io::ErrorKind;
        match kind {
            ErrorKind::ConnectionRefused => "connessione rifiutata",
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                "connessione interrotta dal server"
            }
            ErrorKind::NotConnected | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => {
                "connessione chiusa"
            }
            ErrorKind::TimedOut | ErrorKind::WouldBlock => "tempo scaduto",
            ErrorKind::NotFound => "non trovato",
            ErrorKind::PermissionDenied => "permesso negato",
            ErrorKind::AddrNotAvailable | ErrorKind::AddrInUse => "indirizzo non disponibile",
            ErrorKind::InvalidData | ErrorKind::InvalidInput => "dati non validi",
            ErrorKind::OutOfMemory => "memoria esaurita",
            _ => "errore di rete o di sistema",
        }
    }

    pub fn login_refused() -> String {
        "La casella ha rifiutato utente o password: correggili nelle impostazioni della casella \
         (se la password è stata cambiata di recente, inserisci quella nuova)."
            .into()
    }

    pub fn tls(host: &str, detail: &str) -> String {
        format!(
            "Connessione sicura con {host} non riuscita ({detail}): controlla il nome del server \
             nelle impostazioni della casella; per un server interno indica il certificato CA."
        )
    }

    pub fn connection(host: &str, port: u16, detail: &str) -> String {
        format!(
            "Impossibile collegarsi alla casella {host}:{port} ({detail}): controlla indirizzo e \
             porta nelle impostazioni e la connessione a Internet del server; nuovo tentativo a breve."
        )
    }

    pub fn lost(host: &str) -> String {
        format!("Collegamento con la casella {host} interrotto: nuovo tentativo a breve.")
    }

    pub fn protocol(detail: &str) -> String {
        format!(
            "Il server della casella ha risposto in modo inatteso ({detail}): nuovo tentativo a breve; \
             se si ripete, verifica che sia un server IMAP."
        )
    }

    pub fn quota(percent: u8) -> String {
        format!(
            "Casella piena al {percent}%: libera spazio (svuota cestino, posta inviata e vecchie mail \
             con allegati), altrimenti la mail con il codice non può arrivare."
        )
    }

    pub fn no_mail(minutes: u64, quota: Option<u8>) -> String {
        let full = match quota {
            Some(p) if p >= 90 => format!(" La casella è piena al {p}%: libera spazio."),
            _ => String::new(),
        };
        format!(
            "Nessuna mail con il codice dopo {minutes} minuti.{full} Controlla la cartella Spam; \
             verifica sul portale Sistema TS (Sicurezza → Certifica mail) che l'indirizzo certificato \
             sia proprio questa casella; se la richiesta è tornata con errore 200 (nessun indirizzo \
             certificato) o 100 (invio mail fallito), certifica l'indirizzo e richiedi di nuovo il codice."
        )
    }

    pub fn junk(folder: &str) -> String {
        format!(
            "Trovato nella cartella Spam («{folder}»): aggiungi il mittente ai contatti della casella, \
             così le prossime mail arriveranno nella posta in arrivo."
        )
    }

    pub fn rejected() -> String {
        "Codice trovato nella mail ma rifiutato dal Sistema TS (forse è di un'altra richiesta o è \
         già scaduto): richiedi un nuovo codice, o incollalo a mano se la mail è recente."
            .into()
    }

    pub fn unreadable() -> String {
        "Mail del Sistema TS trovata, ma il codice non è leggibile automaticamente: aprila e incolla \
         il codice a mano."
            .into()
    }

    pub fn gave_up(minutes: u64) -> String {
        format!(
            "Nessun codice ricevuto in {minutes} minuti: la ricerca è sospesa. Controlla la casella \
             e richiedi un nuovo codice, oppure incollalo a mano."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serializes_without_secrets_and_keeps_one_per_kind() {
        let mut s = MailboxStatus {
            configured: true,
            ..MailboxStatus::default()
        };
        s.push(Diagnostic::new(
            DiagnosticCode::LoginRefused,
            text::login_refused(),
        ));
        s.push(Diagnostic::new(
            DiagnosticCode::LoginRefused,
            text::login_refused(),
        ));
        s.push(Diagnostic::new(DiagnosticCode::NoMail, text::no_mail(2, Some(97))).for_user("u1"));
        assert_eq!(s.diagnostics.len(), 2);
        assert_eq!(
            s.last_error.as_ref().map(|d| d.code),
            Some(DiagnosticCode::LoginRefused)
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["diagnostics"][0]["code"], "login_refused");
        assert!(
            json["diagnostics"][1]["message"]
                .as_str()
                .unwrap()
                .contains("piena al 97%")
        );
        s.clear(&[DiagnosticCode::NoMail], Some("u2"));
        assert_eq!(s.diagnostics.len(), 2);
        s.clear(&[DiagnosticCode::NoMail], Some("u1"));
        assert_eq!(s.diagnostics.len(), 1);
        let back: MailboxStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back.diagnostics.len(), 2);
    }
}
