//! Wiring shared by `serve`, `demo` and the administration commands: the store, the
//! SanitelCF certificate, the A2F upstream, the session manager and the gateway backends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use sistemats::client::{ClientConfig, SistemaTsClient};
use sistemats::sanitel::SanitelCertificate;
use time::OffsetDateTime;
use tsgate_gateway::{Backends, GatewayConfig, UiSessionKey};
use tsgate_session::{EventSink, Policy, Ports, SessionManager};
use tsgate_store::postgres::events::PgEvents;
use tsgate_store::{Access, AnyStore, KeyFile, KeySource, MasterKey};

use crate::config::{Config, UpstreamKind};
use crate::upstream::SistemaTsUpstream;

/// The master key: `TSGATE_MASTER_KEY` if set, otherwise the key file (created on first
/// run with mode 0600, in the data folder unless configured elsewhere).
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            config.data_dir.display()
        )
    })?;
    match MasterKey::from_env().context("TSGATE_MASTER_KEY is not a valid key")? {
        Some(key) => Ok(key),
        None => {
            let path = config.master_key_path();
            MasterKey::load_or_create(&path)
                .with_context(|| format!("cannot use the master key file {}", path.display()))
        }
    }
}

/// Where the master key comes from: `TSGATE_MASTER_KEY` if set, otherwise the key file
/// (with the files of a key rotation beside it).
pub fn key_source(config: &Config) -> anyhow::Result<KeySource> {
    Ok(
        match MasterKey::from_env().context("TSGATE_MASTER_KEY is not a valid key")? {
            Some(key) => KeySource::Given(key),
            None => KeySource::File(KeyFile::new(config.master_key_path())),
        },
    )
}

/// Opens (creating on first run) the data folder, the master key and the database: the
/// SQLite file, or the PostgreSQL database of `database_url`. A key rotation that a crash
/// interrupted is completed or rolled back first (`tsgate_store::AnyStore::open_keyed`).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<AnyStore>> {
    let opened = open_keyed(config, Access::Shared).await?;
    Ok(Arc::new(opened.store))
}

/// [`open_store`] with the access `access`, keeping what the opening found.
pub async fn open_keyed(config: &Config, access: Access) -> anyhow::Result<tsgate_store::Opened> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            config.data_dir.display()
        )
    })?;
    let source = key_source(config)?;
    let database = config.database()?;
    AnyStore::open_keyed(&database, &source, access)
        .await
        .map_err(|e| anyhow!("cannot open the database {database}: {}", e.english()))
}

/// The SanitelCF certificate from its file, or from the simulator URL (custom environment).
pub async fn load_certificate(config: &Config) -> anyhow::Result<SanitelCertificate> {
    if let Some(path) = &config.sanitel_certificate {
        // The library's Display is Italian (for doctors); the command line and the log are
        // English.
        return SanitelCertificate::from_file(path)
            .map_err(|e| anyhow!("sanitel_certificate: {}", e.english()));
    }
    let url = config
        .sanitel_certificate_url
        .as_deref()
        .ok_or_else(|| anyhow!("no SanitelCF certificate configured"))?;
    if config.environment != UpstreamKind::Custom {
        return Err(anyhow!(
            "sanitel_certificate_url is only for environment = \"custom\""
        ));
    }
    let pem = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("cannot fetch the certificate from {url}"))?
        .text()
        .await?;
    SanitelCertificate::from_pem(&pem)
        .map_err(|e| anyhow!("{url} did not return a certificate: {}", e.english()))
}

/// Warns in the log when the SanitelCF certificate is close to expiry or expired.
pub fn warn_certificate_expiry(certificate: &SanitelCertificate) {
    if let Some(notice) = certificate.expiry_notice(OffsetDateTime::now_utc()) {
        tracing::warn!(not_after = %certificate.not_after(), "{}", notice.english());
    }
}

