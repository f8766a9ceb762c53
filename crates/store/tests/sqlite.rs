//! The SQLite store against a real database file.

use std::path::Path;

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use tsgate_session::mailbox::{FolderState, MailboxSettings, Tls, UserMailbox, WatchState};
use tsgate_session::*;
use tsgate_store::testing::{
    DB_FILE, db_path, open_in, sample_profile as profile, temp_store, user_id as uid,
};
use tsgate_store::{Error, KeyRing, MasterKey, SqliteStore};

const PASSWORD: &str = "Pw-Planted-7f3c91";
const PIN: &str = "5938271046";
const MAIL_PASSWORD: &str = "Mail-Planted-a8e2d4";
const CODE: &str = "c0dec0de-1234-4abc-8def-0123456789ab";

fn active_record(user: &str) -> SessionRecord {
    let t = datetime!(2026-11-27 07:00 UTC);
    let mut r = SessionRecord::new(SessionKey::new(uid(user), Application::Prescrittore));
    r.code = CodeSlot::Active(CurrentCode {
        code: SessionCode::new(CODE),
        valid_from: datetime!(2026-11-27 08:00 +01:00),
        valid_until: datetime!(2026-11-28 00:00 +01:00),
        verified_at: t,
    });
    r.request = Some(CodeRequest {
        requested_at: t,
        by: Actor::Workstation(WorkstationId("w1".into())),
        stage: RequestStage::Sent { sent_at: t },
    });
    r.last_create_at = Some(t);
    r.last_error = Some(RecordedError {
        code: "x".into(),
        message: "è".into(),
        at: t,
    });
    r.upstream.last_success_at = Some(t);
    r.announced_level = Some(Level::Green);
    r.newest_valid_from = Some(datetime!(2026-11-27 08:00 +01:00));
    r
}

fn audit(user: &str, kind: AuditKind, actor: Actor, at: OffsetDateTime) -> AuditEntry {
    AuditEntry::session(
        at,
        &SessionKey::new(uid(user), Application::Prescrittore),
        AuditDraft {
            kind,
            actor,
            outcome: "ok".into(),
            code_hint: Some(SessionCode::new(CODE).hint()),
        },
    )
}

/// The cause inside a [`StoreError::Backend`], as the store's own error.
fn backend_cause(e: &StoreError) -> Option<&Error> {
    match e {
        StoreError::Backend(cause) => cause.downcast_ref::<Error>(),
        _ => None,
    }
}

