//! Live events across nodes (`tsgate_store::postgres::events`): real session managers on
//! two stores (two pools, as two `tsgate serve` nodes) of one throwaway PostgreSQL
//! database, told of each other's changes through LISTEN/NOTIFY.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::broadcast;
use tsgate_session::testing::FakeUpstream;
use tsgate_session::{
    Actor, Password, Pin, Policy, Ports, SessionChanged, SessionKey, SessionManager, StateName,
    SystemClock, UserDirectory as _, UserId,
};
use tsgate_store::postgres::events::{CHANNEL, Notice, PgEvents};
use tsgate_store::testing::{pg, sample_profile, user_id};
use tsgate_store::{MasterKey, PgStore};

const CODE_1: &str = "11111111-2222-4333-8444-555555555555";
const CODE_2: &str = "66666666-7777-4888-9999-000000000000";

/// How long a change may take to reach the other node before the test gives up (the
/// expected figure is milliseconds).
const GUARD: Duration = Duration::from_secs(10);

/// A manager on `store`, named `node`; with `events`, on LISTEN/NOTIFY as `serve` runs it.
async fn node(
    store: &PgStore,
    upstream: &Arc<FakeUpstream>,
    node: &str,
    events: bool,
) -> SessionManager {
    let shared = Arc::new(store.clone());
    let ports = Ports {
        store: shared.clone(),
        audit: shared.clone(),
        directory: shared,
        upstream: upstream.clone(),
        clock: Arc::new(SystemClock),
    };
    if !events {
        return SessionManager::new(ports, Policy::default(), None).with_instance(node);
    }
    let events = PgEvents::new(store);
    let manager =
        SessionManager::new(ports, Policy::default(), Some(events.sink())).with_instance(node);
    events.listen(manager.clone()).await.expect("listen");
    manager
}

/// Two users with credentials on a new database, and `CODE_1` older than `CODE_2`, both
/// valid for Sistema TS.
async fn database() -> (String, MasterKey, Arc<FakeUpstream>, UserId, UserId) {
    let url = pg::temp_database().await;
    let key = MasterKey::generate();
    let store = pg::open(&url, &key).await;
    let users = ["ROSSI", "BIANCHI"].map(user_id);
    for user in &users {
        store
            .put_user(&sample_profile(user.as_str()))
            .await
            .unwrap();
        store
            .set_credentials(user, &Password::new("pw"), &Pin::new("1234"), None)
            .await
            .unwrap();
    }
    store.close().await;
    let upstream = Arc::new(FakeUpstream::default());
    let now = OffsetDateTime::now_utc();
    upstream.valid(CODE_1, now - time::Duration::minutes(10));
    upstream.valid(CODE_2, now - time::Duration::minutes(1));
    let [first, second] = users;
    (url, key, upstream, first, second)
}

