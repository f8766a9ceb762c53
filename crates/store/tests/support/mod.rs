//! The store contract: what every backend (the in-memory store, SQLite, PostgreSQL) keeps,
//! as functions over `&dyn Store` that each backend's test binary runs.

#![allow(dead_code)] // each test binary runs its own share of the contract

use std::sync::Arc;

use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use tsgate_session::mailbox::{FolderState, MailboxSettings, Tls, UserMailbox, WatchState};
use tsgate_session::*;
use tsgate_store::Error;
use tsgate_store::testing::{sample_profile as profile, user_id as uid};

pub const PASSWORD: &str = "Pw-Planted-7f3c91";
pub const PIN: &str = "5938271046";
pub const MAIL_PASSWORD: &str = "Mail-Planted-a8e2d4";
pub const CODE: &str = "c0dec0de-1234-4abc-8def-0123456789ab";

/// Writes every kind of secret (password, PIN, mailbox password, a code, a workstation
/// token) for the "never in the database" tests; returns the token.
pub async fn plant_secrets(store: &dyn Store) -> WorkstationToken {
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
    token
}

pub fn active_record(user: &str) -> SessionRecord {
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

pub fn audit(user: &str, kind: AuditKind, actor: Actor, at: OffsetDateTime) -> AuditEntry {
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
pub fn backend_cause(e: &StoreError) -> Option<&Error> {
    match e {
        StoreError::Backend(cause) => cause.downcast_ref::<Error>(),
        _ => None,
    }
}

pub fn admin(
    actor: Actor,
    action: AdminAction,
    user: Option<&str>,
    at: OffsetDateTime,
) -> AuditEntry {
    AuditEntry::admin(at, actor, action, user.map(uid), "ok")
}

/// Profiles, credentials (revisions, the change date), mailbox settings and watch state.
pub async fn users_credentials_and_mailboxes(store: &dyn Store) {
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

/// Session records: every slot shape round-trips; a lost compare-and-swap writes neither
/// the record nor its audit.
pub async fn session_records_round_trip_with_cas_and_audit_in_one_transaction(store: &dyn Store) {
    store.put_user(&profile("ROSSI")).await.unwrap();
    let key = SessionKey::new(uid("ROSSI"), Application::Prescrittore);
    assert!(SessionStore::load(store, &key).await.unwrap().is_none());

    let record = active_record("ROSSI");
    let t = datetime!(2026-11-27 07:00 UTC);
    let ev = audit("ROSSI", AuditKind::Verified, Actor::Mailbox, t);
    store
        .commit(&record, 0, std::slice::from_ref(&ev))
        .await
        .unwrap();
    let loaded = SessionStore::load(store, &key).await.unwrap().unwrap();
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
                // The lease renewal survives the round trip.
                renewed_at: Some(t + Duration::seconds(30)),
            },
        });
        next.blocked = Some(CredentialsBlock {
            kind: BlockKind::Pin,
            at: t,
            revision: 3,
        });
        store.commit(&next, next.version, &[]).await.unwrap();
        let back = SessionStore::load(store, &key).await.unwrap().unwrap();
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

/// The periodic pass asks for what is due: the records whose due moment has come, earliest
/// first, and nothing else; the moment reads back to the millisecond.
pub async fn due_sessions_by_their_moment(store: &dyn Store) {
    let t = datetime!(2026-11-27 07:00:00.123 UTC);
    let mut keys = Vec::new();
    for (user, due) in [
        ("LATER", Some(t + Duration::hours(2))),
        ("SOONER", Some(t + Duration::minutes(5))),
        ("NEVER", None),
        ("OVERDUE", Some(OffsetDateTime::UNIX_EPOCH)),
    ] {
        store.put_user(&profile(user)).await.unwrap();
        let mut record = active_record(user);
        record.due_at = due;
        store.commit(&record, 0, &[]).await.unwrap();
        let back = SessionStore::load(store, &record.key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.due_at, due, "{user}");
        keys.push(record.key);
    }
    let [later, sooner, _never, overdue] = <[SessionKey; 4]>::try_from(keys).unwrap();
    assert_eq!(store.due(t).await.unwrap(), vec![overdue.clone()]);
    assert_eq!(
        store.due(t + Duration::minutes(5)).await.unwrap(),
        vec![overdue.clone(), sooner.clone()]
    );
    assert_eq!(
        store.due(t + Duration::days(1)).await.unwrap(),
        vec![overdue.clone(), sooner.clone(), later.clone()]
    );
    // Visited: its next moment replaces the old one.
    let mut visited = SessionStore::load(store, &overdue).await.unwrap().unwrap();
    visited.due_at = Some(t + Duration::hours(3));
    store.commit(&visited, visited.version, &[]).await.unwrap();
    assert_eq!(
        store.due(t + Duration::hours(2)).await.unwrap(),
        vec![sooner, later]
    );
}

/// Workstation tokens authenticate until revoked; lists of users are replaced.
pub async fn workstations_tokens_are_hashed_and_revocable(store: &dyn Store) {
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
    assert!(found.acts_for(&uid("ROSSI"), store).await.unwrap());
    assert!(!found.acts_for(&uid("VERDI"), store).await.unwrap());
    assert!(found.sees_code_of(&uid("ROSSI"), store).await.unwrap());
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
    assert!(!staff.sees_code_of(&uid("ROSSI"), store).await.unwrap());
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
            .acts_for(&uid("ROSSI"), store)
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

/// The audit's filters, newest first.
pub async fn audit_filters(store: &dyn Store) {
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
    let q = |f: AuditFilter| async move { store.query(&f).await.unwrap() };
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

/// Administration lines and session events in one audit, with the same filters.
pub async fn administration_events_are_recorded_and_queried_with_session_events(store: &dyn Store) {
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

    let q = |f: AuditFilter| async move { store.query(&f).await.unwrap() };
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

pub fn pid(s: &str) -> PracticeId {
    PracticeId::new(s).unwrap()
}

pub fn imported(practice: &str, user: &str, password: &str) -> ImportedUser {
    ImportedUser {
        practice: pid(practice),
        practice_name: None,
        profile: profile(user),
        credentials: Some((Password::new(password), Pin::new("1234567890"))),
    }
}

async fn ids_of_every_page(store: &dyn Store, mut q: ListQuery) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page = store.users_page(&q).await.unwrap();
        assert!(page.items.len() <= q.effective_limit() as usize);
        out.extend(page.items.iter().map(|p| p.user_id.to_string()));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
    }
}

/// The contract every backend keeps.
/// Leases: one holder at a time, renewals, takeover once run out, release.
pub async fn leases_contract(store: &dyn Store) {
    let t = datetime!(2026-12-07 09:00 UTC);
    // Whether `owner` holds `name` after asking `secs` seconds after `t` (leases of 20 s).
    let take = |name: &'static str, owner: &'static str, secs: i64| async move {
        store
            .try_lease(
                name,
                owner,
                Duration::seconds(20),
                t + Duration::seconds(secs),
            )
            .await
            .unwrap()
    };
    assert!(take("periodic", "node-a", 0).await);
    assert!(!take("periodic", "node-b", 5).await);
    // A renewal moves the end: B still waits past the first end.
    assert!(take("periodic", "node-a", 15).await);
    assert!(!take("periodic", "node-b", 25).await);
    // Other names are independent.
    assert!(take("mailbox:x", "node-b", 0).await);
    // Run out: B takes it, and A no longer holds it.
    assert!(take("periodic", "node-b", 36).await);
    assert!(!take("periodic", "node-a", 37).await);
    // Only the holder releases.
    store.release_lease("periodic", "node-a").await.unwrap();
    assert!(!take("periodic", "node-c", 38).await);
    store.release_lease("periodic", "node-b").await.unwrap();
    assert!(take("periodic", "node-c", 39).await);
}

pub async fn practices_contract(store: &dyn Store) {
    leases_contract(store).await;
    // A single-practice install has its practice without configuring anything.
    let default = PracticeId::default_practice();
    assert!(store.practice(&default).await.unwrap().is_some());

    let (a, b) = (pid("studio-a"), pid("aft-b"));
    let created = store.put_practice(&a, "Studio A").await.unwrap();
    assert_eq!(
        (created.id.clone(), created.name.as_str()),
        (a.clone(), "Studio A")
    );
    let renamed = store.put_practice(&a, "Studio Alfa").await.unwrap();
    assert_eq!(renamed.name, "Studio Alfa");
    assert_eq!(renamed.created_at, created.created_at);
    store.put_practice(&b, "AFT B").await.unwrap();

    for u in ["ROSSI", "VERDI", "BIANCHI", "NERI"] {
        let mut p = profile(u);
        p.display_name = Some(format!("Dott. {u}"));
        store.put_user(&p).await.unwrap();
    }
    assert!(matches!(
        store.add_member(&pid("nope"), &uid("ROSSI")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_member(&a, &uid("NOBODY")).await,
        Err(StoreError::NotFound(_))
    ));
    // ROSSI is titolare in A and sostituto in B: one user, two memberships.
    for (p, u) in [(&a, "ROSSI"), (&a, "VERDI"), (&b, "ROSSI"), (&b, "BIANCHI")] {
        store.add_member(p, &uid(u)).await.unwrap();
        store.add_member(p, &uid(u)).await.unwrap(); // idempotent
    }
    assert!(store.is_member(&a, &uid("ROSSI")).await.unwrap());
    assert!(!store.is_member(&a, &uid("BIANCHI")).await.unwrap());
    assert_eq!(
        store.practices_of(&uid("ROSSI")).await.unwrap(),
        vec![b.clone(), a.clone()]
    );

    // Pages: the members of a practice, a search, and every user, page by page.
    let members = ids_of_every_page(
        store,
        ListQuery {
            limit: Some(1),
            ..ListQuery::practice(a.clone())
        },
    )
    .await;
    assert_eq!(members, ["ROSSI", "VERDI"]);
    let all = ids_of_every_page(
        store,
        ListQuery {
            limit: Some(3),
            ..ListQuery::all()
        },
    )
    .await;
    assert_eq!(all, ["BIANCHI", "NERI", "ROSSI", "VERDI"]);
    let found = ids_of_every_page(
        store,
        ListQuery {
            search: Some(" dott. ross".into()),
            ..ListQuery::all()
        },
    )
    .await;
    assert_eq!(found, ["ROSSI"]);

    // A backend acts for every member of its practice, listing nobody; a vendor for nobody.
    let (backend, _) = store
        .register_workstation(&WorkstationSpec {
            name: "Gestionale".into(),
            role: WorkstationRole::Backend,
            practice: Some(a.clone()),
            users: vec![],
        })
        .await
        .unwrap();
    assert!(backend.users.is_empty());
    assert!(backend.acts_for(&uid("VERDI"), store).await.unwrap());
    assert!(!backend.acts_for(&uid("BIANCHI"), store).await.unwrap());
    let (vendor, vendor_token) = store
        .register_workstation(&WorkstationSpec {
            name: "Fornitore".into(),
            role: WorkstationRole::Vendor,
            practice: None,
            users: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        store.authenticate(&vendor_token).await.unwrap().unwrap(),
        vendor
    );
    assert!(!vendor.acts_for(&uid("ROSSI"), store).await.unwrap());
    assert!(matches!(
        store
            .register_workstation(&WorkstationSpec {
                name: "x".into(),
                role: WorkstationRole::Doctor,
                practice: Some(pid("nope")),
                users: vec![],
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
    let (doctor_b, _) = store
        .register_workstation(&WorkstationSpec {
            name: "Ambulatorio B".into(),
            role: WorkstationRole::Doctor,
            practice: Some(b.clone()),
            users: vec![uid("ROSSI"), uid("BIANCHI")],
        })
        .await
        .unwrap();
    assert_eq!(doctor_b.practice, Some(b.clone()));

    // Workstation pages by practice, and the one with a name.
    let of_a = store
        .workstations_page(&ListQuery::practice(a.clone()))
        .await
        .unwrap();
    assert_eq!(of_a.items, vec![backend.clone()]);
    let mut q = ListQuery {
        limit: Some(1),
        ..ListQuery::all()
    };
    let mut every = Vec::new();
    loop {
        let page = store.workstations_page(&q).await.unwrap();
        every.extend(page.items.into_iter().map(|w| w.name));
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    assert_eq!(every, ["Gestionale", "Fornitore", "Ambulatorio B"]);
    assert_eq!(
        store
            .workstation_named(Some(&b), "Ambulatorio B")
            .await
            .unwrap()
            .map(|w| w.id),
        Some(doctor_b.id.clone())
    );
    assert!(
        store
            .workstation_named(Some(&a), "Ambulatorio B")
            .await
            .unwrap()
            .is_none()
    );

    // Leaving a practice takes the doctor off that practice's workstations only.
    assert!(store.remove_member(&b, &uid("ROSSI")).await.unwrap());
    assert!(!store.remove_member(&b, &uid("ROSSI")).await.unwrap());
    let doctor_b = store.workstation(&doctor_b.id).await.unwrap().unwrap();
    assert_eq!(doctor_b.users, vec![uid("BIANCHI")]);
    assert!(store.is_member(&a, &uid("ROSSI")).await.unwrap());

    let counts = store.practice_counts(&a).await.unwrap();
    assert_eq!((counts.users, counts.workstations), (2, 1));

    // Removing a user ends its memberships.
    assert!(store.remove_user(&uid("VERDI")).await.unwrap());
    assert!(!store.is_member(&a, &uid("VERDI")).await.unwrap());

    // Audit lines of a practice: its administration and its members' session events.
    let t = datetime!(2026-12-07 09:00 UTC);
    store
        .append(
            &AuditEntry::admin(t, Actor::Cli, AdminAction::PracticeSet, None, "a")
                .in_practice(Some(a.clone())),
        )
        .await
        .unwrap();
    store
        .append(
            &AuditEntry::admin(t, Actor::Cli, AdminAction::PracticeSet, None, "b")
                .in_practice(Some(b.clone())),
        )
        .await
        .unwrap();
    for user in ["ROSSI", "BIANCHI"] {
        store
            .append(&AuditEntry::admin(
                t,
                Actor::Cli,
                AdminAction::CredentialsChanged,
                Some(uid(user)),
                user,
            ))
            .await
            .unwrap();
    }
    let of_a = store
        .query(&AuditFilter {
            practice: Some(a.clone()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let mut outcomes: Vec<&str> = of_a.iter().map(|e| e.outcome.as_str()).collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["ROSSI", "a"]);
    assert_eq!(
        of_a.iter().find(|e| e.outcome == "a").unwrap().practice,
        Some(a.clone())
    );

    // The installation's own lines (no practice, no user) are the default practice's.
    store
        .append(&AuditEntry::admin(
            t,
            Actor::Cli,
            AdminAction::PracticeHoursSet,
            None,
            "installation",
        ))
        .await
        .unwrap();
    let in_practice = |p: PracticeId| async move {
        store
            .query(&AuditFilter {
                practice: Some(p),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .iter()
            .any(|e| e.outcome == "installation")
    };
    assert!(in_practice(PracticeId::default_practice()).await);
    assert!(!in_practice(a).await);
}

/// Bulk import: counts, idempotence, credentials revisions, a second membership.
pub async fn import_contract(store: &dyn Store) {
    let rows: Vec<ImportedUser> = (0..50)
        .map(|i| {
            imported(
                if i % 2 == 0 { "p-even" } else { "p-odd" },
                &format!("U{i:04}"),
                "pw",
            )
        })
        .collect();
    let first = store.import_users(&rows).await.unwrap();
    assert_eq!(
        (
            first.users_created,
            first.memberships_added,
            first.practices_created
        ),
        (50, 50, 2)
    );
    // Importing the same rows again changes nothing.
    let again = store.import_users(&rows).await.unwrap();
    assert_eq!(
        again,
        ImportCounts {
            users_unchanged: 50,
            ..ImportCounts::default()
        }
    );
    let revision = store
        .credentials(&uid("U0000"))
        .await
        .unwrap()
        .unwrap()
        .revision;
    // A new password is an update, and only that user's credentials revision moves.
    let mut changed = rows[..2].to_vec();
    changed[0] = imported("p-even", "U0000", "pw2");
    let third = store.import_users(&changed).await.unwrap();
    assert_eq!((third.users_updated, third.users_unchanged), (1, 1));
    let now = store.credentials(&uid("U0000")).await.unwrap().unwrap();
    assert_eq!(now.password.expose_secret(), "pw2");
    assert_eq!(now.revision, revision + 1);
    // The same doctor in a second practice: a membership, not a second user.
    let fourth = store
        .import_users(&[imported("p-odd", "U0000", "pw2")])
        .await
        .unwrap();
    assert_eq!((fourth.users_unchanged, fourth.memberships_added), (1, 1));
    assert_eq!(store.practices_of(&uid("U0000")).await.unwrap().len(), 2);
}

/// 32 writers of every kind at once, on two handles of one database (two processes on one
/// SQLite file, two nodes on one PostgreSQL database): every write succeeds, and every
/// writer's rows are there.
pub async fn concurrent_writers(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    const ROUNDS: usize = 15;
    let mut tasks = Vec::new();
    for writer in 0..32usize {
        // Two writers in three use the first handle, one in three the second.
        let store = if writer % 3 == 2 {
            Arc::clone(&second)
        } else {
            Arc::clone(&first)
        };
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let id = format!("W{writer:02}R{round:02}");
                let user = uid(&id);
                let step = |what: &str, e: StoreError| {
                    format!("writer {writer} round {round} {what}: {e:?}")
                };
                match writer % 8 {
                    0 => {
                        store
                            .put_user(&profile(&id))
                            .await
                            .map_err(|e| step("user", e))?;
                        store
                            .set_credentials(&user, &Password::new("pw"), &Pin::new("1234"), None)
                            .await
                            .map_err(|e| step("credentials", e))?;
                    }
                    1 => {
                        store
                            .put_user(&profile(&id))
                            .await
                            .map_err(|e| step("user", e))?;
                        store
                            .create_workstation(
                                &id,
                                WorkstationRole::Doctor,
                                std::slice::from_ref(&user),
                            )
                            .await
                            .map_err(|e| step("workstation", e))?;
                    }
                    2 => {
                        store
                            .put_user(&profile(&id))
                            .await
                            .map_err(|e| step("user", e))?;
                        let mut record = SessionRecord::new(SessionKey::new(
                            user.clone(),
                            Application::Prescrittore,
                        ));
                        record.last_create_at = Some(datetime!(2026-12-07 08:00 UTC));
                        store
                            .commit(
                                &record,
                                0,
                                &[AuditEntry::admin(
                                    datetime!(2026-12-07 08:00 UTC),
                                    Actor::System,
                                    AdminAction::UserUpdated,
                                    Some(user.clone()),
                                    "x",
                                )],
                            )
                            .await
                            .map_err(|e| step("session commit", e))?;
                        let loaded = store
                            .load(&record.key)
                            .await
                            .map_err(|e| step("load", e))?
                            .unwrap();
                        store
                            .commit(&loaded, loaded.version, &[])
                            .await
                            .map_err(|e| step("second commit", e))?;
                    }
                    3 => {
                        store
                            .append(&AuditEntry::admin(
                                datetime!(2026-12-07 08:00 UTC),
                                Actor::Cli,
                                AdminAction::UserUpdated,
                                Some(user.clone()),
                                "x",
                            ))
                            .await
                            .map_err(|e| step("audit", e))?;
                    }
                    4 => {
                        store
                            .import_users(&[imported("p-import", &id, "pw")])
                            .await
                            .map_err(|e| step("import", e))?;
                    }
                    5 => {
                        store
                            .put_user(&profile(&id))
                            .await
                            .map_err(|e| step("user", e))?;
                        store
                            .add_member(&PracticeId::default_practice(), &user)
                            .await
                            .map_err(|e| step("member", e))?;
                        store
                            .set_schedule(&user, &auto::UserSchedule::default())
                            .await
                            .map_err(|e| step("schedule", e))?;
                    }
                    6 => {
                        store
                            .put_practice(&pid(&id.to_lowercase()), "Studio")
                            .await
                            .map_err(|e| step("practice", e))?;
                    }
                    _ => {
                        store
                            .put_user(&profile(&id))
                            .await
                            .map_err(|e| step("user", e))?;
                        assert!(
                            store
                                .remove_user(&user)
                                .await
                                .map_err(|e| step("remove", e))?
                        );
                    }
                }
            }
            Ok::<_, String>(())
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} writes failed: {failures:#?}",
        failures.len()
    );
    // Every writer's rows are there.
    let users = first.list_users().await.unwrap().len();
    assert_eq!(
        users,
        32 / 8 * 5 * ROUNDS,
        "users written by kinds 0, 1, 2, 4 and 5"
    );
}
