//! The SQLite store against a real database file: the port semantics of the store contract
//! (`support`, which `postgres.rs` runs too) and what is SQLite's own (files, WAL, migrations
//! from older schemas, two processes on one file).

mod support;

use std::path::Path;

use time::OffsetDateTime;
use time::macros::datetime;
use tsgate_session::mailbox::{MailboxSettings, Tls, UserMailbox};
use tsgate_session::*;
use tsgate_store::testing::{
    DB_FILE, db_path, open_in, sample_profile as profile, temp_store, user_id as uid,
};
use tsgate_store::{Error, KeyRing, MasterKey, SqliteStore};

use support::{CODE, MAIL_PASSWORD, PASSWORD, PIN, active_record, admin, audit, backend_cause};

#[tokio::test]
async fn users_credentials_and_mailboxes() {
    let (store, _dir) = temp_store().await;
    support::users_credentials_and_mailboxes(&store).await;
}

#[tokio::test]
async fn session_records_round_trip_with_cas_and_audit_in_one_transaction() {
    let (store, _dir) = temp_store().await;
    support::session_records_round_trip_with_cas_and_audit_in_one_transaction(&store).await;
}

#[tokio::test]
async fn due_sessions_by_their_moment() {
    let (store, _dir) = temp_store().await;
    support::due_sessions_by_their_moment(&store).await;
}

#[tokio::test]
async fn workstations_tokens_are_hashed_and_revocable() {
    let (store, _dir) = temp_store().await;
    support::workstations_tokens_are_hashed_and_revocable(&store).await;
}

#[tokio::test]
async fn audit_filters() {
    let (store, _dir) = temp_store().await;
    support::audit_filters(&store).await;
}

#[tokio::test]
async fn administration_events_are_recorded_and_queried_with_session_events() {
    let (store, _dir) = temp_store().await;
    support::administration_events_are_recorded_and_queried_with_session_events(&store).await;
}

/// A database created before administration events (schema 0002) keeps its audit lines when
/// 0003 rebuilds the table, ids included, and then takes administration lines too.
#[tokio::test]
async fn migration_keeps_audit_rows_written_before_it() {
    use sqlx::Row as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    let dir = tempfile::tempdir().unwrap();
    let path = db_path(dir.path());
    let t = datetime!(2026-11-27 07:00 UTC);
    let at = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap();
    {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        sqlx::migrate!("migrations/sqlite")
            .run_to(2, &pool)
            .await
            .unwrap();
        // NOT NULL holds at 0002: an administration line could not be written.
        let refused = sqlx::query(
            "INSERT INTO audit (at_ms, actor, kind, outcome) VALUES (1, 'cli', 'user_added', 'ok')",
        )
        .execute(&pool)
        .await;
        assert!(refused.is_err(), "0002 requires user and application");
        for (user, kind, hint) in [
            ("ROSSI", "requested", None),
            ("ROSSI", "verified", Some("…89ab")),
            ("VERDI", "gone", None),
        ] {
            sqlx::query(
                "INSERT INTO audit (at_ms, user_id, application, actor, kind, outcome, code_hint)
                 VALUES (?, ?, 'PRESCRITTORE', 'ws:w1', ?, 'ok', ?)",
            )
            .bind(at)
            .bind(user)
            .bind(kind)
            .bind(hint)
            .execute(&pool)
            .await
            .unwrap();
        }
        // A deleted last line: its id must not be given again after the rebuild.
        sqlx::query("DELETE FROM audit WHERE kind = 'gone'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    let store = open_in(dir.path(), &MasterKey::generate()).await;
    let w1 = Actor::Workstation(WorkstationId("w1".into()));
    let old = store.query(&AuditFilter::default()).await.unwrap();
    let mut verified = audit("ROSSI", AuditKind::Verified, w1.clone(), t);
    verified.code_hint = Some("…89ab".into());
    let mut requested = audit("ROSSI", AuditKind::Requested, w1, t);
    requested.code_hint = None;
    assert_eq!(
        old,
        vec![verified, requested],
        "old lines survive, in their order"
    );

    // Same instant: the new line is newer by id, after the old ones.
    store
        .append(&admin(Actor::Cli, AdminAction::WorkstationAdded, None, t))
        .await
        .unwrap();
    let all = store.query(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].kind, AdminAction::WorkstationAdded.into());
    let ids: Vec<i64> = sqlx::query("SELECT id FROM audit ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    assert_eq!(ids, [1, 2, 4], "ids kept and never reused");
    let indexes: Vec<String> = sqlx::query("SELECT name FROM pragma_index_list('audit')")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("name"))
        .collect();
    for name in ["audit_user_at", "audit_at", "audit_kind_at"] {
        assert!(indexes.iter().any(|i| i == name), "{name} in {indexes:?}");
    }
}

fn raw_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{DB_FILE}{suffix}"))
        .filter_map(|n| std::fs::read(dir.join(&n)).ok().map(|b| (n, b)))
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn planted_secrets_never_reach_the_database_files() {
    let (store, dir) = temp_store().await;
    let token = support::plant_secrets(&store).await;

    let files = raw_files(dir.path());
    assert!(
        files
            .iter()
            .any(|(n, b)| n.ends_with("-wal") && !b.is_empty()),
        "WAL checked too"
    );
    let code_no_dashes = CODE.replace('-', "");
    for (name, bytes) in &files {
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
                "a planted secret is in {name} in clear"
            );
        }
        assert!(
            contains(bytes, "Dr.ssa Rossi") || name.ends_with("-shm") || name == DB_FILE,
            "sanity: the search works"
        );
    }
    store.close().await;
    for (name, bytes) in raw_files(dir.path()) {
        for secret in [PASSWORD, PIN, MAIL_PASSWORD, CODE] {
            assert!(
                !contains(&bytes, secret),
                "a planted secret is in {name} after checkpoint"
            );
        }
    }
}

