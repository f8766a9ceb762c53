//! Constants, `spawn_app()` and small helpers shared by the test modules.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tsgate_gateway::{AppState, Backends, GatewayConfig, Role};
use tsgate_session::UserId;

pub use crate::fakes::*;
pub use crate::upstream::*;

pub const U1: &str = "PROVAX00X00X000Y";
pub const U2: &str = "PROVAX00X00X000Z";
pub const CODE_U1: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
pub const CODE_U2: &str = "22222222-2cfc-4903-8cfc-609a7e232920";
pub const PASSWORD: &str = "Salve123PlantedPwd";

pub fn uid(u: &str) -> UserId {
    UserId::new(u).unwrap()
}

// ---------------------------------------------------------------- the app

pub struct Tokens {
    pub admin: String,
    pub doctor: String,
    pub staff: String,
    /// A doctor's workstation for U2 only.
    pub other: String,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub sessions: Arc<FakeSessions>,
    pub audit: Arc<FakeAudit>,
    pub upstream: Arc<Upstream>,
    pub tokens: Tokens,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn proxy_url(&self, token: &str, path: &str) -> String {
        format!("{}/ts/{token}{path}", self.base)
    }

    /// Starts graceful shutdown and returns the server task.
    pub fn shutdown(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        self.shutdown.take().unwrap().send(()).ok();
        self.server.take().unwrap()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut GatewayConfig)) -> TestApp {
    spawn_app_with_mailboxes(tweak, true).await
}

pub async fn spawn_app_with_mailboxes(
    tweak: impl FnOnce(&mut GatewayConfig),
    mailboxes: bool,
) -> TestApp {
    // reqwest is built without a provider in this workspace (ring everywhere).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (upstream_base, upstream) = spawn_upstream().await;
    let directory = Arc::new(FakeDirectory::default());
    let tokens = Tokens {
        admin: directory.add("admin", Role::Admin, &[U1]),
        doctor: directory.add("doctor", Role::Doctor, &[U1]),
        staff: directory.add("staff", Role::Staff, &[U1]),
        other: directory.add("other", Role::Doctor, &[U2]),
    };
    let audit = Arc::new(FakeAudit::default());
    let sessions = Arc::new(FakeSessions::new(audit.clone()));
    let mut config = GatewayConfig {
        upstream_dem_base: upstream_base.clone(),
        upstream_a2f_base: upstream_base,
        ..GatewayConfig::default()
    };
    config.limits.api_rate = None;
    config.limits.proxy_rate = None;
    config.sse_keep_alive_seconds = 1;
    tweak(&mut config);
    let backends = Backends {
        workstations: directory.clone(),
        sessions: sessions.clone(),
        codes: sessions.clone(),
        audit: audit.clone(),
        admin: Some(directory),
    };
    let state = AppState::new(config, backends).unwrap();
    if mailboxes {
        assert!(state.set_mailboxes(Arc::new(FakeMailboxes::default())));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(tsgate_gateway::serve(listener, state.clone(), async {
        rx.await.ok();
    }));
    TestApp {
        base: format!("http://{addr}"),
        state: state.clone(),
        sessions,
        audit,
        upstream,
        tokens,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// Guards a wait that would otherwise hang a broken test (not a speed assertion).
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no progress in 30 s"))
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub async fn body_json(r: reqwest::Response) -> serde_json::Value {
    r.json().await.unwrap()
}
