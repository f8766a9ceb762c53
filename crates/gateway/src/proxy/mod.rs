//! The SOAP proxy: `POST /ts/<workstation-token>/<DEM or RBE path>` (or `/ts/<path>` with
//! `X-Tsgate-Token`) forwarded to Sistema TS with `Authorization2F: Bearer <code>` added;
//! each path goes to its own host ([`services::Upstream`]).
//!
//! The request body streams up and the answer streams down; the answer is scanned on the fly
//! for ErroreRicetta 9101 (see [`scan`]). Every refusal is a SOAP 1.1 Fault with an Italian
//! `faultstring`, because practice software shows the faultstring and nothing else.
//! Nothing here logs a header: the Basic header carries the doctor's password.

pub(crate) mod client;
mod fault;
pub(crate) mod held;
pub mod scan;
pub mod services;
mod session;

use std::future::Future as _;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::Limited;
use zeroize::Zeroize as _;

use crate::auth::{self, AuthFailure};
use crate::metrics::ProxyCallMetrics;
use sistemats::SessionCode;
use tsgate_session::UserId;

use crate::state::AppState;
use fault::{ProxyRefusal, refusal};
use scan::ScanBody;
use services::DemService;
use session::ProxyOutcome;
use tsgate_session::Caller;

/// Header carrying the workstation token when it cannot be in the path.
pub const TOKEN_HEADER: &str = "x-tsgate-token";
/// Header naming the Sistema TS user when the Basic header is absent.
pub const USER_HEADER: &str = "x-tsgate-user";
/// The second-factor header of Sistema TS.
pub const AUTHORIZATION_2F: &str = "authorization2f";

/// Route of the proxy in the router.
pub(crate) const ROUTE: &str = "/ts/{*path}";

/// The 403 Fault for a call without a workstation token.
pub(crate) fn no_workstation_fault() -> Response {
    refusal::no_workstation().into_response()
}

/// Handles one proxied call. The latency metric covers the time to the answer's headers
/// (the body then streams at the workstation's pace).
pub(crate) async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    match forward(&state, parts, body).await {
        Ok((response, service)) => {
            ProxyCallMetrics::of(service).answered(response.status(), started.elapsed());
            response
        }
        Err(refused) => {
            metrics::counter!("tsgate_proxy_refused_total", "reason" => refused.reason)
                .increment(1);
            tracing::info!(
                reason = refused.reason,
                status = refused.status.as_u16(),
                "proxy call refused"
            );
            refused.into_response()
        }
    }
}

