//! One HTTP connection from accept to close, with the limits that keep a client that
//! sends nothing, or almost nothing, from holding a connection (and a file descriptor)
//! for ever:
//!
//! - **headers** must arrive within `header_read_timeout` (HTTP/1.1: hyper's own timer,
//!   which also runs while a kept-alive connection waits for its next request);
//! - **request bodies** must arrive within `body_timeout` and at `body_min_bytes_per_second`
//!   after a grace period ([`body::TimedBody`]);
//! - a connection with **no request in progress** is closed after `idle_timeout` (both
//!   HTTP/1.1 and HTTP/2; an answer still streaming, such as the event stream, is a request
//!   in progress);
//! - connections are **capped** per peer address and in all ([`admission`]).
//!
//! Answers are never timed here: the event stream lives as long as the client wants.

pub(crate) mod admission;
pub(crate) mod body;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt as _;

pub(crate) use admission::{AcceptBackoff, AfterAcceptError, ConnectionGuard, ConnectionLimiter};
pub(crate) use body::{BodyLimits, TimedBody, is_body_timeout};

/// The per-connection limits (from `Limits::connections`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) body: BodyLimits,
}

/// What the server tells its connections, and how it knows they are all gone.
#[derive(Debug, Clone)]
pub(crate) struct Drain {
    /// Changes (or closes) when the server shuts down.
    pub(crate) shutdown: watch::Receiver<()>,
    /// Held by each connection until it ends.
    pub(crate) _alive: watch::Receiver<()>,
}

/// Requests in progress on one connection, and since when none is.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    in_progress: AtomicUsize,
    /// Milliseconds after `opened` when the last request in progress ended.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> InProgress {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        InProgress(self.clone())
    }

    /// When the connection went idle, or `None` while a request is in progress.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        Some(self.opened + Duration::from_millis(ms))
    }
}

/// A request in progress: from its head to the end (or drop) of its answer.
#[derive(Debug)]
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let activity = &self.0;
        let ms = activity.opened.elapsed().as_millis() as u64;
        activity.idle_since_ms.store(ms, Ordering::Release);
        activity.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer body that keeps its request counted as in progress until it is done.
#[derive(Debug)]
pub(crate) struct AnswerBody {
    inner: axum::body::Body,
    _in_progress: InProgress,
}

impl HttpBody for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The hyper connection builder for `limits` (HTTP/1.1 and HTTP/2, the latter by ALPN
/// or prior knowledge).
pub(crate) fn builder(limits: &ConnLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Serves `app` on `io` until the client leaves, the connection stays idle too long, or
/// the server drains. `peer` reaches handlers as `ConnectInfo<P>`.
pub(crate) async fn serve_connection<I, P>(
    io: I,
    peer: P,
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    limits: ConnLimits,
    mut drain: Drain,
    _guard: ConnectionGuard,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    P: Clone + Send + Sync + 'static,
{
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        in_progress: AtomicUsize::new(0),
        idle_since_ms: AtomicU64::new(0),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let in_progress = activity.begin();
            let mut request = request.map(|body| TimedBody::new(body, limits.body));
            request.extensions_mut().insert(ConnectInfo(peer.clone()));
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await?;
                Ok::<_, Infallible>(response.map(|inner| AnswerBody {
                    inner,
                    _in_progress: in_progress,
                }))
            }
        })
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let idle = idle_watch(&activity, limits.idle_timeout);
    tokio::pin!(idle);
    // After an idle close has begun, a peer that does not let go within another idle
    // period is dropped.
    let mut closing_idle: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = drain.shutdown.changed(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = &mut idle, if closing_idle.is_none() && !draining => {
                tracing::trace!("idle connection closed");
                connection.as_mut().graceful_shutdown();
                closing_idle = Some(Box::pin(tokio::time::sleep(limits.idle_timeout)));
            }
            () = async { closing_idle.as_mut().expect("guarded").await }, if closing_idle.is_some() => {
                return;
            }
        }
    }
}

/// Resolves once the connection has had no request in progress for `idle`.
async fn idle_watch(activity: &Activity, idle: Duration) {
    loop {
        match activity.idle_since() {
            Some(since) if since + idle <= Instant::now() => return,
            Some(since) => tokio::time::sleep_until(since + idle).await,
            None => tokio::time::sleep(idle).await,
        }
    }
}
