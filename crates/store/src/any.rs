//! The backend a configuration names: [`Database`] (where, from `database_url`) and
//! [`AnyStore`] (the open store, SQLite or PostgreSQL, implementing every port by
//! delegation), so that the binary holds one type whichever backend it runs on.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use tsgate_session::auto::UserSchedule;
use tsgate_session::hours::WorkingHours;
use tsgate_session::mailbox::{UserMailbox, WatchState};
use tsgate_session::{
    AuditEntry, AuditFilter, AuditLog, Credentials, Health, ImportCounts, ImportedUser, LeaseRepo,
    ListQuery, MailboxRepo, Page, Password, Pin, Practice, PracticeCounts, PracticeId,
    PracticeRepo, ScheduleRepo, SessionKey, SessionRecord, SessionStore, StoreResult,
    UserDirectory, UserId, UserProfile, Workstation, WorkstationId, WorkstationRepo,
    WorkstationSpec, WorkstationToken,
};

use crate::crypto::{KeyId, KeyRing, MasterKey};
use crate::error::{Error, Result};
use crate::keyfile::{KeyFile, Settled};
use crate::sqlite::DbLock;
use crate::{PgStore, SqliteStore};

/// How a process uses the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Next to other processes (a server, the commands): the ordinary case.
    Shared,
    /// Alone (`tsgate restore`, `tsgate rotate-key`): refused while another process uses the
    /// database, and no other process can open it meanwhile (SQLite: [`DbLock`]; both: no
    /// server may hold the `periodic` lease).
    Exclusive,
}

/// Where the master key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A key file (created with a fresh key on first run) and its rotation files.
    File(KeyFile),
    /// A key given as such (`TSGATE_MASTER_KEY`): there is no file to rotate or settle.
    Given(MasterKey),
}

/// A store opened by [`AnyStore::open_keyed`], the key it uses, and what was found of an
/// interrupted rotation.
#[derive(Debug)]
pub struct Opened {
    /// The store.
    pub store: AnyStore,
    /// The master key in use (the data is under it).
    pub key: MasterKey,
    /// An interrupted rotation completed or rolled back, or nothing.
    pub settled: Settled,
}

/// The points of [`AnyStore::rotate_key_file`], in order, for tests that stop the process
/// at one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationStep {
    /// The new key is in `master.key.next`; the data is untouched.
    Staged,
    /// Every secret is re-encrypted in the open transaction, not yet committed.
    BeforeCommit,
    /// The transaction is committed: the data is under the new key, `master.key` still
    /// holds the old one.
    Committed,
    /// The old key is kept as `master.key.retired-<id>` and the new one is `master.key`.
    Done,
}

/// What [`AnyStore::rotate_key_file`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotated {
    /// Secrets re-encrypted.
    pub secrets: usize,
    /// The key replaced.
    pub old: KeyId,
    /// The key in use now.
    pub new: KeyId,
    /// Where the replaced key is kept.
    pub retired: PathBuf,
}

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (`sqlite://<path>`, or no URL: the data folder's `tsgate.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`, as sqlx reads it).
    Postgres(String),
}

impl Database {
    /// The database of a `database_url`: `postgres://…`/`postgresql://…`, or
    /// `sqlite://<path>` (`sqlite:<path>` too). Anything else is refused, in Italian.
    pub fn from_url(url: &str) -> Result<Self> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            // Options after `?` are SQLite's URL options; this store sets its own.
            let path = path.split('?').next().unwrap_or_default();
            if !path.is_empty() {
                return Ok(Self::Sqlite(PathBuf::from(path)));
            }
        }
        Err(Error::InvalidDatabaseUrl(redact_url(url)))
    }
}

/// Shows the URL without its password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact_url(url)).finish(),
        }
    }
}

