//! Constants, `spawn_app()` and small helpers shared by the test modules.
//!
//! Every app runs the real domain (`tsgate_session::testing::TestDomain`: the
//! `SessionManager` over the in-memory store and a manual clock, with a scripted A2F
//! service); only the DEM endpoint (`upstream.rs`) and the mailbox watcher are fakes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tsgate_gateway::{AppState, Backends, GatewayConfig};
use tsgate_session::mailbox::{MailboxStatus, MailboxUpdate, MailboxView};
use tsgate_session::testing::{FakeUpstream, TestDomain};
use tsgate_session::{
    Actor, AuditKind, Clock as _, MailboxError, MailboxRepo as _, MailboxService, MemoryStore,
    SessionCode, SessionView, StateName, UserDirectory as _, UserId, WorkstationRepo as _,
    WorkstationRole,
};

pub use crate::upstream::*;

pub const U1: &str = "PROVAX00X00X000Y";
pub const U2: &str = "PROVAX00X00X000Z";
pub const CODE_U1: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
pub const CODE_U2: &str = "22222222-2cfc-4903-8cfc-609a7e232920";
pub const PASSWORD: &str = "Salve123PlantedPwd";

pub fn uid(u: &str) -> UserId {
    UserId::new(u).unwrap()
}

/// The code each test user is given by [`TestApp::give_code`].
pub fn code_of(user: &str) -> &'static str {
    match user {
        U1 => CODE_U1,
        U2 => CODE_U2,
        other => panic!("no test code for {other}"),
    }
}

/// `…2920`: what the audit keeps of a code.
pub fn hint(code: &str) -> String {
    SessionCode::new(code).hint()
}

/// The domain of most tests: users U1 and U2, whose codes Sistema TS says are valid for 16
/// hours from the start of the clock (nobody has entered them yet).
pub fn test_domain() -> TestDomain {
    let domain = TestDomain::new(FakeUpstream::default());
    for user in [U1, U2] {
        domain.add_user(user);
        domain.upstream.valid(code_of(user), domain.clock.now());
    }
    domain
}

// ---------------------------------------------------------------- the app

pub struct Tokens {
    pub admin: String,
    pub doctor: String,
    pub staff: String,
    /// A doctor's workstation for U2 only.
    pub other: String,
}

/// The ids of workstations of [`Tokens`] (UUIDs given by the store).
pub struct WorkstationIds {
    pub admin: String,
    pub doctor: String,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    /// The real domain behind the gateway.
    pub domain: TestDomain,
    /// The fake DEM endpoint of Sistema TS.
    pub upstream: Arc<Upstream>,
    pub tokens: Tokens,
    pub ids: WorkstationIds,
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

    /// The session of `user` as the domain sees it now.
    pub async fn session(&self, user: &str) -> SessionView {
        self.domain.manager.status(&uid(user)).await.unwrap()
    }

    /// Gives `user` its active code, as an operator entering it would (unless it is active).
    pub async fn give_code(&self, user: &str) {
        if self.session(user).await.state == StateName::Active {
            return;
        }
        let view = self
            .domain
            .manager
            .submit_code(&uid(user), code_of(user), Actor::Cli)
            .await
            .unwrap();
        assert_eq!(view.state, StateName::Active, "{view:?}");
    }

    /// Revokes the code of `user`: no usable code any more.
    pub async fn take_code(&self, user: &str) {
        self.domain
            .manager
            .revoke(&uid(user), Actor::Cli)
            .await
            .unwrap();
    }