#[tokio::test]
async fn wrong_key_is_refused_and_moved_ciphertexts_do_not_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let store = open_in(dir.path(), &key).await;
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

    let e = SqliteStore::open(db_path(dir.path()), KeyRing::new(MasterKey::generate()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::WrongMasterKey), "{e}");
}

#[tokio::test]
async fn rotate_key_re_encrypts_everything() {
    let dir = tempfile::tempdir().unwrap();
    let old = MasterKey::generate();
    let store = open_in(dir.path(), &old).await;
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
    store.close().await;

    // Only the new key is needed now; the old one alone is refused.
    let store = open_in(dir.path(), &new).await;
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
        SqliteStore::open(db_path(dir.path()), KeyRing::new(old)).await,
        Err(Error::WrongMasterKey)
    ));
}

#[tokio::test]
async fn committed_state_survives_an_abandoned_process() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let store = open_in(dir.path(), &key).await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    let t = OffsetDateTime::now_utc();
    store
        .commit(
            &active_record("ROSSI"),
            0,
            &[audit("ROSSI", AuditKind::Verified, Actor::Mailbox, t)],
        )
        .await
        .unwrap();
    // No close, no checkpoint: the pool is leaked as if the process had died.
    std::mem::forget(store);
    let reopened = open_in(dir.path(), &key).await;
    let rk = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    let r = SessionStore::load(&reopened, &rk).await.unwrap().unwrap();
    assert_eq!(r.version, 1);
    assert_eq!(r.usable_code().unwrap().code.expose_secret(), CODE);
    assert_eq!(
        reopened.query(&AuditFilter::default()).await.unwrap().len(),
        1
    );
}

/// Two processes on one database (a running server and the command line): writes that read
/// first never fail with "database is locked" while the other one writes; they wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_write_at_once_without_database_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate();
    let server = open_in(dir.path(), &key).await;
    let cli = open_in(dir.path(), &key).await;
    for id in ["PROVAX00X00X000Y", "PROVAX00X00X000Z"] {
        server.put_user(&profile(id)).await.unwrap();
    }
    let write = |store: SqliteStore, id: &'static str| {
        tokio::spawn(async move {
            for i in 0..60 {
                store
                    .set_credentials(
                        &uid(id),
                        &Password::new(format!("{PASSWORD}{i}")),
                        &Pin::new(PIN),
                        None,
                    )
                    .await
                    .map_err(|e| format!("write {i} of {id}: {e}"))?;
            }
            Ok::<_, String>(())
        })
    };
    let a = write(server.clone(), "PROVAX00X00X000Y");
    let b = write(cli.clone(), "PROVAX00X00X000Z");
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
}
