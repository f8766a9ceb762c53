//! The PostgreSQL store against a real server: the store contract (`support`, which the
//! in-memory store and SQLite keep too) and what is PostgreSQL's own (nodes racing on one
//! session, secrets in the tables, keys, the schema against SQLite's).
//!
//! One throwaway server for this binary (`tsgate_store::testing::pg`), a new database for
//! each test. Without the PostgreSQL server binaries these tests fail, naming the package.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use sqlx::{AssertSqlSafe, Row as _};
use time::OffsetDateTime;
use tsgate_session::mailbox::{MailboxSettings, Tls, UserMailbox};
use tsgate_session::*;
use tsgate_store::testing::{pg, sample_profile as profile, user_id as uid};
use tsgate_store::{AnyStore, Database, Error, KeyRing, MasterKey, PgStore};

use support::{CODE, MAIL_PASSWORD, PASSWORD, PIN, active_record, audit, backend_cause};

#[tokio::test]
async fn postgres_store_keeps_the_contract() {
    let (store, _) = pg::temp_store().await;
    support::practices_contract(&store).await;
    let (store, _) = pg::temp_store().await;
    support::import_contract(&store).await;
}

#[tokio::test]
async fn users_credentials_and_mailboxes() {
    let (store, _) = pg::temp_store().await;
    support::users_credentials_and_mailboxes(&store).await;
}

#[tokio::test]
async fn session_records_round_trip_with_cas_and_audit_in_one_transaction() {
    let (store, _) = pg::temp_store().await;
    support::session_records_round_trip_with_cas_and_audit_in_one_transaction(&store).await;
}

#[tokio::test]
async fn due_sessions_by_their_moment() {
    let (store, _) = pg::temp_store().await;
    support::due_sessions_by_their_moment(&store).await;
}

#[tokio::test]
async fn workstations_tokens_are_hashed_and_revocable() {
    let (store, _) = pg::temp_store().await;
    support::workstations_tokens_are_hashed_and_revocable(&store).await;
}

#[tokio::test]
async fn audit_filters() {
    let (store, _) = pg::temp_store().await;
    support::audit_filters(&store).await;
}

#[tokio::test]
async fn administration_events_are_recorded_and_queried_with_session_events() {
    let (store, _) = pg::temp_store().await;
    support::administration_events_are_recorded_and_queried_with_session_events(&store).await;
}

/// 32 writers of every kind at once on two nodes (two pools) of one database: every write
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_writers_of_every_kind_never_fail() {
    let url = pg::temp_database().await;
    let key = MasterKey::generate();
    let first = pg::open(&url, &key).await;
    let second = pg::open(&url, &key).await;
    support::concurrent_writers(Arc::new(first), Arc::new(second)).await;
}

/// Nodes racing to commit over the same version of one session: exactly one wins, every
/// other gets `Conflict` and writes no audit line; the same for the first commit of a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_on_one_session_only_one_commits() {
    let url = pg::temp_database().await;
    let key = MasterKey::generate();
    let nodes = [pg::open(&url, &key).await, pg::open(&url, &key).await];
    nodes[0].put_user(&profile("ROSSI")).await.unwrap();
    let record = active_record("ROSSI");
    let t = OffsetDateTime::now_utc();
    for expected in [0u64, 1] {
        let mut racers = Vec::new();
        for i in 0..16 {
            let node = nodes[i % 2].clone();
            let mut record = record.clone();
            record.version = expected;
            racers.push(tokio::spawn(async move {
                let line = audit("ROSSI", AuditKind::Verified, Actor::Mailbox, t);
                node.commit(&record, expected, &[line]).await
            }));
        }
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(()) => won += 1,
                Err(StoreError::Conflict) => {}
                Err(e) => panic!("a racer failed otherwise: {e:?}"),
            }
        }
        assert_eq!(won, 1, "one commit over version {expected}");
    }
    let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    assert_eq!(nodes[1].load(&key).await.unwrap().unwrap().version, 2);
    assert_eq!(
        nodes[1].query(&AuditFilter::default()).await.unwrap().len(),
        2,
        "only the winners' audit lines"
    );
}