/// Where, for messages and logs: a path, or the URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// `url` with the password of its user (`user:password@`) and any `password=` parameter
/// replaced by `***`: what may go into a message or a log.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => head.to_owned(),
                },
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// An open store of either backend. Every port delegates to it.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// The embedded default.
    Sqlite(SqliteStore),
    /// Several nodes on one database.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens `database` (creating a SQLite file, migrating either) and checks that `keys`
    /// read its secrets.
    pub async fn open(database: &Database, keys: KeyRing) -> Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Self::Sqlite(SqliteStore::open(path, keys).await?),
            Database::Postgres(url) => Self::Postgres(PgStore::connect(url, keys).await?),
        })
    }

    /// Opens `database` like [`AnyStore::open`] with the key of `source`, after settling a
    /// key rotation a crash interrupted: when `master.key.next` exists, both keys open the
    /// data, and the key the data is really under decides ([`KeyFile`], [`Settled`]).
    ///
    /// With [`Access::Exclusive`] it is refused ([`Error::InUse`]) while another process
    /// uses the database. On SQLite the lock is taken before the key files are read, so
    /// that no rotation or restore can change them in between.
    pub async fn open_keyed(
        database: &Database,
        source: &KeySource,
        access: Access,
    ) -> Result<Opened> {
        let lock = match database {
            Database::Sqlite(path) => Some(DbLock::acquire(path, access)?),
            Database::Postgres(_) => None,
        };
        let (key, pending) = match source {
            KeySource::File(file) => (file.load_or_create()?, file.pending()?),
            KeySource::Given(key) => (key.clone(), None),
        };
        let mut ring = KeyRing::new(key.clone());
        if let Some(next) = &pending {
            ring = ring.with_retired(next.clone());
        }
        let store = match (database, lock) {
            (Database::Sqlite(path), Some(lock)) => {
                Self::Sqlite(SqliteStore::open_locked(path, ring, lock).await?)
            }
            (Database::Sqlite(path), None) => Self::Sqlite(SqliteStore::open(path, ring).await?),
            (Database::Postgres(url), _) => Self::Postgres(PgStore::connect(url, ring).await?),
        };
        let settled = async {
            if access == Access::Exclusive {
                store.refuse_if_served(database).await?;
            }
            match (source, pending) {
                (KeySource::File(file), Some(next)) => {
                    let data = store.data_key_id().await?;
                    let (key, settled) = file.settle(key, next, data)?;
                    store.set_keys(KeyRing::new(key.clone())).await;
                    Ok((key, settled))
                }
                _ => Ok((key, Settled::Nothing)),
            }
        }
        .await;
        match settled {
            Ok((key, settled)) => Ok(Opened {
                store,
                key,
                settled,
            }),
            Err(e) => {
                store.close().await;
                Err(e)
            }
        }
    }

    /// [`Error::InUse`] while a server holds the `periodic` lease (every `tsgate serve`
    /// renews it each tick, and gives it up when it stops).
    async fn refuse_if_served(&self, database: &Database) -> Result<()> {
        let lease = match self {
            Self::Sqlite(s) => s.live_periodic_lease().await?,
            Self::Postgres(s) => s.live_periodic_lease().await?,
        };
        match lease {
            None => Ok(()),
            Some((owner, until)) => Err(Error::served(database.to_string(), &owner, until)),
        }
    }

    /// The key the data is sealed under (the stored key check's).
    pub async fn data_key_id(&self) -> Result<Option<KeyId>> {
        match self {
            Self::Sqlite(s) => s.data_key_id().await,
            Self::Postgres(s) => s.data_key_id().await,
        }
    }

    async fn set_keys(&self, keys: KeyRing) {
        match self {
            Self::Sqlite(s) => s.set_keys(keys).await,
            Self::Postgres(s) => s.set_keys(keys).await,
        }
    }

    /// Opens every stored secret; returns how many there are.
    pub async fn verify_secrets(&self) -> Result<usize> {
        match self {
            Self::Sqlite(s) => s.verify_secrets().await,
            Self::Postgres(s) => s.verify_secrets().await,
        }
    }

    /// Rotates the master key of `file`, whose key `current` this store uses (opened by
    /// [`AnyStore::open_keyed`] with [`Access::Exclusive`]; on PostgreSQL every node stopped).
    /// Steps and crash safety: [`crate::crypto`] (Rotation). `observe` is called at each
    /// [`RotationStep`].
    ///
    /// When the re-encryption fails, the key the data is under decides again (a commit whose
    /// answer was lost may have happened): the rotation is completed or rolled back like
    /// after a crash, and the error returned.
    pub async fn rotate_key_file(
        &self,
        file: &KeyFile,
        current: &MasterKey,
        observe: &(dyn Fn(RotationStep) + Send + Sync),
    ) -> Result<Rotated> {
        let mut new = MasterKey::generate();
        // Settling tells the two keys apart by their ids: they must differ.
        while new.id() == current.id() {
            new = MasterKey::generate();
        }
        file.stage(&new)?;
        observe(RotationStep::Staged);
        let before_commit = || observe(RotationStep::BeforeCommit);
        let rotated = match self {
            Self::Sqlite(s) => s.rotate_key_observed(new.clone(), &before_commit).await,
            Self::Postgres(s) => s.rotate_key_observed(new.clone(), &before_commit).await,
        };
        let secrets = match rotated {
            Ok(secrets) => secrets,
            Err(e) => {
                if let Ok(data) = self.data_key_id().await
                    && let Ok((key, _)) = file.settle(current.clone(), new, data)
                {
                    self.set_keys(KeyRing::new(key)).await;
                }
                return Err(e);
            }
        };
        observe(RotationStep::Committed);
        let retired = file.promote(current, &new)?;
        observe(RotationStep::Done);
        Ok(Rotated {
            secrets,
            old: current.id(),
            new: new.id(),
            retired,
        })
    }

    /// Closes the pool (a SQLite file is checkpointed).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }

    /// Re-encrypts every secret under `new` ([`SqliteStore::rotate_key`],
    /// [`PgStore::rotate_key`]).
    pub async fn rotate_key(&self, new: MasterKey) -> Result<usize> {
        match self {
            Self::Sqlite(s) => s.rotate_key(new).await,
            Self::Postgres(s) => s.rotate_key(new).await,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        Self::Sqlite(s)
    }
}

impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> Self {
        Self::Postgres(s)
    }
}

/// `$port::$method(store, args…)` on whichever backend `$self` is.
macro_rules! delegate {
    ($self:ident, $port:ident :: $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => $port::$method(s, $($arg),*).await,
            AnyStore::Postgres(s) => $port::$method(s, $($arg),*).await,
        }
    };
}

#[async_trait]
impl SessionStore for AnyStore {
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>> {
        delegate!(self, SessionStore::load(key))
    }

    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()> {
        delegate!(self, SessionStore::commit(record, expected_version, audit))
    }

    async fn keys(&self) -> StoreResult<Vec<SessionKey>> {
        delegate!(self, SessionStore::keys())
    }

    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        delegate!(self, SessionStore::due(now))
    }
}

#[async_trait]
impl AuditLog for AnyStore {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        delegate!(self, AuditLog::append(entry))
    }

    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        delegate!(self, AuditLog::query(filter))
    }
}

#[async_trait]
impl UserDirectory for AnyStore {
    async fn user(&self, user: &UserId) -> StoreResult<Option<UserProfile>> {
        delegate!(self, UserDirectory::user(user))
    }

    async fn credentials(&self, user: &UserId) -> StoreResult<Option<Credentials>> {
        delegate!(self, UserDirectory::credentials(user))
    }

    async fn put_user(&self, profile: &UserProfile) -> StoreResult<()> {
        delegate!(self, UserDirectory::put_user(profile))
    }

    async fn list_users(&self) -> StoreResult<Vec<UserProfile>> {
        delegate!(self, UserDirectory::list_users())
    }

    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>> {
        delegate!(self, UserDirectory::users_page(query))
    }

    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        delegate!(self, UserDirectory::auto_candidates())
    }

    async fn remove_user(&self, user: &UserId) -> StoreResult<bool> {
        delegate!(self, UserDirectory::remove_user(user))
    }

    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> StoreResult<i64> {
        delegate!(
            self,
            UserDirectory::set_credentials(user, password, pin, password_changed_on)
        )
    }
}

#[async_trait]
impl WorkstationRepo for AnyStore {
    async fn register_workstation(
        &self,
        spec: &WorkstationSpec,
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        delegate!(self, WorkstationRepo::register_workstation(spec))
    }

    async fn workstations_page(&self, query: &ListQuery) -> StoreResult<Page<Workstation>> {
        delegate!(self, WorkstationRepo::workstations_page(query))
    }

    async fn workstation_named(
        &self,
        practice: Option<&PracticeId>,
        name: &str,
    ) -> StoreResult<Option<Workstation>> {
        delegate!(self, WorkstationRepo::workstation_named(practice, name))
    }

    async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>> {
        delegate!(self, WorkstationRepo::authenticate(token))
    }

    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>> {
        delegate!(self, WorkstationRepo::workstation(id))
    }

    async fn list_workstations(&self) -> StoreResult<Vec<Workstation>> {
        delegate!(self, WorkstationRepo::list_workstations())
    }

    async fn set_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> StoreResult<()> {
        delegate!(self, WorkstationRepo::set_workstation_users(id, users))
    }

    async fn revoke_workstation(&self, id: &WorkstationId) -> StoreResult<bool> {
        delegate!(self, WorkstationRepo::revoke_workstation(id))
    }
}

#[async_trait]
impl PracticeRepo for AnyStore {
    async fn put_practice(&self, id: &PracticeId, name: &str) -> StoreResult<Practice> {
        delegate!(self, PracticeRepo::put_practice(id, name))
    }

    async fn practice(&self, id: &PracticeId) -> StoreResult<Option<Practice>> {
        delegate!(self, PracticeRepo::practice(id))
    }

    async fn practices_page(&self, query: &ListQuery) -> StoreResult<Page<Practice>> {
        delegate!(self, PracticeRepo::practices_page(query))
    }

    async fn practice_counts(&self, id: &PracticeId) -> StoreResult<PracticeCounts> {
        delegate!(self, PracticeRepo::practice_counts(id))
    }

