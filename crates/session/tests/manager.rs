//! The async manager with a counting fake upstream (the real simulator is used in the
//! end-to-end tests of the binary).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use time::Duration;
use tokio::sync::Semaphore;
use tsgate_session::testing::{FakeUpstream, TestDomain};
use tsgate_session::*;

const ISSUED: &str = "11111111-2222-4333-8444-555555555555";
const OTHER: &str = "99999999-2222-4333-8444-555555555555";

struct Env {
    store: Arc<MemoryStore>,
    fake: Arc<FakeUpstream>,
    clock: ManualClock,
    manager: SessionManager,
    user: UserId,
}

fn ws(n: usize) -> Actor {
    Actor::Workstation(WorkstationId(format!("w{n}")))
}

fn env(fake: FakeUpstream) -> Env {
    let domain = TestDomain::new(fake);
    let user = domain.add_user("PROVAX00X00X000Y");
    domain.upstream.valid(ISSUED, domain.clock.now());
    Env {
        store: domain.store,
        fake: domain.upstream,
        clock: domain.clock,
        manager: domain.manager,
        user,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_requests_make_exactly_one_create() {
    let e = env(FakeUpstream {
        gate: Some(Semaphore::new(0)),
        ..FakeUpstream::default()
    });
    *e.fake.create_result.lock().unwrap() =
        Some(Ok(CreateResult::Issued(SessionCode::new(ISSUED))));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (m, u) = (e.manager.clone(), e.user.clone());
        tasks.push(tokio::spawn(
            async move { m.request(&u, false, ws(i)).await },
        ));
    }
    // Hold the create until all 40 requests were recorded (one sent, 39 joined).
    while e
        .store
        .audit_entries()
        .iter()
        .filter(|a| a.session_kind() == Some(AuditKind::Requested))
        .count()
        < 40
    {
        tokio::task::yield_now().await;
    }
    e.fake.gate.as_ref().unwrap().add_permits(1);
    let mut joined = 0;
    for t in tasks {
        let outcome = t.await.unwrap().unwrap();
        assert_eq!(outcome.view.state, StateName::Active);
        joined += usize::from(outcome.joined);
    }
    assert_eq!(e.fake.creates.load(Ordering::SeqCst), 1);
    assert_eq!(joined, 39);
    assert_eq!(
        e.fake.checks.load(Ordering::SeqCst),
        1,
        "the issued code is verified once"
    );
    let outcomes: Vec<String> = e
        .store
        .audit_entries()
        .iter()
        .filter(|a| a.session_kind() == Some(AuditKind::Requested))
        .map(|a| a.outcome.clone())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "sent").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| *o == "joined").count(), 39);
}

#[tokio::test]
async fn conflict_min_interval_and_replacement() {
    let e = env(FakeUpstream::default());
    *e.fake.create_result.lock().unwrap() =
        Some(Ok(CreateResult::Issued(SessionCode::new(ISSUED))));
    let first = e.manager.request(&e.user, false, ws(1)).await.unwrap();
    assert!(!first.joined);
    assert_eq!(first.view.state, StateName::Active);
    let err = e.manager.request(&e.user, false, ws(2)).await.unwrap_err();
    assert_eq!(err.code(), "code_active");
    let err = e.manager.request(&e.user, true, ws(2)).await.unwrap_err();
    assert_eq!(err.code(), "too_soon");
    assert_eq!(e.fake.creates.load(Ordering::SeqCst), 1);
    e.clock.advance(Duration::seconds(60));
    *e.fake.create_result.lock().unwrap() = Some(Ok(CreateResult::Mailed));
    let again = e.manager.request(&e.user, true, ws(2)).await.unwrap();
    assert_eq!(
        (again.view.state, again.view.pending),
        (StateName::Active, true)
    );
}

