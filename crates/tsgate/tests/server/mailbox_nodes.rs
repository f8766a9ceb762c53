//! Three `tsgate serve` nodes on one PostgreSQL database and one doctor's certified mailbox,
//! a real Dovecot the simulator delivers into (`tsgate sim --maildir`). The node watching the
//! mailbox (it holds the `mailbox:<key>` lease) is killed with SIGKILL while the code's mail
//! is on its way; another node takes the mailbox over once the lease has run out and reads
//! the mail from where the dead watcher left off: the code becomes active on every surviving
//! node, with one `create` and the mail read once.
//!
//! Needs the Debian package `dovecot-imapd` (the test fails, never skips, without it).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tsgate_mailbox::test_support::Dovecot;

use crate::nodes::problems;
use crate::support::{Gateway, GatewayOptions, Sim, tempdir};

/// Longest wait for anything here: a failure, never a speed assertion. A dead node's
/// mailboxes are watched again within 25 s (lease held 20 s, renewed every 5 s).
const GUARD: Duration = Duration::from_secs(60);

/// The doctor's IMAP password on the test Dovecot.
const IMAP_PASSWORD: &str = "Imap.Prova.2026";

/// How late Sistema TS answers the `create` (and so mails the code): long enough for the
/// watching node to be seen in IDLE and killed before the mail exists.
const CREATE_DELAY_MS: u64 = 6000;

