//! The watcher against a real Dovecot (Debian `dovecot-imapd`), mail delivered into the
//! Maildir as the simulator does. OCR tests need `tesseract-ocr`.

mod support;

use std::time::Duration;

use support::dovecot::{Dovecot, QUOTA_KB};
use support::mail;
use time::OffsetDateTime;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tsgate_mailbox::{
    DiagnosticCode, Expectation, Found, MailboxSettings, OnProcessed, Outcome, Tls, Via,
    WatchEvent, WatchState, Watcher, WatcherHandle, check,
};

const CODE_A: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
const CODE_B: &str = "0b9d5a3e-7c1f-4e2a-9d8b-3f6c5e4d2a10";
/// Upper bound while waiting for an event: a guard against hangs, not a speed check.
const PATIENCE: Duration = Duration::from_secs(90);

fn expectation(user: &str, address: &str) -> Expectation {
    Expectation {
        user: user.to_owned(),
        addresses: vec![address.to_owned()],
        since: OffsetDateTime::now_utc(),
    }
}

struct Run {
    handle: WatcherHandle,
    events: UnboundedReceiver<WatchEvent>,
}

fn spawn(settings: MailboxSettings, state: WatchState) -> Run {
    let (tx, events) = unbounded_channel();
    Run {
        handle: Watcher::spawn(settings, state, tx),
        events,
    }
}

