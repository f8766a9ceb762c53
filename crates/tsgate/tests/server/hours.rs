//! Working hours and automatic requests set with the command line while `tsgate serve` runs
//! on the same database: what the API then shows, the exit codes of mistakes, the audit
//! lines (actor `cli`), and the configuration file's `[working_hours]`, read-only elsewhere.

use reqwest::Method;
use serde_json::Value;

use crate::support::{Gateway, GatewayOptions, Sim, cli, tempdir};

/// Runs `tsgate <args>` on the gateway's configuration: (exit code, stdout, stderr).
fn run(gw: &Gateway, args: &[&str]) -> (i32, String, String) {
    let out = cli(&gw.config, args, "");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(gw: &Gateway, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(gw, args);
    assert_eq!(code, 0, "{args:?}:\n{stdout}\n{stderr}");
    stdout
}

fn count(entries: &[Value], kind: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["actor"] == "cli" && e["kind"] == kind)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_and_automatic_requests_from_the_command_line() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let gw = Gateway::start(dir.path(), &sim, GatewayOptions::default()).await;
    let user = sim.doctor().user_id;
    let user = user.as_str();

    let shown = ok(&gw, &["hours", "show"]);
    assert!(shown.contains("lun-ven 08:00-19:30"), "{shown}");
    assert!(shown.contains("built_in"), "{shown}");

    // The practice's week, then a closure; mistakes are usage errors (2) with the Italian
    // reason, and change nothing.
    let out = ok(
        &gw,
        &[
            "hours",
            "set",
            "lun-ven 08:00-13:00 15:00-19:30",
            "sab 08:00-12:00",
        ],
    );
    assert!(out.contains("practice working hours saved"), "{out}");
    let (code, _, stderr) = run(&gw, &["hours", "set", "lun-ven 9-13"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("orario «9-13» non valido: scrivilo come 08:00-13:00"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&gw, &["hours", "close", "--from", "2026-13-01"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("data «2026-13-01» non valida"), "{stderr}");
    let (code, _, stderr) = run(
        &gw,
        &[
            "hours",
            "close",
            "--from",
            "2026-12-24",
            "--to",
            "2026-12-01",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("la fine viene prima dell'inizio"),
        "{stderr}"
    );
    ok(
        &gw,
        &[
            "hours",
            "close",
            "--from",
            "24/12/2026",
            "--to",
            "2027-01-06",
            "--note",
            "ferie",
        ],
    );

    // The doctor's own closure: own hours, starting from the practice's.
    ok(
        &gw,
        &[
            "hours",
            "close",
            "--user",
            user,
            "--from",
            "2026-08-10",
            "--to",
            "2026-08-21",
            "--note",
            "congresso",
        ],
    );
    let json: Value =
        serde_json::from_str(&ok(&gw, &["hours", "show", "--user", user, "--json"])).unwrap();
    assert_eq!(json["source"], "user", "{json}");
    assert_eq!(
        json["text"],
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"
    );
    assert_eq!(
        json["hours"]["closures"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    assert_eq!(json["auto"], "default");
    ok(
        &gw,
        &["hours", "reopen", "--user", user, "--from", "2026-08-10"],
    );
    let (code, _, stderr) = run(
        &gw,
        &["hours", "reopen", "--user", user, "--from", "2026-08-10"],
    );
    assert_eq!(code, 1, "no such closure any more: {stderr}");
    ok(&gw, &["user", "set-auto", user, "on"]);
    let (code, _, stderr) = run(&gw, &["user", "set-auto", user, "sometimes"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&gw, &["hours", "show", "--user", "NESSUNO"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no user NESSUNO"), "{stderr}");

    // The running server reads what the command line wrote.
    let (status, v) = gw.api(Method::GET, "/practice/hours", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "stored");
    assert_eq!(
        v["summary"],
        "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00; 1 chiusura"
    );
    let (status, v) = gw
        .api(Method::GET, &format!("/users/{user}/schedule"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["auto"], "on");
    assert_eq!(v["effective"]["source"], "user");
    assert_eq!(v["hours"]["closures"].as_array().unwrap().len(), 1, "{v}");
    ok(&gw, &["hours", "reset", "--user", user]);
    let (_, v) = gw
        .api(Method::GET, &format!("/users/{user}/schedule"), None)
        .await;
    assert_eq!(v["hours"], Value::Null, "{v}");
    assert_eq!(v["effective"]["source"], "stored");
    assert_eq!(v["auto"], "on", "reset leaves the mode alone");

    // Every change is in the audit, as the command line's.
    let (status, v) = gw.api(Method::GET, "/audit?limit=1000", None).await;
    assert_eq!(status, 200, "{v}");
    let entries = v.as_array().unwrap();
    assert_eq!(
        count(entries, "practice_hours_set"),
        2,
        "set and close: {v}"
    );
    assert_eq!(
        count(entries, "schedule_set"),
        4,
        "close, reopen, set-auto, reset: {v}"
    );
    let newest = entries
        .iter()
        .find(|e| e["kind"] == "schedule_set")
        .unwrap();
    assert_eq!(newest["user"], user);
    assert_eq!(
        newest["outcome"],
        "automatiche: sempre; orari: come lo studio"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_of_the_configuration_file_win_and_are_read_only() {
    let dir = tempdir();
    let sim = Sim::start(dir.path()).await;
    let options = GatewayOptions {
        extra_toml: Some(
            "[automatic]\ndaily_cap = 2\n\
             [working_hours]\nweek = \"lun-gio 09:00-18:00\"\npublic_holidays = false\n"
                .into(),
        ),
        ..GatewayOptions::default()
    };
    let gw = Gateway::start(dir.path(), &sim, options).await;
    let (status, v) = gw.api(Method::GET, "/practice/hours", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["source"], "file");
    assert_eq!(v["read_only"], true);
    assert_eq!(v["summary"], "lun-gio 09:00-18:00; aperto nei festivi");
    let (status, v) = gw
        .api(
            Method::PUT,
            "/practice/hours",
            Some(serde_json::json!({"week": "lun 08:00-13:00"})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (code, _, stderr) = run(&gw, &["hours", "set", "lun 08:00-13:00"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("configuration file"), "{stderr}");
    let shown = ok(&gw, &["hours", "show"]);
    assert!(
        shown.contains("lun-gio 09:00-18:00") && shown.contains("file"),
        "{shown}"
    );
    // A doctor may still have own hours.
    let user = sim.doctor().user_id;
    ok(&gw, &["hours", "set", "--user", &user, "ven 08:00-12:00"]);
}

#[test]
fn working_hours_that_cannot_be_read_stop_the_start_naming_the_key() {
    let dir = tempdir();
    let config = dir.path().join("tsgate.toml");
    for (table, expected) in [
        (
            "[working_hours]\nweek = \"lun-ven 08:00-13:00 12:00-14:00\"\n",
            "working_hours.week: lunedì: le fasce 08:00-13:00 e 12:00-14:00 si sovrappongono",
        ),
        (
            "[automatic]\ndaily_cap = 0\n",
            "automatic.daily_cap must be between 1 and 24",
        ),
    ] {
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nsanitel_certificate = \"/nowhere/SanitelCF.cer\"\n{table}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        for command in ["check", "serve"] {
            let out = cli(&config, &[command], "");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
            assert!(stderr.contains(expected), "{command}: {stderr}");
        }
    }
}