/// Polls `get` until `done` holds, within [`GUARD`]; the last value otherwise.
async fn until<F, Fut>(
    what: &str,
    nodes: &[&Gateway],
    get: F,
    done: impl Fn(&Value) -> bool,
) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = Instant::now() + GUARD;
    loop {
        let v = get().await;
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never within {GUARD:?}; last value: {v}\n{}",
            problems(nodes)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET …/mailbox` on one node.
async fn mailbox(node: &Gateway, user: &str) -> Value {
    let (status, v) = node
        .api(
            reqwest::Method::GET,
            &format!("/users/{user}/mailbox"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_the_code_is_mailed_loses_nothing_another_reads_the_mail() {
    let started = Instant::now();
    let dir = tempdir();
    let titolare = tsgate_sim::users::default_users()
        .into_iter()
        .find(|u| u.email.is_some())
        .expect("a simulator doctor with a certified address");
    let address = titolare.email.clone().expect("address");
    let dovecot = Dovecot::start(&[(&address, IMAP_PASSWORD)]);
    dovecot.prepare(&address);
    let root = dovecot.mail_root().display().to_string();
    let sim_args = ["--maildir", root.as_str()];
    let (database, sim) = futures::join!(
        tsgate_store::testing::pg::temp_database(),
        Sim::start_with(dir.path(), &sim_args)
    );
    let user = titolare.user_id.as_str();
    let a = Gateway::first_node(dir.path(), &database, &sim, GatewayOptions::default()).await;
    // The mailbox is configured once, through one node's API...
    let (status, body) = a
        .api(
            reqwest::Method::PUT,
            &format!("/users/{user}/mailbox"),
            Some(json!({
                "host": "127.0.0.1",
                "port": dovecot.plain_port,
                "security": "plain",
                "username": address,
                "password": IMAP_PASSWORD,
                "address": address,
                "poll_interval_secs": 2,
                "reconnect_max_secs": 1,
                "timeout_secs": 10,
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // ...and the other nodes, started afterwards, read it from the database. (A node already
    // running learns of a mailbox configured through another node only at its next re-read
    // of the settings, within a minute: before that it would not take the mailbox over.)
    let (node_b, node_c) = (dir.path().join("b"), dir.path().join("c"));
    let (b, c) = futures::join!(a.another_node(&node_b), a.another_node(&node_c));
    let mut nodes = [a, b, c];
    for node in &nodes {
        assert_eq!(mailbox(node, user).await["configured"], true);
    }
    eprintln!(
        "database, Dovecot, simulator and three nodes up in {:?}",
        started.elapsed()
    );

    // The code is requested through the last node; Sistema TS answers (and mails) late.
    sim.fault("create", "slow", Some(CREATE_DELAY_MS)).await;
    let requested = Instant::now();
    let request = {
        let client = nodes[2].clone_client();
        let user = user.to_owned();
        tokio::spawn(async move { client.request(&user, true).await })
    };
    // The node holding the mailbox's lease learns of the wait (LISTEN/NOTIFY) and waits in
    // IDLE; the others do not connect.
    let all: Vec<&Gateway> = nodes.iter().collect();
    let views = until(
        "one node watching the mailbox in IDLE",
        &all,
        || async {
            let mut views = Vec::new();
            for node in &nodes {
                views.push(mailbox(node, user).await);
            }
            Value::Array(views)
        },
        |v| {
            v.as_array().is_some_and(|views| {
                views
                    .iter()
                    .any(|m| m["connected"] == true && m["awaiting"] == true && m["idle"] == true)
            })
        },
    )
    .await;
    let views = views.as_array().expect("views");
    let watching: Vec<usize> = (0..views.len())
        .filter(|i| views[*i]["connected"] == true)
        .collect();
    assert_eq!(watching.len(), 1, "one watcher per mailbox: {views:?}");
    let holder = watching[0];
    // The lease is the configuring node's (the others started later), never the requester's.
    assert_ne!(
        holder, 2,
        "the requesting node watches the mailbox: {views:?}"
    );
    drop(all);

    // SIGKILL of the watching node before the mail exists: no logout, no lease released.
    nodes[holder].kill9();
    let killed = Instant::now();
    let stats = sim.stats().await;
    assert_eq!(
        stats["mails_sent"], 0,
        "the mail left before the kill: the test proves nothing\n{stats}"
    );
    let name = |node: &Gateway| {
        node.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    eprintln!(
        "killed node {:?} (the mailbox's watcher) {:?} after the request; the mail is on its way",
        name(&nodes[holder]),
        requested.elapsed()
    );
    let (status, answer) = request.await.expect("request task");
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["outcome"], "sent", "{answer}");

    // Another node takes the mailbox over and reads the mail: active on every survivor.
    let survivors: Vec<&Gateway> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != holder)
        .map(|(_, n)| n)
        .collect();
    until(
        "the code active through the mailbox on a surviving node",
        &survivors,
        || survivors[0].session(user),
        |v| v["state"] == "active" && v["level"] == "green" && v["pending"] == false,
    )
    .await;
    let takeover = killed.elapsed();
    for node in &survivors {
        let view = node.session(user).await;
        assert_eq!(view["state"], "active", "{}: {view}", node.base);
    }
    eprintln!("mailbox taken over: the code was active {takeover:?} after the watcher was killed");

    // Nothing twice: one `create`, one mail, one `checkToken`; one code verified, by the
    // mailbox, none refused; the mail flagged \Seen once.
    let stats = sim.stats().await;
    assert_eq!(sim.creates(user).await, 1, "{stats}");
    assert_eq!(stats["mails_sent"], 1, "{stats}");
    assert_eq!(sim.operations("checkToken").await, 1, "{stats}");
    let (status, audit) = survivors[0]
        .api(
            reqwest::Method::GET,
            &format!("/audit?user={user}&limit=1000"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let audit = audit.as_array().cloned().unwrap_or_default();
    let verified: Vec<&Value> = audit.iter().filter(|e| e["kind"] == "verified").collect();
    assert_eq!(verified.len(), 1, "{audit:?}");
    assert_eq!(verified[0]["actor"], "mailbox", "{audit:?}");
    assert_eq!(verified[0]["outcome"], "ok", "{audit:?}");
    assert!(!audit.iter().any(|e| e["kind"] == "rejected"), "{audit:?}");
    until(
        "the mail flagged \\Seen",
        &survivors,
        || async { json!(dovecot.flagged(&address, None, 'S')) },
        |v| v.as_array().is_some_and(|f| f.len() == 1),
    )
    .await;
    let readers: Vec<&str> = survivors
        .iter()
        .filter(|n| n.logs().contains("code from the mailbox verified"))
        .map(|n| n.base.as_str())
        .collect();
    assert_eq!(readers.len(), 1, "read by {readers:?}");
    for node in &survivors {
        let logs = node.logs();
        assert!(!logs.contains("panicked"), "{logs}");
        assert!(
            !logs.contains("code from the mailbox not accepted"),
            "{logs}"
        );
    }
    eprintln!("mailbox takeover test done in {:?}", started.elapsed());
}