impl Run {
    /// Next event matching `pick`, other events skipped.
    async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(&WatchEvent) -> Option<T>) -> T {
        let wait = async {
            while let Some(event) = self.events.recv().await {
                if let Some(t) = pick(&event) {
                    return t;
                }
            }
            panic!("watcher ended while waiting for {what}");
        };
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(t) => t,
            Err(_) => panic!(
                "no {what} within {PATIENCE:?}; status: {:?}",
                self.handle.status()
            ),
        }
    }

    async fn found(&mut self) -> Found {
        self.next("Found", |e| match e {
            WatchEvent::Found(f) => Some(f.clone()),
            _ => None,
        })
        .await
    }

    async fn diagnostic(&mut self, code: DiagnosticCode) -> tsgate_mailbox::Diagnostic {
        self.next(&format!("{code:?}"), |e| match e {
            WatchEvent::Diagnostic(d) if d.code == code => Some(d.clone()),
            _ => None,
        })
        .await
    }

    async fn until<F: FnMut(&tsgate_mailbox::MailboxStatus) -> bool>(&self, what: &str, mut ok: F) {
        let wait = async {
            loop {
                if ok(&self.handle.status()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(PATIENCE, wait).await.is_err() {
            panic!("{what} never happened; status: {:?}", self.handle.status());
        }
    }
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let wait = async {
        while !ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if tokio::time::timeout(PATIENCE, wait).await.is_err() {
        panic!("{what} never happened");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_mail_over_implicit_tls_is_found_and_flagged_seen() {
    let d = Dovecot::start(&[("rossi", "pw-rossi")]);
    let mut run = spawn(
        d.settings("rossi", "pw-rossi", Tls::Implicit),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("RSSMRA80", "rossi@studio.test"));
    run.until("login", |s| s.connected).await;
    // An unrelated mail with a UUID must not be offered.
    d.deliver(
        "rossi",
        None,
        &mail::newsletter("rossi@studio.test", CODE_B),
    );
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSSMRA80", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    assert_eq!(found.users, vec!["RSSMRA80".to_owned()]);
    assert_eq!(found.folder, "INBOX");
    assert!(!found.junk);
    assert_eq!(found.via, Via::Text);
    assert_eq!(found.recipients, vec!["rossi@studio.test".to_owned()]);
    assert!(found.received_at.is_some());
    assert!(
        !format!("{found:?}").contains(CODE_A),
        "Debug masks the code"
    );
    run.handle.report(
        &found,
        Outcome::Accepted {
            user: "RSSMRA80".into(),
        },
    );
    wait_for("mail flagged \\Seen", || {
        d.flagged("rossi", None, 'S').len() == 1
    })
    .await;
    // Nothing awaited any more: the watcher logs out.
    run.until("logout", |s| !s.connected && s.awaiting.is_empty())
        .await;
    let status = run.handle.status();
    assert!(status.last_check.is_some());
    assert_eq!(status.folders, vec!["INBOX".to_owned(), "Junk".to_owned()]);
    assert!(status.idle);
    let json = serde_json::to_string(&status).unwrap();
    assert!(!json.contains("pw-rossi"));
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_mail_over_starttls() {
    let d = Dovecot::start(&[("bianchi", "pw")]);
    let mut run = spawn(
        d.settings("bianchi", "pw", Tls::StartTls),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("BNC", "bianchi@studio.test"));
    d.deliver("bianchi", None, &mail::html("bianchi@studio.test", CODE_A));
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    assert_eq!(found.via, Via::Html);
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_junk_is_found_and_explained() {
    let d = Dovecot::start(&[("verdi", "pw")]);
    let mut settings = d.settings("verdi", "pw", Tls::Plain);
    settings.on_processed = OnProcessed::Move("Archivio".into());
    let mut run = spawn(settings, WatchState::default());
    run.handle
        .expect_code(expectation("VRD", "verdi@studio.test"));
    run.until("login", |s| s.connected).await;
    d.deliver(
        "verdi",
        Some("Junk"),
        &mail::text("verdi@studio.test", "VRD", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.folder, "Junk");
    assert!(found.junk);
    let diag = run.handle.status();
    let junk = diag
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::FoundInJunk)
        .expect("junk diagnostic");
    assert_eq!(junk.user.as_deref(), Some("VRD"));
    assert!(junk.message.contains("aggiungi il mittente ai contatti"));
    run.handle
        .report(&found, Outcome::Accepted { user: "VRD".into() });
    wait_for("mail moved to Archivio", || {
        d.flagged("verdi", Some("Archivio"), 'S').len() == 1
    })
    .await;
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pec_envelope_is_opened() {
    let d = Dovecot::start(&[("neri", "pw")]);
    let mut run = spawn(
        d.settings("neri", "pw", Tls::Implicit),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("NRI", "neri@pec.studio.test"));
    d.deliver(
        "neri",
        None,
        &mail::pec("neri@pec.studio.test", "NRI", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    assert_eq!(found.via, Via::Pec);
    assert_eq!(found.users, vec!["NRI".to_owned()]);
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_code_is_read_by_tesseract() {
    let d = Dovecot::start(&[("gialli", "pw")]);
    let mut run = spawn(
        d.settings("gialli", "pw", Tls::Implicit),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("GLL", "gialli@studio.test"));
    d.deliver("gialli", None, &mail::image("gialli@studio.test", CODE_B));
    let found = run.found().await;
    assert_eq!(found.via, Via::Image);
    assert_eq!(
        found.code.expose_secret(),
        CODE_B,
        "OCR read the code exactly"
    );
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_sharing_one_mailbox_are_routed_by_recipient() {
    let d = Dovecot::start(&[("studio", "pw")]);
    let mut run = spawn(
        d.settings("studio", "pw", Tls::Plain),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("DOC1", "doc1@studio.test"));
    run.handle
        .expect_code(expectation("DOC2", "doc2@studio.test"));
    d.deliver(
        "studio",
        None,
        &mail::text("doc2@studio.test", "DOC2", CODE_B),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_B);
    assert_eq!(found.users, vec!["DOC2".to_owned()]);
    run.handle.report(
        &found,
        Outcome::Accepted {
            user: "DOC2".into(),
        },
    );
    run.until("DOC2 no longer awaited", |s| {
        s.awaiting == vec!["DOC1".to_owned()]
    })
    .await;
    // A second mail for DOC2 (who is no longer waiting) is not offered to DOC1.
    d.deliver(
        "studio",
        None,
        &mail::text("doc2@studio.test", "DOC2", CODE_B),
    );
    d.deliver(
        "studio",
        None,
        &mail::text("doc1@studio.test", "DOC1", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    assert_eq!(found.users, vec!["DOC1".to_owned()]);
    // Rejected: the doctor is told.
    run.handle.report(&found, Outcome::Rejected);
    let d1 = run.diagnostic(DiagnosticCode::CodeRejected).await;
    assert_eq!(d1.user.as_deref(), Some("DOC1"));
    assert!(d1.message.contains("rifiutato"));
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_diagnosed() {
    let d = Dovecot::start(&[("rossi", "giusta")]);
    let status = check(&d.settings("rossi", "sbagliata", Tls::Implicit)).await;
    assert!(!status.connected);
    let diag = status.last_error.expect("an error");
    assert_eq!(diag.code, DiagnosticCode::LoginRefused);
    assert!(
        diag.message.contains("rifiutato utente o password"),
        "{}",
        diag.message
    );
    assert!(
        !serde_json::to_string(&status.diagnostics)
            .unwrap()
            .contains("sbagliata")
    );

    let mut run = spawn(
        d.settings("rossi", "sbagliata", Tls::StartTls),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("RSS", "rossi@studio.test"));
    let diag = run.diagnostic(DiagnosticCode::LoginRefused).await;
    assert!(diag.message.contains("impostazioni della casella"));
    assert_eq!(
        run.handle.status().last_error.map(|d| d.code),
        Some(DiagnosticCode::LoginRefused)
    );
    run.handle.shutdown().await;
    let failures = d.log().matches("auth failed").count()
        + d.log().matches("Authentication failed").count()
        + d.log().matches("Aborted login").count();
    assert!(failures >= 1, "log: {}", d.log());

    let ok = check(&d.settings("rossi", "giusta", Tls::StartTls)).await;
    assert!(ok.last_error.is_none(), "{ok:?}");
    assert_eq!(ok.folders, vec!["INBOX".to_owned(), "Junk".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_is_a_tls_diagnostic() {
    let d = Dovecot::start(&[("rossi", "pw")]);
    let mut settings = d.settings("rossi", "pw", Tls::Implicit);
    settings.ca_pem = Some(support::dovecot::test_certificates("another CA").0);
    let status = check(&settings).await;
    let diag = status.last_error.expect("an error");
    assert_eq!(diag.code, DiagnosticCode::Tls);
    assert!(
        diag.message.contains("autorità sconosciuta"),
        "{}",
        diag.message
    );
    // Plain IMAP to a non-loopback host is refused before connecting.
    let mut plain = d.settings("rossi", "pw", Tls::Plain);
    plain.host = "imap.esempio.it".into();
    let status = check(&plain).await;
    assert!(!status.configured);
    assert_eq!(
        status.last_error.map(|d| d.code),
        Some(DiagnosticCode::Settings)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mailbox_is_reported_with_its_percentage() {
    let d = Dovecot::start(&[("pieno", "pw")]);
    d.deliver(
        "pieno",
        None,
        &mail::filler("pieno@studio.test", (QUOTA_KB as usize) * 96 / 100),
    );
    let status = check(&d.settings("pieno", "pw", Tls::Implicit)).await;
    let percent = status.quota_percent.expect("quota reported");
    assert!(percent >= 90, "{percent}");
    let full = status
        .diagnostics
        .iter()
        .find(|d| d.code == DiagnosticCode::MailboxFull)
        .expect("full diagnostic");
    assert!(
        full.message.contains(&format!("piena al {percent}%")),
        "{}",
        full.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_during_idle_is_survived() {
    let mut d = Dovecot::start(&[("rossi", "pw")]);
    let mut settings = d.settings("rossi", "pw", Tls::Implicit);
    // Only IDLE (or the scan after reconnecting) can notice the mail.
    settings.poll_interval_secs = 600;
    let mut run = spawn(settings, WatchState::default());
    run.handle
        .expect_code(expectation("RSS", "rossi@studio.test"));
    run.until("login", |s| s.connected && s.last_check.is_some())
        .await;
    d.restart();
    let lost = run.diagnostic(DiagnosticCode::Connection).await;
    assert!(lost.message.contains("nuovo tentativo"), "{}", lost.message);
    run.until("reconnected", |s| s.connected).await;
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSS", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uids_are_tracked_across_watcher_restarts() {
    let d = Dovecot::start(&[("rossi", "pw")]);
    let since = OffsetDateTime::now_utc();
    let exp = Expectation {
        user: "RSS".into(),
        addresses: vec!["rossi@studio.test".into()],
        since,
    };
    let mut first = spawn(
        d.settings("rossi", "pw", Tls::Implicit),
        WatchState::default(),
    );
    first.handle.expect_code(exp.clone());
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSS", CODE_A),
    );
    let found = first.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    // The caller persists the last State event.
    let state = first
        .next("State", |e| match e {
            WatchEvent::State(s) if s.folders.get("INBOX").is_some_and(|f| f.last_uid >= 1) => {
                Some(s.clone())
            }
            _ => None,
        })
        .await;
    // Rejected this time, so the mail stays unseen: only the UID tracking keeps it out.
    first.handle.report(&found, Outcome::Rejected);
    first.handle.shutdown().await;
    let persisted = serde_json::to_string(&state).unwrap();

    let mut second = spawn(
        d.settings("rossi", "pw", Tls::Implicit),
        serde_json::from_str(&persisted).unwrap(),
    );
    second.handle.expect_code(exp);
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSS", CODE_B),
    );
    let found = second.found().await;
    assert_eq!(
        found.code.expose_secret(),
        CODE_B,
        "the old mail was not read again"
    );
    assert!(found.message.uid > state.folders["INBOX"].last_uid);
    second.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_older_than_the_request_are_ignored() {
    let d = Dovecot::start(&[("rossi", "pw")]);
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSS", CODE_A),
    );
    let mut settings = d.settings("rossi", "pw", Tls::Implicit);
    settings.max_age_margin_secs = 0;
    let mut run = spawn(settings, WatchState::default());
    // Requested "later" than the mail arrived (the clock is moved instead of sleeping).
    let mut exp = expectation("RSS", "rossi@studio.test");
    exp.since += time::Duration::seconds(5);
    run.handle.expect_code(exp);
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSS", CODE_B),
    );
    // The new mail is also "older" than since+5s unless the clock passed: so accept only
    // that the first Found, if any, is never CODE_A.
    let state = run
        .next("State", |e| match e {
            WatchEvent::State(s) if s.folders.get("INBOX").is_some_and(|f| f.last_uid >= 2) => {
                Some(s.clone())
            }
            WatchEvent::Found(f) => {
                assert_ne!(f.code.expose_secret(), CODE_A, "old mail offered");
                None
            }
            _ => None,
        })
        .await;
    assert_eq!(state.folders["INBOX"].last_uid, 2);
    run.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mail_diagnostics_point_to_spam_portal_and_quota() {
    let d = Dovecot::start(&[("vuoto", "pw"), ("pieno", "pw")]);
    d.deliver(
        "pieno",
        None,
        &mail::filler("pieno@studio.test", (QUOTA_KB as usize) * 97 / 100),
    );
    let mut runs = Vec::new();
    for user in ["vuoto", "pieno"] {
        let mut settings = d.settings(user, "pw", Tls::Implicit);
        settings.no_mail_after_secs = 1;
        let run = spawn(settings, WatchState::default());
        // A check first, so that the quota is known before the "no mail" deadline.
        run.handle.check_now();
        run.until("first check", |s| s.last_check.is_some()).await;
        run.handle
            .expect_code(expectation(user, &format!("{user}@studio.test")));
        runs.push(run);
    }
    let empty = runs[0].diagnostic(DiagnosticCode::NoMail).await;
    assert_eq!(empty.user.as_deref(), Some("vuoto"));
    assert!(empty.message.contains("Spam"), "{}", empty.message);
    assert!(
        empty.message.contains("Sicurezza → Certifica mail"),
        "{}",
        empty.message
    );
    assert!(empty.message.contains("errore 200"), "{}", empty.message);
    let full = runs[1]
        .next("MailboxFull for the user", |e| match e {
            WatchEvent::Diagnostic(d)
                if d.code == DiagnosticCode::MailboxFull && d.user.is_some() =>
            {
                Some(d.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(full.user.as_deref(), Some("pieno"));
    assert!(full.message.contains("piena al"), "{}", full.message);
    assert!(
        runs[1]
            .handle
            .status()
            .quota_percent
            .is_some_and(|q| q >= 90)
    );
    for run in runs {
        run.handle.shutdown().await;
    }
}

/// A server without IDLE (some providers' IMAP servers): the watcher says so and polls,
/// and the mail is still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_idle_is_polled() {
    let d = Dovecot::start_without_idle(&[("rossi", "pw-rossi")]);
    let mut run = spawn(
        d.settings("rossi", "pw-rossi", Tls::Implicit),
        WatchState::default(),
    );
    run.handle
        .expect_code(expectation("RSSMRA80", "rossi@studio.test"));
    run.until("login", |s| s.connected && s.last_check.is_some())
        .await;
    assert!(!run.handle.status().idle, "the server offers no IDLE");
    // Delivered after the first look: only a later poll can find it.
    d.deliver(
        "rossi",
        None,
        &mail::text("rossi@studio.test", "RSSMRA80", CODE_A),
    );
    let found = run.found().await;
    assert_eq!(found.code.expose_secret(), CODE_A);
    assert_eq!(found.folder, "INBOX");
    run.handle.shutdown().await;
}