/// Every text and bytea column of every table, as (table.column, bytes).
async fn every_stored_value(store: &PgStore) -> Vec<(String, Vec<u8>)> {
    let columns = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d
         FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type IN ('text', 'bytea')
         ORDER BY table_name, column_name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut out = Vec::new();
    for column in columns {
        let (table, name, kind): (String, String, String) =
            (column.get("t"), column.get("c"), column.get("d"));
        let sql = format!("SELECT \"{name}\" AS v FROM \"{table}\" WHERE \"{name}\" IS NOT NULL");
        for row in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap()
        {
            let bytes = if kind == "bytea" {
                row.get::<Vec<u8>, _>("v")
            } else {
                row.get::<String, _>("v").into_bytes()
            };
            out.push((format!("{table}.{name}"), bytes));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn planted_secrets_never_reach_the_database() {
    let (store, _) = pg::temp_store().await;
    let token = support::plant_secrets(&store).await;

    let values = every_stored_value(&store).await;
    let code_no_dashes = CODE.replace('-', "");
    for (column, bytes) in &values {
        for secret in [
            PASSWORD,
            PIN,
            MAIL_PASSWORD,
            CODE,
            code_no_dashes.as_str(),
            token.expose_secret(),
        ] {
            assert!(
                !contains(bytes, secret),
                "a planted secret is in {column} in clear"
            );
        }
    }
    // Sanity: the search reads the rows (a profile, the sealed secrets, the token's hash).
    let read: BTreeSet<&str> = values.iter().map(|(c, _)| c.as_str()).collect();
    for column in [
        "users.display_name",
        "credentials.password_enc",
        "credentials.pin_enc",
        "mailboxes.password_enc",
        "sessions.code_enc",
        "sessions.state",
        "workstations.token_hash",
        "audit.code_hint",
    ] {
        assert!(read.contains(column), "{column} read: {read:?}");
    }
    assert!(
        values
            .iter()
            .any(|(c, b)| c == "users.display_name" && contains(b, "Dr.ssa Rossi")),
        "sanity: the search works"
    );
}

#[tokio::test]
async fn wrong_key_is_refused_and_moved_ciphertexts_do_not_decrypt() {
    let url = pg::temp_database().await;
    let key = MasterKey::generate();
    let store = pg::open(&url, &key).await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    store.put_user(&profile("VERDI")).await.unwrap();
    store
        .set_credentials(
            &uid("ROSSI"),
            &Password::new(PASSWORD),
            &Pin::new(PIN),
            None,
        )
        .await
        .unwrap();
    store
        .set_credentials(&uid("VERDI"), &Password::new("verdi"), &Pin::new("1"), None)
        .await
        .unwrap();
    // Copy Rossi's encrypted password onto Verdi's row.
    sqlx::query("UPDATE credentials SET password_enc = (SELECT password_enc FROM credentials WHERE user_id = 'ROSSI') WHERE user_id = 'VERDI'")
        .execute(store.pool())
        .await
        .unwrap();
    let moved = store.credentials(&uid("VERDI")).await.unwrap_err();
    assert!(
        matches!(backend_cause(&moved), Some(Error::Decrypt { .. })),
        "{moved:?}"
    );
    assert!(store.credentials(&uid("ROSSI")).await.is_ok());
    store.close().await;

    let e = PgStore::connect(&url, KeyRing::new(MasterKey::generate()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::WrongMasterKey), "{e}");
    // The right key still opens it, and finds what it left.
    let again = pg::open(&url, &key).await;
    assert_eq!(again.list_users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn rotate_key_re_encrypts_everything() {
    let url = pg::temp_database().await;
    let old = MasterKey::generate();
    let store = pg::open(&url, &old).await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    store
        .set_credentials(
            &uid("ROSSI"),
            &Password::new(PASSWORD),
            &Pin::new(PIN),
            None,
        )
        .await
        .unwrap();
    let mailbox = UserMailbox {
        settings: MailboxSettings::new("h", Tls::Implicit, "u", Password::new(MAIL_PASSWORD)),
        address: None,
    };
    store.set_mailbox(&uid("ROSSI"), &mailbox).await.unwrap();
    store.commit(&active_record("ROSSI"), 0, &[]).await.unwrap();
    let new = MasterKey::generate();
    assert_eq!(store.rotate_key(new.clone()).await.unwrap(), 4);
    // The store goes on with the new key.
    assert_eq!(
        store
            .credentials(&uid("ROSSI"))
            .await
            .unwrap()
            .unwrap()
            .pin
            .expose_secret(),
        PIN
    );
    store.close().await;

    // Only the new key is needed now; the old one alone is refused.
    let store = pg::open(&url, &new).await;
    let c = store.credentials(&uid("ROSSI")).await.unwrap().unwrap();
    assert_eq!(c.password.expose_secret(), PASSWORD);
    assert_eq!(
        store
            .mailbox(&uid("ROSSI"))
            .await
            .unwrap()
            .unwrap()
            .settings
            .password
            .expose_secret(),
        MAIL_PASSWORD
    );
    let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    let r = SessionStore::load(&store, &key).await.unwrap().unwrap();
    assert_eq!(r.usable_code().unwrap().code.expose_secret(), CODE);
    store.close().await;
    assert!(matches!(
        PgStore::connect(&url, KeyRing::new(old)).await,
        Err(Error::WrongMasterKey)
    ));
}

/// Nodes started together on a new database: one migrates, the others wait for it; all of
/// them then share the key check the first one wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let url = pg::temp_database().await;
    let key = MasterKey::generate();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            tokio::spawn(async move { PgStore::connect(&url, KeyRing::new(key)).await })
        })
        .collect();
    for start in starts {
        let store = start.await.unwrap().expect("a node starts");
        store.ping().await.unwrap();
    }
    let store = pg::open(&url, &key).await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    // Each migration once, whatever the number of nodes that started together.
    let migrations = sqlx::migrate!("migrations/postgres").iter().count();
    assert_eq!(applied, i64::try_from(migrations).unwrap());
    assert!(
        store
            .practice(&PracticeId::default_practice())
            .await
            .unwrap()
            .is_some()
    );
}

/// The PostgreSQL schema has SQLite's tables, columns and indexes, so that rows copy from
/// one to the other.
#[tokio::test]
async fn the_schema_is_sqlites() {
    let (sqlite, _dir) = tsgate_store::testing::temp_store().await;
    let (pg, _) = pg::temp_store().await;
    let sqlite_columns: BTreeSet<(String, String)> = sqlx::query(
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(sqlite.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("t"), r.get("c")))
    .collect();
    let pg_columns: BTreeSet<(String, String)> = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("t"), r.get("c")))
    .collect();
    assert_eq!(pg_columns, sqlite_columns);

    let sqlite_indexes: BTreeSet<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            .fetch_all(sqlite.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("name"))
            .collect();
    let pg_indexes: BTreeSet<String> = sqlx::query(
        "SELECT indexname::text AS name FROM pg_indexes
         WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get("name"))
    .collect();
    assert_eq!(pg_indexes, sqlite_indexes);
}

