//! Three `tsgate serve` nodes on one PostgreSQL database (a throwaway cluster,
//! `tsgate_store::testing::pg`): one doctor's session is one session whichever node a
//! workstation talks to. A burst of requests spread over the nodes makes one `create`; a
//! change made through one node reaches the event streams of another (LISTEN/NOTIFY); and a
//! node's proxy forwards the code that another node just put in place, not the one it had
//! cached.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Gateway, GatewayOptions, INVIO_ACTION, INVIO_PATH, Sim, SimUser, basic, invio_body, nre_of,
    tempdir,
};

/// How long an event may take to cross nodes before the test gives up (it is expected
/// within a second; the figure is printed).
const GUARD: Duration = Duration::from_secs(30);

/// `GET /api/v1/events?users=…` on one node: its `session` events, one JSON view each.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(node: &Gateway, user: &str) -> Self {
        // No overall timeout: the stream stays open for the whole test.
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/events?users={user}", node.base))
            .bearer_auth(&node.token)
            .send()
            .await
            .expect("event stream");
        assert_eq!(response.status(), 200);
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next `session` event whose view satisfies `wanted`, within [`GUARD`].
    async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(GUARD, async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let event: String = self.buffer.drain(..end + 2).collect();
                    if !event.lines().any(|l| l == "event: session") {
                        continue;
                    }
                    let data: String = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect();
                    let view: Value = serde_json::from_str(&data).expect("a JSON view");
                    if wanted(&view) {
                        return view;
                    }
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .expect("event stream")
                    .expect("the event stream ended");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no event {what} within {GUARD:?}"))
    }
}

/// InvioPrescritto straight to the simulator with `code` as `Authorization2F`: whether it
/// was accepted (an NRE) or refused (9101, enforcement `block`).
async fn accepted_directly(sim: &Sim, doctor: &SimUser, code: &str) -> bool {
    let receipt = sim
        .http
        .post(format!("{}{INVIO_PATH}", sim.base))
        .header("Authorization", basic(doctor))
        .header("Authorization2F", format!("Bearer {code}"))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", INVIO_ACTION)
        .body(invio_body(sim, doctor))
        .send()
        .await
        .expect("direct call")
        .text()
        .await
        .unwrap_or_default();
    nre_of(&receipt).is_some()
}