#[tokio::test]
async fn pasted_code_is_normalised_verified_and_announced_once() {
    let e = env(FakeUpstream::default());
    let mut events = e.manager.subscribe();
    let view = e
        .manager
        .submit_code(&e.user, &format!(" «{}» \n", ISSUED.to_uppercase()), ws(1))
        .await
        .unwrap();
    assert_eq!((view.state, view.level), (StateName::Active, Level::Green));
    let change = events.try_recv().unwrap();
    assert_eq!(change.view.state, StateName::Active);
    assert!(events.try_recv().is_err(), "one switch, one notification");
    assert!(!format!("{change:?}").contains(ISSUED));

    let err = e
        .manager
        .submit_code(&e.user, OTHER, ws(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "rejected");
    let err = e
        .manager
        .submit_code(&e.user, "12345", ws(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "format");
    assert_eq!(
        e.manager.status(&e.user).await.unwrap().state,
        StateName::Active
    );
    assert_eq!(
        e.manager
            .code_for_proxy(&e.user)
            .await
            .unwrap()
            .expose_secret(),
        ISSUED
    );
    assert_eq!(
        e.manager
            .copy_code(&e.user, ws(1))
            .await
            .unwrap()
            .expose_secret(),
        ISSUED
    );
    let kinds: Vec<(Option<AuditKind>, String)> = e
        .store
        .audit_entries()
        .into_iter()
        .map(|a| (a.session_kind(), a.outcome))
        .collect();
    assert!(kinds.contains(&(Some(AuditKind::Copied), "ok".into())));
    assert!(kinds.contains(&(Some(AuditKind::Inserted), "format".into())));
    assert!(kinds.contains(&(Some(AuditKind::Rejected), "rejected".into())));
}

#[tokio::test]
async fn a_whole_pasted_mail_finds_its_code_and_an_older_one_is_skipped() {
    let e = env(FakeUpstream::default());
    // A forward: the newest code first, the one it replaced quoted below.
    e.fake.answer(OTHER, TokenCheck::Revoked);
    let mail = format!(
        "Da: noreply@sistemats.it\nOggetto: ID-SESSIONE\n\nGentile utente,\n\
         il codice ID-SESSIONE è: {ISSUED}\nValido fino a domani.\n\n\
         ---------- Messaggio inoltrato ----------\n> ID-SESSIONE: {OTHER}\n"
    );
    let view = e.manager.submit_code(&e.user, &mail, ws(1)).await.unwrap();
    assert_eq!(view.state, StateName::Active);
    assert_eq!(
        e.manager
            .code_for_proxy(&e.user)
            .await
            .unwrap()
            .expose_secret(),
        ISSUED
    );

    // The old one first (it was quoted above the new one): skipped, the new one taken.
    let e = env(FakeUpstream::default());
    e.fake.answer(OTHER, TokenCheck::Revoked);
    let mail = format!("vecchio: {OTHER}\nnuovo: {ISSUED}\n");
    let view = e.manager.submit_code(&e.user, &mail, ws(1)).await.unwrap();
    assert_eq!(view.state, StateName::Active);

    // A long text without any code says so, not "431 characters".
    let err = e
        .manager
        .submit_code(
            &e.user,
            "Gentile utente, la sua richiesta è stata ricevuta e verrà elaborata a breve.",
            ws(1),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "format");
    let message = err.to_string();
    assert!(message.contains("non c'è un codice"), "{message}");
    assert!(!message.contains("inseriti"), "{message}");
}

#[tokio::test]
async fn an_old_code_pasted_while_a_newer_one_is_active_says_nothing_is_wrong() {
    let e = env(FakeUpstream::default());
    e.manager.submit_code(&e.user, ISSUED, ws(1)).await.unwrap();
    e.fake.answer(OTHER, TokenCheck::Revoked);
    let err = e
        .manager
        .submit_code(&e.user, OTHER, ws(2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "revoked");
    let message = err.to_string();
    assert!(
        message.contains("il codice attivo resta valido"),
        "{message}"
    );
    assert!(!message.contains("richiedine uno nuovo"), "{message}");
    let view = e.manager.status(&e.user).await.unwrap();
    assert_eq!(view.state, StateName::Active);
    assert!(view.last_error.is_none(), "{view:?}");

    // With no code in use, a revoked code is still "request a new one".
    let e = env(FakeUpstream::default());
    e.fake.answer(OTHER, TokenCheck::Revoked);
    let err = e
        .manager
        .submit_code(&e.user, OTHER, ws(2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("richiedine uno nuovo"), "{err}");
}

#[tokio::test]
async fn dem_9101_re_verifies_and_every_workstation_sees_the_revocation() {
    let e = env(FakeUpstream::default());
    e.manager.submit_code(&e.user, ISSUED, ws(1)).await.unwrap();
    let mut events = e.manager.subscribe();
    e.fake
        .tokens
        .lock()
        .unwrap()
        .insert(ISSUED.into(), TokenCheck::Revoked);
    let view = e
        .manager
        .on_dem_9101(&e.user, &SessionCode::new(ISSUED), ws(2))
        .await
        .unwrap();
    assert_eq!((view.state, view.level), (StateName::Revoked, Level::Red));
    assert_eq!(events.try_recv().unwrap().view.state, StateName::Suspect);
    assert_eq!(events.try_recv().unwrap().view.state, StateName::Revoked);
    assert_eq!(
        e.manager.code_for_proxy(&e.user).await.unwrap_err().code(),
        "no_code"
    );
}

#[tokio::test]
async fn refused_password_stops_calls_until_credentials_change() {
    let e = env(FakeUpstream::default());
    *e.fake.create_result.lock().unwrap() = Some(Err(UpstreamError::PasswordRefused));
    let err = e.manager.request(&e.user, false, ws(1)).await.unwrap_err();
    assert_eq!(err.code(), "password_refused");
    e.clock.advance(Duration::minutes(10));
    assert_eq!(
        e.manager
            .request(&e.user, false, ws(1))
            .await
            .unwrap_err()
            .code(),
        "password_refused"
    );
    assert_eq!(
        e.manager
            .submit_code(&e.user, ISSUED, ws(1))
            .await
            .unwrap_err()
            .code(),
        "password_refused"
    );
    assert_eq!(e.fake.creates.load(Ordering::SeqCst), 1);
    assert_eq!(e.fake.checks.load(Ordering::SeqCst), 0);
    assert_eq!(
        e.manager.status(&e.user).await.unwrap().state,
        StateName::CredentialsRefused
    );

    e.store.insert_credentials(
        &e.user,
        Credentials {
            password: "new".into(),
            pin: "123".into(),
            revision: 0,
        },
    );
    *e.fake.create_result.lock().unwrap() = Some(Ok(CreateResult::Mailed));
    let ok = e.manager.request(&e.user, false, ws(1)).await.unwrap();
    assert_eq!(ok.view.state, StateName::AwaitingCode);
    assert_eq!(e.fake.creates.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn revoke_and_expiry_by_tick() {
    let e = env(FakeUpstream::default());
    e.manager.submit_code(&e.user, ISSUED, ws(1)).await.unwrap();
    e.clock.advance(Duration::hours(16));
    e.manager.tick().await.unwrap();
    let v = e.manager.status(&e.user).await.unwrap();
    assert_eq!(v.state, StateName::Expired);
    assert!(
        e.store
            .audit_entries()
            .iter()
            .any(|a| a.session_kind() == Some(AuditKind::Expired))
    );

    let e = env(FakeUpstream::default());
    e.manager.submit_code(&e.user, ISSUED, ws(1)).await.unwrap();
    let v = e.manager.revoke(&e.user, ws(1)).await.unwrap();
    assert_eq!(v.state, StateName::Revoked);
    assert_eq!(e.fake.revokes.load(Ordering::SeqCst), 1);
}

/// After its first pass over every session, a process visits only the sessions whose due
/// moment has come: the code turns yellow and expires at its moments, and a record whose
/// stored moment says "nothing pending" is left alone (planted by hand to make the skip
/// visible) until a restarted process sweeps everything once and computes it again.
#[tokio::test]
async fn ticks_visit_what_is_due_after_one_sweep_per_process() {
    let e = env(FakeUpstream::default());
    let key = SessionKey::new(e.user.clone(), Application::Prescrittore);
    let load = || async { e.store.load(&key).await.unwrap().unwrap() };
    e.manager.submit_code(&e.user, ISSUED, ws(1)).await.unwrap();
    let until = load().await.usable_code().unwrap().valid_until;
    let yellow_at = until - Policy::default().yellow_before;
    assert_eq!(load().await.due_at, Some(yellow_at));

    e.manager.tick().await.unwrap(); // the sweep
    e.clock.set(yellow_at - Duration::seconds(1));
    e.manager.tick().await.unwrap();
    assert_eq!(load().await.announced_level, Some(Level::Green));
    e.clock.set(yellow_at);
    e.manager.tick().await.unwrap();
    assert_eq!(load().await.announced_level, Some(Level::Yellow));
    assert_eq!(load().await.due_at, Some(until));
    e.clock.set(until);
    e.manager.tick().await.unwrap();
    assert_eq!(
        e.manager.status(&e.user).await.unwrap().state,
        StateName::Expired
    );
    assert_eq!(
        load().await.due_at,
        None,
        "an ended code has nothing pending"
    );

    // A new code whose stored moment is wrong: the running process does not visit it.
    e.fake.valid(OTHER, e.clock.now());
    e.manager.submit_code(&e.user, OTHER, ws(1)).await.unwrap();
    let mut planted = load().await;
    planted.due_at = None;
    e.store
        .commit(&planted, planted.version, &[])
        .await
        .unwrap();
    e.clock.advance(Duration::hours(17));
    e.manager.tick().await.unwrap();
    assert!(
        matches!(load().await.code, CodeSlot::Active(_)),
        "not due: not visited"
    );

    let restarted = manager_on(&e, e.fake.clone(), "restarted");
    restarted.tick().await.unwrap();
    assert!(
        matches!(load().await.code, CodeSlot::Ended { .. }),
        "swept at the start"
    );
}

#[tokio::test]
async fn unknown_user_and_missing_credentials() {
    let e = env(FakeUpstream::default());
    let nobody = UserId::new("NOBODY").unwrap();
    assert_eq!(
        e.manager.status(&nobody).await.unwrap_err().code(),
        "unknown_user"
    );
    e.store.insert_user(UserProfile {
        user_id: nobody.clone(),
        ..e.store_profile()
    });
    let err = e.manager.request(&nobody, false, ws(1)).await.unwrap_err();
    assert_eq!(err.code(), "credentials_missing");
}

impl Env {
    fn store_profile(&self) -> UserProfile {
        futures::executor::block_on(self.store.user(&self.user))
            .unwrap()
            .unwrap()
    }
}

fn manager_on(e: &Env, upstream: Arc<FakeUpstream>, node: &str) -> SessionManager {
    manager_with(e, upstream, node, Policy::default())
}

fn manager_with(
    e: &Env,
    upstream: Arc<FakeUpstream>,
    node: &str,
    policy: Policy,
) -> SessionManager {
    let ports = Ports {
        store: e.store.clone(),
        audit: e.store.clone(),
        directory: e.store.clone(),
        upstream,
        clock: Arc::new(e.clock.clone()),
    };
    SessionManager::new(ports, policy, None).with_instance(node)
}

/// Two nodes on one store. Node A's `create` takes longer than `create_timeout`: while A
/// waits it renews its lease, so node B joins instead of sending a second `create` (the
/// failure of token brokers whose lock expires mid-refresh). When A dies, its renewals stop
/// and B takes over once the lease has run out.
#[tokio::test]
async fn a_slow_create_keeps_its_lease_and_a_dead_nodes_runs_out() {
    let e = env(FakeUpstream::default());
    let policy = Policy {
        create_renew_every: Duration::milliseconds(20),
        ..Policy::default()
    };
    let slow = Arc::new(FakeUpstream {
        gate: Some(Semaphore::new(0)),
        ..FakeUpstream::default()
    });
    let a = manager_with(&e, slow.clone(), "node-a", policy.clone());
    let b_upstream = Arc::new(FakeUpstream::default());
    let b = manager_with(&e, b_upstream.clone(), "node-b", policy.clone());
    let key = SessionKey::new(e.user.clone(), Application::Prescrittore);
    let renewed = |e: &Env| match e.store.record(&key).unwrap().request.unwrap().stage {
        RequestStage::Creating { renewed_at, .. } => renewed_at,
        other => panic!("{other:?}"),
    };

    let (m, user) = (a.clone(), e.user.clone());
    let pending = tokio::spawn(async move { m.request(&user, false, ws(1)).await });
    while slow.create_count() == 0 {
        tokio::task::yield_now().await;
    }
    // Three times the timeout pass while A is still waiting; each time A renews first.
    for _ in 0..3 {
        e.clock
            .advance(policy.create_timeout - Duration::seconds(10));
        let before = renewed(&e);
        for _ in 0..500 {
            if renewed(&e) != before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(renewed(&e), Some(e.clock.now()), "A renewed its lease");
        b.tick().await.unwrap();
        let outcome = b.request(&e.user, false, ws(2)).await.unwrap();
        assert!(outcome.joined, "B joins A's slow create");
    }
    assert_eq!(b_upstream.create_count(), 0);
    slow.gate.as_ref().unwrap().add_permits(1);
    pending.await.unwrap().unwrap();
    assert_eq!(slow.create_count(), 1);

    // Now A dies in the middle of its next create: no renewal, the lease runs out.
    e.clock.advance(Duration::hours(1));
    let dying = Arc::new(FakeUpstream {
        gate: Some(Semaphore::new(0)),
        ..FakeUpstream::default()
    });
    let a2 = manager_with(&e, dying.clone(), "node-a", policy.clone());
    let (m, user) = (a2.clone(), e.user.clone());
    let pending = tokio::spawn(async move { m.request(&user, true, ws(1)).await });
    while dying.create_count() == 0 {
        tokio::task::yield_now().await;
    }
    pending.abort();
    drop(a2);
    e.clock
        .advance(policy.create_timeout - Duration::seconds(1));
    assert!(
        b.request(&e.user, true, ws(2)).await.unwrap().joined,
        "still A's lease"
    );
    e.clock.advance(Duration::seconds(2));
    b.tick().await.unwrap();
    let outcome = b.request(&e.user, true, ws(2)).await.unwrap();
    assert!(!outcome.joined, "B takes over once the lease ran out");
    assert_eq!(b_upstream.create_count(), 1);
}

/// A `create` in flight when its process is killed: the next process of the same node
/// settles it at start, so the next request goes out instead of joining a request whose
/// answer nobody will ever read (issue: two minutes of "joined" after a kill -9).
#[tokio::test]
async fn a_create_left_by_a_killed_process_is_settled_at_start() {
    let e = env(FakeUpstream::default());
    let stuck = Arc::new(FakeUpstream {
        gate: Some(Semaphore::new(0)),
        ..FakeUpstream::default()
    });
    let first = manager_on(&e, stuck.clone(), "studio");
    let (m, user) = (first.clone(), e.user.clone());
    let pending = tokio::spawn(async move { m.request(&user, false, ws(1)).await });
    let key = SessionKey::new(e.user.clone(), Application::Prescrittore);
    while stuck.create_count() == 0 {
        tokio::task::yield_now().await;
    }
    let owner = match e.store.record(&key).unwrap().request.unwrap().stage {
        RequestStage::Creating { owner, .. } => owner.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(owner, first.instance_tag());
    // kill -9: the task and the process are gone, the record stays as it was.
    pending.abort();
    drop(first);

    // Another node's process does not touch it: that request is not its predecessor's.
    let other = manager_on(&e, Arc::new(FakeUpstream::default()), "elsewhere");
    assert_eq!(other.settle_orphans().await.unwrap(), 0);
    assert!(other.request(&e.user, false, ws(2)).await.unwrap().joined);

    let fresh = Arc::new(FakeUpstream::default());
    let restarted = manager_on(&e, fresh.clone(), "studio");
    assert_ne!(restarted.instance_tag(), owner);
    assert_eq!(restarted.settle_orphans().await.unwrap(), 1);
    let record = e.store.record(&key).unwrap();
    assert!(record.request.is_none());
    assert_eq!(record.last_error.unwrap().code, "create_lost");
    let outcome = restarted.request(&e.user, false, ws(1)).await.unwrap();
    assert!(!outcome.joined, "the request goes out at once");
    assert_eq!(fresh.create_count(), 1);
    // Settling again finds nothing: its own request is not an orphan.
    assert_eq!(restarted.settle_orphans().await.unwrap(), 0);
}
