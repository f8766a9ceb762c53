//! Latency of the mailbox path, from "Richiedi il codice" to a green card, measured on the
//! real pieces: a private Dovecot (from `tsgate-mailbox`'s `test-support`), the simulator
//! delivering into the Dovecot Maildir, the `tsgate demo` binary watching it over IMAP IDLE
//! and verifying the code with `checkToken`.
//!
//! Each round revokes the code, then times `POST …/session/request` until
//! `GET …/session` says `active`. The demo's minimum interval between two requests is set
//! to 0 for this run only (`--min-create-interval 0`); the rule itself is untouched.
//!
//! Usage: `mailbox_latency <path to tsgate> [rounds]` (run by `bench/mailbox-latency.sh`).

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tsgate_mailbox::test_support::Dovecot;

const USER: &str = "PROVAX00X00X000Y";
const MAIL: &str = "provax00x00x000y@medici.sim.tsgate.test";
const PASSWORD: &str = "Bench.Imap.2026";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    sistemats::client::install_crypto_provider();
    let mut args = std::env::args().skip(1);
    let tsgate = args
        .next()
        .expect("usage: mailbox_latency <tsgate binary> [rounds]");
    let rounds: usize = args.next().map_or(20, |r| r.parse().expect("rounds"));

    let dovecot = Dovecot::start(&[(MAIL, PASSWORD)]);
    dovecot.prepare(MAIL);
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let demo = Command::new(&tsgate)
        .arg("demo")
        .args(["--port", &port.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--no-browser")
        .arg("--sim-maildir")
        .arg(dovecot.mail_root())
        .args(["--imap", &format!("127.0.0.1:{}", dovecot.plain_port)])
        .args(["--min-create-interval", "0"])
        .env("TSGATE_DEMO_IMAP_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("tsgate demo");
    // Stopped on every exit, panics included.
    let _demo = Demo(demo);

    let started = Instant::now();
    let info: Value = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the demo did not start"
        );
        if let Ok(bytes) = std::fs::read(data.path().join("demo.json"))
            && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let api = info["ui_url"].as_str().expect("ui_url").to_owned();
    let token = info["workstation_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let http = reqwest::Client::new();
    while http.get(format!("{api}/healthz")).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let session = format!("{api}/api/v1/users/{USER}/session");

    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // Start from no code (revoked), so that "active" means the new one is verified.
        loop {
            let res = http
                .delete(&session)
                .bearer_auth(&token)
                .send()
                .await
                .expect("revoke");
            match res.status().as_u16() {
                429 => tokio::time::sleep(Duration::from_millis(1100)).await,
                s if s < 300 => break,
                other => panic!("revoke refused ({other}): {:?}", res.text().await),
            }
        }
        // The gateway limits requests per workstation: a 429 waits and starts the clock again.
        let started = loop {
            let started = Instant::now();
            let res = http
                .post(format!("{session}/request"))
                .bearer_auth(&token)
                .json(&json!({"replace": true}))
                .send()
                .await
                .expect("request");
            match res.status().as_u16() {
                202 => break started,
                429 => tokio::time::sleep(Duration::from_millis(1100)).await,
                other => panic!("request refused ({other}): {:?}", res.text().await),
            }
        };
        let deadline = started + Duration::from_secs(60);
        loop {
            let view: Value = http
                .get(&session)
                .bearer_auth(&token)
                .send()
                .await
                .expect("session")
                .json()
                .await
                .expect("json");
            if view["state"] == "active" && view["pending"] == false {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: never active: {view}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let s = started.elapsed().as_secs_f64();
        println!("round {:>2}: {s:.3} s", round + 1);
        samples.push(s);
    }
    // Every round's code must have come through the mailbox (nobody typed, nothing cached).
    let audit: Value = http
        .get(format!("{api}/api/v1/audit?user={USER}&limit=1000"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("audit json");
    let by_mailbox = audit.as_array().map_or(0, |events| {
        events
            .iter()
            .filter(|e| e["kind"] == "verified" && e["actor"] == "mailbox" && e["outcome"] == "ok")
            .count()
    });
    assert_eq!(by_mailbox, rounds, "codes verified by the mailbox watcher");
    println!("codes verified by the mailbox watcher: {by_mailbox}/{rounds}");
    samples.sort_by(f64::total_cmp);
    let median = if samples.len() % 2 == 1 {
        samples[samples.len() / 2]
    } else {
        (samples[samples.len() / 2 - 1] + samples[samples.len() / 2]) / 2.0
    };
    println!(
        "mailbox latency over {rounds} rounds (request -> code active): median {median:.3} s, max {:.3} s, min {:.3} s",
        samples.last().copied().unwrap_or_default(),
        samples.first().copied().unwrap_or_default()
    );
}

/// The demo child, stopped (SIGTERM, then SIGKILL) on drop.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
