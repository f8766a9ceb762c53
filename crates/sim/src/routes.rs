//! HTTP routing: the SOAP endpoints and the `/sim/*` helper endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::config::{CodeFormat, Enforcement, MailFolder, Mode};
use crate::ops::Operation;
use crate::schema::{Invalid, validate_envelope};
use crate::soap_http::{authenticate, check_soap_action, client_fault, server_fault, xml_response};
use crate::state::{FaultKind, FaultRule, Sim};
use crate::sync::lock;

/// Per-connection data the server loop attaches to each request.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Client address.
    pub peer: SocketAddr,
    /// Notified to drop the connection without answering (fault `reset`).
    pub kill: Arc<Notify>,
}

/// Builds the router over a shared simulator state.
pub fn router(sim: Arc<Sim>) -> Router {
    let mut router = Router::new().route(sistemats::a2f::SERVICE_PATH, post(a2f_endpoint));
    // Every DEM service (prescriber and dispenser) has its own path; A2F shares one.
    for op in Operation::ALL
        .into_iter()
        .filter(|op| !matches!(op, Operation::A2f(_)))
    {
        router = router.route(
            op.path(),
            post(
                move |State(sim): State<Arc<Sim>>,
                      conn: Option<Extension<Connection>>,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    soap(sim, op, conn.map(|c| c.0), headers, body).await
                },
            ),
        );
    }
    router
        .route("/", get(index))
        .route("/sim/users", get(users))
        .route("/sim/certificate", get(certificate))
        .route("/sim/outbox", get(outbox_html))
        .route("/sim/outbox.json", get(outbox_json))
        .route("/sim/stats", get(stats))
        .route("/sim/control", get(control_get).post(control_post))
        .with_state(sim)
}

async fn a2f_endpoint(
    State(sim): State<Arc<Sim>>,
    conn: Option<Extension<Connection>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = headers
        .get("SOAPAction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(op) = sistemats::a2f::Operation::from_soap_action(action) else {
        return client_fault(
            "SOAPAction mancante o non valida: attesa una delle operazioni create, checkToken, revoke",
        );
    };
    soap(sim, Operation::A2f(op), conn.map(|c| c.0), headers, body).await
}

async fn soap(
    sim: Arc<Sim>,
    op: Operation,
    conn: Option<Connection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.with_stats(|s| *s.operations.entry(op.name().to_owned()).or_default() += 1);
    if let Some(fault) = sim.take_fault(op)
        && let Some(response) = inject(&fault, conn.as_ref()).await
    {
        return response;
    }
    if let Err(response) = check_soap_action(&headers, op.soap_action()) {
        return response;
    }
    let user = match authenticate(&sim, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    if let Some(schema) = op.schema() {
        match validate_envelope(&body, schema) {
            Ok(()) => {}
            Err(Invalid::Schema(message)) => return client_fault(message),
            Err(Invalid::Malformed(message)) => return client_fault(message),
        }
    }
    let payload = match sistemats::soap::parse(&body) {
        Ok(sistemats::soap::Body::Payload(p)) => p,
        Ok(sistemats::soap::Body::Fault(_)) => {
            return client_fault("soapenv:Body contiene un Fault");
        }
        Err(e) => return client_fault(e.to_string()),
    };
    let (ns, root) = op.request_root();
    if !payload.is(ns, root) {
        return client_fault(format!(
            "cvc-elt.1: l'elemento '{}' non corrisponde all'operazione {} (atteso '{root}')",
            payload.name,
            op.name()
        ));
    }
    match op {
        Operation::A2f(op) => {
            crate::a2f::handle(&sim, op, user, &payload, conn.map(|c| c.peer.ip())).await
        }
        Operation::Dem(_) => crate::dem::handle(&sim, user, &headers, &payload),
        Operation::Rbe(_) => crate::rbe::handle(&sim, user, &headers, &payload),
        Operation::Erogatore(service) => {
            crate::erogatore::handle(&sim, service, user, &headers, &payload)
        }
    }
}

/// Applies an injected fault. `None` means "continue normally" (after a delay for `slow`).
async fn inject(fault: &FaultRule, conn: Option<&Connection>) -> Option<Response> {
    match fault.kind {
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(3000))).await;
            None
        }
        FaultKind::Http500 => {
            let mut response = Response::new(Body::from(
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            ));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            Some(response)
        }
        FaultKind::SoapFault => Some(server_fault(
            "Errore interno del servizio: riprovare più tardi",
        )),
        FaultKind::Malformed => Some(xml_response(
            StatusCode::OK,
            true,
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns2:Ricevuta"#.into(),
        )),
        FaultKind::Reset => match conn {
            Some(conn) => {
                conn.kill.notify_one();
                // The server loop drops the connection; this future is dropped with it.
                std::future::pending::<()>().await;
                None
            }
            // Served by someone else's loop: abort the body so the client sees a broken
            // connection rather than an answer.
            None => Some(Response::new(Body::new(BrokenBody))),
        },
    }
}

