//! The periodic work at vendor scale: how many store calls, how much time and CPU a pass of
//! the session ticker and of the autopilot costs when 100,000 doctors each have a session
//! and automatic requests on. Prints numbers; asserts nothing about time.
//!
//! `cargo bench -p tsgate-store --bench periodic` (SQLite in a temporary folder);
//! `DB=postgres` for a throwaway PostgreSQL cluster; `USERS=10000` for another size.
//!
//! Each doctor gets an active code verified at seed time that ends somewhere in the next 16
//! hours (spread evenly), as a vendor's doctors would have during a working day. The clock
//! is a manual one: the passes of ten simulated minutes (one every 15 s, as `serve` does)
//! run back to back, so the figures are the work itself, not the waiting between passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use time::{Duration, OffsetDateTime};
use tsgate_session::auto::{AutoMode, Autopilot, UserSchedule};
use tsgate_session::hours::WorkingHours;
use tsgate_session::testing::FakeUpstream;
use tsgate_session::*;
use tsgate_store::testing::{sample_profile, temp_store};

/// Every call the periodic work makes to the store, counted: each is one query or one
/// transaction.
struct Counting {
    inner: Arc<dyn Store>,
    calls: AtomicU64,
}

impl Counting {
    fn hit(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
    fn take(&self) -> u64 {
        self.calls.swap(0, Ordering::Relaxed)
    }
}

#[async_trait]
impl SessionStore for Counting {
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>> {
        self.hit();
        self.inner.load(key).await
    }
    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()> {
        self.hit();
        self.inner.commit(record, expected_version, audit).await
    }
    async fn keys(&self) -> StoreResult<Vec<SessionKey>> {
        self.hit();
        self.inner.keys().await
    }
    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        self.hit();
        self.inner.due(now).await
    }
}

#[async_trait]
impl AuditLog for Counting {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.hit();
        self.inner.append(entry).await
    }
    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        self.hit();
        self.inner.query(filter).await
    }
}

#[async_trait]
impl UserDirectory for Counting {
    async fn user(&self, user: &UserId) -> StoreResult<Option<UserProfile>> {
        self.hit();
        self.inner.user(user).await
    }
    async fn credentials(&self, user: &UserId) -> StoreResult<Option<Credentials>> {
        self.hit();
        self.inner.credentials(user).await
    }
    async fn put_user(&self, profile: &UserProfile) -> StoreResult<()> {
        self.hit();
        self.inner.put_user(profile).await
    }
    async fn list_users(&self) -> StoreResult<Vec<UserProfile>> {
        self.hit();
        self.inner.list_users().await
    }
    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>> {
        self.hit();
        self.inner.users_page(query).await
    }
    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        self.hit();
        self.inner.auto_candidates().await
    }
    async fn remove_user(&self, user: &UserId) -> StoreResult<bool> {
        self.hit();
        self.inner.remove_user(user).await
    }
    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<time::Date>,
    ) -> StoreResult<i64> {
        self.hit();
        self.inner
            .set_credentials(user, password, pin, password_changed_on)
            .await
    }
}

#[async_trait]
impl ScheduleRepo for Counting {
    async fn practice_hours(&self) -> StoreResult<Option<WorkingHours>> {
        self.hit();
        self.inner.practice_hours().await
    }
    async fn set_practice_hours(&self, hours: &WorkingHours) -> StoreResult<()> {
        self.hit();
        self.inner.set_practice_hours(hours).await
    }
    async fn schedule(&self, user: &UserId) -> StoreResult<UserSchedule> {
        self.hit();
        self.inner.schedule(user).await
    }
    async fn set_schedule(&self, user: &UserId, schedule: &UserSchedule) -> StoreResult<()> {
        self.hit();
        self.inner.set_schedule(user, schedule).await
    }
}

/// CPU time of this process so far (user + system).
fn cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat (11 and 12 after the name).
    std::time::Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