/// The protocol client for the configured environment.
pub fn client(config: &Config) -> anyhow::Result<SistemaTsClient> {
    let mut client_config = ClientConfig::new(config.environment()?);
    client_config.timeout = Duration::from_secs(config.upstream_timeout_seconds);
    client_config.connect_timeout = Duration::from_secs(crate::config::connect_timeout_seconds(
        config.upstream_timeout_seconds,
    ));
    if let Some(ca) = &config.upstream_ca_file {
        client_config.ca_pem = Some(
            std::fs::read_to_string(ca).with_context(|| format!("cannot read {}", ca.display()))?,
        );
    }
    Ok(SistemaTsClient::new(client_config)?)
}

/// The session policy from the configuration.
///
/// A `create` is considered lost once the A2F client has given up on it: the configured
/// upstream timeout plus a margin for connecting and committing, never a fixed two minutes.
pub fn policy(config: &Config) -> Policy {
    config.automatic.apply(Policy {
        min_create_interval: time::Duration::seconds(config.min_create_interval_seconds as i64),
        yellow_before: time::Duration::minutes(config.yellow_minutes as i64),
        create_timeout: time::Duration::seconds(config.upstream_timeout_seconds as i64 + 15),
        ..Policy::default()
    })
}

/// The node name of long-running processes (`serve`, `demo`): the host name. A `create`
/// left in flight by a killed process of the same node is settled at the next start
/// (`SessionManager::settle_orphans`); the command line uses [`CLI_NODE`].
pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".to_owned())
}

/// The node name of `config` (`node_name`), else the host name.
pub fn node_name_of(config: &Config) -> String {
    config
        .node_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(node_name, str::to_owned)
}

/// The node name of the command line's short-lived processes.
pub const CLI_NODE: &str = "cli";

/// The session manager over `store`, calling Sistema TS as configured.
pub async fn manager(
    config: &Config,
    store: Arc<AnyStore>,
    node: &str,
) -> anyhow::Result<SessionManager> {
    manager_telling(config, store, node, None).await
}

/// The session manager of `serve`: [`manager`], and on PostgreSQL its changes go to the
/// other nodes on the database and theirs come to it (LISTEN/NOTIFY,
/// `tsgate_store::postgres::events`), so that every node's workstations see each change at
/// once and no node's proxy forwards a code that another node replaced.
pub async fn node_manager(
    config: &Config,
    store: Arc<AnyStore>,
    node: &str,
) -> anyhow::Result<SessionManager> {
    let AnyStore::Postgres(pg) = store.as_ref() else {
        return manager(config, store, node).await;
    };
    let events = PgEvents::new(pg);
    let manager = manager_telling(config, store.clone(), node, Some(events.sink())).await?;
    events
        .listen(manager.clone())
        .await
        .context("cannot listen to the other nodes' session changes")?;
    Ok(manager)
}

async fn manager_telling(
    config: &Config,
    store: Arc<AnyStore>,
    node: &str,
    sink: Option<Arc<dyn EventSink>>,
) -> anyhow::Result<SessionManager> {
    let certificate = load_certificate(config).await?;
    warn_certificate_expiry(&certificate);
    let upstream = SistemaTsUpstream::new(client(config)?, Arc::new(certificate));
    Ok(manager_with(
        store,
        Arc::new(upstream),
        policy(config),
        node,
        Arc::new(tsgate_session::SystemClock),
        sink,
    ))
}

/// The session manager over `store` with any upstream and clock (the demo passes the
/// simulator's, so that moving the simulated time moves the cards too), telling `sink` of
/// every change besides its own subscribers.
pub fn manager_with(
    store: Arc<AnyStore>,
    upstream: Arc<dyn tsgate_session::Upstream>,
    policy: Policy,
    node: &str,
    clock: Arc<dyn tsgate_session::Clock>,
    sink: Option<Arc<dyn EventSink>>,
) -> SessionManager {
    let ports = Ports {
        store: store.clone(),
        audit: store.clone(),
        directory: store,
        upstream,
        clock,
    };
    SessionManager::new(ports, policy, sink).with_instance(node)
}

/// Writes what the manager keeps in memory before the process ends: the use counts of the
/// open per-minute windows go into the audit.
pub async fn shutdown_session(manager: &SessionManager) {
    if let Err(e) = manager.flush_uses(true).await {
        tracing::warn!(error = %e, "could not write the last use counts to the audit");
    }
}