    /// Waits until at least `n` uses of codes were audited (what the proxy reports after
    /// each call: outcome `ok` or `9101`), and returns them all, oldest first.
    pub async fn uses(&self, n: usize) -> Vec<Use> {
        within("the proxy's report", async {
            loop {
                let uses: Vec<Use> = self
                    .domain
                    .store
                    .audit_entries()
                    .into_iter()
                    .filter(|e| e.session_kind() == Some(AuditKind::Used))
                    .map(|e| Use {
                        user: e.user.map(String::from).unwrap_or_default(),
                        actor: e.actor.to_string(),
                        outcome: e.outcome,
                        code_hint: e.code_hint,
                    })
                    .collect();
                if uses.len() >= n {
                    return uses;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// Waits until the domain recorded that Sistema TS did not answer a call for `user`
    /// (what the proxy reports after a failed call).
    pub async fn upstream_unavailable_reported(&self, user: &str) -> SessionView {
        within("the proxy's report", async {
            loop {
                let view = self.session(user).await;
                if view
                    .last_error
                    .as_ref()
                    .is_some_and(|e| e.code == "upstream_unavailable")
                {
                    return view;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }
}

/// One audited use of a code (`used` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub user: String,
    /// `ws:<id>`.
    pub actor: String,
    /// `ok` or `9101`.
    pub outcome: String,
    pub code_hint: Option<String>,
}

impl Use {
    /// A use of `user`'s test code from workstation `ws_id` with `outcome`.
    pub fn of(user: &str, ws_id: &str, outcome: &str) -> Self {
        Self {
            user: user.to_owned(),
            actor: format!("ws:{ws_id}"),
            outcome: outcome.to_owned(),
            code_hint: Some(hint(code_of(user))),
        }
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
    spawn_app_on(test_domain(), tweak, mailboxes).await
}

/// The settings of test apps: the fake DEM endpoint, no rate limits, 1 s keep-alives.
pub fn test_config(upstream_base: &str) -> GatewayConfig {
    let mut config = GatewayConfig {
        upstream_dem_base: upstream_base.to_owned(),
        upstream_a2f_base: upstream_base.to_owned(),
        ..GatewayConfig::default()
    };
    config.limits.api_rate = None;
    config.limits.proxy_rate = None;
    config.sse_keep_alive_seconds = 1;
    config
}

/// A gateway serving `domain` on a random loopback port.
pub struct Served {
    pub base: String,
    pub state: AppState,
    pub shutdown: oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `domain` (its manager and its store) with `config`.
pub async fn serve(domain: &TestDomain, config: GatewayConfig, mailboxes: bool) -> Served {
    // reqwest is built without a provider in this workspace (ring everywhere).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let backends = Backends {
        sessions: domain.manager.clone(),
        store: domain.store.clone(),
    };
    let state = AppState::new(config, backends).unwrap();
    if mailboxes {
        assert!(state.set_mailboxes(Arc::new(StoredMailboxes {
            store: domain.store.clone(),
        })));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(tsgate_gateway::serve(listener, state.clone(), async {
        rx.await.ok();
    }));
    Served {
        base: format!("http://{addr}"),
        state,
        shutdown: tx,
        server,
    }
}

/// The usual app over `domain` (which has users U1 and U2, see [`test_domain`]): four
/// workstations, and both users with an active code.
pub async fn spawn_app_on(
    domain: TestDomain,
    tweak: impl FnOnce(&mut GatewayConfig),
    mailboxes: bool,
) -> TestApp {
    let (upstream_base, upstream) = spawn_upstream().await;
    let store = &domain.store;
    let add = |name: &'static str, role, user: &'static str| async move {
        let (ws, token) = store
            .create_workstation(name, role, &[uid(user)])
            .await
            .unwrap();
        (ws.id.0, token.expose_secret().to_owned())
    };
    let (admin_id, admin) = add("admin", WorkstationRole::Admin, U1).await;
    let (doctor_id, doctor) = add("doctor", WorkstationRole::Doctor, U1).await;
    let (_, staff) = add("staff", WorkstationRole::Staff, U1).await;
    let (_, other) = add("other", WorkstationRole::Doctor, U2).await;
    let mut config = test_config(&upstream_base);
    tweak(&mut config);
    let served = serve(&domain, config, mailboxes).await;
    let app = TestApp {
        base: served.base,
        state: served.state,
        domain,
        upstream,
        tokens: Tokens {
            admin,
            doctor,
            staff,
            other,
        },
        ids: WorkstationIds {
            admin: admin_id,
            doctor: doctor_id,
        },
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        shutdown: Some(served.shutdown),
        server: Some(served.server),
    };
    app.give_code(U1).await;
    app.give_code(U2).await;
    app
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

// ---------------------------------------------------------------- mailboxes

/// The mailbox service over the domain's store, with a watcher that never connects (these
/// tests have no IMAP server): settings are validated, kept in the store and shown.
pub struct StoredMailboxes {
    pub store: Arc<MemoryStore>,
}

#[tsgate_session::async_trait]
impl MailboxService for StoredMailboxes {
    async fn status(&self, user: &UserId) -> Result<MailboxView, MailboxError> {
        Ok(match self.store.mailbox(user).await? {
            Some(mailbox) => MailboxView::of(
                user,
                &mailbox,
                MailboxStatus {
                    configured: true,
                    ..MailboxStatus::default()
                },
                mailbox.addresses(),
                Vec::new(),
            ),
            None => MailboxView::not_configured(),
        })
    }

    async fn configure(
        &self,
        user: &UserId,
        update: MailboxUpdate,
    ) -> Result<MailboxView, MailboxError> {
        if self.store.user(user).await?.is_none() {
            return Err(MailboxError::UnknownUser);
        }
        let previous = self.store.mailbox(user).await?;
        let mailbox = update.apply(previous.as_ref())?;
        self.store.set_mailbox(user, &mailbox).await?;
        self.status(user).await
    }
}
