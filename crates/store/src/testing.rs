//! Fixtures for tests of the store and of the crates that use it (gateway, binary): a
//! temporary SQLite store with a fresh master key, a sample user, and ([`pg`]) a throwaway
//! PostgreSQL server with a fresh database per test. Behind the `testing` feature:
//! `tsgate-store = { workspace = true, features = ["testing"] }` in `[dev-dependencies]`.
//!
//! They panic on failure, as test set-up does.

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use time::macros::date;
use tsgate_session::{Environment, Role, UserId, UserProfile};

use crate::{KeyRing, MasterKey, SqliteStore};

pub mod pg;

/// The database file name inside a fixture's folder.
pub const DB_FILE: &str = "tsgate.db";

/// The database file of a fixture's folder.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// A fresh store in a new temporary folder, under a freshly generated master key. Keep the
/// [`TempDir`] alive as long as the store: dropping it deletes the database.
pub async fn temp_store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder for the test database");
    let store = open_in(dir.path(), &MasterKey::generate()).await;
    (store, dir)
}

/// Opens (creating it if needed) the store of `dir` under `key`: to reopen a database, or to
/// open it with another key.
pub async fn open_in(dir: &Path, key: &MasterKey) -> SqliteStore {
    SqliteStore::open(db_path(dir), KeyRing::new(key.clone()))
        .await
        .expect("open the test database")
}

/// A valid user id (panics otherwise).
pub fn user_id(id: &str) -> UserId {
    UserId::new(id).expect("a valid test user id")
}

/// A doctor (titolare, test environment, `MMG`, "Dr.ssa Rossi", password changed on
/// 2026-10-01) with user id `id`.
pub fn sample_profile(id: &str) -> UserProfile {
    UserProfile {
        user_id: user_id(id),
        fiscal_code: "PROVAX00X00X000Y".into(),
        region: "130".into(),
        asl: "202".into(),
        ssa: "000000".into(),
        specialization: Some("MMG".into()),
        display_name: Some("Dr.ssa Rossi".into()),
        environment: Environment::Test,
        role: Role::Titolare,
        password_changed_at: Some(date!(2026 - 10 - 01)),
    }
}