/// `database_url = "postgres://…"` opens this backend through the binary's one type.
#[tokio::test]
async fn a_postgres_url_opens_a_postgres_store() {
    let url = pg::temp_database().await;
    let database = Database::from_url(&url).unwrap();
    assert!(matches!(database, Database::Postgres(_)));
    let store = AnyStore::open(&database, KeyRing::new(MasterKey::generate()))
        .await
        .unwrap();
    assert_eq!(store.backend(), "postgres");
    store.ping().await.unwrap();
    store.put_user(&profile("ROSSI")).await.unwrap();
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    support::audit_filters(shared.as_ref()).await;
    store.close().await;
}

/// The users whose automatic requests may be on: a mailbox or a schedule of their own, from
/// the tables' keys; the same answer as the in-memory store's.
#[tokio::test]
async fn auto_candidates_are_the_users_with_a_mailbox_or_a_schedule() {
    async fn candidates(store: &dyn Store) -> Vec<UserId> {
        for u in ["ROSSI", "VERDI", "BIANCHI", "NERI"] {
            store.put_user(&profile(u)).await.unwrap();
        }
        let mailbox = UserMailbox {
            settings: MailboxSettings::new("h", Tls::Implicit, "u", Password::new(MAIL_PASSWORD)),
            address: None,
        };
        store.set_mailbox(&uid("VERDI"), &mailbox).await.unwrap();
        store.set_mailbox(&uid("BIANCHI"), &mailbox).await.unwrap();
        for u in ["BIANCHI", "ROSSI"] {
            store
                .set_schedule(&uid(u), &auto::UserSchedule::default())
                .await
                .unwrap();
        }
        store.auto_candidates().await.unwrap()
    }
    let (pg, _) = pg::temp_store().await;
    let expected = vec![uid("BIANCHI"), uid("ROSSI"), uid("VERDI")];
    assert_eq!(candidates(&pg).await, expected);
    assert_eq!(candidates(&MemoryStore::new()).await, expected);
}

