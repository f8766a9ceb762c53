//! The SQLite backend: one file, WAL journal, `synchronous = FULL`, foreign keys on.
//!
//! Every state change is one transaction; a session commit writes the record and its audit
//! lines together, with compare-and-swap on `version`. After a crash (even `kill -9`) the
//! database holds exactly the committed transactions.
//!
//! Each port's SQL lives in an inherent method returning [`crate::Error`]; the port impls
//! only convert the error into the domain's (`From<Error> for StoreError`, cause kept).

mod audit;
pub mod backup;
mod leases;
mod lock;
mod mailboxes;
mod practices;
mod schedules;
mod sessions;
mod users;
mod workstations;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{Mutex, OwnedMutexGuard, RwLock};
use tsgate_session::{Health, StoreResult};

pub use lock::DbLock;

use crate::any::Access;
use crate::crypto::{KeyId, KeyRing, MasterKey, Slot};
use crate::error::{Error, Result};
pub(crate) use crate::stored::ms;

const KEY_CHECK: Slot<'static> = Slot {
    table: "meta",
    column: "value",
    row: "key_check",
};

/// The SQLite store. Cheap to clone (a pool, a shared key ring, the writers' turn and the
/// database's [`DbLock`], held as long as a clone lives).
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    keys: Arc<RwLock<KeyRing>>,
    lock: DbLock,
    /// SQLite has one writer at a time. Writers of this process take turns here (a fair
    /// queue, in order of arrival) instead of polling the file lock; the busy timeout is
    /// left for writers of other processes (the command line next to a running server).
    writer: Arc<Mutex<()>>,
}