async fn forward(
    state: &AppState,
    mut parts: http::request::Parts,
    body: Body,
) -> Result<(Response, &'static DemService), ProxyRefusal> {
    if parts.method != Method::POST {
        return Err(refusal::method());
    }
    let rest = parts
        .uri
        .path()
        .strip_prefix("/ts/")
        .ok_or_else(refusal::no_workstation)?;
    let header_token = parts
        .headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let (token, service_path) = match header_token {
        Some(t) => (t, &parts.uri.path()[3..]),
        None => match rest.split_once('/') {
            Some((t, _)) if !t.is_empty() => (t, &rest[t.len()..]),
            _ => return Err(refusal::no_workstation()),
        },
    };

    let remote = auth::remote_ip_of(&parts.extensions);
    let actor = auth::authenticate(state, token, remote, state.proxy_limiter())
        .await
        .map_err(|f| match f {
            AuthFailure::Invalid => refusal::no_workstation(),
            AuthFailure::RateLimited(secs) => refusal::rate_limited(secs),
            AuthFailure::Backend(cause) => {
                tracing::error!(cause = %sistemats::error::describe_chain(&cause), "workstation lookup failed");
                refusal::internal()
            }
        })?;

    let service = services::find(service_path).ok_or_else(refusal::unknown_path)?;
    let user = sistema_ts_user(&parts.headers)?;
    let user = match UserId::new(user.as_str()) {
        Ok(id) => match actor
            .workstation
            .acts_for(&id, state.backends().store.as_ref())
            .await
        {
            Ok(true) => id,
            Ok(false) => return Err(refusal::not_allowed(&user)),
            Err(cause) => {
                tracing::error!(cause = %sistemats::error::describe_chain(&cause), "membership lookup failed");
                return Err(refusal::internal());
            }
        },
        Err(_) => return Err(refusal::not_allowed(&user)),
    };
    let limit = state.config().limits.proxy_body_bytes;
    if content_length(&parts.headers).is_some_and(|len| len > limit as u64) {
        return Err(refusal::too_large(limit));
    }
    if !is_soap_request(&parts.headers) {
        return Err(refusal::not_soap());
    }

    let sessions = &state.backends().sessions;
    let code = match session::code_for_proxy(sessions, &user).await {
        Ok(code) => code,
        // No usable code: hold the call while an automatic request brings one, if it can.
        // The body stays unread meanwhile (its timer runs only while the gateway reads).
        Err(None) if state.config().limits.proxy_hold_seconds > 0 => {
            let Some(_held) = state.held_calls().enter() else {
                return Err(refusal::too_many_held(state.config().limits.max_held_calls));
            };
            let hold = Duration::from_secs(state.config().limits.proxy_hold_seconds);
            let started = Instant::now();
            let result = session::obtain_for_proxy(sessions, &user, hold).await;
            metrics::histogram!("tsgate_proxy_hold_seconds", "outcome" => if result.is_ok() { "code" } else { "none" })
                .record(started.elapsed().as_secs_f64());
            result.map_err(|message_it| {
                state.notices().proxy_refused(&user, &actor);
                refusal::no_code(user.as_str(), message_it)
            })?
        }
        Err(message_it) => {
            state.notices().proxy_refused(&user, &actor);
            return Err(refusal::no_code(user.as_str(), message_it));
        }
    };

    let uri = state
        .proxy_client()
        .uri(service.upstream, service.path, parts.uri.query())
        .map_err(|_| refusal::unknown_path())?;
    let mut upstream = http::Request::builder()
        .method(Method::POST)
        .uri(uri)
        .body(Body::new(Limited::new(body, limit)))
        .map_err(|_| refusal::internal())?;
    // The incoming headers are not needed any more: moved, not copied.
    copy_request_headers(std::mem::take(&mut parts.headers), upstream.headers_mut());
    let mut bearer = HeaderValue::try_from(format!("Bearer {}", code.expose_secret()))
        .map_err(|_| refusal::no_code(user.as_str(), None))?;
    bearer.set_sensitive(true);
    upstream
        .headers_mut()
        .insert(HeaderName::from_static(AUTHORIZATION_2F), bearer);

    // Sistema TS failed this call (no answer, or none that can be read): the domain hears
    // of it, without delaying the fault.
    let upstream_failed = || {
        report(
            state,
            user.clone(),
            code.clone(),
            actor.clone(),
            ProxyOutcome::UpstreamFailure,
        );
    };
    let timeout = Duration::from_secs(state.config().limits.proxy_upstream_timeout_seconds);
    let sent = tokio::time::timeout(timeout, state.proxy_client().client().request(upstream)).await;
    let answer = match sent {
        Ok(Ok(answer)) => answer,
        // The workstation's own body was too slow: Sistema TS is not at fault.
        Ok(Err(e)) if crate::conn::is_body_timeout(&e) => return Err(refusal::body_timeout()),
        Ok(Err(e)) => {
            let detail = sistemats::error::describe_chain(&e);
            tracing::warn!(service = service.name, %user, %detail, "Sistema TS unreachable");
            upstream_failed();
            // A connect failure means nothing reached Sistema TS; otherwise we cannot know.
            return Err(if e.is_connect() {
                refusal::upstream_down()
            } else {
                refusal::upstream_broken()
            });
        }
        Err(_) => {
            tracing::warn!(service = service.name, %user, "Sistema TS timed out");
            upstream_failed();
            return Err(refusal::upstream_timeout());
        }
    };

    let (mut answer_parts, answer_body) = answer.into_parts();
    strip_hop_by_hop(&mut answer_parts.headers);
    let status = answer_parts.status;
    tracing::debug!(service = service.name, %user, workstation = %actor.workstation.id, status = status.as_u16(), "proxied");

    let body = if status == StatusCode::UNAUTHORIZED {
        report(
            state,
            user.clone(),
            code.clone(),
            actor.clone(),
            ProxyOutcome::Unauthorized,
        );
        Body::new(answer_body)
    } else if !is_xml(&answer_parts.headers) {
        // An HTML error page (a 500 of a front-end, a portal) is no answer the practice
        // software can read: say in Italian what happened instead of passing it on.
        upstream_failed();
        tracing::warn!(service = service.name, %user, status = status.as_u16(), "Sistema TS answered without SOAP");
        return Err(refusal::upstream_not_soap(status));
    } else {
        // Small answers (receipts) are read whole and checked to be a SOAP envelope before
        // anything reaches the workstation; large ones (long listings) stream from the first
        // bytes, scanned on the way.
        let mut answer_body = Body::new(answer_body);
        let head = match tokio::time::timeout(timeout, peek(&mut answer_body)).await {
            Ok(Ok(head)) => head,
            Ok(Err(_)) | Err(_) => {
                upstream_failed();
                tracing::warn!(service = service.name, %user, "Sistema TS answer broken off");
                return Err(refusal::upstream_broken());
            }
        };
        if let Peeked::Whole(bytes) = &head
            && !sistemats::soap::is_envelope(bytes)
        {
            upstream_failed();
            tracing::warn!(
                service = service.name,
                status = status.as_u16(),
                bytes = bytes.len(),
                "Sistema TS answer is not a well-formed SOAP envelope"
            );
            return Err(refusal::upstream_malformed());
        }
        let (state2, name) = (state.clone(), service.name);
        let on_end: scan::ScanDone = Box::new(move |found| {
            let outcome = if found {
                metrics::counter!("tsgate_proxy_9101_total", "service" => name).increment(1);
                tracing::warn!(service = name, %user, "receipt carries 9101: ID-SESSIONE missing or not valid");
                ProxyOutcome::Dem9101
            } else {
                ProxyOutcome::Ok
            };
            report(&state2, user, code, actor, outcome);
        });
        match head {
            Peeked::Whole(bytes) => Body::new(ScanBody::new(Body::from(bytes), on_end)),
            Peeked::Head(head) => {
                let rest = futures::StreamExt::chain(
                    futures::stream::once(async move { Ok::<_, axum::Error>(head) }),
                    answer_body.into_data_stream(),
                );
                Body::new(ScanBody::new(Body::from_stream(rest), on_end))
            }
        }
    };
    Ok((Response::from_parts(answer_parts, body), service))
}

