//! `/healthz`, `/readyz`, `/metrics`, `/api/v1/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The hand-written OpenAPI 3.0 document of the API.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(cause) = state.config().validate() {
        return ApiError::internal(format!("configuration: {cause}")).into_response();
    }
    match state.backends().store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(e) => {
            let mut r = ApiError::Store(e).into_response();
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    }
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let handle = state.metrics();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}
