//! A fake Sistema TS DEM endpoint that records what it receives.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::Notify;

// ---------------------------------------------------------------- fake upstream

/// What the fake Sistema TS saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub struct Upstream {
    pub seen: Mutex<Vec<Seen>>,
    /// Streaming tests: the upstream signals each received chunk and waits for a go-ahead.
    pub first_chunk_in: Notify,
    pub release_answer: Notify,
}

pub const RECEIPT_OK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns2:InvioPrescrittoRicevuta xmlns:ns2="http://invioprescrittoricevuta.xsd.dem.sanita.finanze.it" xmlns:ns3="http://tipodati.xsd.dem.sanita.finanze.it"><ns2:nre>1300A4019294836</ns2:nre><ns2:codEsitoInserimento>0000</ns2:codEsitoInserimento><ns2:ElencoErroriRicette><ns3:ErroreRicetta><ns3:codEsito>0000</ns3:codEsito><ns3:esito>Operazione eseguita correttamente</ns3:esito><ns3:progPresc>0</ns3:progPresc><ns3:tipoErrore/></ns3:ErroreRicetta></ns2:ElencoErroriRicette></ns2:InvioPrescrittoRicevuta></soapenv:Body></soapenv:Envelope>"#;

pub fn receipt_9101() -> String {
    RECEIPT_OK
        .replace("<ns2:codEsitoInserimento>0000", "<ns2:codEsitoInserimento>0001")
        .replace(
            "</ns3:ErroreRicetta></ns2:ElencoErroriRicette>",
            "</ns3:ErroreRicetta><ns3:ErroreRicetta><ns3:codEsito>9101</ns3:codEsito><ns3:esito>id-sessione non presente o non valido</ns3:esito><ns3:progPresc>0</ns3:progPresc><ns3:tipoErrore>W</ns3:tipoErrore></ns3:ErroreRicetta></ns2:ElencoErroriRicette>",
        )
}

async fn upstream_handler(State(up): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mode = parts
        .headers
        .get("x-test-mode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("ok")
        .to_owned();
    let mut body = body.into_data_stream();
    let mut received = Vec::new();
    if mode == "stream-up" {
        // Signal the first chunk, then read the rest: proves the proxy did not wait for
        // the whole body before forwarding.
        if let Some(Ok(chunk)) = body.next().await {
            received.extend_from_slice(&chunk);
            up.first_chunk_in.notify_one();
        }
    }
    while let Some(Ok(chunk)) = body.next().await {
        received.extend_from_slice(&chunk);
    }
    up.seen.lock().unwrap().push(Seen {
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: received,
    });
    let xml = |status: StatusCode, body: Body| {
        Response::builder()
            .status(status)
            .header("content-type", "text/xml;charset=UTF-8")
            .body(body)
            .unwrap()
    };
    match mode.as_str() {
        "9101" => xml(StatusCode::OK, Body::from(receipt_9101())),
        // A front-end's error page instead of SOAP.
        "html-500" => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .header("content-type", "text/html")
            .body(Body::from(
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            ))
            .unwrap(),
        // A receipt cut off in the middle, with 200 and an XML content type.
        "malformed" => xml(
            StatusCode::OK,
            Body::from(
                r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns2:Ricevuta"#,
            ),
        ),
        // Well-formed XML, but not a SOAP envelope.
        "not-envelope" => xml(StatusCode::OK, Body::from("<html><body>ok</body></html>")),
        "fault" => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            Body::from(
                sistemats::soap::Fault::client("cvc-complex-type.2.4.a: Invalid content")
                    .to_envelope(),
            ),
        ),
        "stream-down" => {
            // First half, then wait until the test has read it, then the rest (with 9101).
            let up = up.clone();
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
            tokio::spawn(async move {
                let filler = "<x>".to_string() + &"a".repeat(1 << 20) + "</x>";
                tx.send(Ok(bytes::Bytes::from(filler))).await.ok();
                up.release_answer.notified().await;
                tx.send(Ok(bytes::Bytes::from(receipt_9101()))).await.ok();
            });
            xml(StatusCode::OK, Body::from_stream(tokio_stream_from(rx)))
        }
        "hang" => std::future::pending().await,
        "echo-size" => xml(
            StatusCode::OK,
            Body::from(format!(
                "<size>{}</size>",
                up.seen.lock().unwrap().last().map_or(0, |s| s.body.len())
            )),
        ),
        _ => xml(StatusCode::OK, Body::from(RECEIPT_OK)),
    }
}

fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
}

/// The fake DEM upstream's routes (any path), recording into `up`.
pub fn upstream_router(up: Arc<Upstream>) -> axum::Router {
    axum::Router::new()
        .fallback(upstream_handler)
        .with_state(up)
}

pub async fn spawn_upstream() -> (String, Arc<Upstream>) {
    let up = Arc::new(Upstream::default());
    let app = upstream_router(up.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), up)
}