/// Answers up to this size are read whole before the workstation gets anything.
const PEEK_BYTES: usize = 64 * 1024;

/// The start of an answer body.
enum Peeked {
    /// The whole body (it ended within [`PEEK_BYTES`]).
    Whole(bytes::Bytes),
    /// The first bytes of a longer body; the rest is still to be read.
    Head(bytes::Bytes),
}

/// Reads `body` until it ends or passes [`PEEK_BYTES`].
async fn peek(body: &mut Body) -> Result<Peeked, axum::Error> {
    use http_body::Body as _;
    use http_body_util::BodyExt as _;
    let mut head = bytes::BytesMut::new();
    loop {
        if body.is_end_stream() {
            return Ok(Peeked::Whole(head.freeze()));
        }
        match body.frame().await {
            None => return Ok(Peeked::Whole(head.freeze())),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if head.is_empty() && body.is_end_stream() {
                        // One frame, the whole body: no copy.
                        return Ok(Peeked::Whole(data));
                    }
                    head.extend_from_slice(&data);
                }
            }
        }
        if head.len() > PEEK_BYTES {
            return Ok(Peeked::Head(head.freeze()));
        }
    }
}

/// Tells the session layer, without delaying the answer.
fn report(
    state: &AppState,
    user: UserId,
    code: SessionCode,
    caller: Caller,
    outcome: ProxyOutcome,
) {
    let state = state.clone();
    let mut report = Box::pin(async move {
        session::report(&state.backends().sessions, &user, &code, &caller, outcome).await;
    });
    // The usual success is only counted in memory and completes at once: poll it here and
    // spawn a task (a thread wake-up per call) only when it has to wait for the store.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if report.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(report);
    }
}

