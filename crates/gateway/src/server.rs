//! The router and the server loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api;
use crate::conn::{self, AcceptBackoff, AfterAcceptError, ConnLimits, ConnectionLimiter, Drain};
use crate::error::{self, ApiError};
use crate::proxy;
use crate::state::AppState;

/// The whole HTTP surface: `/api/v1/…`, `/ts/…`, `/healthz`, `/readyz`, `/metrics`.
///
/// The binary may `merge` the web UI into it. Start it with [`serve`] (or
/// `axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())`,
/// without the connection limits of `[limits]`).
pub fn router(state: AppState) -> Router {
    let (api, _) = api::api_routes().into_parts();
    let (ops, _) = api::ops_routes().into_parts();
    let api = api
        .layer(middleware::from_fn_with_state(state.clone(), api_timeout))
        .layer(DefaultBodyLimit::max(state.config().limits.api_body_bytes));
    // The web UI: pages, and its session cookie accepted by the API in place of a Bearer.
    let ui = crate::ui::Ui::new(state.config().ui_session_key);
    let rest = Router::new()
        .merge(api)
        .merge(ops)
        .merge(ui.routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            ui.layer_state(&state),
            crate::ui::cookie_layer,
        ))
        .layer(middleware::from_fn(log_request));
    // The proxy is the hot path: it is merged after the layers above, which it does not
    // need (no cookie, and it logs and measures each call itself), and applies its own
    // (larger, streaming) body limit.
    Router::new()
        .route(proxy::ROUTE, any(proxy::handle))
        .layer(DefaultBodyLimit::disable())
        .merge(rest)
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
///
/// With [`crate::GatewayConfig::http_workers`] = N > 0, N threads each run a
/// single-threaded runtime that accepts on its own copy of the listening socket and serves
/// its connections to the end, with its own upstream pool: a proxied call then never
/// changes thread (no cross-thread wake-ups, which cost a third of the CPU of a call on
/// the multi-threaded runtime), and an idle thread takes the next connection. Tasks a
/// request spawns run on its worker's runtime. With 0, everything runs on the caller's
/// runtime.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let tls = match &state.config().tls {
        Some(settings) => Some(settings.server_config().map_err(std::io::Error::other)?),
        None => None,
    };
    let server = ServerLimits::new(&state.config().limits);
    let workers = state.config().http_workers;
    if workers == 0 {
        let signal_state = state.clone();
        return serve_on(listener, tls, app, server, async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, closing event streams");
            signal_state.begin_shutdown();
        })
        .await;
    }

    let (stop, stopped) = watch::channel(false);
    let socket = listener.into_std()?;
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let socket = socket.try_clone()?;
        let (app, tls, server, mut stopped) =
            (app.clone(), tls.clone(), server.clone(), stopped.clone());
        let (done, finished_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("tsgate-http-{index}"))
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move {
                            let listener = TcpListener::from_std(socket)?;
                            serve_on(listener, tls, app, server, async move {
                                let _ = stopped.wait_for(|stop| *stop).await;
                            })
                            .await
                        })
                    });
                let _ = done.send(served);
            })?;
        finished.push(finished_rx);
    }
    drop(socket);

    // Until the signal, or until a worker stops by itself (an error: say which).
    let mut early = futures::future::select_all(finished.iter_mut());
    let early_end = tokio::select! {
        () = shutdown => None,
        (result, index, _) = &mut early => Some((result, index)),
    };
    drop(early);
    tracing::info!("shutting down: no new connections, closing event streams");
    state.begin_shutdown();
    stop.send_replace(true);
    let mut outcome = Ok(());
    if let Some((result, index)) = early_end {
        finished.remove(index);
        outcome = worker_outcome(result);
    }
    for rx in finished {
        let result = worker_outcome(rx.await);
        if outcome.is_ok() {
            outcome = result;
        }
    }
    outcome
}

fn worker_outcome(
    result: Result<std::io::Result<()>, tokio::sync::oneshot::error::RecvError>,
) -> std::io::Result<()> {
    // A dropped sender means the worker thread panicked.
    result.unwrap_or_else(|_| Err(std::io::Error::other("an HTTP worker thread panicked")))
}

