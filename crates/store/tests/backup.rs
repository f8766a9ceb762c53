//! Backup, restore and key rotation of the SQLite store, in process: the copy is whole and
//! checked, a restore refuses what it cannot read and keeps what it replaces, and a rotation
//! interrupted at any step is settled by the key the data is under. (The real binary, a
//! running server and killed processes: `crates/tsgate/tests/server/backup.rs`.)

mod support;

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;
use tsgate_session::*;
use tsgate_store::sqlite::backup::{self, supported_schema};
use tsgate_store::testing::{db_path, user_id as uid};
use tsgate_store::{
    Access, AnyStore, Database, Error, Holder, KeyFile, KeyRing, KeySource, MasterKey,
    RotationStep, Settled, SqliteStore,
};

use support::{CODE, MAIL_PASSWORD, PASSWORD, PIN};

/// Every secret of the planted user, read back through the ports.
async fn secrets_of(store: &dyn Store) -> (String, String, String, String) {
    let c = store.credentials(&uid("ROSSI")).await.unwrap().unwrap();
    let mailbox = store.mailbox(&uid("ROSSI")).await.unwrap().unwrap();
    let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    let record = SessionStore::load(store, &key).await.unwrap().unwrap();
    (
        c.password.expose_secret().to_owned(),
        c.pin.expose_secret().to_owned(),
        mailbox.settings.password.expose_secret().to_owned(),
        record
            .usable_code()
            .unwrap()
            .code
            .expose_secret()
            .to_owned(),
    )
}

fn planted() -> (String, String, String, String) {
    (
        PASSWORD.to_owned(),
        PIN.to_owned(),
        MAIL_PASSWORD.to_owned(),
        CODE.to_owned(),
    )
}

async fn audit_lines(store: &dyn Store) -> Vec<AuditEntry> {
    store
        .query(&AuditFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
}

/// A database with every kind of secret under a key file in `dir`.
async fn planted_store(dir: &Path) -> (SqliteStore, MasterKey) {
    let key = KeyFile::new(dir.join("master.key"))
        .load_or_create()
        .unwrap();
    let store = SqliteStore::open(db_path(dir), KeyRing::new(key.clone()))
        .await
        .unwrap();
    support::plant_secrets(&store).await;
    (store, key)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_backup_is_checked_never_replaces_a_file_and_restores_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = planted_store(dir.path()).await;
    let before = audit_lines(&store).await;
    let out = dir.path().join("copy.db");

    // Taken while the store is open (a server's shared lock), and checked with its key.
    let found = backup::backup(
        &db_path(dir.path()),
        &out,
        false,
        Some(&KeyRing::new(key.clone())),
    )
    .await
    .unwrap();
    assert_eq!(found.schema_version, supported_schema());
    assert_eq!(found.key, key.id());
    assert_eq!((found.users, found.workstations), (1, 1));
    assert_eq!(found.secrets, Some(4));
    assert!(found.audit_lines >= 1);
    let bytes = std::fs::read(&out).unwrap();
    for secret in [PASSWORD, PIN, MAIL_PASSWORD, CODE] {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "a secret in clear in the backup"
        );
    }
    let raw_key = std::fs::read(dir.path().join("master.key")).unwrap();
    assert!(!contains(&bytes, &raw_key), "the master key in the backup");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // An existing file is never replaced unless asked.
    let e = backup::backup(&db_path(dir.path()), &out, false, None)
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Exists(p) if p == &out), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes, "left as it was");
    let again = backup::backup(&db_path(dir.path()), &out, true, None)
        .await
        .unwrap();
    assert_eq!(again.secrets, None, "no key given: nothing opened");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Changes after the backup, then a restore: while the store is open it is refused.
    store.remove_user(&uid("ROSSI")).await.unwrap();
    let ring = KeyRing::new(key.clone());
    let e = backup::restore(&db_path(dir.path()), &out, &ring)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InUse { .. }), "{e}");
    store.close().await;
    drop(store);

    let restored = backup::restore(&db_path(dir.path()), &out, &ring)
        .await
        .unwrap();
    assert_eq!(restored.schema_version, supported_schema());
    let previous = restored.previous.expect("the replaced database is kept");
    assert!(
        previous
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tsgate.db.before-restore-")
    );
    let store = SqliteStore::open(db_path(dir.path()), ring.clone())
        .await
        .unwrap();
    assert_eq!(secrets_of(&store).await, planted());
    let after = audit_lines(&store).await;
    for line in &before {
        assert!(after.contains(line), "audit line lost: {line:?}");
    }
    store.close().await;
    drop(store);
    // The kept database is the one replaced, whole: the user removed after the backup.
    let kept = SqliteStore::open(&previous, ring).await.unwrap();
    assert!(kept.user(&uid("ROSSI")).await.unwrap().is_none());
}

