//! Backup and restore of the SQLite database.
//!
//! **Backup** ([`backup`]) is online: `VACUUM INTO` reads one snapshot of the database in a
//! read transaction (WAL: writers of a running server go on meanwhile) and writes it as a
//! new, compact, self-contained file (no `-wal` beside it). The copy goes to a temporary file
//! in the target's folder, is checked ([`inspect`]: `PRAGMA integrity_check`, a tsgate schema
//! this build reads, the key check, and every secret opened when the key is at hand), synced,
//! and only then appears under its name: linked (never replacing a file) or, when asked,
//! renamed over the old one. The master key is never part of it.
//!
//! **Restore** ([`restore`]) holds the database's [`DbLock`] exclusive, so no tsgate process
//! has the database open, and refuses when a server still holds the `periodic` lease (one of
//! an earlier version, which takes no lock). It copies the backup beside the database, checks
//! it like a backup and with the key in use (a backup under another key is refused, naming
//! that key's id), migrates the copy, then swaps: the current database is checkpointed and
//! kept as `<name>.before-restore-<UTC time>` (a hard link), and the copy is renamed over it.
//! At every moment the database's name holds either the whole old database or the whole new
//! one, and no `-wal` of the old one is left for SQLite to replay onto the new one.

use std::fs;
use std::io::{ErrorKind, Read as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection as _, Row as _};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{DbLock, KEY_CHECK, SqliteStore, ms};
use crate::any::Access;
use crate::crypto::{KeyId, KeyRing, Slot};
use crate::error::{Error, Result};
use crate::keyfile::sync_folder;
use crate::stored::SEALED;

/// The SQLite migrations of this build.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The newest schema version this build knows (and writes).
pub fn supported_schema() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// What a database file holds, as [`inspect`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// Its schema version (the newest migration applied).
    pub schema_version: i64,
    /// The master key its secrets are sealed under.
    pub key: KeyId,
    /// Sistema TS users.
    pub users: i64,
    /// Workstations (revoked ones included).
    pub workstations: i64,
    /// Lines of the audit.
    pub audit_lines: i64,
    /// How many secrets were opened, when the key was given and is this file's.
    pub secrets: Option<usize>,
    /// The file's size.
    pub bytes: u64,
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The backup as it was given (its schema version before the migration).
    pub backup: Inspection,
    /// The schema version of the restored database (after the migrations).
    pub schema_version: i64,
    /// Where the replaced database is kept (`None`: there was none).
    pub previous: Option<PathBuf>,
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::File {
        path: path.to_owned(),
        source,
    }
}

/// A name beside `path` for a file being made: `.<name>.<what>-<random>`.
fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{what}-{:08x}", rand::random::<u32>()))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Removes `path` and the `-wal`/`-shm` SQLite may have left beside it (all may be absent).
fn remove_with_sidecars(path: &Path) {
    for p in [
        path.to_owned(),
        with_suffix(path, "-wal"),
        with_suffix(path, "-shm"),
    ] {
        let _ = fs::remove_file(p);
    }
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(file_error(path))
}

#[cfg(unix)]
fn private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(file_error(path))
}

#[cfg(not(unix))]
fn private(_: &Path) -> Result<()> {
    Ok(())
}

/// Copies the database at `db` to `out` while it is in use (see the module documentation),
/// and checks the copy with `keys` when given. `out` is never replaced unless `overwrite`;
/// [`Error::Exists`] otherwise. The database is neither migrated nor changed.
pub async fn backup(
    db: &Path,
    out: &Path,
    overwrite: bool,
    keys: Option<&KeyRing>,
) -> Result<Inspection> {
    if !db.is_file() {
        return Err(Error::NoDatabase(db.to_owned()));
    }
    // Shared, like a server: refused only while a restore or a rotation runs.
    let _lock = DbLock::acquire(db, Access::Shared)?;
    if !overwrite && out.exists() {
        return Err(Error::Exists(out.to_owned()));
    }
    let partial = beside(out, "partial");
    // VACUUM INTO writes into an empty file; made here, it is private from the start.
    let mut create = fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        create.mode(0o600);
    }
    create.open(&partial).map_err(file_error(&partial))?;
    let made = async {
        let target = partial.to_str().ok_or_else(|| Error::File {
            path: partial.clone(),
            source: std::io::Error::new(ErrorKind::InvalidInput, "the path is not UTF-8"),
        })?;
        let mut conn = SqliteConnection::connect_with(&options(db)).await?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut conn)
            .await;
        conn.close().await?;
        copied?;
        let found = inspect(&partial, keys).await?;
        sync_file(&partial)?;
        install(&partial, out, overwrite)?;
        Ok(found)
    }
    .await;
    remove_with_sidecars(&partial);
    made
}

