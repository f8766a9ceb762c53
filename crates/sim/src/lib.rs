//! # tsgate-sim — a local Sistema TS
//!
//! A simulator of the two Sistema TS services a prescribing doctor's software talks to:
//! the **A2F** service that issues, checks and revokes the ID-SESSIONE (second factor), and
//! the **SAC DEM** prescriber services (InvioPrescritto, VisualizzaPrescritto,
//! AnnullaPrescritto, InterrogaNreUtilizzati, DichiarazioneSostituzioneMedico), and the SAC
//! DEM **dispenser** services a pharmacy uses on the same prescriptions (VisualizzaErogato
//! with presa in carico, InvioErogato, SospendiErogato, AnnullaErogato).
//!
//! It uses the same paths, SOAPActions and namespaces as the real services, validates every
//! request against the official XSDs (answering `cvc-…` faults like production), checks HTTP
//! Basic, the RSA-encrypted PIN and the `Authorization2F` header, mails the ID-SESSIONE to an
//! outbox / Maildir / SMTP server, and reproduces the serialization quirks of the real
//! receipts. Helper endpoints under `/sim/` expose test users, the certificate, the outbox,
//! counters, and a control endpoint to move the clock and inject faults.
//!
//! `PROTOCOL §n` in the comments is a section of `docs/PROTOCOL.md` in the repository, the
//! description of the real services this simulator follows; `docs/SIMULATOR.md` is its guide.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = tsgate_sim::start(tsgate_sim::SimConfig::default()).await?;
//! println!("Sistema TS simulator at {}", sim.base_url);
//! sim.stop().await?;
//! # Ok(()) }
//! ```

pub mod a2f;
pub mod clock;
pub mod config;
pub mod dem;
pub mod erogatore;
pub mod keys;
pub mod mail;
pub mod ops;
pub mod pdf;
pub mod rbe;
pub mod routes;
pub mod sample;
pub mod schema;
mod soap_http;
pub mod state;
pub mod sync;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

pub use config::{CodeFormat, Enforcement, MailFolder, Mode, SimConfig};
pub use routes::router;
pub use state::Sim;
pub use users::{Role, TestUser};

/// A simulator running in the background (in-process, e.g. on port 0 for tests).
#[derive(Debug)]
pub struct RunningSim {
    /// Address it listens on.
    pub addr: SocketAddr,
    /// `http://<addr>` — the base URL to configure as Sistema TS endpoint.
    pub base_url: String,
    /// Shared state (users, keys, clock, stores), for in-process inspection.
    pub sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.context("simulator task failed")?;
        }
        Ok(())
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Builds the state (generating or loading the key pair) and starts serving in a background
/// task. Returns once the socket is bound.
pub async fn start(config: SimConfig) -> anyhow::Result<RunningSim> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let sim = tokio::task::spawn_blocking(move || -> anyhow::Result<Sim> {
        // Fail at start, not at the first request, if an embedded schema does not compile.
        schema::warm_up().map_err(|e| anyhow::anyhow!("XSD compilation failed: {e}"))?;
        Sim::new(&config)
    })
    .await??;
    let sim = Arc::new(sim);
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, router(sim.clone()), rx));
    Ok(RunningSim {
        addr,
        base_url: format!("http://{addr}"),
        sim,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Runs the simulator until `shutdown` completes.
pub async fn serve(
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let running = start(config).await?;
    tracing::info!(url = %running.base_url, "Sistema TS simulator listening");
    shutdown.await;
    running.stop().await
}

async fn accept_loop(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Typically EMFILE under load: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(serve_connection(stream, peer, router.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

/// Serves one keep-alive connection; a `reset` fault drops it without answering.
async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router) {
    let kill = Arc::new(Notify::new());
    let connection = routes::Connection {
        peer,
        kill: kill.clone(),
    };
    let service =
        hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(connection.clone());
            let router = router.clone();
            async move { router.oneshot(request.map(Body::new)).await }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}
