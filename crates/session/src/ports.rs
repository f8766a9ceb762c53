//! What the domain needs from the outside: persistence, users, audit, notifications.
//!
//! Backends implement these (SQLite now, PostgreSQL next). They are object-safe
//! (`Arc<dyn …>`) through `async_trait`.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::ids::{SessionKey, UserId};
use crate::record::SessionRecord;
use crate::user::{Credentials, UserProfile};
use crate::view::SessionView;

/// A persistence failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was loaded (another node or task committed first).
    #[error("concurrent update of the session record")]
    Conflict,
    /// Anything else (I/O, database, decryption). The text is for logs and has no secrets.
    #[error("store failure: {0}")]
    Backend(String),
}

/// Session records, saved with compare-and-swap on `version`.
///
/// `commit` writes the record and its audit events in ONE transaction, so that after a crash
/// either both or neither are on disk. Several nodes single-flight `create` through this CAS:
/// the record with `RequestStage::Creating` is the lease.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The record of `key`, if one was ever committed.
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError>;

    /// Stores `record` if the stored version is still `expected_version` (0: no row yet),
    /// with version `expected_version + 1`, together with `audit`. Returns
    /// [`StoreError::Conflict`] otherwise and writes nothing.
    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// Keys of every stored record (for periodic expiry checks).
    async fn keys(&self) -> Result<Vec<SessionKey>, StoreError>;
}

/// Audit events that do not change a record (uses, copies, format errors).
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Appends one event.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;
}

/// Users and their credentials.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The profile of `user`.
    async fn user(&self, user: &UserId) -> Result<Option<UserProfile>, StoreError>;
    /// Password, PIN and their revision.
    async fn credentials(&self, user: &UserId) -> Result<Option<Credentials>, StoreError>;
}

/// A change of one session, for live updates (SSE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionChanged {
    /// Whose session.
    pub key: SessionKey,
    /// The new view (never the code).
    pub view: SessionView,
}

/// Where changes go besides the manager's own broadcast channel: e.g. a PostgreSQL
/// `NOTIFY` so that other nodes can fan the change out to their workstations (they feed it
/// back with [`crate::SessionManager::publish_external`]).
pub trait EventSink: Send + Sync {
    /// Called after the change is committed. Must not block.
    fn publish(&self, change: &SessionChanged);
}