/// A response body that fails at once, so hyper aborts the connection mid-answer.
struct BrokenBody;

impl hyper::body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated reset",
        ))))
    }
}

async fn index() -> Html<&'static str> {
    Html(
        "<html><body><h1>Simulatore Sistema TS (tsgate)</h1><ul>\
         <li><a href=\"/sim/outbox\">Posta inviata (outbox)</a></li>\
         <li><a href=\"/sim/users\">Utenti di prova</a></li>\
         <li><a href=\"/sim/certificate\">Certificato per cifrare PIN e CF</a></li>\
         <li><a href=\"/sim/stats\">Statistiche</a></li>\
         <li><a href=\"/sim/control\">Impostazioni</a></li></ul></body></html>",
    )
}

async fn users(State(sim): State<Arc<Sim>>) -> Response {
    Json(&sim.users).into_response()
}

async fn certificate(State(sim): State<Arc<Sim>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        sim.keys.certificate_pem().to_owned(),
    )
        .into_response()
}

async fn outbox_json(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.mailer.outbox()).into_response()
}

async fn outbox_html(State(sim): State<Arc<Sim>>) -> Html<String> {
    use sistemats::xml::escape;
    let mut page = String::from(
        "<html><head><meta charset=\"utf-8\"><title>Outbox - simulatore Sistema TS</title></head>\
         <body><h1>Posta inviata dal simulatore</h1>",
    );
    let mails = sim.mailer.outbox();
    if mails.is_empty() {
        page.push_str("<p>Nessuna mail inviata finora.</p>");
    }
    for mail in mails {
        page.push_str(&format!(
            "<hr><p><b>A:</b> {}<br><b>Oggetto:</b> {}<br><b>Inviata:</b> {}</p><pre>{}</pre>",
            escape(&mail.to),
            escape(&mail.subject),
            escape(&mail.sent_at),
            escape(&mail.body_text)
        ));
        for image in &mail.images {
            page.push_str(&format!(
                "<p><img alt=\"ID-SESSIONE\" src=\"data:image/png;base64,{image}\"></p>"
            ));
        }
    }
    page.push_str("</body></html>");
    Html(page)
}

async fn stats(State(sim): State<Arc<Sim>>) -> Response {
    let mut body = serde_json::to_value(lock(&sim.stats).clone()).unwrap_or_default();
    // What is held in memory now, next to the counters, so a soak can show it stays bounded.
    body["prescriptions_stored"] = sim.prescriptions.len().into();
    // The ricette bianche (RBE, class C) beside the SSN ones.
    body["rbe_prescriptions_stored"] = sim.rbe.len().into();
    body["tokens_stored"] = lock(&sim.tokens).len().into();
    Json(body).into_response()
}

/// Body of `POST /sim/control`: any subset of the fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    advance_clock_seconds: Option<i64>,
    fault: Option<FaultRule>,
    enforcement: Option<Enforcement>,
    mail_folder: Option<MailFolder>,
    code_format: Option<CodeFormat>,
    mode: Option<Mode>,
    validity_seconds: Option<u64>,
    clear_faults: Option<bool>,
}

fn current(sim: &Sim) -> Response {
    let settings = sim.settings();
    Json(serde_json::json!({
        "mode": settings.mode,
        "enforcement": settings.enforcement,
        "code_format": settings.code_format,
        "mail_folder": settings.mail_folder,
        "validity_seconds": settings.validity_seconds,
        "clock_offset_seconds": sim.clock.offset_seconds(),
        "now": sistemats::a2f::format_date_time(sim.clock.now()),
        "faults": *lock(&sim.faults),
    }))
    .into_response()
}

async fn control_get(State(sim): State<Arc<Sim>>) -> Response {
    current(&sim)
}

async fn control_post(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let control: Control = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": {"code": "bad_request", "message": format!("richiesta non valida: {e}")}})),
            )
                .into_response();
        }
    };
    if let Some(fault) = &control.fault
        && fault.operation != "*"
        && Operation::from_name(&fault.operation).is_none()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": {"code": "bad_request", "message": format!("operazione sconosciuta: {}", fault.operation)}})),
        )
            .into_response();
    }
    if let Some(seconds) = control.advance_clock_seconds {
        sim.clock.advance(seconds);
    }
    if control.clear_faults == Some(true) {
        lock(&sim.faults).clear();
    }
    if let Some(fault) = control.fault {
        lock(&sim.faults).push(fault);
    }
    {
        let mut settings = lock(&sim.settings);
        if let Some(v) = control.enforcement {
            settings.enforcement = v;
        }
        if let Some(v) = control.mail_folder {
            settings.mail_folder = v;
        }
        if let Some(v) = control.code_format {
            settings.code_format = v;
        }
        if let Some(v) = control.mode {
            settings.mode = v;
        }
        if let Some(v) = control.validity_seconds {
            settings.validity_seconds = v;
        }
    }
    current(&sim)
}
