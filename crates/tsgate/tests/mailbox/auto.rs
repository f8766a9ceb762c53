//! Automatic requests end to end: the simulator in production mode (codes only by mail), a
//! real Dovecot, the demo's shared clock moved through `POST /sim/control`, and the real
//! `tsgate demo` binary. Nobody clicks: the autopilot and held proxy calls do everything.

use serde_json::Value;
use time::Weekday;

use crate::support::*;

/// Practice software's call while no code exists is held until the mailed code is found in
/// Dovecot and verified, then forwarded: the prescription goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_call_completes_when_the_mail_arrives() {
    let env = Env::start(Accounts::Separate, true).await;
    // Sunday night: outside working hours, so nothing is requested until a call needs it.
    env.advance_to(Weekday::Sunday, 3, 0).await;
    let view = env.session(TITOLARE).await;
    assert_eq!(view["state"], "none", "{view}");
    assert_eq!(view["auto"]["enabled"], true, "{view}");
    let creates_before = creates_of(&env, TITOLARE).await;

    let (status, error, body) = env.prescribe(TITOLARE).await;
    assert_eq!(status, 200, "{error:?} {body}\n{}", env.log());
    assert!(body.contains("<codEsitoInserimento>0000<"), "{body}");
    assert_eq!(creates_of(&env, TITOLARE).await, creates_before + 1);
    env.assert_found_by_mailbox(TITOLARE).await;
    let audit = env.audit(TITOLARE).await;
    assert!(
        audit
            .iter()
            .any(|e| e["kind"] == "requested" && e["actor"] == "auto"),
        "the create was the automatic one: {audit:?}"
    );
    // Another call right after uses the same code: no second create.
    let (status, _, body) = env.prescribe(TITOLARE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(creates_of(&env, TITOLARE).await, creates_before + 1);
}

