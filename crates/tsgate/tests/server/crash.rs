//! SIGKILL of the server in the middle of requests, inserts and proxied calls, then a
//! restart on the same data folder (the simulator, a separate process, keeps running).

use std::time::Duration;

use serde_json::Value;

use crate::support::{Gateway, GatewayOptions, Sim, nre_of, tempdir};

fn events(audit: &Value) -> Vec<(String, String, String)> {
    audit
        .as_array()
        .or_else(|| audit["events"].as_array())
        .expect("audit list")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("at"), s("kind"), s("outcome"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_requests_and_inserts_then_restart() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        min_create_interval_seconds: Some(0),
        ..Default::default()
    };
    let mut gw = Gateway::start(dir.path(), &sim, options).await;
    let doctor = sim.doctor();
    let user = doctor.user_id.clone();
    let code = gw.make_active(&sim, &user).await;
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    let (_, audit) = gw
        .api(reqwest::Method::GET, "/audit?limit=1000", None)
        .await;
    let committed = events(&audit);
    assert!(committed.iter().any(|e| e.1 == "inserted"), "{committed:?}");

    // Load: replacement requests, inserts (the good code again, a wrong one), prescriptions.
    let gw_ref = &gw;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let done_ref = &done;
    let load = async {
        let mut tasks = Vec::new();
        for i in 0..24 {
            let (sim, doctor, code, user) = (&sim, doctor.clone(), code.clone(), user.clone());
            tasks.push(async move {
                // Until the server is killed: the kill always lands mid-load.
                loop {
                    match i % 4 {
                        0 => drop(gw_ref.request(&user, true).await),
                        1 => drop(gw_ref.insert(&user, &code).await),
                        2 => drop(
                            gw_ref
                                .insert(&user, "00000000-0000-4000-8000-000000000000")
                                .await,
                        ),
                        _ => drop(gw_ref.proxy_invio(sim, &doctor).await),
                    }
                    done_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        futures::future::join_all(tasks).await;
    };
    // The reqwest calls fail once the server is gone; the load future is just dropped.
    let interrupted = tokio::select! {
        _ = load => false,
        _ = tokio::time::sleep(Duration::from_millis(600)) => true,
    };
    gw.kill9();
    let done = done.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        interrupted && done > 0,
        "the kill must land in the middle of the load ({done} calls done)"
    );

    // The database is whole, as SQLite sees it after recovery from the WAL.
    let db = gw.data_dir().join("tsgate.db");
    let check = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(out) = check {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{out:?}");
    }

    gw.spawn().await;
    let s = gw.session(&user).await;
    assert_eq!(s["state"], "active", "{s}");
    assert_eq!(s["level"], "green", "{s}");
    // The code inserted before the kill is still the one sent, and Sistema TS takes it.
    let (status, receipt) = gw.proxy_invio(&sim, &doctor).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(nre_of(&receipt).is_some(), "{receipt}");

    let (status, audit) = gw
        .api(reqwest::Method::GET, "/audit?limit=5000", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    let after = events(&audit);
    for e in &committed {
        assert!(after.contains(e), "audit line lost in the crash: {e:?}");
    }
    let logs = gw.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    // Every request that reached Sistema TS before the kill left a well-formed record: a new
    // request after the restart is answered normally (202 or a clear refusal, never a 500).
    let (status, v) = gw.request(&user, true).await;
    assert!(
        status < 500 || v["error"]["message"].is_string(),
        "{status} {v}"
    );
}

/// kill -9 while a `create` is in flight (Sistema TS slow to answer): after the restart the
/// next request goes out at once instead of joining, for minutes, a request whose answer
/// went to the dead process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_a_slow_create_then_the_next_request_goes_out() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let mut gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let user = sim.doctor().user_id.clone();
    sim.fault("create", "slow", Some(20_000)).await;
    let (client, u) = (gw.clone_client(), user.clone());
    let pending = tokio::spawn(async move { client.request(&u, false).await });
    // The request is recorded (the single-flight lease) before `create` is sent.
    let mut waited = 0;
    while gw.session(&user).await["requested_at"].is_null() {
        waited += 1;
        assert!(waited < 600, "the request was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gw.kill9();
    pending.abort();
    gw.spawn().await;
    let session = gw.session(&user).await;
    assert_eq!(session["last_error"]["code"], "create_lost", "{session}");
    let before = sim.creates(&user).await;
    let (status, answer) = gw.request(&user, false).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["outcome"], "sent", "{answer}");
    assert_eq!(
        sim.creates(&user).await,
        before + 1,
        "{}",
        sim.stats().await
    );
    assert!(
        gw.logs().contains("settled as lost"),
        "the restart says what it did"
    );
}
