//! Certified-mailbox watcher for tsgate.
//!
//! Sistema TS mails the ID-SESSIONE to the address each doctor certified on its portal.
//! This crate watches that mailbox over IMAP (TLS, IDLE, spam folder, PEC envelopes),
//! finds the code in the mail — in text, HTML or a picture read by OCR — and hands every
//! candidate to the caller, who verifies it with `checkToken`. It knows IMAP and MIME and
//! nothing about HTTP servers or databases.
//!
//! - [`settings`]: [`MailboxSettings`] of one mailbox (serde; the password is never written).
//! - [`extract`]: pure parsing of a raw mail into candidate codes.
//! - [`ocr`]: the `tesseract` subprocess.
//! - [`Watcher`]: the task; [`WatcherHandle`] controls it; events go to a [`MailSink`].
//! - [`check`]: a one-shot login test for the settings page and `tsgate check`.

mod connect;
pub mod extract;
pub mod ocr;
pub mod settings;
pub mod state;
pub mod status;
#[cfg(feature = "test-support")]
pub mod test_support;
mod watch;

pub use extract::Via;
pub use settings::{MailboxSettings, OnProcessed, SettingsError, Tls};
pub use state::{FolderState, WatchState};
pub use status::{Diagnostic, DiagnosticCode, MailboxStatus};
pub use watch::{
    Expectation, Found, MailSink, MessageRef, Outcome, WatchEvent, Watcher, WatcherHandle, check,
};
