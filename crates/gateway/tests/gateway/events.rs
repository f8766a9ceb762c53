//! Server-Sent Events and graceful shutdown.

use crate::helpers::*;

/// Reads SSE text until `pred` holds for the accumulated text.
async fn read_until(r: &mut reqwest::Response, buf: &mut String, pred: impl Fn(&str) -> bool) {
    while !pred(buf) {
        let chunk = within("SSE data", r.chunk())
            .await
            .unwrap()
            .expect("stream ended early");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// Opens the event stream of `token` and reads up to its first `session` event.
async fn subscribed(app: &TestApp, token: &str) -> (reqwest::Response, String) {
    let mut r = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    read_until(&mut r, &mut buf, |b| b.contains("event: session")).await;
    (r, buf)
}

#[tokio::test]
async fn one_event_per_visible_change() {
    let app = spawn_app().await;
    let mut r = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.tokens.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();
    // Initial state of the visible user.
    read_until(&mut r, &mut buf, |b| {
        b.contains("event: session") && b.contains(U1)
    })
    .await;
    buf.clear();
    // A change of U2 (not visible to this workstation), then of U1.
    app.take_code(U2).await;
    app.take_code(U1).await;
    read_until(&mut r, &mut buf, |b| b.contains("\"state\":\"revoked\"")).await;
    assert!(!buf.contains(U2), "{buf}");
    assert!(buf.contains(&format!("\"user\":\"{U1}\"")), "{buf}");
    assert!(!buf.contains(CODE_U1));
    // Keep-alive comments flow (interval 1 s in tests).
    read_until(&mut r, &mut buf, |b| b.lines().any(|l| l.starts_with(':'))).await;
}

#[tokio::test]
async fn graceful_shutdown_closes_event_streams() {
    let mut app = spawn_app().await;
    let (r, _) = subscribed(&app, &app.tokens.staff).await;
    shuts_down_gracefully(&mut app, r).await;
}

/// Shuts `app` down: the open event stream `r` ends, the server finishes, and it takes no
/// new connection.
async fn shuts_down_gracefully(app: &mut TestApp, mut r: reqwest::Response) {
    let server = app.shutdown();
    while let Ok(Some(_)) = within("SSE end", r.chunk()).await {}
    within("server stop", server).await.unwrap().unwrap();
    assert!(
        app.http.get(app.url("/healthz")).send().await.is_err(),
        "no new connections"
    );
}

/// A proxied call refused for lack of a code is told to every workstation of that user (and
/// only to them), once per burst of retries.
#[tokio::test]
async fn a_refused_proxy_call_is_a_notice_for_the_users_workstations() {
    let app = spawn_app().await;
    // Neither user has a code (taken before the streams open, so that the only events
    // that follow are the notices and the next change below).
    app.take_code(U1).await;
    app.take_code(U2).await;
    let (mut doctor, mut doctor_buf) = subscribed(&app, &app.tokens.doctor).await;
    let (mut other, mut other_buf) = subscribed(&app, &app.tokens.other).await;
    let refused = |token: String, user: &'static str| {
        let (http, url) = (
            app.http.clone(),
            app.proxy_url(
                &token,
                "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
            ),
        );
        async move {
            let r = http
                .post(url)
                .header("content-type", "text/xml;charset=UTF-8")
                .header("authorization", basic(user, PASSWORD))
                .body("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><x/></soapenv:Body></soapenv:Envelope>")
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["x-tsgate-error"], "no_code");
        }
    };
    // The staff desk's software calls for U1 twice (a retry), then U2's doctor for U2.
    refused(app.tokens.staff.clone(), U1).await;
    refused(app.tokens.staff.clone(), U1).await;
    refused(app.tokens.other.clone(), U2).await;

    doctor_buf.clear();
    read_until(&mut doctor, &mut doctor_buf, |b| {
        b.contains("event: notice")
    })
    .await;
    let data: serde_json::Value = serde_json::from_str(
        doctor_buf
            .lines()
            .skip_while(|l| *l != "event: notice")
            .find_map(|l| l.strip_prefix("data: "))
            .expect("notice data"),
    )
    .unwrap();
    assert_eq!(data["kind"], "proxy_refused");
    assert_eq!(data["user"], U1);
    assert_eq!(data["workstation_name"], "staff");
    let message = data["message"].as_str().unwrap();
    assert!(message.contains("Richiedi il codice"), "{message}");
    assert!(!doctor_buf.contains(PASSWORD) && !doctor_buf.contains(CODE_U1));

    other_buf.clear();
    read_until(&mut other, &mut other_buf, |b| b.contains("event: notice")).await;
    assert!(
        other_buf.contains(&format!("\"user\":\"{U2}\"")),
        "{other_buf}"
    );
    assert!(
        !other_buf.contains(U1),
        "U1's notice reached a workstation of U2 only"
    );

    // The retry raised no second notice: the next event on the doctor's stream is the next
    // change of U1, not another notice.
    app.give_code(U1).await;
    read_until(&mut doctor, &mut doctor_buf, |b| {
        b.contains("event: session")
    })
    .await;
    assert_eq!(
        doctor_buf.matches("event: notice").count(),
        1,
        "{doctor_buf}"
    );
}

/// With per-core workers, calls are served, event streams end at shutdown and the server
/// finishes (the binary's default mode; the other tests serve on the test's runtime).
#[tokio::test]
async fn per_core_workers_serve_and_shut_down_gracefully() {
    let mut app = spawn_app_with(|c| c.http_workers = 2).await;
    let (r, _) = subscribed(&app, &app.tokens.doctor).await;
    // Enough connections that both workers take some.
    let calls = (0..16).map(|_| {
        let (url, token) = (app.url("/api/v1/users"), app.tokens.admin.clone());
        // A client each: a connection each.
        async move {
            let client = reqwest::Client::new();
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    for status in futures::future::join_all(calls).await {
        assert_eq!(status, 200);
    }
    shuts_down_gracefully(&mut app, r).await;
}
