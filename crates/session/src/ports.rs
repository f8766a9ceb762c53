//! Every port a backend implements: session records, users, workstations, the audit and the
//! mailboxes' settings and watch state; and the mailbox service the API asks. SQLite implements them now, PostgreSQL next, and
//! [`crate::memory::MemoryStore`] for tests; [`Store`] is all of them together.
//!
//! One style: `async_trait`, so that each is object-safe and used as `Arc<dyn …>`.

use std::error::Error as StdError;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::audit::{AuditEntry, AuditFilter};
use crate::auto::UserSchedule;
use crate::hours::WorkingHours;
use crate::ids::{SessionKey, UserId, WorkstationId};
use crate::mailbox::{
    InvalidMailbox, MailboxHealth, MailboxUpdate, MailboxView, UserMailbox, WatchState,
};
use crate::practice::{ListQuery, Page, Practice, PracticeCounts, PracticeId};
use crate::record::SessionRecord;
use crate::user::{Credentials, UserProfile};
use crate::view::SessionView;
use crate::workstation::{
    PracticeRule, Workstation, WorkstationRole, WorkstationSpec, WorkstationToken,
};
use sistemats::secret::{Password, Pin};

/// The cause of a backend failure, kept whole for the log.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A persistence failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was loaded (another node or task committed first), or
    /// the row to create exists already.
    #[error("concurrent update or duplicate row")]
    Conflict,
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Anything else (I/O, database, decryption). The chain has no secrets: database
    /// errors carry SQL text, never bound values.
    #[error("store failure")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps any backend error, keeping it as the source.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        Self::Backend(e.into())
    }
}

/// A port's result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Session records, saved with compare-and-swap on `version`.
///
/// `commit` writes the record and its audit lines in ONE transaction, so that after a crash
/// either both or neither are on disk. Several nodes single-flight `create` through this CAS:
/// the record with `RequestStage::Creating` is the lease.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The record of `key`, if one was ever committed.
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>>;

    /// Stores `record` if the stored version is still `expected_version` (0: no row yet),
    /// with version `expected_version + 1`, together with `audit`. Returns
    /// [`StoreError::Conflict`] otherwise and writes nothing.
    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()>;

    /// Keys of every stored record (the first periodic pass of a process visits them all).
    async fn keys(&self) -> StoreResult<Vec<SessionKey>>;

    /// Keys of the records whose [`SessionRecord::due_at`] is at or before `now`, earliest
    /// first: what a periodic pass visits. Backends answer from an index on the due moment,
    /// so a pass costs what is due, not what is stored.
    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>>;
}

/// The audit trail: session events and administration changes in one table.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one line (session events that change a record come with
    /// [`SessionStore::commit`] instead).
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Lines matching `filter`, newest first, at most [`AuditFilter::effective_limit`].
    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// Users and their credentials.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The profile of `user`.
    async fn user(&self, user: &UserId) -> StoreResult<Option<UserProfile>>;
    /// Password, PIN and their revision.
    async fn credentials(&self, user: &UserId) -> StoreResult<Option<Credentials>>;
    /// Creates or updates a user's profile.
    async fn put_user(&self, profile: &UserProfile) -> StoreResult<()>;
    /// Every user, by id.
    async fn list_users(&self) -> StoreResult<Vec<UserProfile>>;
    /// One page of users by id: the members of [`ListQuery::practice`] if given, whose id,
    /// name or fiscal code contains [`ListQuery::search`] if given.
    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>>;
    /// The users whose automatic requests may be on: those with a certified mailbox or a
    /// choice of their own (mode or hours). Everybody else is off for want of a mailbox, and
    /// the periodic pass of [`crate::auto::Autopilot`] need not visit them. The default
    /// answers every user (correct, not fast); backends answer from their indexes.
    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        Ok(self
            .list_users()
            .await?
            .into_iter()
            .map(|p| p.user_id)
            .collect())
    }
    /// Removes a user with credentials, mailbox and session (the audit stays). `false` if
    /// absent.
    async fn remove_user(&self, user: &UserId) -> StoreResult<bool>;
    /// Sets password and PIN (encrypted at rest); returns the new credentials revision.
    /// When `password_changed_on` is given, the profile's password change date is updated.
    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> StoreResult<i64>;
}