#[tokio::test]
async fn users_credentials_and_mailboxes() {
    let (store, _dir) = temp_store().await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    store.put_user(&profile("BIANCHI")).await.unwrap();
    assert_eq!(
        store.user(&uid("ROSSI")).await.unwrap(),
        Some(profile("ROSSI"))
    );
    assert_eq!(store.list_users().await.unwrap().len(), 2);
    let mut changed = profile("ROSSI");
    changed.role = Role::Sostituto;
    store.put_user(&changed).await.unwrap();
    assert_eq!(
        store.user(&uid("ROSSI")).await.unwrap().unwrap().role,
        Role::Sostituto
    );

    let r1 = store
        .set_credentials(
            &uid("ROSSI"),
            &Password::new(PASSWORD),
            &Pin::new(PIN),
            None,
        )
        .await
        .unwrap();
    let r2 = store
        .set_credentials(
            &uid("ROSSI"),
            &Password::new("other"),
            &Pin::new(PIN),
            Some(date!(2026 - 11 - 20)),
        )
        .await
        .unwrap();
    assert_eq!((r1, r2), (1, 2));
    let c = store.credentials(&uid("ROSSI")).await.unwrap().unwrap();
    assert_eq!(
        (
            c.password.expose_secret(),
            c.pin.expose_secret(),
            c.revision
        ),
        ("other", PIN, 2)
    );
    assert_eq!(
        store
            .user(&uid("ROSSI"))
            .await
            .unwrap()
            .unwrap()
            .password_changed_at,
        Some(date!(2026 - 11 - 20))
    );
    assert!(matches!(
        store
            .set_credentials(&uid("NOBODY"), &Password::new("x"), &Pin::new("y"), None)
            .await,
        Err(StoreError::NotFound(_))
    ));

    let mut settings = MailboxSettings::new(
        "imap.example.it",
        Tls::StartTls,
        "Rossi@example.it",
        Password::new(MAIL_PASSWORD),
    );
    settings.folders = vec!["Archivio".into()];
    settings.accepted_senders = vec!["example.gov.it".into()];
    let mailbox = UserMailbox {
        settings,
        address: Some("rossi@pec.example.it".into()),
    };
    store.set_mailbox(&uid("ROSSI"), &mailbox).await.unwrap();
    let back = store.mailbox(&uid("ROSSI")).await.unwrap().unwrap();
    assert_eq!(back.settings.password.expose_secret(), MAIL_PASSWORD);
    assert_eq!(back.settings.security, Tls::StartTls);
    assert_eq!(back.settings.folders, vec!["Archivio".to_owned()]);
    assert_eq!(
        back.settings.accepted_senders,
        vec!["example.gov.it".to_owned()]
    );
    assert_eq!(back.address.as_deref(), Some("rossi@pec.example.it"));
    assert_eq!(back.mailbox_key(), "rossi@example.it@imap.example.it:143");
    assert_eq!(
        back.addresses(),
        vec![
            "rossi@pec.example.it".to_owned(),
            "rossi@example.it".to_owned()
        ]
    );
    let listed = store.list_mailboxes().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, uid("ROSSI"));

    let key = back.mailbox_key();
    assert!(store.watch_state(&key).await.unwrap().is_none());
    let mut state = WatchState::default();
    state.folders.insert(
        "INBOX".into(),
        FolderState {
            uid_validity: 7,
            last_uid: 42,
        },
    );
    store.set_watch_state(&key, &state).await.unwrap();
    state.folders.get_mut("INBOX").unwrap().last_uid = 43;
    store.set_watch_state(&key, &state).await.unwrap();
    assert_eq!(store.watch_state(&key).await.unwrap(), Some(state));

    assert!(store.remove_mailbox(&uid("ROSSI")).await.unwrap());
    assert!(store.mailbox(&uid("ROSSI")).await.unwrap().is_none());

    assert!(store.remove_user(&uid("ROSSI")).await.unwrap());
    assert!(store.credentials(&uid("ROSSI")).await.unwrap().is_none());
    assert!(!store.remove_user(&uid("ROSSI")).await.unwrap());
}

#[tokio::test]
async fn session_records_round_trip_with_cas_and_audit_in_one_transaction() {
    let (store, _dir) = temp_store().await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    assert!(SessionStore::load(&store, &key).await.unwrap().is_none());

    let record = active_record("ROSSI");
    let t = datetime!(2026-11-27 07:00 UTC);
    let ev = audit("ROSSI", AuditKind::Verified, Actor::Mailbox, t);
    store
        .commit(&record, 0, std::slice::from_ref(&ev))
        .await
        .unwrap();
    let loaded = SessionStore::load(&store, &key).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    assert_eq!(
        SessionRecord {
            version: 0,
            ..loaded.clone()
        },
        record
    );

    // A writer holding version 0 loses, and its audit is not written either.
    let lost = store.commit(&record, 0, std::slice::from_ref(&ev)).await;
    assert!(matches!(lost, Err(StoreError::Conflict)), "{lost:?}");
    assert_eq!(store.query(&AuditFilter::default()).await.unwrap().len(), 1);

    // Every slot shape survives.
    let mut next = loaded.clone();
    let current = match &loaded.code {
        CodeSlot::Active(c) => c.clone(),
        _ => unreachable!(),
    };
    for slot in [
        CodeSlot::Suspect {
            code: current.clone(),
            since: t,
            last_check_at: t,
        },
        CodeSlot::Ended {
            reason: EndReason::Revoked,
            at: t,
        },
        CodeSlot::Empty,
        CodeSlot::Active(current),
    ] {
        next.code = slot;
        next.request = Some(CodeRequest {
            requested_at: t,
            by: Actor::Cli,
            stage: RequestStage::Creating {
                started_at: t,
                owner: Some("node-a#1".into()),
            },
        });
        next.blocked = Some(CredentialsBlock {
            kind: BlockKind::Pin,
            at: t,
            revision: 3,
        });
        store.commit(&next, next.version, &[]).await.unwrap();
        let back = SessionStore::load(&store, &key).await.unwrap().unwrap();
        assert_eq!(back.version, next.version + 1);
        assert_eq!(
            SessionRecord {
                version: next.version,
                ..back.clone()
            },
            next
        );
        next = back;
    }
    assert_eq!(store.keys().await.unwrap(), vec![key]);
}

