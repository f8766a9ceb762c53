//! What a watcher session works with: its context and its errors, shared by the session
//! loop, the folder survey and the folder scan.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::extract::MailFilter;
use crate::ocr::Ocr;
use crate::settings::MailboxSettings;
use crate::status::{Diagnostic, DiagnosticCode, text};

#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("imap: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("timeout")]
    Timeout,
    #[error("connection closed")]
    Closed,
}

impl SessionError {
    pub(super) fn diagnostic(&self, settings: &MailboxSettings) -> Diagnostic {
        match self {
            SessionError::Imap(async_imap::error::Error::Bad(d))
            | SessionError::Imap(async_imap::error::Error::No(d)) => {
                Diagnostic::new(DiagnosticCode::Protocol, text::protocol(d))
            }
            _ => Diagnostic::new(DiagnosticCode::Connection, text::lost(&settings.host)),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Folder {
    pub(super) name: String,
    pub(super) junk: bool,
}

/// Everything a session needs besides the IMAP connection.
pub(super) struct Ctx {
    pub(super) shared: Arc<Shared>,
    pub(super) settings: MailboxSettings,
    pub(super) filter: MailFilter,
    pub(super) ocr: Ocr,
    pub(super) limit: Duration,
}

impl Ctx {
    pub(super) async fn io<T, F>(&self, fut: F) -> Result<T, SessionError>
    where
        F: Future<Output = Result<T, async_imap::error::Error>>,
    {
        tokio::time::timeout(self.limit, fut)
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::from)
    }

    /// Waits for `d`, or less if the handle wakes the task.
    pub(super) async fn nap(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shared.wake.notified() => {}
        }
    }

    /// (stop requested, connection needed)
    pub(super) fn wanted(&self) -> (bool, bool) {
        let inner = self.shared.lock();
        let needed = !inner.expectations.is_empty() || !inner.actions.is_empty() || inner.check_now;
        (inner.stop, needed)
    }
}