/// Registered workstations.
#[async_trait]
pub trait WorkstationRepo: Send + Sync {
    /// Registers a workstation; the token is returned once and only its hash is kept.
    /// `NotFound` when its practice does not exist.
    async fn register_workstation(
        &self,
        spec: &WorkstationSpec,
    ) -> StoreResult<(Workstation, WorkstationToken)>;
    /// Registers a workstation in the default practice (installation-wide for a vendor):
    /// what a single-practice install does.
    async fn create_workstation(
        &self,
        name: &str,
        role: WorkstationRole,
        users: &[UserId],
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        let practice =
            (role.practice_rule() != PracticeRule::Forbidden).then(PracticeId::default_practice);
        self.register_workstation(&WorkstationSpec {
            name: name.to_owned(),
            role,
            practice,
            users: users.to_vec(),
        })
        .await
    }
    /// One page of live workstations, oldest first: those of [`ListQuery::practice`] if
    /// given, whose name contains [`ListQuery::search`] if given.
    async fn workstations_page(&self, query: &ListQuery) -> StoreResult<Page<Workstation>>;
    /// The live workstation called `name` in `practice` (`None`: installation-wide), if any.
    async fn workstation_named(
        &self,
        practice: Option<&PracticeId>,
        name: &str,
    ) -> StoreResult<Option<Workstation>>;
    /// The live (not revoked) workstation holding `token`.
    async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>>;
    /// One workstation (revoked ones included).
    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>>;
    /// Every workstation, oldest first (revoked ones included).
    async fn list_workstations(&self) -> StoreResult<Vec<Workstation>>;
    /// Replaces the list of users a workstation may act for.
    async fn set_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> StoreResult<()>;
    /// Revokes a workstation (its token stops working). `false` if absent or already
    /// revoked.
    async fn revoke_workstation(&self, id: &WorkstationId) -> StoreResult<bool>;
}

/// Certified-mailbox settings of each user, and what each watcher has read.
#[async_trait]
pub trait MailboxRepo: Send + Sync {
    /// Sets the certified-mailbox settings (the password encrypted at rest).
    async fn set_mailbox(&self, user: &UserId, mailbox: &UserMailbox) -> StoreResult<()>;
    /// The certified-mailbox settings.
    async fn mailbox(&self, user: &UserId) -> StoreResult<Option<UserMailbox>>;
    /// Removes the mailbox settings. `false` if absent.
    async fn remove_mailbox(&self, user: &UserId) -> StoreResult<bool>;
    /// Every user's mailbox settings, by user id (for starting the watchers).
    async fn list_mailboxes(&self) -> StoreResult<Vec<(UserId, UserMailbox)>>;
    /// What the watcher of the mailbox `mailbox` ([`UserMailbox::mailbox_key`]) has read.
    async fn watch_state(&self, mailbox: &str) -> StoreResult<Option<WatchState>>;
    /// Records what the watcher of `mailbox` has read, so that a restart reads nothing twice.
    async fn set_watch_state(&self, mailbox: &str, state: &WatchState) -> StoreResult<()>;
}

/// Working hours and automatic requests: the practice default and each user's choices.
#[async_trait]
pub trait ScheduleRepo: Send + Sync {
    /// The practice's working hours, if an administrator set them (else the built-in
    /// [`WorkingHours::default`] applies).
    async fn practice_hours(&self) -> StoreResult<Option<WorkingHours>>;
    /// Sets the practice's working hours.
    async fn set_practice_hours(&self, hours: &WorkingHours) -> StoreResult<()>;
    /// The choices of `user` (the default when never set). `NotFound` for an unknown user.
    async fn schedule(&self, user: &UserId) -> StoreResult<UserSchedule>;
    /// Sets the choices of `user`. `NotFound` for an unknown user.
    async fn set_schedule(&self, user: &UserId, schedule: &UserSchedule) -> StoreResult<()>;
}

/// A doctor to import: the profile, the practice it joins (created when missing) and,
/// optionally, the credentials.
#[derive(Clone, Debug)]
pub struct ImportedUser {
    /// The practice the doctor joins.
    pub practice: PracticeId,
    /// The practice's name, when the import creates or renames it.
    pub practice_name: Option<String>,
    /// The profile (created or updated).
    pub profile: UserProfile,
    /// Password and PIN, set when given and different from the stored ones.
    pub credentials: Option<(Password, Pin)>,
}