#[tokio::test]
async fn a_restore_refuses_another_key_a_newer_schema_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = planted_store(dir.path()).await;
    let out = dir.path().join("copy.db");
    backup::backup(&db_path(dir.path()), &out, false, None)
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let original = std::fs::read(db_path(dir.path())).unwrap();
    let unchanged = || {
        assert_eq!(
            std::fs::read(db_path(dir.path())).unwrap(),
            original,
            "the database must not change"
        );
    };

    let stranger = KeyRing::new(MasterKey::generate());
    let e = backup::restore(&db_path(dir.path()), &out, &stranger)
        .await
        .unwrap_err();
    match &e {
        Error::KeyMismatch { data, current } => {
            assert_eq!(*data, key.id());
            assert_eq!(*current, stranger.current().id());
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains(&key.id().to_string()), "{e}");
    unchanged();

    // Written by a newer tsgate.
    let newer = dir.path().join("newer.db");
    std::fs::copy(&out, &newer).unwrap();
    sqlite3(
        &newer,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'future', 1, x'00', 0)",
    )
    .await;
    let e = backup::restore(&db_path(dir.path()), &newer, &KeyRing::new(key.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::SchemaTooNew { found: 9999, supported } if supported == supported_schema()),
        "{e}"
    );
    unchanged();

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let e = backup::restore(&db_path(dir.path()), &junk, &KeyRing::new(key.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotTsgateDatabase { .. }), "{e}");
    unchanged();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring") || n.contains("before-restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Runs `sql` on the file at `path` with a plain connection.
async fn sqlite3(path: &Path, sql: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(path),
    )
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// A backup of an early schema (0002), as an old tsgate wrote it: a user, sealed
/// credentials, the key check and an audit line, in that schema's own SQL.
async fn old_backup(path: &Path, key: &MasterKey) {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use tsgate_store::crypto::Slot;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::migrate!("migrations/sqlite")
        .run_to(2, &pool)
        .await
        .unwrap();
    let ring = KeyRing::new(key.clone());
    let slot = |table, column, row| Slot { table, column, row };
    sqlx::query(
        "INSERT INTO users (user_id, fiscal_code, region, asl, ssa, environment, role,
                            created_at_ms, updated_at_ms)
         VALUES ('ROSSI', 'PROVAX00X00X000Y', '130', '202', '000000', 'test', 'titolare', 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
         VALUES ('ROSSI', ?, ?, 1, 1)",
    )
    .bind(ring.seal(
        PASSWORD.as_bytes(),
        slot("credentials", "password_enc", "ROSSI"),
    ))
    .bind(ring.seal(PIN.as_bytes(), slot("credentials", "pin_enc", "ROSSI")))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO meta (name, value) VALUES ('key_check', ?)")
        .bind(ring.seal(b"tsgate key check", slot("meta", "value", "key_check")))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit (at_ms, user_id, application, actor, kind, outcome)
         VALUES (1, 'ROSSI', 'PRESCRITTORE', 'ws:w1', 'requested', 'ok')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn an_older_backup_is_migrated_when_restored() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyFile::new(dir.path().join("master.key"))
        .load_or_create()
        .unwrap();
    let out = dir.path().join("old.db");
    old_backup(&out, &key).await;
    let found = backup::inspect(&out, Some(&KeyRing::new(key.clone())))
        .await
        .unwrap();
    assert_eq!((found.schema_version, found.secrets), (2, Some(2)));
    let restored = backup::restore(&db_path(dir.path()), &out, &KeyRing::new(key.clone()))
        .await
        .unwrap();
    assert_eq!(
        (restored.backup.schema_version, restored.schema_version),
        (2, supported_schema())
    );
    let store = SqliteStore::open(db_path(dir.path()), KeyRing::new(key))
        .await
        .unwrap();
    let c = store.credentials(&uid("ROSSI")).await.unwrap().unwrap();
    assert_eq!(
        (c.password.expose_secret(), c.pin.expose_secret()),
        (PASSWORD, PIN)
    );
    assert_eq!(
        audit_lines(&store).await.len(),
        1,
        "the old audit line is kept"
    );
    assert!(
        store
            .try_lease(
                "periodic",
                "n",
                time::Duration::seconds(5),
                OffsetDateTime::now_utc()
            )
            .await
            .unwrap(),
        "the migrated database has the newer tables"
    );
}

