//! The shared application state and its construction.

use std::fmt;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use tsgate_session::auto::Autopilot;
use tsgate_session::{MailboxService, SessionManager, Store};

use crate::config::GatewayConfig;
use crate::notices::Notices;
use crate::proxy::client::ProxyClient;
use crate::workstations::{WorkstationCache, WorkstationLimiter};

/// What the gateway serves: the domain, and the store it reads workstations, users and the
/// audit from. The binary wires them (SQLite, PostgreSQL); tests use the domain's
/// in-memory store.
#[derive(Clone)]
pub struct Backends {
    /// The sessions of every user, with their rules (API, event stream, proxy).
    pub sessions: SessionManager,
    /// Users, workstations, the audit, and the database's health.
    pub store: Arc<dyn Store>,
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backends")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

/// Why the gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A setting is wrong; the text is Italian.
    #[error("configurazione non valida: {0}")]
    Config(String),
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: GatewayConfig,
    backends: Backends,
    proxy: ProxyClient,
    api_limiter: WorkstationLimiter,
    proxy_limiter: WorkstationLimiter,
    metrics: PrometheusHandle,
    shutdown: watch::Sender<bool>,
    mailboxes: OnceLock<Arc<dyn MailboxService>>,
    autopilot: OnceLock<Autopilot>,
    notices: Notices,
    workstations: WorkstationCache,
    held_calls: crate::proxy::held::HeldCalls,
    support: OnceLock<crate::support::SharedReport>,
    /// When this state was built: the start of serving, for the support bundle's uptime.
    started_at: time::OffsetDateTime,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .field("backends", &self.backends)
            .field("mailboxes", &self.mailboxes.get().is_some())
            .field("autopilot", &self.autopilot.get().is_some())
            .field("support", &self.support.get().is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state: validates the settings, prepares the upstream client, and uses the
    /// process-wide metrics recorder ([`crate::metrics_handle`]).
    pub fn new(config: GatewayConfig, backends: Backends) -> Result<Self, GatewayError> {
        Self::with_metrics(config, backends, crate::metrics::metrics_handle())
    }

    /// Same as [`AppState::new`] with a given Prometheus handle (when the binary installs
    /// its own recorder).
    pub fn with_metrics(
        config: GatewayConfig,
        backends: Backends,
        metrics: PrometheusHandle,
    ) -> Result<Self, GatewayError> {
        config.validate().map_err(GatewayError::Config)?;
        let proxy = ProxyClient::new(&config).map_err(GatewayError::Config)?;
        let (shutdown, _) = watch::channel(false);
        let config_max_held = config.limits.max_held_calls;
        Ok(Self {
            inner: Arc::new(Inner {
                workstations: WorkstationCache::new(backends.store.clone()),
                api_limiter: WorkstationLimiter::new(config.limits.api_rate),
                proxy_limiter: WorkstationLimiter::new(config.limits.proxy_rate),
                config,
                backends,
                proxy,
                metrics,
                shutdown,
                mailboxes: OnceLock::new(),
                autopilot: OnceLock::new(),
                notices: Notices::new(),
                held_calls: crate::proxy::held::HeldCalls::new(config_max_held),
                support: OnceLock::new(),
                started_at: time::OffsetDateTime::now_utc(),
            }),
        })
    }

    /// Enables `GET`/`PUT /api/v1/users/{user}/mailbox` (answered 501 until set). Can be
    /// called once, at any time; returns `false` if already set.
    pub fn set_mailboxes(&self, mailboxes: Arc<dyn MailboxService>) -> bool {
        self.inner.mailboxes.set(mailboxes).is_ok()
    }

    pub(crate) fn mailboxes(&self) -> Option<&Arc<dyn MailboxService>> {
        self.inner.mailboxes.get()
    }

    /// Enables the working-hours endpoints (`…/practice/hours`, `…/users/{user}/schedule`;
    /// answered 501 until set) with the autopilot that plans automatic requests: it knows
    /// the practice hours of the configuration file, and re-plans a user at once when the
    /// schedule changes. Can be called once; returns `false` if already set.
    pub fn set_autopilot(&self, autopilot: Autopilot) -> bool {
        self.inner.autopilot.set(autopilot).is_ok()
    }

    pub(crate) fn autopilot(&self) -> Option<&Autopilot> {
        self.inner.autopilot.get()
    }

    /// Gives the support bundle (`GET /api/v1/support-bundle`) the configuration and the
    /// checks, which only the binary knows (without it the bundle says they are missing).
    /// Can be called once; returns `false` if already set.
    pub fn set_support(&self, report: crate::support::SharedReport) -> bool {
        self.inner.support.set(report).is_ok()
    }

    pub(crate) fn support(&self) -> Option<&crate::support::SharedReport> {
        self.inner.support.get()
    }

    /// When this gateway started.
    pub(crate) fn started_at(&self) -> time::OffsetDateTime {
        self.inner.started_at
    }

    /// Asks long-lived responses (SSE streams) to end, so that graceful shutdown completes.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// Workstations by token, cached for a few seconds in front of the store.
    pub fn workstations(&self) -> &WorkstationCache {
        &self.inner.workstations
    }

    pub(crate) fn proxy_client(&self) -> &ProxyClient {
        &self.inner.proxy
    }

    pub(crate) fn api_limiter(&self) -> &WorkstationLimiter {
        &self.inner.api_limiter
    }

    pub(crate) fn proxy_limiter(&self) -> &WorkstationLimiter {
        &self.inner.proxy_limiter
    }

    pub(crate) fn held_calls(&self) -> &crate::proxy::held::HeldCalls {
        &self.inner.held_calls
    }

    pub(crate) fn notices(&self) -> &Notices {
        &self.inner.notices
    }

    pub(crate) fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// Resolves when [`AppState::begin_shutdown`] was called.
    pub(crate) fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut rx = self.inner.shutdown.subscribe();
        async move {
            // An error means the sender is gone: the state was dropped, so stop as well.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}