/// What an import batch changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    /// Users that did not exist.
    pub users_created: u64,
    /// Users whose profile or credentials changed.
    pub users_updated: u64,
    /// Users already exactly as imported.
    pub users_unchanged: u64,
    /// Memberships added.
    pub memberships_added: u64,
    /// Practices created.
    pub practices_created: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, o: Self) {
        self.users_created += o.users_created;
        self.users_updated += o.users_updated;
        self.users_unchanged += o.users_unchanged;
        self.memberships_added += o.memberships_added;
        self.practices_created += o.practices_created;
    }
}

/// Practices and their members.
#[async_trait]
pub trait PracticeRepo: Send + Sync {
    /// Creates `id` or renames it; returns it.
    async fn put_practice(&self, id: &PracticeId, name: &str) -> StoreResult<Practice>;
    /// One practice.
    async fn practice(&self, id: &PracticeId) -> StoreResult<Option<Practice>>;
    /// One page of practices by id (search on id and name).
    async fn practices_page(&self, query: &ListQuery) -> StoreResult<Page<Practice>>;
    /// Members, live workstations and active sessions of `id`.
    async fn practice_counts(&self, id: &PracticeId) -> StoreResult<PracticeCounts>;
    /// Makes `user` a member of `practice` (nothing if it is already). `NotFound` when
    /// either does not exist.
    async fn add_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<()>;
    /// Ends a membership; the user's lists on the practice's workstations lose it too.
    /// `false` if it was not a member.
    async fn remove_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool>;
    /// Whether `user` is a member of `practice`: one indexed lookup.
    async fn is_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool>;
    /// The practices `user` belongs to, by id.
    async fn practices_of(&self, user: &UserId) -> StoreResult<Vec<PracticeId>>;
    /// Creates or updates doctors with their memberships in one transaction (all or
    /// nothing). Idempotent: importing the same rows again changes nothing.
    async fn import_users(&self, rows: &[ImportedUser]) -> StoreResult<ImportCounts>;
}

/// Named leases between the processes of one database: the one that holds a lease does the
/// work it names (the periodic passes, watching one certified mailbox), the others wait. A
/// holder renews before [`LeaseRepo::try_lease`]'s `ttl` runs out; when it dies, another
/// takes the lease once it has run out. Times are the callers' wall clocks (keep the nodes
/// on NTP).
#[async_trait]
pub trait LeaseRepo: Send + Sync {
    /// Takes `name` for `owner` until `now + ttl` if it is free, run out, or already
    /// `owner`'s (a renewal). Returns whether `owner` holds it now.
    async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: time::Duration,
        now: time::OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Gives `name` up if `owner` holds it (a clean shutdown: the next holder need not wait).
    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()>;
}

/// Whether the backend answers (for `/readyz`).
#[async_trait]
pub trait Health: Send + Sync {
    /// `Ok` when a trivial query succeeds.
    async fn ping(&self) -> StoreResult<()>;
}

/// Everything a tsgate backend provides.
pub trait Store:
    SessionStore
    + AuditLog
    + UserDirectory
    + WorkstationRepo
    + PracticeRepo
    + MailboxRepo
    + ScheduleRepo
    + LeaseRepo
    + Health
{
}

impl<T> Store for T where
    T: SessionStore
        + AuditLog
        + PracticeRepo
        + UserDirectory
        + WorkstationRepo
        + MailboxRepo
        + ScheduleRepo
        + LeaseRepo
        + Health
{
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

/// Why a mailbox operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// No such user.
    #[error("unknown user")]
    UnknownUser,
    /// The settings are not acceptable; the text is Italian.
    #[error(transparent)]
    Invalid(#[from] InvalidMailbox),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Certified-mailbox settings and live state of each user: what the API and the web UI
/// ask. Implemented by the mailbox bridge (`tsgate-mailbox`), over the store and the
/// watchers.
#[async_trait]
pub trait MailboxService: Send + Sync + 'static {
    /// The mailbox of `user` as shown.
    async fn status(&self, user: &UserId) -> Result<MailboxView, MailboxError>;

    /// Whether `user`'s mailbox is configured and working: what the periodic pass of
    /// automatic requests asks of every user, so implementations answer it without building
    /// the whole view (the default does build it).
    async fn health(&self, user: &UserId) -> Result<MailboxHealth, MailboxError> {
        Ok(self.status(user).await?.into())
    }

    /// Replaces the settings of `user` (password encrypted at rest; kept when the update
    /// has none) and returns the new state.
    async fn configure(
        &self,
        user: &UserId,
        update: MailboxUpdate,
    ) -> Result<MailboxView, MailboxError>;
}