/// Gives the finished `partial` its name `out`: a hard link when `out` must not be replaced
/// (atomic: it fails if `out` appeared meanwhile), a rename otherwise.
fn install(partial: &Path, out: &Path, overwrite: bool) -> Result<()> {
    if overwrite {
        fs::rename(partial, out).map_err(file_error(out))?;
    } else {
        match fs::hard_link(partial, out) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(Error::Exists(out.to_owned()));
            }
            // A file system without hard links: check, then rename (a tiny race).
            Err(_) if !out.exists() => fs::rename(partial, out).map_err(file_error(out))?,
            Err(_) => return Err(Error::Exists(out.to_owned())),
        }
    }
    sync_folder(out).map_err(file_error(out))
}

/// Opens every sealed value of the database on `conn` with `keys`; returns how many secrets
/// there are (the key check not counted).
pub(crate) async fn open_every_secret(
    conn: &mut SqliteConnection,
    keys: &KeyRing,
) -> Result<usize> {
    let mut count = 0;
    for (table, column, query) in SEALED {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(query).fetch_all(&mut *conn).await?;
        for (row, sealed) in rows {
            keys.open(
                &sealed,
                Slot {
                    table,
                    column,
                    row: &row,
                },
            )?;
            count += 1;
        }
    }
    let check: Vec<u8> = sqlx::query_scalar("SELECT value FROM meta WHERE name = 'key_check'")
        .fetch_one(&mut *conn)
        .await?;
    keys.open(&check, KEY_CHECK)?;
    Ok(count)
}

/// The `periodic` lease if a server holds it now: `(owner, until in Unix ms)`.
pub(crate) async fn live_periodic_lease(
    conn: &mut SqliteConnection,
) -> Result<Option<(String, i64)>> {
    let has_leases: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'leases'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if has_leases == 0 {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT owner, until_ms FROM leases WHERE name = 'periodic' AND until_ms > ?",
    )
    .bind(ms(OffsetDateTime::now_utc()))
    .fetch_optional(&mut *conn)
    .await?)
}

/// Checks that the file at `path` is a whole tsgate database this build can read: SQLite's
/// `integrity_check`, the tables and migrations of tsgate, a schema not newer than
/// [`supported_schema`], the key check; with `keys` holding its key, every secret opens.
/// Opens the file read-write without creating it: give it a file of your own (a copy).
pub async fn inspect(path: &Path, keys: Option<&KeyRing>) -> Result<Inspection> {
    let not_ours = |why: &str| Error::NotTsgateDatabase {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let mut header = [0u8; 16];
    let bytes = fs::metadata(path).map_err(file_error(path))?.len();
    let read = fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| e.kind());
    match read {
        Ok(()) if &header == b"SQLite format 3\0" => {}
        Ok(()) | Err(ErrorKind::UnexpectedEof) => {
            return Err(not_ours("non è un file SQLite"));
        }
        Err(kind) => return Err(file_error(path)(kind.into())),
    }
    let mut conn = SqliteConnection::connect_with(&options(path)).await?;
    let found = inspect_open(path, &mut conn, keys, bytes).await;
    conn.close().await?;
    let found = found?;
    if found.schema_version > supported_schema() {
        return Err(Error::SchemaTooNew {
            found: found.schema_version,
            supported: supported_schema(),
        });
    }
    Ok(found)
}

async fn inspect_open(
    path: &Path,
    conn: &mut SqliteConnection,
    keys: Option<&KeyRing>,
    bytes: u64,
) -> Result<Inspection> {
    let not_ours = |why: &str| Error::NotTsgateDatabase {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let report: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(20)")
        .fetch_all(&mut *conn)
        .await?;
    if report != ["ok"] {
        return Err(Error::Integrity {
            path: path.to_owned(),
            report: report.join("; "),
        });
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN
         ('_sqlx_migrations', 'meta', 'users', 'credentials', 'mailboxes', 'sessions',
          'workstations', 'audit')",
    )
    .fetch_all(&mut *conn)
    .await?;
    if tables.len() != 8 {
        return Err(not_ours("mancano le tabelle di tsgate"));
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    let schema_version = version.ok_or_else(|| not_ours("nessuna migrazione applicata"))?;
    let check: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT value FROM meta WHERE name = 'key_check'")
            .fetch_optional(&mut *conn)
            .await?;
    let key = check
        .as_deref()
        .and_then(KeyRing::sealed_under)
        .ok_or_else(|| not_ours("manca il controllo della chiave principale"))?;
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM users) AS users,
                (SELECT count(*) FROM workstations) AS workstations,
                (SELECT count(*) FROM audit) AS audit",
    )
    .fetch_one(&mut *conn)
    .await?;
    let secrets = match keys {
        Some(keys) if keys.holds(key) => Some(open_every_secret(conn, keys).await?),
        _ => None,
    };
    Ok(Inspection {
        schema_version,
        key,
        users: row.try_get("users")?,
        workstations: row.try_get("workstations")?,
        audit_lines: row.try_get("audit")?,
        secrets,
        bytes,
    })
}