/// The warnings and errors the nodes logged, for a failure's message.
pub(crate) fn problems(nodes: &[&Gateway]) -> String {
    nodes
        .iter()
        .flat_map(|node| {
            node.logs()
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .map(|l| format!("{}: {l}", node.base))
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_make_one_create_and_tell_each_other() {
    let started = Instant::now();
    let dir = tempdir();
    let database = tsgate_store::testing::pg::temp_database().await;
    let sim = Sim::start(dir.path()).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.as_str();
    // One database and one master key for every node; each node its own folder and port.
    let options = GatewayOptions {
        // Short, so that the replacement below need not wait a minute.
        min_create_interval_seconds: Some(5),
        ..GatewayOptions::default()
    };
    let a = Gateway::first_node(dir.path(), &database, &sim, options).await;
    let (node_b, node_c) = (dir.path().join("b"), dir.path().join("c"));
    let (b, c) = futures::join!(a.another_node(&node_b), a.another_node(&node_c));
    let nodes = [&a, &b, &c];
    println!(
        "database, simulator and three nodes up in {:?}",
        started.elapsed()
    );

    // (a) 100 clicks spread over the three nodes while Sistema TS takes a second to answer:
    // one `create`.
    sim.fault("create", "slow", Some(1000)).await;
    let clicks = (0..100).map(|i| nodes[i % 3].request(user, false));
    let answers = futures::future::join_all(clicks).await;
    let refused: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s != 202).collect();
    assert!(
        refused.is_empty(),
        "{} of 100 clicks not accepted: {refused:?}\n{}",
        refused.len(),
        problems(&nodes)
    );
    assert_eq!(sim.creates(user).await, 1, "{}", sim.stats().await);
    let (status, audit) = a
        .api(
            reqwest::Method::GET,
            &format!("/audit?user={user}&kind=requested&limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let outcomes: Vec<&str> = audit
        .as_array()
        .expect("audit list")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "sent").count(),
        1,
        "{outcomes:?}"
    );
    let clicks_audited = outcomes
        .iter()
        .filter(|o| ["sent", "joined"].contains(o))
        .count();
    assert_eq!(clicks_audited, 100, "one line per click: {outcomes:?}");

    // (b) The code inserted through A reaches a workstation's event stream on B.
    let mut on_b = Events::open(&b, user).await;
    let mut on_c = Events::open(&c, user).await;
    on_b.until("with the current state", |_| true).await;
    on_c.until("with the current state", |_| true).await;
    let first = sim.wait_code(user, None).await;
    let sent = Instant::now();
    let (status, v) = a.insert(user, &first).await;
    let answered = sent.elapsed();
    assert_eq!(status, 200, "{v}");
    let active = on_b
        .until("on B of the code inserted on A", |v| v["state"] == "active")
        .await;
    let delay = sent.elapsed();
    println!(
        "cross-node event: the code inserted through A reached B's event stream {delay:?} after \
         the POST was sent (A answered the POST after {answered:?})"
    );
    let first_expiry = active["expires_at"].clone();

    // (c) The code is replaced through A; C's proxy, which had the first one cached, forwards
    // the new one at once. A prescription through C first: Sistema TS keeps a code in use
    // valid until the first use of its replacement (an unused one dies at the next request).
    let (status, receipt) = c.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(nre_of(&receipt).is_some(), "{receipt}");
    let deadline = Instant::now() + GUARD;
    loop {
        // Refused as too soon until the minimum interval since the first `create` has passed.
        let (status, v) = a.request(user, true).await;
        if status == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replacement refused: {status} {v}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let second = sim.wait_code(user, Some(&first)).await;
    // C uses the first code again (and so has it cached) right before the replacement.
    let (status, receipt) = c.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(nre_of(&receipt).is_some(), "{receipt}");
    let cached = Instant::now();
    let (status, v) = a.insert(user, &second).await;
    assert_eq!(status, 200, "{v}");
    on_c.until("on C of the code replaced on A", |v| {
        v["state"] == "active" && v["pending"] == false && v["expires_at"] != first_expiry
    })
    .await;
    // The first code still works: Sistema TS revokes it at the first use of the second.
    assert!(accepted_directly(&sim, &doctor, &first).await);
    let (status, receipt) = c.proxy_invio(&sim, &doctor).await;
    let since_cached = cached.elapsed();
    assert_eq!(status, 200, "{receipt}");
    assert!(nre_of(&receipt).is_some(), "{receipt}");
    // So C sent the second code: the first one is refused now.
    assert!(
        !accepted_directly(&sim, &doctor, &first).await,
        "C forwarded the replaced code"
    );
    println!(
        "C forwarded the new code {since_cached:?} after it last forwarded the old one (a code \
         stays in a node's cache up to 2 s when nothing invalidates it)"
    );
    for node in nodes {
        let logs = node.logs();
        assert!(!logs.contains("panicked"), "{logs}");
    }
    println!("three-node test done in {:?}", started.elapsed());
}

/// kill -9 of the node whose `create` is in flight: while its lease lasts, the other node's
/// clicks join it (no second `create` while the first may still be answered); once the lease
/// has run out (no renewal from a dead node), the other node sends the next one. The
/// periodic work's lease moves to the surviving node too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_a_create_is_taken_over_once_its_lease_runs_out() {
    let dir = tempdir();
    let database = tsgate_store::testing::pg::temp_database().await;
    let sim = Sim::start(dir.path()).await;
    let user = sim.doctor().user_id.clone();
    let options = GatewayOptions {
        // create_timeout = upstream timeout + 15 s: the lease of a dead node lasts 20 s.
        upstream_timeout_seconds: Some(5),
        min_create_interval_seconds: Some(5),
        ..GatewayOptions::default()
    };
    let mut a = Gateway::first_node(dir.path(), &database, &sim, options).await;
    let b = a.another_node(&dir.path().join("b")).await;

    // A's create hangs at Sistema TS; A is killed while it waits.
    sim.fault("create", "slow", Some(60_000)).await;
    // The click's connection dies with A: its answer is never read.
    let click = reqwest::Client::new()
        .post(format!("{}/api/v1/users/{user}/session/request", a.base))
        .bearer_auth(&a.token)
        .json(&serde_json::json!({"replace": false}));
    let pending = tokio::spawn(async move { click.send().await.map(|_| ()) });
    // The request is recorded (the single-flight lease, A's) before `create` is sent.
    let mut waited = 0;
    while a.session(&user).await["requested_at"].is_null() {
        waited += 1;
        assert!(waited < 600, "A's request was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    a.kill9();
    pending.abort();

    // B joins while the dead node's lease may still be answered...
    let (status, answer) = b.request(&user, false).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["outcome"], "joined", "{answer}");
    // ...and sends the next create once it has run out.
    let sent = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let (status, answer) = b.request(&user, false).await;
            assert_eq!(status, 202, "{answer}");
            if answer["outcome"] == "sent" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(sent.is_ok(), "B never took over the dead node's request");
    println!(
        "the dead node's create was taken over {:?} after the kill",
        killed.elapsed()
    );
    // A's create (if it got there before the kill) and B's: never two at once.
    assert!(sim.creates(&user).await <= 2, "{}", sim.stats().await);
    // The periodic work's lease (three 15 s periods) moves to the surviving node.
    let moved = tokio::time::timeout(Duration::from_secs(120), async {
        while !b.logs().contains("lease taken") {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(
        moved.is_ok(),
        "the periodic work never moved to B:\n{}",
        b.logs()
    );
    println!(
        "periodic work taken over {:?} after the kill",
        killed.elapsed()
    );
}