#[tokio::test]
async fn workstations_tokens_are_hashed_and_revocable() {
    let (store, _dir) = temp_store().await;
    store.put_user(&profile("ROSSI")).await.unwrap();
    store.put_user(&profile("VERDI")).await.unwrap();
    let (ws, token) = store
        .create_workstation("Ambulatorio 1", WorkstationRole::Doctor, &[uid("ROSSI")])
        .await
        .unwrap();
    assert!(token.expose_secret().starts_with("tsg_"));
    assert!(!format!("{token:?} {token}").contains(token.expose_secret()));
    let found = store.authenticate(&token).await.unwrap().unwrap();
    assert_eq!(found, ws);
    assert!(found.acts_for(&uid("ROSSI"), &store).await.unwrap());
    assert!(!found.acts_for(&uid("VERDI"), &store).await.unwrap());
    assert!(found.sees_code_of(&uid("ROSSI"), &store).await.unwrap());
    assert!(
        store
            .authenticate(&WorkstationToken::new("tsg_wrong"))
            .await
            .unwrap()
            .is_none()
    );

    store
        .set_workstation_users(&ws.id, &[uid("ROSSI"), uid("VERDI")])
        .await
        .unwrap();
    assert_eq!(
        store
            .workstation(&ws.id)
            .await
            .unwrap()
            .unwrap()
            .users
            .len(),
        2
    );
    let (staff, _) = store
        .create_workstation("Reception", WorkstationRole::Staff, &[])
        .await
        .unwrap();
    assert_eq!(staff.role, WorkstationRole::Staff);
    assert!(!staff.sees_code_of(&uid("ROSSI"), &store).await.unwrap());
    assert_eq!(store.list_workstations().await.unwrap().len(), 2);

    assert!(store.revoke_workstation(&ws.id).await.unwrap());
    assert!(!store.revoke_workstation(&ws.id).await.unwrap());
    assert!(store.authenticate(&token).await.unwrap().is_none());
    assert!(
        !store
            .workstation(&ws.id)
            .await
            .unwrap()
            .unwrap()
            .acts_for(&uid("ROSSI"), &store)
            .await
            .unwrap()
    );
    assert!(matches!(
        store
            .set_workstation_users(&WorkstationId("nope".into()), &[])
            .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn audit_filters() {
    let (store, _dir) = temp_store().await;
    let t = datetime!(2026-11-27 07:00 UTC);
    let w1 = Actor::Workstation(WorkstationId("w1".into()));
    for (i, (user, kind, actor)) in [
        ("ROSSI", AuditKind::Requested, w1.clone()),
        ("ROSSI", AuditKind::Verified, Actor::Mailbox),
        ("VERDI", AuditKind::Requested, w1.clone()),
        ("ROSSI", AuditKind::Used, w1.clone()),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t + Duration::minutes(i as i64);
        store.append(&audit(user, kind, actor, at)).await.unwrap();
    }
    let q = |f: AuditFilter| {
        let store = store.clone();
        async move { store.query(&f).await.unwrap() }
    };
    let all = q(AuditFilter::default()).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].kind, AuditKind::Used.into(), "newest first");
    assert_eq!(
        q(AuditFilter {
            user: Some(uid("ROSSI")),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        q(AuditFilter {
            actor: Some(w1.clone()),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        q(AuditFilter {
            kind: Some(AuditKind::Requested.into()),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    let window = q(AuditFilter {
        since: Some(t + Duration::minutes(1)),
        until: Some(t + Duration::minutes(3)),
        ..Default::default()
    })
    .await;
    assert_eq!(window.len(), 2);
    assert_eq!(
        q(AuditFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(all[3], audit("ROSSI", AuditKind::Requested, w1, t));
}

fn admin(actor: Actor, action: AdminAction, user: Option<&str>, at: OffsetDateTime) -> AuditEntry {
    AuditEntry::admin(at, actor, action, user.map(uid), "ok")
}

#[tokio::test]
async fn administration_events_are_recorded_and_queried_with_session_events() {
    let (store, _dir) = temp_store().await;
    let t = datetime!(2026-11-27 07:00 UTC);
    let w1 = Actor::Workstation(WorkstationId("w1".into()));
    let mut added = admin(Actor::Cli, AdminAction::WorkstationAdded, None, t);
    added.outcome = "workstation 1b2c (staff)".into();
    store.append(&added).await.unwrap();
    store
        .append(&admin(
            Actor::Cli,
            AdminAction::UserAdded,
            Some("ROSSI"),
            t + Duration::minutes(1),
        ))
        .await
        .unwrap();
    store
        .append(&audit(
            "ROSSI",
            AuditKind::Requested,
            w1.clone(),
            t + Duration::minutes(2),
        ))
        .await
        .unwrap();
    store
        .append(&admin(
            w1.clone(),
            AdminAction::CredentialsChanged,
            Some("ROSSI"),
            t + Duration::minutes(3),
        ))
        .await
        .unwrap();
    store
        .append(&admin(
            w1.clone(),
            AdminAction::WorkstationRevoked,
            None,
            t + Duration::minutes(4),
        ))
        .await
        .unwrap();

    let q = |f: AuditFilter| {
        let store = store.clone();
        async move { store.query(&f).await.unwrap() }
    };
    let kinds = |entries: &[AuditEntry]| -> Vec<&'static str> {
        entries.iter().map(|e| e.kind.as_str()).collect()
    };
    let all = q(AuditFilter::default()).await;
    assert_eq!(
        kinds(&all),
        [
            "workstation_revoked",
            "credentials_changed",
            "requested",
            "user_added",
            "workstation_added"
        ],
        "both kinds together, newest first"
    );
    assert_eq!(all[4], added);
    assert_eq!(all[4].user, None);
    assert_eq!(all[4].application, None);
    assert_eq!(all[4].code_hint, None);
    assert_eq!(all[3].user, Some(uid("ROSSI")));
    assert_eq!(all[2].application, Some(Application::Prescrittore));

    let by_user = q(AuditFilter {
        user: Some(uid("ROSSI")),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&by_user),
        ["credentials_changed", "requested", "user_added"]
    );
    let by_cli = q(AuditFilter {
        actor: Some(Actor::Cli),
        ..Default::default()
    })
    .await;
    assert_eq!(kinds(&by_cli), ["user_added", "workstation_added"]);
    let by_ws = q(AuditFilter {
        actor: Some(w1.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&by_ws),
        ["workstation_revoked", "credentials_changed", "requested"]
    );
    let by_kind = q(AuditFilter {
        kind: Some(AdminAction::WorkstationAdded.into()),
        ..Default::default()
    })
    .await;
    assert_eq!(kinds(&by_kind), ["workstation_added"]);
    assert_eq!(by_kind[0].outcome, "workstation 1b2c (staff)");
    let session_only = q(AuditFilter {
        kind: Some(AuditEntryKind::Session(AuditKind::Requested)),
        ..Default::default()
    })
    .await;
    assert_eq!(kinds(&session_only), ["requested"]);
    let window = q(AuditFilter {
        since: Some(t + Duration::minutes(1)),
        until: Some(t + Duration::minutes(4)),
        limit: Some(2),
        ..Default::default()
    })
    .await;
    assert_eq!(kinds(&window), ["credentials_changed", "requested"]);
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
    let ev = audit(
        "ROSSI",
        AuditKind::Verified,
        Actor::Mailbox,
        OffsetDateTime::now_utc(),
    );
    store
        .commit(&active_record("ROSSI"), 0, &[ev])
        .await
        .unwrap();
    let (_, token) = store
        .create_workstation("w", WorkstationRole::Doctor, &[uid("ROSSI")])
        .await
        .unwrap();

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
