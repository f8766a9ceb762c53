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

use crate::crypto::{KeyRing, MasterKey};
use crate::error::{Error, Result};
use crate::{PgStore, SqliteStore};

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
