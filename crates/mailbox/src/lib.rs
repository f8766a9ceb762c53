//! Certified-mailbox watcher for tsgate.
//!
//! Sistema TS mails the ID-SESSIONE to the address each doctor certified on its portal.
//! This crate watches that mailbox over IMAP (TLS, IDLE, spam folder, PEC envelopes),
//! finds the code in the mail — in text, HTML or a picture read by OCR — and hands every
//! candidate to the caller, who verifies it with `checkToken`. It knows IMAP and MIME and
//! nothing about HTTP servers or databases: it reaches the store through the domain's ports.
//!
//! - [`settings`]: [`MailboxSettings`] of one mailbox (serde; the password is never written).
//! - [`extract`]: pure parsing of a raw mail into candidate codes.
//! - [`ocr`]: the `tesseract` subprocess.
//! - [`Watcher`]: the task; [`WatcherHandle`] controls it; events go to a [`MailSink`].
//! - [`check`]: a one-shot login test for the settings page and `tsgate check`.
//! - [`bridge`]: [`Mailboxes`] connects the watchers to the domain: one watcher per
//!   distinct mailbox, codes routed to their user and verified like a pasted one, the
//!   domain's `MailboxService` for the API.

pub mod bridge;
mod connect;
pub mod extract;
pub mod ocr;
/// The settings of one mailbox (a domain type: the store keeps them, the API edits them).
pub mod settings {
    pub use tsgate_session::mailbox::settings::*;
}
/// What a watcher has read of each folder (a domain type: the store keeps it).
pub mod state {
    pub use tsgate_session::mailbox::state::*;
}
/// The live state of a mailbox and its diagnostics (a domain type: the API shows it).
pub mod status {
    pub use tsgate_session::mailbox::status::*;
}
#[cfg(feature = "test-support")]
pub mod test_support;
mod watch;

pub use bridge::Mailboxes;
pub use extract::Via;
pub use settings::{MailboxSettings, OnProcessed, SettingsError, Tls};
pub use state::{FolderState, WatchState};
pub use status::{Diagnostic, DiagnosticCode, MailboxStatus};
pub use watch::{
    Expectation, Found, MailSink, MessageRef, Outcome, WatchEvent, Watcher, WatcherHandle, check,
};
