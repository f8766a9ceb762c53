//! End-to-end tests of the certified-mailbox watcher inside tsgate: a real Dovecot serves
//! the Maildirs the simulator delivers into, the real `tsgate demo` binary watches them,
//! and everything is driven through the public HTTP API (`PUT`/`GET …/mailbox`,
//! `POST …/session/request`, `GET …/session`, `GET /api/v1/audit`, `POST /sim/control`).
//! Nobody types a code: the session turns green because the watcher found and verified it.
//!
//! Needs the Debian packages `dovecot-imapd`, `tesseract-ocr` and `fonts-dejavu-core`;
//! the tests fail (never skip) without them. PEC envelopes are covered by the mailbox
//! crate's own tests (`cargo test -p tsgate-mailbox`).

mod auto;
mod check;
mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_mail_set_up_by_the_demo_turns_the_card_green() {
    let env = Env::start(Accounts::Separate, true).await;
    let mailbox = env.mailbox(TITOLARE).await;
    assert_eq!(mailbox["configured"], true, "{mailbox}");
    assert_eq!(mailbox["settings"]["username"], TITOLARE_MAIL, "{mailbox}");
    assert!(!mailbox.to_string().contains(IMAP_PASSWORD));
    // Nothing awaited: no IMAP connection is held.
    assert_eq!(mailbox["connected"], false, "{mailbox}");

    env.request(TITOLARE).await;
    let view = env.until_green(TITOLARE).await;
    assert!(
        view["remaining_seconds"].as_i64().unwrap_or(0) > 0,
        "{view}"
    );
    env.assert_found_by_mailbox(TITOLARE).await;
    // The mail was flagged \Seen once its code was accepted.
    env.until(
        || async { json!(env.dovecot.flagged(TITOLARE_MAIL, None, 'S').len()) },
        |n| n.as_u64() == Some(1),
    )
    .await;
    // The other doctor was not touched.
    assert_eq!(env.session(SOSTITUTO).await["state"], "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_the_spam_folder_is_found_and_said() {
    let env = Env::start(Accounts::Separate, false).await;
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(TITOLARE_MAIL, IMAP_PASSWORD, TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(IMAP_PASSWORD), "{body}");
    env.sim_control(json!({"mail_folder": "Junk"})).await;
    env.request(TITOLARE).await;
    env.until_green(TITOLARE).await;
    env.assert_found_by_mailbox(TITOLARE).await;
    let mailbox = env.mailbox(TITOLARE).await;
    let junk = mailbox["diagnostics"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["code"] == "found_in_junk").cloned())
        .unwrap_or_else(|| panic!("no spam diagnostic in {mailbox}"));
    assert!(
        junk["message"].as_str().unwrap_or("").contains("Spam"),
        "{junk}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_in_an_image_is_read_by_ocr() {
    let env = Env::start(Accounts::Separate, false).await;
    let (status, body) = env
        .put_mailbox(
            SOSTITUTO,
            env.settings(SOSTITUTO_MAIL, IMAP_PASSWORD, SOSTITUTO_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    env.sim_control(json!({"code_format": "image"})).await;
    env.request(SOSTITUTO).await;
    env.until_green(SOSTITUTO).await;
    env.assert_found_by_mailbox(SOSTITUTO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_doctors_sharing_one_mailbox_each_get_their_own_code() {
    let env = Env::start(Accounts::Shared, false).await;
    // One IMAP account; each doctor's certified address decides whose mail it is.
    for (user, address) in [(TITOLARE, TITOLARE_MAIL), (SOSTITUTO, SOSTITUTO_MAIL)] {
        let (status, body) = env
            .put_mailbox(user, env.settings(TITOLARE_MAIL, IMAP_PASSWORD, address))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mailbox = env.mailbox(SOSTITUTO).await;
    assert_eq!(mailbox["shared_with"], json!([TITOLARE]), "{mailbox}");

    tokio::join!(env.request(TITOLARE), env.request(SOSTITUTO));
    env.until_green(TITOLARE).await;
    env.until_green(SOSTITUTO).await;
    env.assert_found_by_mailbox(TITOLARE).await;
    env.assert_found_by_mailbox(SOSTITUTO).await;
    // Each code was verified once, for its own doctor: no code of the other was tried
    // first, because the recipient address routed every mail.
    for user in [TITOLARE, SOSTITUTO] {
        let audit = env.audit(user).await;
        assert!(
            !audit.iter().any(|e| e["kind"] == "rejected"),
            "{user}: {audit:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_explained_on_the_mailbox_state() {
    let env = Env::start(Accounts::Separate, false).await;
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(TITOLARE_MAIL, "not-the-password", TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Saving logs in once, so the administrator sees the problem without a request.
    let mailbox = env
        .until(
            || env.mailbox(TITOLARE),
            |m| {
                m["diagnostics"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["code"] == "login_refused"))
            },
        )
        .await;
    assert_eq!(mailbox["connected"], false, "{mailbox}");
    assert_eq!(mailbox["last_error"]["code"], "login_refused", "{mailbox}");
    let message = mailbox["last_error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("password"), "{message}");
    assert!(!mailbox.to_string().contains("not-the-password"));

    // Invalid settings are refused with an explanation, and nothing is stored.
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            json!({"host": "imap.example.it", "security": "plain", "username": "u", "password": "p"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("STARTTLS"), "{body}");

    // The right password (only the password changes) fixes it; a request then succeeds.
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(TITOLARE_MAIL, IMAP_PASSWORD, TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    env.request(TITOLARE).await;
    env.until_green(TITOLARE).await;
    let mailbox = env.mailbox(TITOLARE).await;
    assert!(
        !mailbox["diagnostics"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["code"] == "login_refused")),
        "{mailbox}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_imap_server_restarting_during_idle_loses_nothing() {
    let mut env = Env::start(Accounts::Separate, false).await;
    let (status, body) = env
        .put_mailbox(
            TITOLARE,
            env.settings(TITOLARE_MAIL, IMAP_PASSWORD, TITOLARE_MAIL),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Sistema TS answers (and mails) five seconds late: the watcher is in IDLE meanwhile.
    env.sim_control(json!({"fault": {"operation": "create", "kind": "slow", "delay_ms": 5000}}))
        .await;
    let request = {
        let http = env.http.clone();
        let url = format!("{}/api/v1/users/{TITOLARE}/session/request", env.api);
        let token = env.token().to_owned();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"replace": true}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    env.until(
        || env.mailbox(TITOLARE),
        |m| m["connected"] == true && m["awaiting"] == true && m["idle"] == true,
    )
    .await;
    assert_eq!(env.session(TITOLARE).await["state"], "awaiting_code");
    env.dovecot.restart();
    env.until_green(TITOLARE).await;
    env.assert_found_by_mailbox(TITOLARE).await;
    assert_eq!(request.await.expect("task").expect("request"), 202);
}