/// Serves `app` on `listener` (HTTPS if `tls`) with TCP_NODELAY and the connection limits
/// of [`crate::conn`] until `signal`, then drains the connections.
async fn serve_on(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    server: Arc<ServerLimits>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (shutdown_tx, shutdown) = watch::channel(());
    let (alive_tx, alive) = watch::channel(());
    let drain = Drain {
        shutdown,
        _alive: alive,
    };
    let builder = conn::builder(&server.conn);
    let mut signal = std::pin::pin!(signal);
    if let Some(config) = tls {
        let mut listener = crate::tls::TlsListener::new(
            listener,
            config,
            server.limiter.clone(),
            server.conn.header_read_timeout,
        );
        loop {
            let (tls, remote, guard) = tokio::select! {
                () = signal.as_mut() => break,
                accepted = listener.accept() => accepted,
            };
            tokio::spawn(conn::serve_connection(
                tls,
                crate::tls::RemoteAddr(remote),
                app.clone(),
                builder.clone(),
                server.conn,
                drain.clone(),
                guard,
            ));
        }
    } else {
        let mut backoff = AcceptBackoff::default();
        loop {
            let accepted = tokio::select! {
                () = signal.as_mut() => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, remote) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if let AfterAcceptError::Wait(delay) =
                        backoff.failed(&e, std::time::Instant::now())
                    {
                        tokio::select! {
                            () = signal.as_mut() => break,
                            () = tokio::time::sleep(delay) => {}
                        }
                    }
                    continue;
                }
            };
            backoff.accepted();
            // Over the caps: closed at once (counted and logged by the limiter).
            let Ok(guard) = server.limiter.admit(remote.ip()) else {
                continue;
            };
            // Responses are streamed (headers, then body frames as Sistema TS sends them):
            // without TCP_NODELAY, Nagle's algorithm holds the later small writes back until
            // the client acknowledges the first ones.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            tokio::spawn(conn::serve_connection(
                tcp,
                remote,
                app.clone(),
                builder.clone(),
                server.conn,
                drain.clone(),
                guard,
            ));
        }
    }
    // No new connections; the open ones finish their requests and close.
    drop(shutdown_tx);
    drop(drain);
    alive_tx.closed().await;
    Ok(())
}

/// The limits shared by every accept loop of one server (all HTTP workers).
#[derive(Debug)]
struct ServerLimits {
    conn: ConnLimits,
    limiter: Arc<ConnectionLimiter>,
}

impl ServerLimits {
    fn new(limits: &crate::config::Limits) -> Arc<Self> {
        Arc::new(Self {
            conn: limits.connections(),
            limiter: ConnectionLimiter::new(limits.max_connections_per_ip, limits.max_connections),
        })
    }
}

async fn api_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The event stream lives as long as the client wants.
    if request.uri().path() == api::EVENTS_PATH {
        return next.run(request).await;
    }
    // A body too slow to arrive fails the extractor that reads it; the client is told 408,
    // not that its JSON is wrong.
    let slow_body = Arc::new(AtomicBool::new(false));
    let request = if request.body().is_end_stream() {
        request
    } else {
        let seen = slow_body.clone();
        request.map(|body| {
            Body::new(body.map_err(move |e| {
                if conn::is_body_timeout(&e) {
                    seen.store(true, Ordering::Relaxed);
                }
                e
            }))
        })
    };
    let limit = if request.uri().path() == api::import::IMPORT_PATH {
        api::import::IMPORT_TIMEOUT
    } else {
        Duration::from_secs(state.config().limits.api_timeout_seconds)
    };
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    };
    if slow_body.load(Ordering::Relaxed) {
        return body_timeout_response();
    }
    response
}

/// 408 in the API's error shape (`{"error": {"code", "message"}}`); the connection closes.
fn body_timeout_response() -> Response {
    let body = serde_json::json!({
        "error": {
            "code": "body_timeout",
            "message": "la richiesta è arrivata troppo lentamente ed è stata interrotta. Riprova.",
        }
    });
    let mut response = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// One log line per request, with the route template only: proxy paths carry the
/// workstation token, and no header is ever logged. A failed request's cause chain
/// ([`error::CauseChain`], attached by [`ApiError`]) is logged here, once, with its route.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let response = next.run(request).await;
    let status = response.status();
    if let Some(cause) = response.extensions().get::<error::CauseChain>() {
        if status.is_server_error() {
            tracing::error!(%method, %route, status = status.as_u16(), code = cause.code, cause = %cause.chain, "request failed");
        } else {
            tracing::warn!(%method, %route, status = status.as_u16(), code = cause.code, cause = %cause.chain, "request refused");
        }
    }
    tracing::debug!(
        %method,
        %route,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "http"
    );
    response
}

/// Fallback for unknown paths: JSON 404 instead of an empty body, except under `/ts`
/// where a proxy client without a token in the path gets the proxy's SOAP Fault (403).
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let path = uri.path();
    if path == "/ts" || path.starts_with("/ts/") {
        return crate::proxy::no_workstation_fault();
    }
    ApiError::NotFound.into_response()
}