#[tokio::test]
async fn a_restore_onto_an_empty_folder_and_under_a_live_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (store, key) = planted_store(dir.path()).await;
    let out = dir.path().join("copy.db");
    backup::backup(&db_path(dir.path()), &out, false, None)
        .await
        .unwrap();
    // A server of a version without the lock file: its lease is what shows it runs.
    store
        .try_lease(
            "periodic",
            "old-server",
            time::Duration::seconds(60),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let ring = KeyRing::new(key.clone());
    let e = backup::restore(&db_path(dir.path()), &out, &ring)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InUse { by: Holder::Server { node, .. }, .. } if node == "old-server"),
        "{e}"
    );

    // A new machine: nothing but the key file and the backup.
    let fresh = tempfile::tempdir().unwrap();
    let restored = backup::restore(&db_path(fresh.path()), &out, &ring)
        .await
        .unwrap();
    assert_eq!(restored.previous, None);
    let store = SqliteStore::open(db_path(fresh.path()), ring)
        .await
        .unwrap();
    assert_eq!(secrets_of(&store).await, planted());
}

fn sqlite_of(dir: &Path) -> Database {
    Database::Sqlite(db_path(dir))
}

#[tokio::test]
async fn rotation_completes_and_an_interrupted_one_is_settled_by_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = planted_store(dir.path()).await;
    store.close().await;
    drop(store);
    let file = KeyFile::new(dir.path().join("master.key"));
    let source = KeySource::File(file.clone());
    let database = sqlite_of(dir.path());

    // Exclusive is refused while another store has the database open.
    let other = SqliteStore::open(db_path(dir.path()), KeyRing::new(first.clone()))
        .await
        .unwrap();
    let e = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InUse { .. }), "{e}");
    other.close().await;
    drop(other);

    // A whole rotation.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    assert_eq!(opened.settled, Settled::Nothing);
    let steps = std::sync::Mutex::new(Vec::new());
    let rotated = opened
        .store
        .rotate_key_file(&file, &opened.key, &|s| steps.lock().unwrap().push(s))
        .await
        .unwrap();
    assert_eq!(
        *steps.lock().unwrap(),
        [
            RotationStep::Staged,
            RotationStep::BeforeCommit,
            RotationStep::Committed,
            RotationStep::Done
        ]
    );
    assert_eq!((rotated.secrets, rotated.old), (4, first.id()));
    assert_eq!(secrets_of(&opened.store).await, planted());
    opened.store.close().await;
    drop(opened);
    let second = file.load().unwrap();
    assert_eq!(second.id(), rotated.new);
    assert_eq!(
        MasterKey::load(&file.retired_path(first.id()))
            .unwrap()
            .id(),
        first.id()
    );
    assert!(file.pending().unwrap().is_none());

    // Interrupted before the commit (the observer fails the process's work there): the data
    // stays under the current key, and the next open deletes the staged key.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    let store = Arc::new(opened.store);
    let (s, k, f) = (store.clone(), opened.key.clone(), file.clone());
    let crashed = tokio::spawn(async move {
        s.rotate_key_file(&f, &k, &|step| {
            assert_ne!(step, RotationStep::BeforeCommit, "crash before the commit");
        })
        .await
    })
    .await;
    assert!(crashed.is_err(), "the rotation stopped in the middle");
    store.close().await;
    drop(store);
    assert!(file.pending().unwrap().is_some(), "the staged key is left");
    let opened = AnyStore::open_keyed(&database, &source, Access::Shared)
        .await
        .unwrap();
    assert_eq!(opened.settled, Settled::RolledBack { key: second.id() });
    assert_eq!(opened.key.id(), second.id());
    assert_eq!(secrets_of(&opened.store).await, planted());
    assert!(file.pending().unwrap().is_none());
    opened.store.close().await;
    drop(opened);

    // Interrupted after the commit: the data is under the staged key, which the next open
    // puts in place, keeping the old one.
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .unwrap();
    let store = Arc::new(opened.store);
    let (s, k, f) = (store.clone(), opened.key.clone(), file.clone());
    let crashed = tokio::spawn(async move {
        s.rotate_key_file(&f, &k, &|step| {
            assert_ne!(step, RotationStep::Committed, "crash after the commit");
        })
        .await
    })
    .await;
    assert!(crashed.is_err());
    store.close().await;
    drop(store);
    let third = file.pending().unwrap().expect("the staged key is left");
    assert_eq!(file.load().unwrap().id(), second.id(), "not yet in place");
    // The data alone, opened with the old key only, is refused: nothing is lost, though,
    // the staged key opens it.
    assert!(matches!(
        SqliteStore::open(db_path(dir.path()), KeyRing::new(second.clone())).await,
        Err(Error::WrongMasterKey)
    ));
    let opened = AnyStore::open_keyed(&database, &source, Access::Shared)
        .await
        .unwrap();
    assert_eq!(
        opened.settled,
        Settled::Completed {
            key: third.id(),
            retired: file.retired_path(second.id())
        }
    );
    assert_eq!(secrets_of(&opened.store).await, planted());
    assert_eq!(opened.store.verify_secrets().await.unwrap(), 4);
    // Writes go under the key in use, and the data is wholly under it.
    opened
        .store
        .set_credentials(
            &uid("ROSSI"),
            &Password::new(PASSWORD),
            &Pin::new(PIN),
            None,
        )
        .await
        .unwrap();
    opened.store.close().await;
    drop(opened);
    assert_eq!(file.load().unwrap().id(), third.id());
    assert!(file.pending().unwrap().is_none());
    let store = SqliteStore::open(db_path(dir.path()), KeyRing::new(third))
        .await
        .unwrap();
    assert_eq!(store.verify_secrets().await.unwrap(), 4);
}

#[tokio::test]
async fn a_backup_made_before_a_rotation_needs_the_retired_key() {
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = planted_store(dir.path()).await;
    let out = dir.path().join("before-rotation.db");
    backup::backup(&db_path(dir.path()), &out, false, None)
        .await
        .unwrap();
    store.close().await;
    drop(store);
    let file = KeyFile::new(dir.path().join("master.key"));
    let opened = AnyStore::open_keyed(
        &sqlite_of(dir.path()),
        &KeySource::File(file.clone()),
        Access::Exclusive,
    )
    .await
    .unwrap();
    let rotated = opened
        .store
        .rotate_key_file(&file, &opened.key, &|_| {})
        .await
        .unwrap();
    opened.store.close().await;
    drop(opened);
    let e = backup::restore(
        &db_path(dir.path()),
        &out,
        &KeyRing::new(file.load().unwrap()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::KeyMismatch { data, current } if data == first.id() && current == rotated.new),
        "{e}"
    );
    let retired = MasterKey::load(&rotated.retired).unwrap();
    backup::restore(&db_path(dir.path()), &out, &KeyRing::new(retired))
        .await
        .unwrap();
}
