//! Certified mailboxes as the domain sees them: the settings of each user's mailbox
//! ([`UserMailbox`]), what a watcher has read ([`WatchState`]) and its live state
//! ([`MailboxStatus`]). The store keeps the first two; the `tsgate-mailbox` crate watches.

pub mod settings;
pub mod state;
pub mod status;
pub mod update;
pub mod view;

pub use settings::{MailboxSettings, OnProcessed, SettingsError, Tls};
pub use state::{FolderState, WatchState};
pub use status::{Diagnostic, DiagnosticCode, MailboxStatus};
pub use update::{InvalidMailbox, MailboxUpdate};
pub use view::{MailboxHealth, MailboxSettingsView, MailboxView};

/// Certified-mailbox settings of a user: the watcher's IMAP settings (the password is
/// stored encrypted, the rest as JSON) and the address certified on the Sistema TS portal.
/// Several users may share one mailbox (same host, port and user name).
#[derive(Clone, Debug)]
pub struct UserMailbox {
    /// IMAP settings, password included.
    pub settings: MailboxSettings,
    /// The address certified on the Sistema TS portal, when it differs from the user name.
    pub address: Option<String>,
}

impl UserMailbox {
    /// Identifies the mailbox itself (`username@host:port`, lowercase): users with the same
    /// key share one watcher and one [`WatchState`].
    pub fn mailbox_key(&self) -> String {
        let s = &self.settings;
        format!(
            "{}@{}:{}",
            s.username.trim(),
            s.host.trim(),
            s.effective_port()
        )
        .to_lowercase()
    }

    /// The addresses whose mails are this user's: the certified address and the user name
    /// when it is an address.
    pub fn addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in self
            .address
            .iter()
            .chain(std::iter::once(&self.settings.username))
        {
            let a = a.trim().to_lowercase();
            if a.contains('@') && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}
