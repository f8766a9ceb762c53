//! Automatic requests and held calls over the real manager, a manual clock and an A2F fake
//! that issues a new code at every `create` (the simulator and a real mailbox are used in
//! the end-to-end tests of the binary).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};
use tsgate_session::auto::{AutoMode, Autopilot, UserSchedule};
use tsgate_session::hours::{TimeRange, Week, WorkingHours};
use tsgate_session::*;

/// Issues a fresh code valid `validity` from the clock's now at each `create` (in the
/// response, or only "mailed" when `mail` is set, as production does), and remembers when.
#[derive(Debug)]
struct Issuer {
    clock: ManualClock,
    validity: Duration,
    mail: bool,
    refuse_password: AtomicBool,
    creates: Mutex<Vec<OffsetDateTime>>,
    issued: Mutex<Vec<(String, OffsetDateTime)>>,
    n: AtomicUsize,
}

impl Issuer {
    fn new(clock: &ManualClock, validity: Duration, mail: bool) -> Self {
        Self {
            clock: clock.clone(),
            validity,
            mail,
            refuse_password: AtomicBool::new(false),
            creates: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            n: AtomicUsize::new(0),
        }
    }

    fn create_times(&self) -> Vec<OffsetDateTime> {
        self.creates.lock().unwrap().clone()
    }

    fn last_issued(&self) -> Option<String> {
        self.issued.lock().unwrap().last().map(|(c, _)| c.clone())
    }
}

#[async_trait]
impl Upstream for Issuer {
    async fn create(&self, _: &Identity) -> Result<CreateResult, UpstreamError> {
        let now = self.clock.now();
        self.creates.lock().unwrap().push(now);
        if self.refuse_password.load(Ordering::SeqCst) {
            return Err(UpstreamError::PasswordRefused);
        }
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let code = format!("{n:08x}-2222-4333-8444-555555555555");
        self.issued.lock().unwrap().push((code.clone(), now));
        if self.mail {
            Ok(CreateResult::Mailed)
        } else {
            Ok(CreateResult::Issued(SessionCode::new(code)))
        }
    }

    async fn check_token(
        &self,
        _: &Identity,
        code: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError> {
        let issued = self.issued.lock().unwrap();
        Ok(
            match issued.iter().find(|(c, _)| c == code.expose_secret()) {
                Some((_, at)) => TokenCheck::Valid {
                    valid_from: *at,
                    valid_until: *at + self.validity,
                },
                None => TokenCheck::NotFound,
            },
        )
    }

    async fn revoke(&self, _: &Identity, _: &SessionCode) -> Result<RevokeOutcome, UpstreamError> {
        Ok(RevokeOutcome::Revoked)
    }
}

fn practice_hours() -> WorkingHours {
    let mut h = WorkingHours {
        week: Week::default(),
        closures: Vec::new(),
        public_holidays: true,
    };
    for d in [
        time::Weekday::Monday,
        time::Weekday::Tuesday,
        time::Weekday::Wednesday,
        time::Weekday::Thursday,
        time::Weekday::Friday,
    ] {
        *h.week.on_mut(d) = vec![
            "08:00-13:00".parse::<TimeRange>().unwrap(),
            "15:00-19:30".parse().unwrap(),
        ];
    }
    h
}

struct Env {
    store: Arc<MemoryStore>,
    clock: ManualClock,
    issuer: Arc<Issuer>,
    manager: SessionManager,
    pilot: Autopilot,
    user: UserId,
}

async fn env(validity: Duration, mail: bool) -> Env {
    let store = Arc::new(MemoryStore::new());
    // Sunday 29 November 2026, 20:00 in Rome (winter: UTC+1).
    let clock = ManualClock::new(time::macros::datetime!(2026-11-29 19:00 UTC));
    let issuer = Arc::new(Issuer::new(&clock, validity, mail));
    let ports = Ports {
        store: store.clone(),
        audit: store.clone(),
        directory: store.clone(),
        upstream: issuer.clone(),
        clock: Arc::new(clock.clone()),
    };
    let manager = SessionManager::new(ports, Policy::default(), None);
    let user = UserId::new("PROVAX00X00X000Y").unwrap();
    store.insert_user(testing::profile(&user));
    store.insert_credentials(
        &user,
        Credentials {
            password: Password::new("pw"),
            pin: Pin::new("123"),
            revision: 0,
        },
    );
    store.set_practice_hours(&practice_hours()).await.unwrap();
    store
        .set_schedule(
            &user,
            &UserSchedule {
                auto: AutoMode::On,
                hours: None,
            },
        )
        .await
        .unwrap();
    let pilot = Autopilot::new(manager.clone(), store.clone(), store.clone(), None, None);
    Env {
        store,
        clock,
        issuer,
        manager,
        pilot,
        user,
    }
}

impl Env {
    /// One periodic pass of the autopilot (it visits only the users whose plan is due
    /// again), and the requests it started carried to their end.
    async fn pass(&self) {
        self.pilot.run_pass(true).await.unwrap();
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }

