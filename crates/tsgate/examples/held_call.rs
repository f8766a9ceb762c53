//! Held calls, measured on the real pieces: a proxied InvioPrescritto that finds no code is
//! held while tsgate requests one by itself (`create`), the simulator mails it into a private
//! Dovecot, the watcher picks it up over IMAP IDLE, verifies it with `checkToken`, and the
//! call is forwarded. Nothing here asserts a time: the figures are printed.
//!
//! 1. **Latency** (`tsgate demo --imap`, like `mailbox_latency`): each round moves the
//!    simulated clock (the demo's clock) to 21:00 of the next Italian day, revokes the code,
//!    times one proxied InvioPrescritto (the held call), then the same call again with the
//!    code now active (the baseline). The new day is needed: automatic `create`s, held calls'
//!    included, are capped at 4 per user and Italian day (`auto_daily_cap`); 21:00 is outside
//!    working hours, so the autopilot does not request a code by itself between rounds. Both must answer HTTP 200 with
//!    `<codEsitoInserimento>0000<`; the gateway's `tsgate_proxy_hold_seconds_count` must
//!    grow by one per round (the first call was held, the second was not), and the audit of
//!    the round must show the code requested by `auto` and verified by `mailbox`.
//! 2. **Memory** (`tsgate serve` + `tsgate sim`, so that the RSS is the gateway's alone):
//!    the simulator's `create` is made slow (15 s, once), N connections are opened, N
//!    InvioPrescritto are sent at once and held on that one `create`; the RSS of the
//!    `tsgate serve` process is read idle, with the connections open, with the N calls held
//!    (the `tsgate_proxy_held_calls` gauge at N), and after they are answered.
//!
//! Usage: `held_call <path to tsgate> [rounds] [held]` (run by `bench/held-call.sh`);
//! `rounds` 0 or `held` 0 skips that part. `CREATE_DELAY_MS=<ms>` makes the simulator's
//! `create` that slow in every latency round (the simulator answers in a few milliseconds,
//! so the mail is usually in the mailbox before the watcher, woken when the request starts,
//! has finished its scan; with a slower `create` the watcher is back in IDLE when the mail
//! comes, and Dovecot's own notification delay, 0.5 s, shows).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};
use sistemats::dem::{DemRequest as _, InvioPrescrittoRequest};
use tsgate_mailbox::test_support::Dovecot;

const TITOLARE: &str = "PROVAX00X00X000Y";
const TITOLARE_MAIL: &str = "provax00x00x000y@medici.sim.tsgate.test";
const SOSTITUTO_MAIL: &str = "provax00x00x000z@medici.sim.tsgate.test";
const IMAP_PASSWORD: &str = "Bench.Imap.2026";
/// What a receipt of an accepted prescription contains.
const ACCEPTED: &[u8] = b"<codEsitoInserimento>0000<";
/// How long the simulator's `create` takes in the memory part (held calls wait on it).
const SLOW_CREATE_MS: u64 = 15_000;
/// Longest wait for anything: a failure, never a speed assertion.
const PATIENCE: Duration = Duration::from_secs(120);

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
        .expect("usage: held_call <tsgate binary> [rounds] [held]");
    let rounds: usize = args.next().map_or(20, |r| r.parse().expect("rounds"));
    let held: usize = args.next().map_or(1000, |n| n.parse().expect("held"));
    println!("load average at start: {}", loadavg());
    if rounds > 0 {
        latency(&tsgate, rounds).await;
    }
    if held > 0 {
        memory(&tsgate, held).await;
    }
    println!("load average at the end: {}", loadavg());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// Part 1: latency of a held call against the same call with the code active.
// ---------------------------------------------------------------------------------------

