//! Practices, memberships, paging, bulk import and concurrent writers: one contract
//! (`support`), run here on the in-memory store and a real SQLite file, and on PostgreSQL
//! in `postgres.rs`.

mod support;

use std::sync::Arc;

use tsgate_session::MemoryStore;
use tsgate_store::MasterKey;
use tsgate_store::testing::{open_in, temp_store};

use support::{
    concurrent_writers, due_sessions_by_their_moment, import_contract, practices_contract,
};

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    practices_contract(&MemoryStore::new()).await;
    import_contract(&MemoryStore::new()).await;
    due_sessions_by_their_moment(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_keeps_the_contract() {
    let (store, _dir) = temp_store().await;
    practices_contract(&store).await;
    let (store, _dir) = temp_store().await;
    import_contract(&store).await;
}

/// 32 writers of every kind at once, in one process and from a second one (the command
/// line next to a running server): every write succeeds, none sees "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_writers_of_every_kind_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let server = open_in(dir.path(), &key).await;
    let cli = open_in(dir.path(), &key).await;
    concurrent_writers(Arc::new(server), Arc::new(cli)).await;
}
