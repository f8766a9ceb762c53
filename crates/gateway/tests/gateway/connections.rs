//! Clients that open connections and send nothing, or almost nothing: headers never
//! finished, bodies trickled, connections left open, too many connections from one address.
//! The gateway cuts them off and keeps serving everyone else.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tsgate_gateway::GatewayConfig;

use crate::helpers::*;

const INVIO: &str = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";

/// Short limits, so that the test sees them at work within seconds.
fn short_limits(c: &mut GatewayConfig) {
    c.limits.header_read_timeout_seconds = 1;
    c.limits.body_timeout_seconds = 30;
    c.limits.body_min_bytes_per_second = 100;
    c.limits.body_rate_grace_seconds = 1;
    c.limits.idle_timeout_seconds = 1;
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (EOF or reset); what it sent before.
async fn until_closed(mut socket: TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `head`, then one byte of the body at a time, every `every`, until the server
/// stops taking them; returns what the server answered before closing.
async fn trickle(addr: String, head: String, every: Duration) -> String {
    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        while write.write_all(b"x").await.is_ok() {
            tokio::time::sleep(every).await;
        }
    });
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    String::from_utf8_lossy(&seen).into_owned()
}

async fn healthz(app: &TestApp) {
    // A fresh client: a new connection, not one kept alive from before.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = within("healthz", client.get(app.url("/healthz")).send())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The probe that found the defect, in small: with short limits, connections whose headers
/// never end, that send nothing, or that trickle a body are all closed, the trickled ones
/// with a 408 (a SOAP Fault from the proxy, JSON from the API), while `/healthz` answers.
#[tokio::test]
async fn slow_and_silent_clients_are_cut_off_while_others_are_served() {
    for workers in [0, 2] {
        let app = spawn_app_with(move |c| {
            short_limits(c);
            c.http_workers = workers;
        })
        .await;
        let mut unfinished = Vec::new();
        for _ in 0..40 {
            let mut s = TcpStream::connect(addr(&app)).await.unwrap();
            let head = format!(
                "POST /ts/{}{INVIO} HTTP/1.1\r\nHost: x\r\n",
                app.tokens.doctor
            );
            s.write_all(head.as_bytes()).await.unwrap();
            unfinished.push(s);
        }
        let mut silent = Vec::new();
        for _ in 0..10 {
            silent.push(TcpStream::connect(addr(&app)).await.unwrap());
        }
        let proxy_head = format!(
            "POST /ts/{}{INVIO} HTTP/1.1\r\nHost: x\r\nX-Tsgate-User: {U1}\r\n\
             Content-Type: text/xml\r\nContent-Length: 5000\r\n\r\n",
            app.tokens.doctor
        );
        let api_head = format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
            app.tokens.admin
        );
        let slow = Duration::from_millis(300);
        let proxy = tokio::spawn(trickle(addr(&app), proxy_head, slow));
        let api = tokio::spawn(trickle(addr(&app), api_head, slow));

        // All of them are open now, and the gateway still answers.
        healthz(&app).await;

        for socket in unfinished.into_iter().chain(silent) {
            let answered = within("an unfinished request to be closed", until_closed(socket)).await;
            assert!(!answered.contains("200 OK"), "{answered}");
        }
        let proxy = within("the proxy's trickled body", proxy).await.unwrap();
        assert!(proxy.starts_with("HTTP/1.1 408"), "{proxy}");
        assert!(proxy.contains("x-tsgate-error: body_timeout"), "{proxy}");
        assert!(proxy.contains("troppo lentamente"), "{proxy}");
        let api = within("the API's trickled body", api).await.unwrap();
        assert!(api.starts_with("HTTP/1.1 408"), "{api}");
        assert!(api.contains("\"code\":\"body_timeout\""), "{api}");
        // Sistema TS got at most the start of the body, never a whole request.
        assert!(
            app.upstream
                .seen
                .lock()
                .unwrap()
                .iter()
                .all(|seen| seen.body.len() < 5000)
        );
        healthz(&app).await;
    }
}

/// A kept-alive connection is closed once idle, but an answer that is still streaming
/// (the event stream) is never cut by the limits on reading requests.
#[tokio::test]
async fn idle_connections_close_but_event_streams_stay() {
    let app = spawn_app_with(short_limits).await;
    let mut kept = TcpStream::connect(addr(&app)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = within("an idle connection to be closed", until_closed(kept)).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    let mut events = app
        .http
        .get(app.url("/api/v1/events"))
        .bearer_auth(&app.tokens.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    // Three times the limits; keep-alive comments arrive every second meanwhile.
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < until {
        let chunk = within("the event stream", events.chunk()).await.unwrap();
        assert!(chunk.is_some(), "the event stream was closed");
    }
}

/// Past `max_connections_per_ip`, a connection is closed at once, counted and logged;
/// the connections already open are still served, and a place freed is taken again.
#[tokio::test]
async fn connections_past_the_per_address_cap_are_closed_at_once() {
    let app = spawn_app_with(|c| c.limits.max_connections_per_ip = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    for _ in 0..5 {
        let extra = TcpStream::connect(addr(&app)).await.unwrap();
        let answered = within(
            "a connection over the cap to be closed",
            until_closed(extra),
        )
        .await;
        assert_eq!(answered, "");
    }
    // The three open ones are served.
    for socket in &mut open {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = within("healthz on an open connection", socket.read(&mut buf))
            .await
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    // One place freed: a new client gets it (the server sees the close soon after).
    drop(open.pop());
    let metrics = within("a freed place", async {
        loop {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            if let Ok(r) = client.get(app.url("/metrics")).send().await {
                break r.text().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        metrics.contains("tsgate_connections_refused_total{reason=\"per_ip\"}"),
        "{metrics}"
    );
}

/// Over HTTPS too: a client that never starts its handshake, and one that finishes it but
/// never finishes its headers, are closed, and the gateway keeps answering.
#[tokio::test]
async fn the_same_limits_apply_over_https() {
    use rustls::pki_types::ServerName;
    use rustls::pki_types::pem::PemObject as _;
    use std::sync::Arc;

    for workers in [0, 2] {
        let (ca_pem, leaf_pem, leaf_key) = crate::tls::localhost_certificate();
        let key_pem = leaf_key.serialize_pem();
        let app = spawn_app_with(move |c| {
            short_limits(c);
            c.http_workers = workers;
            c.tls = Some(tsgate_gateway::TlsSettings {
                certificate_chain_pem: leaf_pem,
                private_key_pem: key_pem,
            });
        })
        .await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));

        let silent = TcpStream::connect(addr(&app)).await.unwrap();
        let tcp = TcpStream::connect(addr(&app)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut unfinished = connector.connect(name, tcp).await.unwrap();
        unfinished
            .write_all(b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();

        let https = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let base = app.base.replace("http://127.0.0.1", "https://localhost");
        let r = https.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200, "workers {workers}");

        let answered = within("a silent TLS client to be closed", until_closed(silent)).await;
        assert_eq!(answered, "");
        within("unfinished headers over TLS to be closed", async {
            let mut buf = [0u8; 1024];
            loop {
                match unfinished.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
