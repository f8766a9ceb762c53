//! The PostgreSQL backend: the same ports, the same stored forms ([`crate::stored`]) and the
//! same sealed secrets as [`crate::SqliteStore`], for several `tsgate serve` nodes on one
//! database.
//!
//! Every state change is one transaction at READ COMMITTED. Writers never wait on a lock of
//! this process: PostgreSQL orders them row by row. Creations are `INSERT … ON CONFLICT`, a
//! session commit is `UPDATE … WHERE version = $n` (or an insert that conflicts) with its audit
//! lines in the same transaction, and a check that a row exists before inserting a row that
//! refers to it locks it (`FOR KEY SHARE`), so that a concurrent delete cannot turn the insert
//! into a foreign-key error.
//!
//! Each port's SQL lives in an inherent method returning [`crate::Error`]; the port impls
//! only convert the error into the domain's (`From<Error> for StoreError`, cause kept).

mod audit;
pub mod events;
mod leases;
mod mailboxes;
mod practices;
mod schedules;
mod sessions;
mod users;
mod workstations;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use tokio::sync::RwLock;
use tsgate_session::{Health, StoreResult};

use crate::crypto::{KeyId, KeyRing, MasterKey, Slot};
use crate::error::{Error, Result};
use crate::stored::session::code_slot;
use crate::stored::{SEALED, credentials_slot, ms};

const KEY_CHECK: Slot<'static> = Slot {
    table: "meta",
    column: "value",
    row: "key_check",
};

/// The PostgreSQL store. Cheap to clone (a pool and a shared key ring).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    keys: Arc<RwLock<KeyRing>>,
}

/// Never shows the URL: it may hold the database password.
impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`,
    /// with `?sslmode=require` and the other libpq parameters that sqlx reads), applies the
    /// migrations (several nodes starting together take turns on an advisory lock) and checks
    /// that `keys` can read its secrets ([`Error::WrongMasterKey`] otherwise).
    pub async fn connect(url: &str, keys: KeyRing) -> Result<Self> {
        // Notices (such as "relation _sqlx_migrations already exists" at every start) are
        // not for the operator's terminal.
        let options =
            PgConnectOptions::from_str(url)?.options([("client_min_messages", "warning")]);
        // One connection first: an unreachable server or a refused password fails at once,
        // with its own error, instead of the pool's timeout.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let store = Self {
            pool,
            keys: Arc::new(RwLock::new(keys)),
        };
        store.check_key().await?;
        Ok(store)
    }

    /// The connection pool (health checks, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn check_key(&self) -> Result<()> {
        let keys = self.keys.read().await;
        // The first node to start writes the check value; the others (and every later start)
        // read the one that won.
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ('key_check', $1) ON CONFLICT DO NOTHING",
        )
        .bind(keys.seal(b"tsgate key check", KEY_CHECK))
        .execute(&self.pool)
        .await?;
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT value FROM meta WHERE name = 'key_check'")
            .fetch_one(&self.pool)
            .await?;
        keys.open(&sealed, KEY_CHECK)
            .map(|_| ())
            .map_err(|_| Error::WrongMasterKey)
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
    pub async fn verify_secrets(&self) -> Result<usize> {
        let keys = self.keys.read().await;
        let mut count = 0;
        for (table, column, query) in SEALED {
            let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(query).fetch_all(&self.pool).await?;
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
            .fetch_one(&self.pool)
            .await?;
        keys.open(&check, KEY_CHECK)?;
        Ok(count)
    }

    /// The `periodic` lease, when a node holds it now: `(owner, until in Unix ms)`. While
    /// any `tsgate serve` runs on the database one of them renews it every tick.
    pub async fn live_periodic_lease(&self) -> Result<Option<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT owner, until_ms FROM leases WHERE name = 'periodic' AND until_ms > $1",
        )
        .bind(ms(time::OffsetDateTime::now_utc()))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Re-encrypts every secret under `new` in one transaction, then uses `new` for
    /// everything (the previous key stays in the ring as retired). Returns how many values
    /// were re-encrypted. See [`crate::crypto`] for the whole procedure; other nodes on the
    /// same database must be stopped meanwhile (they seal under their own ring).
    pub async fn rotate_key(&self, new: MasterKey) -> Result<usize> {
        self.rotate_key_observed(new, &|| {}).await
    }

    /// [`PgStore::rotate_key`], calling `before_commit` when everything is re-encrypted and
    /// the transaction is about to commit.
    pub(crate) async fn rotate_key_observed(
        &self,
        new: MasterKey,
        before_commit: &(dyn Fn() + Send + Sync),
    ) -> Result<usize> {
        // Held for the whole rotation: no value of this process can be sealed under the old
        // key meanwhile.
        let mut keys = self.keys.write().await;
        let ring = keys.rotated(new);
        let mut tx = self.pool.begin().await?;
        // One rotation at a time; and every row read below is locked (FOR UPDATE), so that no
        // concurrent writer's newer value is overwritten by the re-encrypted older one.
        sqlx::query("SELECT value FROM meta WHERE name = 'key_check' FOR UPDATE")
            .execute(&mut *tx)
            .await?;
        let mut count = 0;

        let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, password_enc, pin_enc FROM credentials ORDER BY user_id FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (user, password, pin) in rows {
            let reseal = |sealed: &[u8], column| -> Result<Vec<u8>> {
                let slot = credentials_slot(&user, column);
                Ok(ring.seal(&ring.open(sealed, slot)?, slot))
            };
            let (password, pin) = (reseal(&password, "password_enc")?, reseal(&pin, "pin_enc")?);
            sqlx::query(
                "UPDATE credentials SET password_enc = $1, pin_enc = $2 WHERE user_id = $3",
            )
            .bind(password)
            .bind(pin)
            .bind(&user)
            .execute(&mut *tx)
            .await?;
            count += 2;
        }

        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, password_enc FROM mailboxes ORDER BY user_id FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (user, sealed) in rows {
            let slot = crate::stored::mailbox_slot(&user);
            let resealed = ring.seal(&ring.open(&sealed, slot)?, slot);
            sqlx::query("UPDATE mailboxes SET password_enc = $1 WHERE user_id = $2")
                .bind(resealed)
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }

        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, application, code_enc FROM sessions WHERE code_enc IS NOT NULL
             ORDER BY user_id, application FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (user, application, sealed) in rows {
            let key = format!("{user}/{application}");
            let slot = code_slot(&key);
            let resealed = ring.seal(&ring.open(&sealed, slot)?, slot);
            sqlx::query(
                "UPDATE sessions SET code_enc = $1 WHERE user_id = $2 AND application = $3",
            )
            .bind(resealed)
            .bind(&user)
            .bind(&application)
            .execute(&mut *tx)
            .await?;
            count += 1;
        }

        sqlx::query("UPDATE meta SET value = $1 WHERE name = 'key_check'")
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
impl Health for PgStore {
    /// Runs a trivial query: for `/readyz` and `tsgate check`.
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }
}