const CODE_VALIDITY_HOURS: i64 = 16;
const PERIOD: Duration = Duration::seconds(15);
const PASSES: usize = 40; // ten minutes of passes

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; there is nothing to list.
    }
    let users: usize = std::env::var("USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let postgres = std::env::var("DB").is_ok_and(|v| v == "postgres");
    let (store, _keep): (Arc<dyn Store>, Box<dyn std::any::Any>) = if postgres {
        let (store, url) = tsgate_store::testing::pg::temp_store().await;
        (Arc::new(store), Box::new(url))
    } else {
        let (store, dir) = temp_store().await;
        (Arc::new(store), Box::new(dir))
    };
    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    println!(
        "periodic work, {backend}, {users} doctors, load average {}",
        load_average()
    );

    // Seed: doctors (one import), their schedules (automatic requests on), their sessions.
    let t0 = datetime_now();
    let started = Instant::now();
    let practice = PracticeId::new("bench").unwrap();
    let ids: Vec<UserId> = (0..users)
        .map(|i| UserId::new(format!("MEDICO{i:07}")).unwrap())
        .collect();
    for chunk in ids.chunks(1_000) {
        let rows: Vec<ImportedUser> = chunk
            .iter()
            .map(|id| ImportedUser {
                practice: practice.clone(),
                practice_name: Some("Bench".into()),
                profile: sample_profile(id.as_str()),
                credentials: Some((Password::new("pw"), Pin::new("1234"))),
            })
            .collect();
        store.import_users(&rows).await.unwrap();
    }
    let on = UserSchedule {
        auto: AutoMode::On,
        hours: None,
    };
    let policy = Policy::default();
    let mut seeding = tokio::task::JoinSet::new();
    for (slice, part) in ids.chunks(users.div_ceil(8).max(1)).enumerate() {
        let store = store.clone();
        let part = part.to_vec();
        let (on, policy) = (on.clone(), policy.clone());
        seeding.spawn(async move {
            for (i, id) in part.iter().enumerate() {
                store.set_schedule(id, &on).await.unwrap();
                let n = slice * part.len() + i;
                let record = active_record(id, t0, n, users, &policy);
                store.commit(&record, 0, &[]).await.unwrap();
            }
        });
    }
    while seeding.join_next().await.is_some() {}
    println!(
        "seeded in {:.1} s (doctors, schedules, sessions)",
        started.elapsed().as_secs_f64()
    );

    let counting = Arc::new(Counting {
        inner: store.clone(),
        calls: AtomicU64::new(0),
    });
    let clock = ManualClock::new(t0);
    let ports = Ports {
        store: counting.clone(),
        audit: counting.clone(),
        directory: counting.clone(),
        upstream: Arc::new(FakeUpstream::default()),
        clock: Arc::new(clock.clone()),
    };
    let manager = SessionManager::new(ports, policy.clone(), None);
    let pilot = Autopilot::new(
        manager.clone(),
        counting.clone(),
        counting.clone(),
        None,
        None,
    );

    // The first pass of a process: every session, every candidate.
    let (wall, cpu_used) = timed(|| async {
        manager.tick().await.unwrap();
    })
    .await;
    let tick_calls = counting.take();
    let (awall, acpu) = timed(|| async {
        pilot.run_pass(false).await.unwrap();
    })
    .await;
    let auto_calls = counting.take();
    println!(
        "first pass: ticker {tick_calls} store calls, {:.2} s ({:.2} s CPU); autopilot {auto_calls} \
         store calls, {:.2} s ({:.2} s CPU)",
        wall.as_secs_f64(),
        cpu_used.as_secs_f64(),
        awall.as_secs_f64(),
        acpu.as_secs_f64()
    );

    // Ten minutes of passes, back to back.
    let mut tick_total = 0;
    let mut auto_total = 0;
    let (wall, cpu_used) = timed(|| async {
        for _ in 0..PASSES {
            clock.advance(PERIOD);
            manager.tick().await.unwrap();
            tick_total += counting.take();
            pilot.run_pass(false).await.unwrap();
            auto_total += counting.take();
        }
    })
    .await;
    let minutes = (PERIOD * PASSES as u32).as_seconds_f64() / 60.0;
    let per_minute = |n: u64| n as f64 / minutes;
    println!(
        "steady: {PASSES} passes of each over {minutes:.0} simulated minutes: ticker {:.0} store \
         calls/min, autopilot {:.0} store calls/min; {:.1} ms per pass pair, {:.3} s CPU in all = \
         {:.3} % of one core at one pass per 15 s",
        per_minute(tick_total),
        per_minute(auto_total),
        wall.as_secs_f64() * 1000.0 / PASSES as f64,
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() / (minutes * 60.0) * 100.0
    );

    // What every pass cost before the due moments: a new process's first tick (every
    // session) and an autopilot that visits every candidate (inputs unchanged: no
    // announcement, as in a steady pass of old).
    let ports = Ports {
        store: counting.clone(),
        audit: counting.clone(),
        directory: counting.clone(),
        upstream: Arc::new(FakeUpstream::default()),
        clock: Arc::new(clock.clone()),
    };
    let fresh = SessionManager::new(ports, policy, None);
    let (wall, _) = timed(|| async {
        fresh.tick().await.unwrap();
    })
    .await;
    let old_tick = counting.take();
    let every = Autopilot::new(
        manager.clone(),
        counting.clone(),
        counting.clone(),
        None,
        None,
    );
    let (awall, _) = timed(|| async {
        every.run_pass(false).await.unwrap();
    })
    .await;
    let old_auto = counting.take();
    let passes_per_minute = 60.0 / PERIOD.as_seconds_f64();
    println!(
        "before (every session and every candidate at each pass): ticker {:.0} store calls/min, \
         autopilot {:.0} store calls/min; {:.2} s + {:.2} s per pass",
        old_tick as f64 * passes_per_minute,
        old_auto as f64 * passes_per_minute,
        wall.as_secs_f64(),
        awall.as_secs_f64()
    );
}

/// An active, verified code for doctor `n` of `users`: verified at `t0`, ending evenly
/// spread over the next 16 hours.
fn active_record(
    id: &UserId,
    t0: OffsetDateTime,
    n: usize,
    users: usize,
    policy: &Policy,
) -> SessionRecord {
    let ends_in = Duration::seconds(CODE_VALIDITY_HOURS * 3600 * n as i64 / users.max(1) as i64)
        + Duration::minutes(1);
    let mut record = SessionRecord::new(SessionKey::new(id.clone(), Application::Prescrittore));
    record.code = CodeSlot::Active(CurrentCode {
        code: SessionCode::new(format!("{:08x}-2222-4333-8444-555555555555", n)),
        valid_from: t0 + ends_in - Duration::hours(CODE_VALIDITY_HOURS),
        valid_until: t0 + ends_in,
        verified_at: t0,
    });
    record.newest_valid_from = Some(t0 + ends_in - Duration::hours(CODE_VALIDITY_HOURS));
    record.announced_level = Some(if ends_in > policy.yellow_before {
        Level::Green
    } else {
        Level::Yellow
    });
    record.due_at = next_due(&record, policy);
    record
}

/// Now, to the millisecond (what the stores keep).
fn datetime_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

async fn timed<F, Fut>(f: F) -> (std::time::Duration, std::time::Duration)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (wall, cpu0) = (Instant::now(), cpu());
    f().await;
    (wall.elapsed(), cpu().saturating_sub(cpu0))
}