    fn auto_requests(&self) -> usize {
        self.store
            .audit_entries()
            .iter()
            .filter(|a| {
                a.session_kind() == Some(AuditKind::Requested)
                    && a.actor == Actor::Auto
                    && a.outcome == "sent"
            })
            .count()
    }
}

#[tokio::test]
async fn a_working_week_needs_no_click_and_no_request_outside_hours() {
    // Codes of 8 hours (the guaranteed minimum): the afternoon needs a renewal too.
    let e = env(Duration::hours(8), false).await;
    let hours = practice_hours();
    let step = Duration::minutes(5);
    let end = e.clock.now() + Duration::days(6);
    let mut calls = 0;
    while e.clock.now() < end {
        e.pass().await;
        let now = e.clock.now();
        if hours.contains(now) {
            // A prescription at this moment finds a usable code, with no click.
            let code = e.manager.code_for_proxy(&e.user).await;
            assert!(
                code.is_ok(),
                "no code at {now}: {:?}",
                e.manager.status(&e.user).await
            );
            calls += 1;
        }
        e.clock.advance(step);
    }
    assert!(calls > 500, "{calls} calls in working hours");
    let policy = Policy::default();
    let mut per_day = std::collections::BTreeMap::new();
    for at in e.issuer.create_times() {
        // Never outside a working window (the range less the lead time).
        let (start, end) = hours.next_range(at).expect("a range");
        assert!(
            at >= start - policy.auto_lead && at < end,
            "create at {at} outside working hours"
        );
        *per_day.entry(italy::to_rome(at).date()).or_insert(0u32) += 1;
    }
    assert_eq!(per_day.len(), 5, "one working week: {per_day:?}");
    assert!(
        per_day
            .values()
            .all(|n| *n <= policy.auto_daily_cap && *n >= 2),
        "8-hour codes need a morning and an afternoon request: {per_day:?}"
    );
    assert_eq!(e.auto_requests(), e.issuer.create_times().len());
}

#[tokio::test]
async fn a_sixteen_hour_code_is_requested_once_a_day_before_the_first_patient() {
    let e = env(Duration::hours(16), false).await;
    // Monday 07:49 in Rome: nothing yet.
    e.clock.set(time::macros::datetime!(2026-11-30 06:49 UTC));
    e.pass().await;
    assert!(e.issuer.create_times().is_empty());
    let view = e.manager.status(&e.user).await.unwrap();
    let auto = view.auto.expect("automatic part of the view");
    assert!(auto.enabled);
    assert_eq!(
        auto.next.as_deref(),
        Some("Richiesta automatica alle 07:50")
    );
    // 07:50: requested, green before 08:00.
    e.clock.advance(Duration::minutes(1));
    e.pass().await;
    assert_eq!(e.issuer.create_times().len(), 1);
    let view = e.manager.status(&e.user).await.unwrap();
    assert_eq!(view.state, StateName::Active);
    // It lasts until 23:50: the next one is tomorrow's.
    assert!(
        view.auto
            .and_then(|a| a.next)
            .is_some_and(|n| n.contains("01/12 alle 07:50")),
    );
}

#[tokio::test]
async fn held_calls_of_one_doctor_wait_on_one_create_and_get_the_mailed_code() {
    let e = env(Duration::hours(16), true).await;
    // Sunday evening, outside working hours: the inputs are known, nothing requested.
    e.pass().await;
    assert!(e.issuer.create_times().is_empty());
    let mut held = Vec::new();
    for _ in 0..10 {
        let (m, u) = (e.manager.clone(), e.user.clone());
        held.push(tokio::spawn(async move {
            m.obtain_for_proxy(&u, std::time::Duration::from_secs(20))
                .await
        }));
    }
    // The mail arrives: the watcher submits the code.
    while e.issuer.last_issued().is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let code = e.issuer.last_issued().unwrap();
    e.manager
        .submit_code(&e.user, &code, Actor::Mailbox)
        .await
        .unwrap();
    for h in held {
        let got = h.await.unwrap().expect("held call got a code");
        assert_eq!(got.expose_secret(), code);
    }
    assert_eq!(
        e.issuer.create_times().len(),
        1,
        "one create for ten held calls"
    );
    // One request in the audit, not one per held call.
    let requested: Vec<String> = e
        .store
        .audit_entries()
        .into_iter()
        .filter(|a| a.session_kind() == Some(AuditKind::Requested))
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        requested,
        ["sent", "mailed"],
        "one request, not one per held call"
    );
}