/// The Sistema TS user of a call: the user part of `Authorization: Basic` and/or
/// `X-Tsgate-User`. When both are there they must name the same user: otherwise the call
/// would go out with one doctor's credentials and another doctor's code (refused, 403).
fn sistema_ts_user(headers: &HeaderMap) -> Result<String, ProxyRefusal> {
    let named = headers
        .get(USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|u| !u.is_empty());
    match (named, basic_user(headers)) {
        (Some(named), Some(basic)) if named != basic => {
            tracing::warn!(header = %named, basic = %basic, "proxied call names two different users: refused");
            Err(refusal::two_users(named, &basic))
        }
        (Some(named), _) => Ok(named.to_owned()),
        (None, Some(basic)) => Ok(basic),
        (None, None) => Err(refusal::no_user()),
    }
}

/// The user part of `Authorization: Basic`. Only the user part is kept; the decoded buffer
/// holding the password is wiped.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let user = decoded
        .iter()
        .position(|&b| b == b':')
        .and_then(|i| std::str::from_utf8(&decoded[..i]).ok())
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    decoded.zeroize();
    user
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// SOAP 1.1 is `text/xml`; SOAP 1.2 `application/soap+xml`. Anything else (JSON, a form,
/// no type at all) is not a call Sistema TS can take.
fn is_soap_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase())
        .is_some_and(|mime| mime == "text/xml" || mime == "application/soap+xml")
}

fn is_xml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("xml"))
}

/// Headers never forwarded: hop-by-hop ones (RFC 9110 §7.6.1), and those tsgate owns.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

fn copy_request_headers(mut headers: HeaderMap, to: &mut HeaderMap) {
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    // The code is tsgate's to add: a stale or foreign one from the workstation must not pass.
    headers.remove(AUTHORIZATION_2F);
    headers.remove(TOKEN_HEADER);
    headers.remove(USER_HEADER);
    // An encoded answer could not be scanned for 9101: ask for identity.
    headers.remove(header::ACCEPT_ENCODING);
    if let Some(auth) = headers.get_mut(header::AUTHORIZATION) {
        auth.set_sensitive(true);
    }
    *to = headers;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_from_basic_or_header() {
        let mut h = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD
            .encode("PROVAX00X00X000Y:Salve123:with:colons");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        let user = |h: &HeaderMap| sistema_ts_user(h).map_err(|r| r.reason);
        assert_eq!(user(&h).as_deref(), Ok("PROVAX00X00X000Y"));
        // The same user twice is fine; two different users are refused.
        h.insert(USER_HEADER, "PROVAX00X00X000Y".parse().unwrap());
        assert_eq!(user(&h).as_deref(), Ok("PROVAX00X00X000Y"));
        h.insert(USER_HEADER, "OTHER".parse().unwrap());
        assert_eq!(user(&h), Err("two_users"));
        let mut h = HeaderMap::new();
        h.insert(USER_HEADER, "OTHER".parse().unwrap());
        assert_eq!(user(&h).as_deref(), Ok("OTHER"));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Basic !!notbase64".parse().unwrap());
        assert_eq!(user(&h), Err("no_user"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(user(&h), Err("no_user"));
    }

    #[test]
    fn forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            "keep-alive, x-custom-hop".parse().unwrap(),
        );
        h.insert("x-custom-hop", "1".parse().unwrap());
        h.insert(AUTHORIZATION_2F, "Bearer stale".parse().unwrap());
        h.insert(TOKEN_HEADER, "tsg_x".parse().unwrap());
        h.insert(header::HOST, "tsgate.local".parse().unwrap());
        h.insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
        h.insert("soapaction", "\"x\"".parse().unwrap());
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        let mut out = HeaderMap::new();
        copy_request_headers(h, &mut out);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(out["soapaction"], "\"x\"");
        assert!(out[header::AUTHORIZATION].is_sensitive());
    }
}
