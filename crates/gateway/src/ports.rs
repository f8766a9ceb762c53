//! The one port the gateway defines itself: the certified mailboxes, which the binary
//! implements over the store and the mailbox watchers. Everything else the gateway reaches
//! through the domain (`tsgate-session`): the [`SessionManager`](tsgate_session::SessionManager)
//! and the backend ports of [`tsgate_session::Store`].

use tsgate_session::async_trait;
use tsgate_session::{StoreError, UserId};

/// Why a mailbox operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// No such user (404).
    #[error("unknown user")]
    UnknownUser,
    /// The settings are not acceptable (400), with an Italian explanation.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Certified-mailbox settings and live state of each user. The JSON shapes are those of
/// `tsgate-mailbox` (`MailboxSettings` in, `MailboxStatus` out), passed through unchanged.
#[async_trait]
pub trait MailboxService: Send + Sync + 'static {
    /// State: `configured`, `connected`, `last_check`, `diagnostics`, … Never the password
    /// (the gateway also removes any `password` field, as a second guard).
    async fn status(&self, user: &UserId) -> Result<serde_json::Value, MailboxError>;

    /// Replaces the settings (password included, stored encrypted) and returns the new state.
    async fn configure(
        &self,
        user: &UserId,
        settings: serde_json::Value,
    ) -> Result<serde_json::Value, MailboxError>;
}