/// A write transaction holding the writers' turn ([`SqliteStore::write_tx`]). Derefs to
/// the connection, like a `sqlx::Transaction`; dropped without [`WriteTx::commit`], it rolls
/// back.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with mode 0600) the database at `path`, applies the
    /// migrations and checks that `keys` can read its secrets ([`Error::WrongMasterKey`]
    /// otherwise). Holds the database's [`DbLock`] shared.
    pub async fn open(path: impl AsRef<Path>, keys: KeyRing) -> Result<Self> {
        Self::open_with(path, keys, Access::Shared).await
    }

    /// [`SqliteStore::open`] with the [`DbLock`] held as `access` says: `Exclusive` is
    /// refused ([`Error::InUse`]) while another process has the database open.
    pub async fn open_with(path: impl AsRef<Path>, keys: KeyRing, access: Access) -> Result<Self> {
        let path = path.as_ref();
        let lock = DbLock::acquire(path, access)?;
        Self::open_locked(path, keys, lock).await
    }

    /// [`SqliteStore::open`] under a lock already held (a restore opens the copy it is about
    /// to put in place under the lock of the database it replaces).
    pub(crate) async fn open_locked(path: &Path, keys: KeyRing, lock: DbLock) -> Result<Self> {
        #[cfg(unix)]
        let existed = path.exists();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed transaction survives a power loss too, not only a process kill.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        #[cfg(unix)]
        if !existed {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        backup::MIGRATOR.run(&pool).await?;
        let store = Self {
            pool,
            keys: Arc::new(RwLock::new(keys)),
            lock,
            writer: Arc::new(Mutex::new(())),
        };
        store.check_key().await?;
        Ok(store)
    }

    /// How this store holds its database's lock.
    pub fn access(&self) -> Access {
        self.lock.access()
    }

    /// The key the stored key check is sealed under, which is the key of every secret.
    pub async fn data_key_id(&self) -> Result<Option<KeyId>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM meta WHERE name = 'key_check'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(sealed.as_deref().and_then(KeyRing::sealed_under))
    }

    /// Uses `keys` from now on (after a rotation was settled).
    pub(crate) async fn set_keys(&self, keys: KeyRing) {
        *self.keys.write().await = keys;
    }

    /// Opens every stored secret (and the key check); returns how many secrets there are.
    /// [`Error::Decrypt`] or [`Error::UnknownKeyId`] names the first that does not open.
    pub async fn verify_secrets(&self) -> Result<usize> {
        let keys = self.keys.read().await;
        let mut conn = self.pool.acquire().await?;
        backup::open_every_secret(&mut conn, &keys).await
    }

    /// The `periodic` lease, when a server holds it now: `(owner, until)`. A `tsgate serve`
    /// renews it every tick and gives it up when it stops; one killed keeps it for three
    /// ticks.
    pub async fn live_periodic_lease(&self) -> Result<Option<(String, i64)>> {
        backup::live_periodic_lease(&mut *self.pool.acquire().await?).await
    }

    /// The connection pool (health checks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction: it waits for this process's writers' turn, then takes the
    /// database's write lock at once (`BEGIN IMMEDIATE`). A deferred one that reads first and
    /// then writes fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) when
    /// another connection wrote in between, whatever the busy timeout; an immediate one
    /// waits for the lock instead. EVERY write of this store goes through here.
    pub(crate) async fn write_tx(&self) -> Result<WriteTx> {
        let turn = Arc::clone(&self.writer).lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// Runs one write statement in its own [`SqliteStore::write_tx`]; returns the rows it
    /// changed.
    pub(crate) async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let n = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn check_key(&self) -> Result<()> {
        let keys = self.keys.read().await;
        let row = sqlx::query("SELECT value FROM meta WHERE name = 'key_check'")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let sealed: Vec<u8> = row.try_get("value")?;
                keys.open(&sealed, KEY_CHECK)
                    .map(|_| ())
                    .map_err(|_| Error::WrongMasterKey)
            }
            None => {
                let sealed = keys.seal(b"tsgate key check", KEY_CHECK);
                self.write_one(
                    sqlx::query(
                        "INSERT INTO meta (name, value) VALUES ('key_check', ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(sealed),
                )
                .await?;
                Ok(())
            }
        }
    }

    /// Re-encrypts every secret under `new` in one transaction, then uses `new` for
    /// everything (the previous key stays in the ring as retired). Returns how many values
    /// were re-encrypted. See [`crate::crypto`] for the whole procedure.
    pub async fn rotate_key(&self, new: MasterKey) -> Result<usize> {
        self.rotate_key_observed(new, &|| {}).await
    }

    /// [`SqliteStore::rotate_key`], calling `before_commit` when everything is re-encrypted
    /// and the transaction is about to commit (where the crash tests stop the process).
    pub(crate) async fn rotate_key_observed(
        &self,
        new: MasterKey,
        before_commit: &(dyn Fn() + Send + Sync),
    ) -> Result<usize> {
        // Held for the whole rotation: no value can be sealed under the old key meanwhile.
        let mut keys = self.keys.write().await;
        let ring = keys.rotated(new);
        let mut tx = self.write_tx().await?;
        // Take the write lock first, so that nothing changes between reading and rewriting.
        sqlx::query("UPDATE meta SET value = value WHERE name = 'key_check'")
            .execute(&mut *tx)
            .await?;
        let mut count = 0;

        let rows = sqlx::query("SELECT user_id, password_enc, pin_enc FROM credentials")
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let user: String = row.try_get("user_id")?;
            let mut values = Vec::new();
            for column in ["password_enc", "pin_enc"] {
                let slot = Slot {
                    table: "credentials",
                    column,
                    row: &user,
                };
                let sealed: Vec<u8> = row.try_get(column)?;
                values.push(ring.seal(&ring.open(&sealed, slot)?, slot));
            }
            sqlx::query("UPDATE credentials SET password_enc = ?, pin_enc = ? WHERE user_id = ?")
                .bind(&values[0])
                .bind(&values[1])
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            count += 2;
        }

        let rows = sqlx::query("SELECT user_id, password_enc FROM mailboxes")
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let user: String = row.try_get("user_id")?;
            let slot = Slot {
                table: "mailboxes",
                column: "password_enc",
                row: &user,
            };
            let sealed: Vec<u8> = row.try_get("password_enc")?;
            let resealed = ring.seal(&ring.open(&sealed, slot)?, slot);
            sqlx::query("UPDATE mailboxes SET password_enc = ? WHERE user_id = ?")
                .bind(resealed)
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }

        let rows = sqlx::query(
            "SELECT user_id, application, code_enc FROM sessions WHERE code_enc IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let user: String = row.try_get("user_id")?;
            let application: String = row.try_get("application")?;
            let key = format!("{user}/{application}");
            let slot = Slot {
                table: "sessions",
                column: "code_enc",
                row: &key,
            };
            let sealed: Vec<u8> = row.try_get("code_enc")?;
            let resealed = ring.seal(&ring.open(&sealed, slot)?, slot);
            sqlx::query("UPDATE sessions SET code_enc = ? WHERE user_id = ? AND application = ?")
                .bind(resealed)
                .bind(&user)
                .bind(&application)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }

        sqlx::query("UPDATE meta SET value = ? WHERE name = 'key_check'")
            .bind(ring.seal(b"tsgate key check", KEY_CHECK))
            .execute(&mut *tx)
            .await?;
        before_commit();
        tx.commit().await?;
        *keys = ring;
        Ok(count)
    }
}

#[async_trait]
impl Health for SqliteStore {
    /// Runs a trivial query: for `/readyz` and `tsgate check`.
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }
}