/// The rotation of the key file on PostgreSQL: refused while a node holds the `periodic`
/// lease, whole when it runs, and settled by the data after a failure before or after the
/// commit, like SQLite's (`backup.rs`).
#[tokio::test]
async fn key_file_rotation_is_refused_under_a_node_and_settled_by_the_data() {
    use tsgate_store::{Access, Holder, KeyFile, KeySource, RotationStep, Settled};

    let url = pg::temp_database().await;
    let database = Database::Postgres(url.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = KeyFile::new(dir.path().join("master.key"));
    let source = KeySource::File(file.clone());
    let opened = AnyStore::open_keyed(&database, &source, Access::Shared)
        .await
        .unwrap();
    support::plant_secrets(&opened.store).await;
    let first = opened.key.clone();

    // A running node renews the periodic lease: no rotation under it.
    let now = OffsetDateTime::now_utc();
    assert!(
        opened
            .store
            .try_lease("periodic", "node-a", time::Duration::seconds(45), now)
            .await
            .unwrap()
    );
    let e = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InUse { by: Holder::Server { node, .. }, .. } if node == "node-a"),
        "{e}"
    );
    opened
        .store
        .release_lease("periodic", "node-a")
        .await
        .unwrap();
    opened.store.close().await;

    let secrets = |store: Arc<AnyStore>| async move {
        let c = store.credentials(&uid("ROSSI")).await.unwrap().unwrap();
        let m = store.mailbox(&uid("ROSSI")).await.unwrap().unwrap();
        let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
        let r = SessionStore::load(store.as_ref(), &key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.password.expose_secret(), PASSWORD);
        assert_eq!(c.pin.expose_secret(), PIN);
        assert_eq!(m.settings.password.expose_secret(), MAIL_PASSWORD);
        assert_eq!(r.usable_code().unwrap().code.expose_secret(), CODE);
        assert_eq!(store.verify_secrets().await.unwrap(), 4);
        store.close().await;
    };

    // Stopped after the commit: the next open completes it.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    let store = Arc::new(opened.store);
    let (s, k, f) = (store.clone(), opened.key.clone(), file.clone());
    let crashed = tokio::spawn(async move {
        s.rotate_key_file(&f, &k, &|step| assert_ne!(step, RotationStep::Committed))
            .await
    })
    .await;
    assert!(crashed.is_err());
    store.close().await;
    let second = file.pending().unwrap().expect("staged");
    let opened = AnyStore::open_keyed(&database, &source, Access::Shared)
        .await
        .unwrap();
    assert_eq!(
        opened.settled,
        Settled::Completed {
            key: second.id(),
            retired: file.retired_path(first.id())
        }
    );
    secrets(Arc::new(opened.store)).await;

    // Stopped before the commit: the next open rolls it back.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    let store = Arc::new(opened.store);
    let (s, k, f) = (store.clone(), opened.key.clone(), file.clone());
    let crashed = tokio::spawn(async move {
        s.rotate_key_file(&f, &k, &|step| assert_ne!(step, RotationStep::BeforeCommit))
            .await
    })
    .await;
    assert!(crashed.is_err());
    store.close().await;
    let opened = AnyStore::open_keyed(&database, &source, Access::Shared)
        .await
        .unwrap();
    assert_eq!(opened.settled, Settled::RolledBack { key: second.id() });
    secrets(Arc::new(opened.store)).await;

    // And a whole one.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    let rotated = opened
        .store
        .rotate_key_file(&file, &opened.key, &|_| {})
        .await
        .unwrap();
    assert_eq!((rotated.old, rotated.secrets), (second.id(), 4));
    opened.store.close().await;
    assert_eq!(file.load().unwrap().id(), rotated.new);
    let store = PgStore::connect(&url, KeyRing::new(file.load().unwrap()))
        .await
        .unwrap();
    secrets(Arc::new(AnyStore::from(store))).await;
}
