//! The backend-neutral store interface. SQLite implements it now; a PostgreSQL backend
//! implements the same traits (plus the session crate's ports) later.

use async_trait::async_trait;
use time::Date;
use tsgate_session::audit::{AdminEvent, AuditEntry};
use tsgate_session::{
    AuditSink, Credentials, Password, Pin, SessionStore, UserDirectory, UserId, UserProfile,
    WorkstationId,
};

use tsgate_mailbox::WatchState;

use crate::error::Result;
use crate::model::{AuditFilter, UserMailbox, Workstation, WorkstationRole, WorkstationToken};

/// Users, credentials and mailbox settings.
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Creates or updates a user's profile.
    async fn put_user(&self, profile: &UserProfile) -> Result<()>;
    /// One user.
    async fn get_user(&self, user: &UserId) -> Result<Option<UserProfile>>;
    /// Every user, by id.
    async fn list_users(&self) -> Result<Vec<UserProfile>>;
    /// Removes a user with credentials, mailbox and session (the audit stays). `false` if absent.
    async fn remove_user(&self, user: &UserId) -> Result<bool>;
    /// Sets password and PIN (encrypted); returns the new credentials revision. When
    /// `password_changed_on` is given, the profile's password change date is updated too.
    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> Result<i64>;
    /// Password, PIN and revision.
    async fn get_credentials(&self, user: &UserId) -> Result<Option<Credentials>>;
    /// Sets the certified-mailbox settings.
    async fn set_mailbox(&self, user: &UserId, mailbox: &UserMailbox) -> Result<()>;
    /// The certified-mailbox settings.
    async fn get_mailbox(&self, user: &UserId) -> Result<Option<UserMailbox>>;
    /// Removes the mailbox settings. `false` if absent.
    async fn remove_mailbox(&self, user: &UserId) -> Result<bool>;
    /// Every user's mailbox settings, by user id (for starting the watchers).
    async fn list_mailboxes(&self) -> Result<Vec<(UserId, UserMailbox)>>;
    /// What the watcher of the mailbox `mailbox` ([`UserMailbox::mailbox_key`]) has read.
    async fn get_watch_state(&self, mailbox: &str) -> Result<Option<WatchState>>;
    /// Records what the watcher of `mailbox` has read, so that a restart reads nothing twice.
    async fn set_watch_state(&self, mailbox: &str, state: &WatchState) -> Result<()>;
}

/// Registered workstations.
#[async_trait]
pub trait WorkstationRepo: Send + Sync {
    /// Registers a workstation; the token is returned once and only its hash is kept.
    async fn create_workstation(
        &self,
        name: &str,
        role: WorkstationRole,
        users: &[UserId],
    ) -> Result<(Workstation, WorkstationToken)>;
    /// The live (not revoked) workstation holding `token`.
    async fn authenticate(&self, token: &WorkstationToken) -> Result<Option<Workstation>>;
    /// One workstation (revoked ones included).
    async fn get_workstation(&self, id: &WorkstationId) -> Result<Option<Workstation>>;
    /// Every workstation, oldest first.
    async fn list_workstations(&self) -> Result<Vec<Workstation>>;
    /// Replaces the list of users a workstation may act for.
    async fn set_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> Result<()>;
    /// Revokes a workstation (its token stops working). `false` if absent or already revoked.
    async fn revoke_workstation(&self, id: &WorkstationId) -> Result<bool>;
}

/// Reading the audit: session events and administration changes.
#[async_trait]
pub trait AuditQuery: Send + Sync {
    /// Lines matching `filter`, newest first.
    async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// Recording administration changes (session events come through
/// [`AuditSink`](tsgate_session::AuditSink), with each session commit).
#[async_trait]
pub trait AdminAudit: Send + Sync {
    /// Appends one administration line.
    async fn record_admin(&self, event: &AdminEvent) -> Result<()>;
}

/// Everything a tsgate backend provides.
pub trait Store:
    SessionStore + AuditSink + UserDirectory + UserRepo + WorkstationRepo + AuditQuery + AdminAudit
{
}

impl<T> Store for T where
    T: SessionStore
        + AuditSink
        + UserDirectory
        + UserRepo
        + WorkstationRepo
        + AuditQuery
        + AdminAudit
{
}
