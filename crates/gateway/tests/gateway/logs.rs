//! Secrets never reach the logs: a capture of everything logged (TRACE) while a password,
//! a Basic header, a code and a workstation token pass through the gateway.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// current_thread: the server tasks run on this thread, where the subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn secrets_are_not_logged() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    let invio = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";
    let basic_header = basic(U1, PASSWORD);
    // Proxy: ok, 9101, no code, a foreign Authorization2F.
    for mode in ["ok", "9101"] {
        let r = app
            .http
            .post(app.proxy_url(&app.tokens.doctor, invio))
            .header("content-type", "text/xml; charset=utf-8")
            .header("authorization", &basic_header)
            .header("authorization2f", "Bearer planted-foreign-code-0000")
            .header("x-test-mode", mode)
            .body("<x/>")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    app.uses(2).await;
    // The 9101 made the code suspect; let its re-verification finish before taking it.
    within("re-verification", async {
        while app.session(U1).await.state != tsgate_session::StateName::Active {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    app.take_code(U1).await;
    let r = app
        .http
        .post(app.proxy_url(&app.tokens.doctor, invio))
        .header("content-type", "text/xml; charset=utf-8")
        .header("authorization", &basic_header)
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    // API: insert a code (verified and made current again), copy it, a malformed user
    // creation carrying a PIN as a number.
    let path = format!("/api/v1/users/{U1}/session/code");
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&app.tokens.doctor)
        .json(&json!({"code": CODE_U1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .get(app.url(&path))
        .bearer_auth(&app.tokens.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(CODE_U1));
    let r = app
        .http
        .post(app.url("/api/v1/users"))
        .bearer_auth(&app.tokens.admin)
        .json(&json!({"user_id": "X", "cf": "X", "region": "1", "asl": "1", "password": PASSWORD, "pin": 987654321}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A bad token in the proxy path.
    app.http
        .post(app.proxy_url("tsg_planted-bad-token", invio))
        .header("content-type", "text/xml; charset=utf-8")
        .body("<x/>")
        .send()
        .await
        .unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("proxied"), "the capture works: {logs}");
    let basic_b64 = basic_header.trim_start_matches("Basic ");
    for secret in [
        PASSWORD,
        basic_b64,
        CODE_U1,
        "planted-foreign-code-0000",
        "987654321",
        app.tokens.doctor.as_str(),
        app.tokens.admin.as_str(),
        "tsg_planted-bad-token",
    ] {
        assert!(!logs.contains(secret), "{secret} found in logs:\n{logs}");
    }
}