async fn latency(tsgate: &str, rounds: usize) {
    // Both demo doctors get a mailbox with --imap: both accounts exist, so that the
    // substitute's watcher does not fail its logins during the run.
    let dovecot = Dovecot::start(&[
        (TITOLARE_MAIL, IMAP_PASSWORD),
        (SOSTITUTO_MAIL, IMAP_PASSWORD),
    ]);
    dovecot.prepare(TITOLARE_MAIL);
    dovecot.prepare(SOSTITUTO_MAIL);
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let demo = Command::new(tsgate)
        .arg("demo")
        .args(["--port", &port.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--no-browser")
        .arg("--sim-maildir")
        .arg(dovecot.mail_root())
        .args(["--imap", &format!("127.0.0.1:{}", dovecot.plain_port)])
        .args(["--min-create-interval", "0"])
        .env("TSGATE_DEMO_IMAP_PASSWORD", IMAP_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("tsgate demo");
    // Stopped on every exit, panics included.
    let _demo = Process(demo);

    let started = Instant::now();
    let info: Value = loop {
        assert!(started.elapsed() < PATIENCE, "the demo did not start");
        if let Ok(bytes) = std::fs::read(data.path().join("demo.json"))
            && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let field = |k: &str| info[k].as_str().expect(k).to_owned();
    let gw = Gateway {
        api: field("ui_url"),
        token: field("workstation_token"),
        http: client(),
    };
    let sim = field("sim_url");
    let proxy = field("proxy_url");
    gw.ready().await;
    gw.until_auto_enabled(TITOLARE).await;
    let call = Prescription::build(&gw.http, &sim, TITOLARE).await;
    let url = format!("{proxy}{}", call.path);
    let session = format!("{}/api/v1/users/{TITOLARE}/session", gw.api);

    // Round 0 warms up (first connection to the simulator, first IDLE wake-up) and is not
    // counted.
    let mut held_s = Vec::with_capacity(rounds);
    let mut active_s = Vec::with_capacity(rounds);
    let mut audited = 0;
    let mut autopilot_requests = 0;
    let create_delay_ms: u64 = std::env::var("CREATE_DELAY_MS")
        .ok()
        .map_or(0, |v| v.parse().expect("CREATE_DELAY_MS"));
    if create_delay_ms > 0 {
        println!("the simulator's create takes {create_delay_ms} ms in every round");
    }
    let mut clock = SimClock::default();
    for round in 0..=rounds {
        clock.next_evening(&gw, &sim).await;
        autopilot_requests += gw.revoke_and_settle(&session).await;
        // Audit times are the demo's clock, the simulator's.
        let from = clock.now();
        let held_before = gw.hold_count().await;
        if create_delay_ms > 0 {
            gw.sim_control(
                &sim,
                json!({"fault": {"operation": "create", "kind": "slow", "delay_ms": create_delay_ms, "count": 1}}),
            )
            .await;
        }

        let t = Instant::now();
        let (status, error, ok) = call.send(&gw.http, &url).await;
        let held = t.elapsed().as_secs_f64();
        assert!(
            status == 200 && ok,
            "round {round}: held call answered {status} ({error:?}), accepted: {ok}"
        );
        let t = Instant::now();
        let (status, error, ok) = call.send(&gw.http, &url).await;
        let active = t.elapsed().as_secs_f64();
        assert!(
            status == 200 && ok,
            "round {round}: call with the code active answered {status} ({error:?}), accepted: {ok}"
        );
        let held_after = gw.hold_count().await;
        assert_eq!(
            held_after - held_before,
            1,
            "round {round}: exactly the first call must have been held"
        );
        let events = gw.audit(TITOLARE, from).await;
        // One request is two lines: `sent` (create sent) and `mailed` (Sistema TS answered).
        let requested_auto = events
            .iter()
            .filter(|e| e["kind"] == "requested" && e["actor"] == "auto" && e["outcome"] == "sent")
            .count();
        let verified_mailbox = events
            .iter()
            .filter(|e| e["kind"] == "verified" && e["actor"] == "mailbox" && e["outcome"] == "ok")
            .count();
        let others = events
            .iter()
            .filter(|e| {
                (e["kind"] == "requested" && e["actor"] != "auto")
                    || (e["kind"] == "verified" && e["actor"] != "mailbox")
            })
            .count();
        let clean = requested_auto == 1 && verified_mailbox == 1 && others == 0;
        if round == 0 {
            println!(
                "warm-up : held {:7.1} ms, active {:6.1} ms (not counted)",
                held * 1e3,
                active * 1e3
            );
            continue;
        }
        if clean {
            audited += 1;
        } else {
            let seen: Vec<String> = events
                .iter()
                .map(|e| {
                    let f = |k: &str| e[k].as_str().unwrap_or("?").to_owned();
                    format!("{}/{}/{}", f("kind"), f("actor"), f("outcome"))
                })
                .collect();
            println!(
                "round {round}: audit shows {requested_auto} request(s) by auto, \
                 {verified_mailbox} verification(s) by mailbox, {others} by others: {seen:?}"
            );
        }
        println!(
            "round {round:>2}: held {:7.1} ms, active {:6.1} ms",
            held * 1e3,
            active * 1e3
        );
        held_s.push(held);
        active_s.push(active);
    }
    println!(
        "audit: {audited}/{rounds} rounds with the code requested by `auto` and verified by `mailbox`"
    );
    if autopilot_requests > 0 {
        println!(
            "note: the autopilot requested a code by itself {autopilot_requests} time(s) after a \
             revoke (working hours); those rounds revoked again before timing"
        );
    }
    let (hm, hmax, hmin) = stats(&mut held_s);
    let (am, amax, amin) = stats(&mut active_s);
    println!(
        "held call (call -> create -> mail -> watcher -> checkToken -> forwarded), {rounds} rounds: \
         median {:.1} ms, max {:.1} ms, min {:.1} ms",
        hm * 1e3,
        hmax * 1e3,
        hmin * 1e3
    );
    println!(
        "same call, code active, {rounds} rounds: median {:.1} ms, max {:.1} ms, min {:.1} ms",
        am * 1e3,
        amax * 1e3,
        amin * 1e3
    );
    println!(
        "cost of holding (median held - median active): {:.1} ms",
        (hm - am) * 1e3
    );
}

/// The simulator's clock (the demo's too): real time plus what this program moved it by.
#[derive(Default)]
struct SimClock {
    offset_seconds: i64,
}

impl SimClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_seconds)
    }

    /// Moves the clock to 21:00 of the next Italian day.
    async fn next_evening(&mut self, gw: &Gateway, sim: &str) {
        let now = self.now();
        let date = tsgate_session::italy::to_rome(now)
            .date()
            .next_day()
            .expect("a next day");
        let target = tsgate_session::italy::from_rome(date, time::macros::time!(21:00));
        let seconds = (target - now).whole_seconds() + 1;
        gw.sim_control(sim, json!({"advance_clock_seconds": seconds}))
            .await;
        self.offset_seconds += seconds;
    }
}

/// Median, maximum and minimum (sorts `v`).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[n - 1], v[0])
}

