//! Practices, memberships, paging, bulk import and concurrent writers: one contract, run on
//! every backend (the in-memory store and a real SQLite file; PostgreSQL joins it).

use time::macros::datetime;
use tsgate_session::*;
use tsgate_store::testing::{open_in, sample_profile as profile, temp_store, user_id as uid};
use tsgate_store::{MasterKey, SqliteStore};

fn pid(s: &str) -> PracticeId {
    PracticeId::new(s).unwrap()
}

fn imported(practice: &str, user: &str, password: &str) -> ImportedUser {
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
async fn practices_contract(store: &dyn Store) {
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
        Some(a)
    );
}

async fn import_contract(store: &dyn Store) {
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

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    practices_contract(&MemoryStore::new()).await;
    import_contract(&MemoryStore::new()).await;
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
    const ROUNDS: usize = 15;
    let mut tasks = Vec::new();
    for writer in 0..32usize {
        // Two writers in three are the server's, one in three the other process's.
        let store: SqliteStore = if writer % 3 == 2 {
            cli.clone()
        } else {
            server.clone()
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
    let users = server.list_users().await.unwrap().len();
    assert_eq!(
        users,
        32 / 8 * 5 * ROUNDS,
        "users written by kinds 0, 1, 2, 4 and 5"
    );
}