/// The next change of `user` on `rx`, or a panic after [`GUARD`].
async fn next_change(
    rx: &mut broadcast::Receiver<SessionChanged>,
    user: &UserId,
) -> SessionChanged {
    tokio::time::timeout(GUARD, async {
        loop {
            let change = rx.recv().await.expect("event channel");
            if &change.key.user == user {
                return change;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no change of {user} within {GUARD:?}"))
}

/// A code inserted on node A reaches node B's subscribers (its workstations' event streams),
/// and B's proxy forwards the code A replaced it with at once, not the one it had cached. A
/// node does not hear its own changes twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other_and_its_cached_code() {
    let (url, key, upstream, user, _) = database().await;
    let (store_a, store_b) = (pg::open(&url, &key).await, pg::open(&url, &key).await);
    let a = node(&store_a, &upstream, "a", true).await;
    let b = node(&store_b, &upstream, "b", true).await;
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());

    let started = Instant::now();
    let view = a.submit_code(&user, CODE_1, Actor::Cli).await.unwrap();
    let seen = next_change(&mut on_b, &user).await;
    println!(
        "change seen by the other node after {:?}",
        started.elapsed()
    );
    // (`remaining_seconds` may have moved on by a second.)
    assert_eq!(
        (seen.view.state, seen.view.expires_at),
        (StateName::Active, view.expires_at)
    );
    assert_eq!(
        seen.key,
        SessionKey::new(user.clone(), tsgate_session::Application::Prescrittore)
    );
    // A told its own subscribers once, not a second time through the database.
    let own = next_change(&mut on_a, &user).await.view;
    assert_eq!(own.expires_at, view.expires_at);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(on_a.try_recv().is_err(), "A heard its own change twice");

    let cached_at = Instant::now();
    assert_eq!(
        b.code_for_proxy(&user).await.unwrap().expose_secret(),
        CODE_1
    );
    a.submit_code(&user, CODE_2, Actor::Cli).await.unwrap();
    next_change(&mut on_b, &user).await;
    let code = b.code_for_proxy(&user).await.unwrap();
    println!(
        "B forwards the new code {:?} after it cached the old one (the cache keeps a code 2 s)",
        cached_at.elapsed()
    );
    assert_eq!(code.expose_secret(), CODE_2);
    store_a.close().await;
    store_b.close().await;
}

/// A notification without the view (one too long for a payload) makes the receiver read
/// the session from its own store; one that is not a notice is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_without_its_view_is_read_from_the_store() {
    let (url, key, upstream, user, _) = database().await;
    let store = pg::open(&url, &key).await;
    let b = node(&store, &upstream, "b", true).await;
    let mut on_b = b.subscribe();
    let key_only = serde_json::to_string(&Notice {
        from: "elsewhere#1".into(),
        key: SessionKey::new(user.clone(), tsgate_session::Application::Prescrittore),
        view: None,
    })
    .unwrap();
    for payload in ["not json", key_only.as_str()] {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let seen = next_change(&mut on_b, &user).await;
    assert_eq!(seen.view.user, user);
    assert_eq!(seen.view.state, StateName::None);
    store.close().await;
}

/// The listener's connection is killed: it connects again, hears the other node again, and
/// forgets every cached code, since what changed meanwhile went unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_and_forgets_every_cached_code() {
    let (url, key, upstream, user, other) = database().await;
    let (store_a, store_b) = (pg::open(&url, &key).await, pg::open(&url, &key).await);
    let a = node(&store_a, &upstream, "a", true).await;
    let b = node(&store_b, &upstream, "b", true).await;
    // A process that tells nobody (as if its notification were lost).
    let quiet = node(&store_a, &upstream, "quiet", false).await;
    let mut on_b = b.subscribe();
    a.submit_code(&user, CODE_1, Actor::Cli).await.unwrap();
    next_change(&mut on_b, &user).await;

    let cached_at = Instant::now();
    assert_eq!(
        b.code_for_proxy(&user).await.unwrap().expose_secret(),
        CODE_1
    );
    quiet.submit_code(&user, CODE_2, Actor::Cli).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(store_a.pool())
    .await
    .unwrap();
    assert_eq!(killed, [true, true], "the listeners of A and B");

    // B hears A again (a change of another user, which does not touch the first one's
    // cached code)…
    let deadline = Instant::now() + GUARD;
    loop {
        a.announce(&other).await.unwrap();
        let heard = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                match on_b.recv().await {
                    Ok(change) if change.key.user == other => return,
                    _ => {}
                }
            }
        })
        .await;
        if heard.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "B never listened again");
    }
    // …and reads the code it had cached again.
    let code = b.code_for_proxy(&user).await.unwrap();
    println!(
        "B reconnected and read the code again {:?} after caching it (the cache keeps a code 2 s)",
        cached_at.elapsed()
    );
    assert_eq!(code.expose_secret(), CODE_2);
    store_a.close().await;
    store_b.close().await;
}