/// Sistema TS refuses the password of an automatic request: no further automatic call is
/// made (the account would be locked), a proxied call is not held, and every workstation
/// is told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_stops_every_automatic_call() {
    // Only the titolare has a mailbox: every create the simulator counts is his.
    let env = Env::start(Accounts::Separate, false).await;
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(TITOLARE_MAIL, IMAP_PASSWORD, TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    env.advance_to(Weekday::Sunday, 3, 0).await;
    let (code, out) = env.cli(
        &["user", "set-credentials", TITOLARE],
        "Not.The.Password.1\n1234567890\n",
    );
    assert_eq!(code, Some(0), "{out}");
    let creates_before = operations(&env, "create").await;
    // Monday 07:50: the automatic request before the first working range.
    env.advance_to(Weekday::Monday, 7, 55).await;
    let view = env
        .until(
            || env.session(TITOLARE),
            |v| v["state"] == "credentials_refused",
        )
        .await;
    assert_eq!(operations(&env, "create").await, creates_before + 1);
    let reason = view["auto"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("credenziali"), "{view}");
    assert!(!view.to_string().contains("Not.The.Password"), "{view}");

    // The whole day passes: renewals, ranges, the next morning. Nothing is called.
    for hours in [2, 4, 6, 12, 24] {
        env.advance(hours * 3600).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    // A prescription is answered at once with the reason, not held.
    let started = std::time::Instant::now();
    let (status, error, body) = env.prescribe(TITOLARE).await;
    assert_ne!(status, 200, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the call was held although nothing can be obtained"
    );
    assert!(error.is_some(), "{body}");
    assert_eq!(
        operations(&env, "create").await,
        creates_before + 1,
        "no automatic create after the refusal"
    );
}

/// The mail of an automatic request never comes (the mailbox tsgate watches is not the one
/// Sistema TS writes to): after the configured minutes the card says so, with the
/// mailbox's diagnostics and the next attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_never_arrives_gives_the_diagnostics() {
    let env = Env::start(Accounts::Separate, false).await;
    // The titolare's certified address is his, but tsgate watches the substitute's account.
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(SOSTITUTO_MAIL, IMAP_PASSWORD, TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    env.advance_to(Weekday::Monday, 7, 51).await;
    env.until(|| env.session(TITOLARE), |v| v["state"] == "awaiting_code")
        .await;
    // Three minutes (the default wait) and a bit pass without mail.
    env.advance(4 * 60).await;
    let view = env
        .until(
            || env.session(TITOLARE),
            |v| v["last_error"]["code"] == "mail_late",
        )
        .await;
    let message = view["last_error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("non è arrivato"), "{message}");
    assert!(message.contains("Nuovo tentativo automatico"), "{message}");
    assert!(!message.contains(IMAP_PASSWORD), "{message}");
}

async fn creates_of(env: &Env, user: &str) -> u64 {
    env.sim_stats().await["creates_by_user"][user]
        .as_u64()
        .unwrap_or(0)
}

async fn operations(env: &Env, op: &str) -> u64 {
    let stats: Value = env.sim_stats().await;
    stats["operations"][op].as_u64().unwrap_or(0)
}

/// A simulated working week (Monday to Friday, 08:00–13:00 and 15:00–19:30) with no human
/// action: `tsgate demo --play-week` with both doctors' mail in Dovecot and 5-hour codes,
/// so that every day needs a request before the first range and renewals within the
/// ranges. Every prescription sent in working hours is accepted (`0000`, no 9101, no
/// fault), the automatic creates stay within the daily cap and none is made outside hours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_week_runs_with_no_click_and_no_refused_prescription() {
    let mut env = Env::start_prepared(
        Accounts::Separate,
        true,
        &["--play-week", "--play-pace-ms", "0", "--code-validity", "5"],
        |data_dir| {
            let (code, out) = cli_on(
                data_dir,
                &["hours", "set", "lun-ven 08:00-13:00 15:00-19:30"],
                "",
            );
            assert_eq!(code, Some(0), "{out}");
        },
    )
    .await;
    let code = env.exit_code(std::time::Duration::from_secs(600)).await;
    let report: Value = serde_json::from_slice(
        &std::fs::read(env.data_dir().join("week.json")).expect("week.json"),
    )
    .expect("report");
    assert_eq!(code, Some(0), "{report:#}\n{}", env.log());
    println!(
        "simulated week: {} prescriptions, {} accepted, creates {}, {} outside hours, {:.1} s",
        report["prescriptions"],
        report["accepted"],
        report["creates_by_user"],
        report["creates_outside_hours"],
        report["real_seconds"].as_f64().unwrap_or_default()
    );

    assert_eq!(
        report["users"],
        serde_json::json!([TITOLARE, SOSTITUTO]),
        "{report:#}"
    );
    let days = report["days"].as_array().expect("days");
    assert_eq!(days.len(), 5, "{report:#}");
    for day in days {
        // 08:00…12:30 and 15:00…19:00: 19 half hours per doctor at least.
        assert!(day["prescriptions"].as_u64() >= Some(2 * 19), "{day}");
        assert_eq!(day["refused"], 0, "{day}");
        assert_eq!(day["creates_outside_hours"], 0, "{day}");
        assert_eq!(day["held"], 0, "no call had to wait for a code: {day}");
        // A request before 08:00 and two renewals (12:20, 16:50) per doctor.
        assert!(day["creates_in_hours"].as_u64() >= Some(2 * 2), "{day}");
    }
    assert_eq!(report["refused"], 0, "{report:#}");
    assert_eq!(report["prescriptions"], report["accepted"], "{report:#}");
    assert!(
        report["max_creates_per_day"].as_u64() <= Some(4),
        "{report:#}"
    );

    // Sistema TS's side (the simulator's own counters): no 9101 at all, every prescription
    // received, and no create call beyond the accepted ones (none refused, none wasted).
    let sim = &report["sistema_ts"];
    assert_eq!(sim["warnings_9101"], 0, "{report:#}");
    assert_eq!(
        sim["invio_prescritto"], report["prescriptions"],
        "{report:#}"
    );
    let accepted: u64 = [TITOLARE, SOSTITUTO]
        .iter()
        .map(|u| report["creates_by_user"][u].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sim["create_calls"].as_u64(), Some(accepted), "{report:#}");
    // Every create is placed on a day and on a side of the working hours.
    let placed: u64 = days
        .iter()
        .map(|d| {
            d["creates_in_hours"].as_u64().unwrap_or(0)
                + d["creates_outside_hours"].as_u64().unwrap_or(0)
        })
        .sum();
    assert_eq!(placed, accepted, "{report:#}");
}
