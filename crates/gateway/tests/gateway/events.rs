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
    app.sessions.set_code(U2, None);
    app.sessions.publish(U2);
    app.sessions.set_code(U1, None);
    app.sessions.publish(U1);
    read_until(&mut r, &mut buf, |b| b.contains("\"state\":\"none\"")).await;
    assert!(!buf.contains(U2), "{buf}");
    assert!(buf.contains(&format!("\"user\":\"{U1}\"")), "{buf}");
    assert!(!buf.contains(CODE_U1));
    // Keep-alive comments flow (interval 1 s in tests).
    read_until(&mut r, &mut buf, |b| b.lines().any(|l| l.starts_with(':'))).await;
}

#[tokio::test]
async fn graceful_shutdown_closes_event_streams() {
    let mut app = spawn_app().await;
    let mut r = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.tokens.staff)
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    read_until(&mut r, &mut buf, |b| b.contains("event: session")).await;
    let server = app.shutdown();
    // The stream ends…
    while let Ok(Some(_)) = within("SSE end", r.chunk()).await {}
    // …and the server finishes.
    within("server stop", server).await.unwrap().unwrap();
    assert!(
        app.http.get(app.url("/healthz")).send().await.is_err(),
        "no new connections"
    );
}