#[tokio::test]
async fn a_held_call_gives_up_after_the_hold_time() {
    let e = env(Duration::hours(16), true).await;
    e.pass().await;
    let got = e
        .manager
        .obtain_for_proxy(&e.user, std::time::Duration::from_millis(200))
        .await;
    assert!(matches!(got, Err(SessionError::NoCode(_))), "{got:?}");
    assert_eq!(e.issuer.create_times().len(), 1);
}

#[tokio::test]
async fn a_refused_password_stops_every_automatic_call() {
    let e = env(Duration::hours(16), false).await;
    e.issuer.refuse_password.store(true, Ordering::SeqCst);
    e.clock.set(time::macros::datetime!(2026-11-30 06:55 UTC));
    e.pass().await;
    assert_eq!(e.issuer.create_times().len(), 1);
    let view = e.manager.status(&e.user).await.unwrap();
    assert_eq!(view.state, StateName::CredentialsRefused);
    assert!(
        view.auto
            .and_then(|a| a.reason)
            .is_some_and(|r| r.contains("credenziali"))
    );
    // Days pass and calls come: nothing more is sent with the refused password.
    for _ in 0..(3 * 24 * 6) {
        e.clock.advance(Duration::minutes(10));
        e.pass().await;
    }
    let held = e
        .manager
        .obtain_for_proxy(&e.user, std::time::Duration::from_millis(100))
        .await;
    assert!(held.is_err());
    assert_eq!(e.issuer.create_times().len(), 1, "no second attempt");
}