    async fn add_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<()> {
        delegate!(self, PracticeRepo::add_member(practice, user))
    }

    async fn remove_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        delegate!(self, PracticeRepo::remove_member(practice, user))
    }

    async fn is_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        delegate!(self, PracticeRepo::is_member(practice, user))
    }

    async fn practices_of(&self, user: &UserId) -> StoreResult<Vec<PracticeId>> {
        delegate!(self, PracticeRepo::practices_of(user))
    }

    async fn import_users(&self, rows: &[ImportedUser]) -> StoreResult<ImportCounts> {
        delegate!(self, PracticeRepo::import_users(rows))
    }
}

#[async_trait]
impl MailboxRepo for AnyStore {
    async fn set_mailbox(&self, user: &UserId, mailbox: &UserMailbox) -> StoreResult<()> {
        delegate!(self, MailboxRepo::set_mailbox(user, mailbox))
    }

    async fn mailbox(&self, user: &UserId) -> StoreResult<Option<UserMailbox>> {
        delegate!(self, MailboxRepo::mailbox(user))
    }

    async fn remove_mailbox(&self, user: &UserId) -> StoreResult<bool> {
        delegate!(self, MailboxRepo::remove_mailbox(user))
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<(UserId, UserMailbox)>> {
        delegate!(self, MailboxRepo::list_mailboxes())
    }

    async fn watch_state(&self, mailbox: &str) -> StoreResult<Option<WatchState>> {
        delegate!(self, MailboxRepo::watch_state(mailbox))
    }

    async fn set_watch_state(&self, mailbox: &str, state: &WatchState) -> StoreResult<()> {
        delegate!(self, MailboxRepo::set_watch_state(mailbox, state))
    }
}

#[async_trait]
impl ScheduleRepo for AnyStore {
    async fn practice_hours(&self) -> StoreResult<Option<WorkingHours>> {
        delegate!(self, ScheduleRepo::practice_hours())
    }

    async fn set_practice_hours(&self, hours: &WorkingHours) -> StoreResult<()> {
        delegate!(self, ScheduleRepo::set_practice_hours(hours))
    }

    async fn schedule(&self, user: &UserId) -> StoreResult<UserSchedule> {
        delegate!(self, ScheduleRepo::schedule(user))
    }

    async fn set_schedule(&self, user: &UserId, schedule: &UserSchedule) -> StoreResult<()> {
        delegate!(self, ScheduleRepo::set_schedule(user, schedule))
    }
}

#[async_trait]
impl LeaseRepo for AnyStore {
    async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: time::Duration,
        now: time::OffsetDateTime,
    ) -> StoreResult<bool> {
        delegate!(self, LeaseRepo::try_lease(name, owner, ttl, now))
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        delegate!(self, LeaseRepo::release_lease(name, owner))
    }
}

#[async_trait]
impl Health for AnyStore {
    async fn ping(&self) -> StoreResult<()> {
        delegate!(self, Health::ping())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            Database::from_url("postgres://tsgate:s3cret@db.example.it:5432/tsgate").unwrap(),
            Database::Postgres("postgres://tsgate:s3cret@db.example.it:5432/tsgate".into())
        );
        assert!(matches!(
            Database::from_url("postgresql://db/tsgate"),
            Ok(Database::Postgres(_))
        ));
        assert_eq!(
            Database::from_url("sqlite:///var/lib/tsgate/tsgate.db?mode=rwc").unwrap(),
            Database::Sqlite("/var/lib/tsgate/tsgate.db".into())
        );
        assert_eq!(
            Database::from_url("sqlite:tsgate.db").unwrap(),
            Database::Sqlite("tsgate.db".into())
        );
        for bad in ["mysql://db/tsgate", "sqlite://", "/var/lib/tsgate.db", ""] {
            assert!(
                matches!(Database::from_url(bad), Err(Error::InvalidDatabaseUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_never_show() {
        let url = "postgres://tsgate:s3cret@db.example.it/tsgate?sslmode=require&password=other";
        let db = Database::from_url(url).unwrap();
        for shown in [
            format!("{db}"),
            format!("{db:?}"),
            redact_url(url),
            Database::from_url(&url.replace("postgres", "mysql"))
                .unwrap_err()
                .to_string(),
        ] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("other"),
                "{shown}"
            );
            assert!(shown.contains("db.example.it"), "{shown}");
        }
        assert_eq!(
            redact_url("postgres://tsgate@db/tsgate"),
            "postgres://tsgate@db/tsgate"
        );
        assert_eq!(
            redact_url("postgres://u:p@w@db/x"),
            "postgres://u:***@db/x",
            "the last @ ends the user information"
        );
    }
}