/// What the gateway serves: the manager, and the store behind it.
pub fn backends(store: &Arc<AnyStore>, manager: &SessionManager) -> Backends {
    Backends {
        sessions: manager.clone(),
        store: store.clone(),
    }
}

/// Starts the automatic requests over `manager` (see `tsgate_session::auto`): every `pace`,
/// each user is planned against their working hours and mailbox, and what is due is sent.
///
/// How long a start waits for the autopilot's first pass before serving: long enough for a
/// practice (a proxied call arriving right after the start then knows whether it may be
/// held for an automatic request), not for a vendor's 100,000 doctors, whose first pass
/// goes on in the background.
const FIRST_PASS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the periodic task of automatic requests and waits for its first pass up to
/// [`FIRST_PASS_WAIT`].
pub async fn start_autopilot(
    store: &Arc<AnyStore>,
    manager: &SessionManager,
    mailboxes: &tsgate_mailbox::Mailboxes,
    file_hours: Option<tsgate_session::hours::WorkingHours>,
    pace: std::time::Duration,
    lease: Arc<tsgate_session::lease::Lease>,
) -> (tsgate_session::auto::Autopilot, tokio::task::JoinHandle<()>) {
    let pilot = tsgate_session::auto::Autopilot::new(
        manager.clone(),
        store.clone(),
        store.clone(),
        Some(Arc::new(mailboxes.clone())),
        file_hours,
    );
    let (done, first_pass) = tokio::sync::oneshot::channel();
    let task = pilot.spawn_telling(pace, Some(lease), Some(done));
    if tokio::time::timeout(FIRST_PASS_WAIT, first_pass)
        .await
        .is_err()
    {
        tracing::info!(
            "automatic requests: the first pass over every doctor goes on in the background"
        );
    }
    (pilot, task)
}

/// Starts the certified-mailbox watchers of every configured user and registers them with
/// the gateway (`GET`/`PUT …/mailbox`).
pub async fn start_mailboxes(
    store: &Arc<AnyStore>,
    manager: &SessionManager,
    state: &tsgate_gateway::AppState,
) -> anyhow::Result<tsgate_mailbox::Mailboxes> {
    let mailboxes = tsgate_mailbox::Mailboxes::start(store.clone(), manager.clone())
        .await
        .context("cannot start the mailbox watchers")?;
    state.set_mailboxes(Arc::new(mailboxes.clone()));
    Ok(mailboxes)
}

/// The HTTPS certificate and key files, read (`None`: plain HTTP).
pub fn tls_settings(config: &Config) -> anyhow::Result<Option<tsgate_gateway::TlsSettings>> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(match (&config.tls_certificate, &config.tls_key) {
        (Some(certificate), Some(key)) => Some(tsgate_gateway::TlsSettings {
            certificate_chain_pem: read(certificate)?,
            private_key_pem: read(key)?,
        }),
        _ => None,
    })
}

/// The gateway configuration for this tsgate configuration.
pub fn gateway_config(config: &Config) -> anyhow::Result<GatewayConfig> {
    let environment = config.environment()?;
    let upstream_ca_pem = match &config.upstream_ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let gateway = GatewayConfig {
        tls: tls_settings(config)?,
        listen: config.listen,
        upstream_dem_base: environment.dem_base().to_owned(),
        upstream_rbe_base: config.rbe_base()?,
        upstream_a2f_base: environment.a2f_base().to_owned(),
        upstream_ca_pem,
        limits: config.limits.to_gateway(config.upstream_timeout_seconds),
        http_workers: config.http_workers(),
        user_environment: config.user_environment(),
        // Browsers stay signed in across restarts: their session cookies are sealed with a
        // key derived from the master key.
        ui_session_key: Some(UiSessionKey(
            *master_key(config)?.derive("ui-session-cookie"),
        )),
        ..GatewayConfig::default()
    };
    gateway.validate().map_err(|e| anyhow!(e))?;
    Ok(gateway)
}