/// Replaces the database at `db` by the backup at `from` (see the module documentation).
/// `keys` must open the backup's secrets ([`Error::KeyMismatch`] otherwise); nothing is
/// changed unless every check passed.
pub async fn restore(db: &Path, from: &Path, keys: &KeyRing) -> Result<Restored> {
    let lock = DbLock::acquire(db, Access::Exclusive)?;
    if db.exists() {
        refuse_if_served(db).await?;
        let same = fs::canonicalize(db).ok() == fs::canonicalize(from).ok();
        if same {
            return Err(Error::File {
                path: from.to_owned(),
                source: std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "this is the database itself, not a backup of it",
                ),
            });
        }
    }
    if !from.is_file() {
        return Err(file_error(from)(std::io::Error::new(
            ErrorKind::NotFound,
            "no such backup file",
        )));
    }
    let copy = beside(db, "restoring");
    let done = async {
        fs::copy(from, &copy).map_err(file_error(&copy))?;
        private(&copy)?;
        let backup = inspect(&copy, Some(keys)).await?;
        if backup.secrets.is_none() {
            return Err(Error::KeyMismatch {
                data: backup.key,
                current: keys.current().id(),
            });
        }
        // Migrated and checked under the lock of the database it replaces.
        let store = SqliteStore::open_locked(&copy, keys.clone(), lock.clone()).await?;
        let checked = store.verify_secrets().await;
        let version: std::result::Result<Option<i64>, sqlx::Error> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(store.pool())
                .await;
        store.close().await;
        checked?;
        let schema_version = version?.unwrap_or_default();
        for sidecar in ["-wal", "-shm"] {
            let _ = fs::remove_file(with_suffix(&copy, sidecar));
        }
        sync_file(&copy)?;
        let previous = set_aside(db).await?;
        fs::rename(&copy, db).map_err(file_error(db))?;
        sync_folder(db).map_err(file_error(db))?;
        Ok(Restored {
            backup,
            schema_version,
            previous,
        })
    }
    .await;
    if done.is_err() {
        remove_with_sidecars(&copy);
    }
    done
}

/// [`Error::InUse`] when a server holds the `periodic` lease of the database at `db`: a
/// server of a version that takes no [`DbLock`], or one killed less than three ticks ago.
/// A database that cannot be read is not refused here (it may be why it is restored).
async fn refuse_if_served(db: &Path) -> Result<()> {
    let Ok(mut conn) = SqliteConnection::connect_with(&options(db)).await else {
        return Ok(());
    };
    let lease = live_periodic_lease(&mut conn).await;
    let _ = conn.close().await;
    match lease {
        Ok(Some((owner, until))) => Err(Error::served(db.display().to_string(), &owner, until)),
        _ => Ok(()),
    }
}

/// Keeps the database at `db` as `<name>.before-restore-<UTC time>` and leaves no `-wal` or
/// `-shm` of it at `db`'s name, while `db` itself stays in place (a hard link) until the
/// caller renames the new database over it.
async fn set_aside(db: &Path) -> Result<Option<PathBuf>> {
    let wal = with_suffix(db, "-wal");
    let shm = with_suffix(db, "-shm");
    if !db.exists() {
        // A `-wal` without its database would be replayed onto the new one.
        let _ = fs::remove_file(&wal);
        let _ = fs::remove_file(&shm);
        return Ok(None);
    }
    // Everything committed moves into the database file; the WAL is left empty.
    if let Ok(mut conn) = SqliteConnection::connect_with(&options(db)).await {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let mut previous = with_suffix(db, &format!(".before-restore-{stamp}"));
    let mut n = 1;
    loop {
        match fs::hard_link(db, &previous) {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                n += 1;
                previous = with_suffix(db, &format!(".before-restore-{stamp}-{n}"));
            }
            // No hard links here: a copy, synced.
            Err(_) => {
                fs::copy(db, &previous).map_err(file_error(&previous))?;
                sync_file(&previous)?;
                break;
            }
        }
    }
    // A WAL the checkpoint could not empty (a damaged database) goes with the kept copy.
    if fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        let kept = with_suffix(&previous, "-wal");
        fs::copy(&wal, &kept).map_err(file_error(&kept))?;
    }
    for sidecar in [&wal, &shm] {
        match fs::remove_file(sidecar) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(sidecar)(e)),
        }
    }
    sync_folder(db).map_err(file_error(db))?;
    Ok(Some(previous))
}
