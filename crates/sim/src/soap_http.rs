//! HTTP-level pieces shared by the SOAP endpoints: front-end headers, faults, Basic auth.

// The `Err` side is the ready-to-send refusal; these run once per request, so the size of
// `Response` in a `Result` is irrelevant.
#![allow(clippy::result_large_err)]

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use rand::Rng as _;
use sistemats::soap::Fault;

use crate::state::Sim;
use crate::users::TestUser;

/// A response with the headers of the Sistema TS front-end (`X-Backside-Transport`,
/// `X-Global-Transaction-ID`, `Content-Type: text/xml`).
pub fn xml_response(status: StatusCode, backside_ok: bool, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    headers.insert(
        "X-Backside-Transport",
        HeaderValue::from_static(if backside_ok { "OK OK" } else { "FAIL FAIL" }),
    );
    let id: u64 = rand::rng().random_range(100_000_000..999_999_999);
    if let Ok(value) = HeaderValue::from_str(&format!("{id:x}")) {
        headers.insert("X-Global-Transaction-ID", value);
    }
    response
}

/// HTTP 500 with a SOAP Fault `soapenv:Client`.
pub fn client_fault(reason: impl Into<String>) -> Response {
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        false,
        Fault::client(reason).to_envelope(),
    )
}

/// HTTP 500 with a SOAP Fault `soapenv:Server`.
pub fn server_fault(reason: impl Into<String>) -> Response {
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        false,
        Fault::server(reason).to_envelope(),
    )
}

fn rejected_by_policy() -> Response {
    let mut response = xml_response(
        StatusCode::UNAUTHORIZED,
        false,
        Fault::client("Rejected by policy. (from client)").to_envelope(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=login"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Checks the pre-emptive Basic header like the front-end: missing or wrong password →
/// 401 "Rejected by policy"; unknown user → 500 "Errore generico di autenticazione".
pub fn authenticate<'a>(sim: &'a Sim, headers: &HeaderMap) -> Result<&'a TestUser, Response> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(rejected_by_policy());
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(rejected_by_policy());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user_id, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Err(rejected_by_policy());
    };
    let Some(user) = sim.user(user_id) else {
        let mut response = client_fault("Errore generico di autenticazione");
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Err(response);
    };
    if user.password != password {
        return Err(rejected_by_policy());
    }
    Ok(user)
}

/// Checks the `SOAPAction` header: present, quoted, equal to the operation's action.
pub fn check_soap_action(headers: &HeaderMap, expected: &str) -> Result<(), Response> {
    let value = headers
        .get("SOAPAction")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let ok = value
        .and_then(|v| v.strip_prefix('"'))
        .and_then(|v| v.strip_suffix('"'))
        .is_some_and(|v| v == expected);
    if ok {
        Ok(())
    } else {
        Err(client_fault(format!(
            "SOAPAction mancante o non valida: atteso \"{expected}\""
        )))
    }
}