// ---------------------------------------------------------------------------------------
// Part 2: memory of N held calls.
// ---------------------------------------------------------------------------------------

async fn memory(tsgate: &str, held: usize) {
    let dovecot = Dovecot::start(&[(TITOLARE_MAIL, IMAP_PASSWORD)]);
    dovecot.prepare(TITOLARE_MAIL);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");

    // The simulator in its own process, delivering into Dovecot's Maildirs.
    let sim_port = free_port();
    let sim = format!("http://127.0.0.1:{sim_port}");
    let sim_process = Command::new(tsgate)
        .arg("sim")
        .args(["--listen", &format!("127.0.0.1:{sim_port}")])
        .arg("--maildir")
        .arg(dovecot.mail_root())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        // It lists its test identities (passwords and PINs of fake doctors): not printed.
        .stdout(Stdio::null())
        .spawn()
        .expect("tsgate sim");
    let _sim = Process(sim_process);
    let http = client();
    let deadline = Instant::now() + PATIENCE;
    while !http
        .get(format!("{sim}/sim/users"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the simulator did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // `tsgate serve` with the connection caps and the proxy rate raised for N calls from one
    // workstation on one address; everything else at its default (proxy_hold_seconds 20,
    // max_held_calls 1000 are not keys of the file).
    let port = free_port();
    let config = dir.path().join("tsgate.toml");
    let cap = held + 256;
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\n\
             data_dir = {data:?}\n\
             environment = \"custom\"\n\
             a2f_base = \"{sim}\"\n\
             dem_base = \"{sim}\"\n\
             sanitel_certificate_url = \"{sim}/sim/certificate\"\n\
             min_create_interval_seconds = 0\n\
             [limits]\n\
             max_connections_per_ip = {cap}\n\
             max_connections = {cap}\n\
             proxy_rate_per_second = 0\n",
            data = data.display().to_string(),
        ),
    )
    .expect("config");
    let doctor = sim_user(&http, &sim, TITOLARE).await;
    let f = |k: &str| doctor[k].as_str().expect(k).to_owned();
    cli(
        tsgate,
        &config,
        &[
            "user",
            "add",
            "--id",
            TITOLARE,
            "--cf",
            &f("cf"),
            "--region",
            &f("region"),
            "--asl",
            &f("asl"),
            "--specialization",
            &f("specialization"),
            "--name",
            "Bench",
        ],
        &format!("{}\n{}\n", f("password"), f("pin")),
    );
    cli(
        tsgate,
        &config,
        &[
            "user",
            "set-mailbox",
            TITOLARE,
            "--host",
            "127.0.0.1",
            "--port",
            &dovecot.plain_port.to_string(),
            "--security",
            "plain",
            "--username",
            TITOLARE_MAIL,
            "--address",
            TITOLARE_MAIL,
        ],
        &format!("{IMAP_PASSWORD}\n"),
    );
    let out = cli(
        tsgate,
        &config,
        &[
            "workstation",
            "add",
            "--name",
            "Bench",
            "--role",
            "admin",
            "--users",
            TITOLARE,
        ],
        "",
    );
    let token = out
        .lines()
        .find(|l| l.starts_with("token"))
        .and_then(|l| l.rsplit(' ').next())
        .expect("workstation token in the output of `workstation add`")
        .to_owned();

    let serve = Command::new(tsgate)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("tsgate serve");
    let pid = serve.id();
    let _serve = Process(serve);
    let gw = Gateway {
        api: format!("http://127.0.0.1:{port}"),
        token,
        http,
    };
    gw.ready().await;
    let fresh = rss(pid);
    gw.until_auto_enabled(TITOLARE).await;
    let call = Prescription::build(&gw.http, &sim, TITOLARE).await;
    let path = format!("/ts/{}{}", gw.token, call.path);
    let session = format!("{}/api/v1/users/{TITOLARE}/session", gw.api);

    // Warm-up: one held call (the user has no code yet) and one with the code active,
    // through every piece.
    let url = format!("{}{path}", gw.api);
    for what in ["held", "active"] {
        let (status, error, ok) = call.send(&gw.http, &url).await;
        assert!(
            status == 200 && ok,
            "warm-up ({what}) answered {status} ({error:?})"
        );
    }
    // The slow `create` is set before the revoke: should the autopilot request a code by
    // itself meanwhile (inside working hours), the calls are held on that one instead.
    gw.sim_control(
        &sim,
        json!({"fault": {"operation": "create", "kind": "slow", "delay_ms": SLOW_CREATE_MS, "count": 1}}),
    )
    .await;
    gw.revoke_and_settle(&session).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss(pid);

    // N connections first, so that what a connection costs and what holding a call costs
    // can be told apart (a connection that sends nothing is closed after
    // header_read_timeout_seconds, 10 s: the calls go out well before).
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut streams = Vec::with_capacity(held);
    for _ in 0..held {
        streams.push(
            tokio::net::TcpStream::connect(addr)
                .await
                .expect("connect to tsgate"),
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = rss(pid);

    let host = format!("127.0.0.1:{port}");
    let requests: Vec<_> = (0..held).map(|_| call.request(&host, &path)).collect();
    let sent = Instant::now();
    let sent_wall = time::OffsetDateTime::now_utc();
    let mut calls = tokio::task::JoinSet::new();
    for (stream, request) in streams.into_iter().zip(requests) {
        calls.spawn(call_on(stream, request));
    }
    // Every call held: the gauge says so.
    let mut gauge = 0.0;
    let mut all_held_at = None;
    while sent.elapsed() < Duration::from_millis(SLOW_CREATE_MS - 2_000) {
        gauge = gw.metric("tsgate_proxy_held_calls", None).await;
        if gauge >= held as f64 {
            all_held_at = Some(sent.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let with_held = rss(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let with_held_later = rss(pid);
    let gauge_later = gw.metric("tsgate_proxy_held_calls", None).await;

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut accepted = 0;
    let mut first = None::<Duration>;
    let mut last = Duration::ZERO;
    while let Some(result) = calls.join_next().await {
        let (status, error, ok, at) = result.expect("call task");
        if status == 200 && ok {
            accepted += 1;
        }
        *outcomes
            .entry(format!(
                "{status}{}{}",
                error.map(|e| format!(" {e}")).unwrap_or_default(),
                if ok { " 0000" } else { "" }
            ))
            .or_default() += 1;
        first = Some(first.map_or(at, |f| f.min(at)));
        last = last.max(at);
    }
    let answered = rss(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss(pid);
    let stats = gw.sim_stats(&sim).await;
    // Where the time went, from the audit (the serve clock is the real one).
    let events = gw.audit_all(TITOLARE, sent_wall).await;
    let steps: Vec<(f64, String)> = events
        .iter()
        .filter_map(|e| {
            let at = time::OffsetDateTime::parse(
                e["at"].as_str()?,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()?;
            let f = |k: &str| e[k].as_str().unwrap_or("?").to_owned();
            Some((
                (at - sent_wall).as_seconds_f64(),
                format!("{} {} by {}", f("kind"), f("outcome"), f("actor")),
            ))
        })
        .collect();
    // Grouped: label -> (count, first, last), in order of first appearance.
    let mut timeline: Vec<(String, usize, f64, f64)> = Vec::new();
    let mut steps = steps;
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (at, what) in steps {
        match timeline.iter_mut().find(|t| t.0 == what) {
            Some(t) => {
                t.1 += 1;
                t.3 = at;
            }
            None => timeline.push((what, 1, at, at)),
        }
    }

    println!("memory of held calls: `tsgate serve` RSS (VmRSS), {held} calls of one doctor");
    let row = |label: String, kib: u64| println!("  {label:<48} {:8.1} MiB", mib(kib));
    row("fresh (ready)".into(), fresh.0);
    row("idle (after one held call)".into(), idle.0);
    row(format!("{held} connections open, no request"), open.0);
    row(
        match all_held_at {
            Some(t) => format!(
                "{held} calls held (gauge {gauge} after {:.2} s)",
                t.as_secs_f64()
            ),
            None => format!("calls held: gauge only {gauge} of {held} (!)"),
        },
        with_held.0,
    );
    row(
        format!("3 s later, still held (gauge {gauge_later})"),
        with_held_later.0,
    );
    row("all answered".into(), answered.0);
    row("3 s after the last answer".into(), after.0);
    row("peak (VmHWM)".into(), after.1);
    let per = |a: u64, b: u64| (a as f64 - b as f64) / held as f64;
    println!(
        "  per held call: {:.1} KiB (connection open {:.1} KiB + holding the call {:.1} KiB)",
        per(with_held.0, idle.0),
        per(open.0, idle.0),
        per(with_held.0, open.0)
    );
    println!(
        "answers: {accepted}/{held} HTTP 200 with codEsitoInserimento 0000; by outcome: {outcomes:?}"
    );
    println!(
        "first answer {:.2} s, last {:.2} s after the calls were sent (create slowed to {} s)",
        first.unwrap_or_default().as_secs_f64(),
        last.as_secs_f64(),
        SLOW_CREATE_MS / 1000
    );
    println!("audit of the held calls' request, seconds after the calls were sent:");
    for (what, count, first, last) in &timeline {
        // A workstation actor is `ws:<id>`: named by its kind only.
        let what = match what.split_once(" by ws:") {
            Some((head, _)) => format!("{head} by the workstation"),
            None => what.clone(),
        };
        if *count == 1 {
            println!("  {what:<44} x1  at +{first:.3} s");
        } else {
            println!("  {what:<44} x{count}  from +{first:.3} to +{last:.3} s");
        }
    }
    println!(
        "simulator: create {}, checkToken {}, InvioPrescritto {}",
        stats["operations"]["create"],
        stats["operations"]["checkToken"],
        stats["operations"]["InvioPrescritto"]
    );
}

/// VmRSS and VmHWM of `pid`, in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One call on a connection of its own (hyper's HTTP/1.1 client connection, so that every
/// call holds exactly one socket): (status, `X-Tsgate-Error`, accepted, when answered).
async fn call_on(
    stream: tokio::net::TcpStream,
    request: http::Request<Full<Bytes>>,
) -> (u16, Option<String>, bool, Duration) {
    let started = Instant::now();
    let exchange = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let answer = sender.send_request(request).await?;
        let status = answer.status().as_u16();
        let error = answer
            .headers()
            .get("X-Tsgate-Error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, error, find(&body, ACCEPTED).is_some()))
    };
    match tokio::time::timeout(PATIENCE, exchange).await {
        Ok(Ok((status, error, ok))) => (status, error, ok, started.elapsed()),
        Ok(Err(e)) => (0, Some(format!("http: {e}")), false, started.elapsed()),
        Err(_) => (0, Some("timeout".into()), false, started.elapsed()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs a `tsgate` administration command on the database of `config`, feeding `stdin`
/// (passwords and PINs, as the documentation says for scripts); its standard output.
fn cli(tsgate: &str, config: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(tsgate)
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsgate starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin");
    let out = child.wait_with_output().expect("tsgate ends");
    // Only the error output on failure: the standard output of `workstation add` holds the
    // token.
    assert!(
        out.status.success(),
        "tsgate {} failed: {}",
        args[..2].join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// Shared pieces.
// ---------------------------------------------------------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("client")
}

async fn sim_user(http: &reqwest::Client, sim: &str, user: &str) -> Value {
    let users: Value = http
        .get(format!("{sim}/sim/users"))
        .send()
        .await
        .expect("sim users")
        .json()
        .await
        .expect("json");
    users
        .as_array()
        .and_then(|a| a.iter().find(|u| u["user_id"] == user).cloned())
        .expect("sim user")
}

/// An InvioPrescritto of one doctor as practice software sends it (PIN and patient CF
/// encrypted with the simulator's certificate, Basic auth, quoted SOAPAction).
struct Prescription {
    path: &'static str,
    soap_action: String,
    basic: String,
    body: String,
}

impl Prescription {
    async fn build(http: &reqwest::Client, sim: &str, user: &str) -> Prescription {
        let doctor = sim_user(http, sim, user).await;
        let pem = http
            .get(format!("{sim}/sim/certificate"))
            .send()
            .await
            .expect("certificate")
            .text()
            .await
            .expect("pem");
        let cert = sistemats::sanitel::SanitelCertificate::from_pem(&pem).expect("certificate");
        let field = |k: &str| doctor[k].as_str().expect(k).to_owned();
        let sender: tsgate_sim::TestUser =
            serde_json::from_value(doctor.clone()).expect("sim user");
        let request = tsgate_sim::sample::invio_prescritto(
            &sender,
            &sender,
            tsgate_sim::sample::PATIENT_CF,
            "2026-12-14 09:30:00",
            |v| cert.encrypt(v),
        )
        .expect("encrypt");
        request.validate().expect("valid request");
        let service = InvioPrescrittoRequest::SERVICE;
        Prescription {
            path: service.path(),
            soap_action: format!("\"{}\"", service.soap_action()),
            basic: base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                field("user_id"),
                field("password")
            )),
            body: request.to_envelope(),
        }
    }

    /// Sends it through the proxy: (HTTP status, `X-Tsgate-Error`, accepted).
    async fn send(&self, http: &reqwest::Client, url: &str) -> (u16, Option<String>, bool) {
        let res = http
            .post(url)
            .header("Authorization", format!("Basic {}", self.basic))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", &self.soap_action)
            .body(self.body.clone())
            .send()
            .await
            // The URL holds the workstation token: never in a message.
            .map_err(reqwest::Error::without_url)
            .expect("proxy answers");
        let status = res.status().as_u16();
        let error = res
            .headers()
            .get("X-Tsgate-Error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.bytes().await.unwrap_or_default();
        (status, error, find(&body, ACCEPTED).is_some())
    }

    /// The HTTP/1.1 request for one connection of its own (`Connection: close`).
    fn request(&self, host: &str, path: &str) -> http::Request<Full<Bytes>> {
        http::Request::post(path)
            .header("Host", host)
            .header("Authorization", format!("Basic {}", self.basic))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", &self.soap_action)
            .header("Connection", "close")
            .body(Full::new(Bytes::from(self.body.clone())))
            .expect("a valid request")
    }
}

/// The gateway's API, as the admin workstation.
struct Gateway {
    api: String,
    token: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn ready(&self) {
        let deadline = Instant::now() + PATIENCE;
        while !self
            .http
            .get(format!("{}/readyz", self.api))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the gateway never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An API call; a 429 (the workstation's API rate) waits and tries again.
    async fn api(&self, method: reqwest::Method, url: &str) -> (u16, Value) {
        loop {
            let res = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("API answers");
            let status = res.status().as_u16();
            if status == 429 {
                tokio::time::sleep(Duration::from_millis(1100)).await;
                continue;
            }
            let text = res.text().await.unwrap_or_default();
            return (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            );
        }
    }

    /// Waits until automatic requests are on for `user` (mailbox configured and connected).
    async fn until_auto_enabled(&self, user: &str) {
        let url = format!("{}/api/v1/users/{user}/session", self.api);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (_, view) = self.api(reqwest::Method::GET, &url).await;
            if view["auto"]["enabled"] == true {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "automatic requests never turned on: {}",
                view["auto"]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Revokes the code and waits until no request is pending; if the autopilot started one
    /// meanwhile (inside working hours), waits for it and revokes again. Returns how many
    /// such requests it saw.
    async fn revoke_and_settle(&self, session: &str) -> usize {
        let mut autopilot = 0;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.api(reqwest::Method::DELETE, session).await;
            assert!(status < 300, "revoke refused ({status}): {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (_, view) = self.api(reqwest::Method::GET, session).await;
            if view["state"] != "active" && view["pending"] == false {
                return autopilot;
            }
            autopilot += 1;
            assert!(Instant::now() < deadline, "the code never stayed revoked");
            // Let that request finish, then revoke its code.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Audit events of `user` from `from` on.
    async fn audit(&self, user: &str, from: time::OffsetDateTime) -> Vec<Value> {
        let from = from
            .format(&time::format_description::well_known::Rfc3339)
            .expect("rfc3339");
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/audit", self.api),
            &[("user", user), ("from", &from), ("limit", "1000")],
        )
        .expect("url");
        let (status, body) = self.api(reqwest::Method::GET, url.as_str()).await;
        assert_eq!(status, 200, "audit");
        body.as_array().cloned().unwrap_or_default()
    }

    /// Every audit event of `user` from `from` on (the API gives at most 1,000 at a time,
    /// newest first: pages back with `to`).
    async fn audit_all(&self, user: &str, from: time::OffsetDateTime) -> Vec<Value> {
        let rfc = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .expect("rfc3339")
        };
        let from = rfc(from);
        let mut all: Vec<Value> = Vec::new();
        let mut to: Option<String> = None;
        loop {
            let mut params = vec![("user", user), ("from", &from), ("limit", "1000")];
            if let Some(to) = &to {
                params.push(("to", to));
            }
            let url =
                reqwest::Url::parse_with_params(&format!("{}/api/v1/audit", self.api), &params)
                    .expect("url");
            let (status, body) = self.api(reqwest::Method::GET, url.as_str()).await;
            assert_eq!(status, 200, "audit");
            let page = body.as_array().cloned().unwrap_or_default();
            let full = page.len() == 1000;
            // `to` is exclusive: the next page ends before the oldest of this one.
            to = page
                .last()
                .and_then(|e| e["at"].as_str())
                .map(str::to_owned);
            all.extend(page);
            if !full || to.is_none() {
                return all;
            }
        }
    }

    /// One value of `/metrics`: the first sample of `name` whose labels contain `label`.
    async fn metric(&self, name: &str, label: Option<&str>) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.api))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .find(|l| label.is_none_or(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Calls held until a code came (`tsgate_proxy_hold_seconds_count{outcome="code"}`).
    async fn hold_count(&self) -> i64 {
        self.metric("tsgate_proxy_hold_seconds_count", Some("outcome=\"code\""))
            .await as i64
    }

    async fn sim_control(&self, sim: &str, body: Value) {
        let res = self
            .http
            .post(format!("{sim}/sim/control"))
            .json(&body)
            .send()
            .await
            .expect("sim control");
        assert!(res.status().is_success(), "{:?}", res.text().await);
    }

    async fn sim_stats(&self, sim: &str) -> Value {
        self.http
            .get(format!("{sim}/sim/stats"))
            .send()
            .await
            .expect("sim stats")
            .json()
            .await
            .expect("json")
    }
}

/// A child process, stopped (SIGTERM, then SIGKILL) on drop.
struct Process(Child);

impl Drop for Process {
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
