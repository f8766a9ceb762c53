//! What `GET …/mailbox` shows of one user's mailbox: its live state and its settings.
//! The view has no password field at all, so no serialization of it can carry one.

use serde::Serialize;
use time::OffsetDateTime;

use super::UserMailbox;
use super::settings::{OnProcessed, Tls};
use super::status::{Diagnostic, MailboxStatus};
use crate::ids::UserId;

/// The settings of a mailbox as shown: every setting but the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailboxSettingsView {
    /// IMAP server host.
    pub host: String,
    /// The port actually used.
    pub port: u16,
    /// Transport security.
    pub security: Tls,
    /// IMAP user name.
    pub username: String,
    /// PEM of a private certificate authority, if any.
    pub ca_pem: Option<String>,
    /// Folders watched besides `INBOX` and the spam folder.
    pub folders: Vec<String>,
    /// Whether the spam folder is found by itself.
    pub find_junk: bool,
    /// Senders whose mails are read.
    pub accepted_senders: Vec<String>,
    /// Words that mark a subject as an ID-SESSIONE mail.
    pub subject_keywords: Vec<String>,
    /// Seconds of clock difference tolerated.
    pub max_age_margin_secs: u64,
    /// What happens to a mail whose code was accepted.
    pub on_processed: OnProcessed,
    /// Seconds between two polls.
    pub poll_interval_secs: u64,
    /// Seconds without mail before the "no mail" diagnostic.
    pub no_mail_after_secs: u64,
    /// Seconds after which an unanswered request is given up.
    pub await_timeout_secs: u64,
    /// Longest pause between reconnections.
    pub reconnect_max_secs: u64,
    /// Timeout of each IMAP exchange.
    pub timeout_secs: u64,
    /// OCR command.
    pub tesseract: String,
    /// The address certified on the Sistema TS portal.
    pub address: Option<String>,
}

impl From<&UserMailbox> for MailboxSettingsView {
    fn from(m: &UserMailbox) -> Self {
        let s = &m.settings;
        Self {
            host: s.host.clone(),
            port: s.effective_port(),
            security: s.security,
            username: s.username.clone(),
            ca_pem: s.ca_pem.clone(),
            folders: s.folders.clone(),
            find_junk: s.find_junk,
            accepted_senders: s.accepted_senders.clone(),
            subject_keywords: s.subject_keywords.clone(),
            max_age_margin_secs: s.max_age_margin_secs,
            on_processed: s.on_processed.clone(),
            poll_interval_secs: s.poll_interval_secs,
            no_mail_after_secs: s.no_mail_after_secs,
            await_timeout_secs: s.await_timeout_secs,
            reconnect_max_secs: s.reconnect_max_secs,
            timeout_secs: s.timeout_secs,
            tesseract: s.tesseract.clone(),
            address: m.address.clone(),
        }
    }
}

/// One user's mailbox: whether it is configured, the watcher's state as it concerns this
/// user, and the settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MailboxView {
    /// Settings exist for this user.
    pub configured: bool,
    /// The watcher is logged in.
    pub connected: bool,
    /// Last successful look at the folders.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_check: Option<OffsetDateTime>,
    /// The last error, if the watcher is failing.
    pub last_error: Option<Diagnostic>,
    /// Current diagnostics of the mailbox and of this user.
    pub diagnostics: Vec<Diagnostic>,
    /// How full the mailbox is, when the server says.
    pub quota_percent: Option<u8>,
    /// The server supports IDLE.
    pub idle: bool,
    /// Folders watched.
    pub folders: Vec<String>,
    /// A code of this user is awaited now.
    pub awaiting: bool,
    /// Addresses whose mails are this user's.
    pub addresses: Vec<String>,
    /// Other users of the same mailbox.
    pub shared_with: Vec<String>,
    /// The settings (no password).
    pub settings: Option<MailboxSettingsView>,
}

/// What automatic requests need to know of a mailbox: [`MailboxView`] without the parts
/// that cost (addresses, the other users, folders).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxHealth {
    /// Settings exist for this user.
    pub configured: bool,
    /// The last error, if the watcher is failing.
    pub last_error: Option<Diagnostic>,
}

impl From<MailboxView> for MailboxHealth {
    fn from(view: MailboxView) -> Self {
        Self {
            configured: view.configured,
            last_error: view.last_error,
        }
    }
}

impl MailboxView {
    /// The view of a user without mailbox settings.
    pub fn not_configured() -> Self {
        Self::default()
    }

    /// The view of `user`'s `mailbox`, from the watcher's `status` (filtered to this
    /// user), the addresses that route to him and the other users of the same mailbox.
    pub fn of(
        user: &UserId,
        mailbox: &UserMailbox,
        status: MailboxStatus,
        addresses: Vec<String>,
        shared_with: Vec<String>,
    ) -> Self {
        let mine = |u: &Option<String>| u.as_deref().is_none_or(|u| u == user.as_str());
        Self {
            configured: status.configured,
            connected: status.connected,
            last_check: status.last_check,
            last_error: status.last_error,
            diagnostics: status
                .diagnostics
                .into_iter()
                .filter(|d| mine(&d.user))
                .collect(),
            quota_percent: status.quota_percent,
            idle: status.idle,
            folders: status.folders,
            awaiting: status.awaiting.iter().any(|u| u == user.as_str()),
            addresses,
            shared_with,
            settings: Some(MailboxSettingsView::from(mailbox)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::MailboxSettings;
    use sistemats::secret::Password;

    #[test]
    fn the_view_never_holds_the_password() {
        let mailbox = UserMailbox {
            settings: MailboxSettings::new(
                "imap.example.it",
                Tls::Implicit,
                "rossi@example.it",
                Password::new("Segreta!1"),
            ),
            address: Some("rossi@pec.it".into()),
        };
        let user = UserId::new("U1").unwrap();
        let view = MailboxView::of(
            &user,
            &mailbox,
            MailboxStatus {
                configured: true,
                ..Default::default()
            },
            mailbox.addresses(),
            vec![],
        );
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("Segreta"), "{json}");
        assert!(!json.contains("password"), "{json}");
        let settings = view.settings.unwrap();
        assert_eq!(
            (settings.port, settings.address.as_deref()),
            (993, Some("rossi@pec.it"))
        );
        assert!(
            !serde_json::to_string(&MailboxView::not_configured())
                .unwrap()
                .contains("host")
        );
    }
}