#[tokio::test]
async fn a_mail_that_never_comes_is_told_backed_off_and_capped() {
    let e = env(Duration::hours(16), true).await;
    e.clock.set(time::macros::datetime!(2026-11-30 06:50 UTC));
    e.pass().await;
    assert_eq!(e.issuer.create_times().len(), 1);
    // Three minutes without the mail: every workstation is told, with the next attempt.
    let mut changes = e.manager.subscribe();
    e.clock.advance(Duration::minutes(3));
    e.pass().await;
    let view = e.manager.status(&e.user).await.unwrap();
    let error = view.last_error.expect("mail late");
    assert_eq!(error.code, "mail_late");
    assert!(
        error.message.contains("non è arrivato"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("Nuovo tentativo automatico alle 07:58"),
        "{}",
        error.message
    );
    assert!(changes.try_recv().is_ok(), "workstations notified");
    // No retry before the backoff.
    e.clock.advance(Duration::minutes(4));
    e.pass().await;
    assert_eq!(e.issuer.create_times().len(), 1);
    // The day goes on without mail: retries back off and stop at the daily cap.
    for _ in 0..(12 * 12) {
        e.clock.advance(Duration::minutes(5));
        e.pass().await;
    }
    assert_eq!(
        e.issuer.create_times().len(),
        Policy::default().auto_daily_cap as usize
    );
    let view = e.manager.status(&e.user).await.unwrap();
    assert!(
        view.auto
            .and_then(|a| a.reason)
            .is_some_and(|r| r.contains("il massimo"))
    );
}

#[tokio::test]
async fn off_means_never_and_the_view_says_why() {
    let e = env(Duration::hours(16), false).await;
    e.store
        .set_schedule(
            &e.user,
            &UserSchedule {
                auto: AutoMode::Off,
                hours: None,
            },
        )
        .await
        .unwrap();
    e.clock.set(time::macros::datetime!(2026-11-30 08:00 UTC));
    e.pass().await;
    assert!(e.issuer.create_times().is_empty());
    let auto = e.manager.status(&e.user).await.unwrap().auto.unwrap();
    assert!(!auto.enabled);
    assert!(auto.reason.unwrap().contains("spente"));
    let held = e
        .manager
        .obtain_for_proxy(&e.user, std::time::Duration::from_secs(5))
        .await;
    assert!(matches!(held, Err(SessionError::NoCode(_))));
    assert!(e.issuer.create_times().is_empty());
}

/// A pass plans a doctor again only when something says so: the moment of the last plan,
/// a change of the session (heard through the change events, which cross nodes), a change
/// of schedule made through `replan`. A change made behind its back is not seen until then:
/// this is what makes a pass over 100,000 doctors read only the few that are due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pass_plans_a_doctor_again_only_when_something_says_so() {
    let e = env(Duration::hours(16), false).await;
    let enabled = || async {
        e.manager
            .status(&e.user)
            .await
            .unwrap()
            .auto
            .unwrap()
            .enabled
    };
    e.pass().await; // Sunday 20:00: the next request is Monday 07:50.
    assert!(enabled().await);
    let off = UserSchedule {
        auto: AutoMode::Off,
        hours: None,
    };
    e.store.set_schedule(&e.user, &off).await.unwrap();
    e.clock.advance(Duration::minutes(10));
    e.pass().await;
    assert!(enabled().await, "not due: not planned again");

    // The periodic task hears of a change of the session and plans the doctor again.
    let task = e.pilot.spawn(std::time::Duration::from_millis(20), None);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(enabled().await, "still nothing says so");
    e.manager.announce(&e.user).await.unwrap();
    let mut seen = false;
    for _ in 0..200 {
        if !enabled().await {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    task.abort();
    assert!(
        seen,
        "a change of the session makes the next pass plan again"
    );

    // A schedule changed through `replan` is seen at once.
    let on = UserSchedule {
        auto: AutoMode::On,
        hours: None,
    };
    e.store.set_schedule(&e.user, &on).await.unwrap();
    e.pilot.replan(&e.user).await.unwrap();
    assert!(enabled().await);
}

/// A vendor's 100,000 doctors mostly have no mailbox: the periodic pass visits only those
/// whose automatic requests may be on, and one shared fallback tells every other card why
/// they are off.
#[tokio::test]
async fn the_pass_visits_only_doctors_with_a_mailbox_or_a_choice() {
    let e = env(Duration::hours(8), false).await;
    let others: Vec<UserId> = (0..500)
        .map(|i| UserId::new(format!("NOMAIL{i:04}")).unwrap())
        .collect();
    for user in &others {
        e.store.insert_user(testing::profile(user));
    }
    e.pass().await;
    assert_eq!(e.manager.auto_users(), vec![e.user.clone()]);
    let view = e.manager.status(&others[7]).await.unwrap();
    let auto = view.auto.expect("the fallback tells the card");
    assert!(!auto.enabled);
    assert!(
        auto.reason
            .as_deref()
            .unwrap_or("")
            .contains("configura la casella"),
        "{auto:?}"
    );

    // A doctor who chooses automatic requests is visited from the next pass.
    e.store
        .set_schedule(
            &others[7],
            &UserSchedule {
                auto: AutoMode::On,
                hours: None,
            },
        )
        .await
        .unwrap();
    e.pass().await;
    let mut visited = e.manager.auto_users();
    visited.sort();
    assert_eq!(visited, vec![others[7].clone(), e.user.clone()]);
    assert!(
        e.manager
            .status(&others[7])
            .await
            .unwrap()
            .auto
            .unwrap()
            .enabled
    );
}
