//! The router and the server loop.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::net::TcpListener;

use crate::api;
use crate::error::{self, ApiError};
use crate::proxy;
use crate::state::AppState;

/// The whole HTTP surface: `/api/v1/…`, `/ts/…`, `/healthz`, `/readyz`, `/metrics`.
///
/// The binary may `merge` the web UI into it. Start it with [`serve`] (or
/// `axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())`).
pub fn router(state: AppState) -> Router {
    let (api, _) = api::api_routes().into_parts();
    let (ops, _) = api::ops_routes().into_parts();
    let api = api
        .layer(middleware::from_fn_with_state(state.clone(), api_timeout))
        .layer(DefaultBodyLimit::max(state.config().limits.api_body_bytes));
    // The proxy applies its own (larger, streaming) limit.
    let proxy = Router::new()
        .route(proxy::ROUTE, any(proxy::handle))
        .layer(DefaultBodyLimit::disable());
    // The web UI: pages, and its session cookie accepted by the API in place of a Bearer.
    let ui = crate::ui::Ui::new(state.config().ui_session_key);
    Router::new()
        .merge(api)
        .merge(ops)
        .merge(proxy)
        .merge(ui.routes())
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(
            ui.layer_state(&state),
            crate::ui::cookie_layer,
        ))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Every route of [`router`] as (method, path template), for documentation checks.
pub fn routes() -> Vec<(Method, &'static str)> {
    let (_, mut routes) = api::api_routes().merge(api::ops_routes()).into_parts();
    routes.push((Method::POST, proxy::ROUTE));
    routes
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then stops accepting,
/// ends the event streams and waits for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let signal_state = state.clone();
    // Responses are streamed (headers, then body frames as Sistema TS sends them): without
    // TCP_NODELAY, Nagle's algorithm holds the later small writes back until the client
    // acknowledges the first ones.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, closing event streams");
        signal_state.begin_shutdown();
    })
    .await
}

async fn api_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The event stream lives as long as the client wants.
    if request.uri().path() == api::EVENTS_PATH {
        return next.run(request).await;
    }
    let limit = Duration::from_secs(state.config().limits.api_timeout_seconds);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// One log line per request, with the route template only: proxy paths carry the
/// workstation token, and no header is ever logged.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        %route,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "http"
    );
    response
}
