//! One module per subcommand.

mod backup;
mod check;
mod demo;
mod hours;
mod import;
mod practice;
mod rotate_key;
mod secrets;
mod serve;
mod session;
mod sim;
mod support_bundle;
mod user;
mod workstation;

use std::fmt;

use crate::cli::Command;
#[cfg(windows)]
pub use serve::run_until as serve_until;

/// Why a command failed, with the exit code of the contract:
/// 1 = operation refused (with a message), 2 = usage or configuration error.
#[derive(Debug)]
pub enum Failure {
    /// The operation was refused (exit code 1).
    Refused(anyhow::Error),
    /// Bad usage or configuration (exit code 2).
    Config(anyhow::Error),
}

impl Failure {
    /// Process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) => 1,
            Failure::Config(_) => 2,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Failure::Refused(e) | Failure::Config(e)) = self;
        if f.alternate() {
            write!(f, "{e:#}")
        } else {
            write!(f, "{e}")
        }
    }
}

/// Runs one subcommand to completion.
pub async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Sim(args) => sim::run(args).await,
        Command::User(command) => user::run(command).await,
        Command::Workstation(command) => workstation::run(command).await,
        Command::Practice(command) => practice::run(command).await,
        Command::Import(args) => import::run(args).await,
        Command::Session(command) => session::run(command).await,
        Command::Hours(command) => hours::run(command).await,
        Command::Check(args) => check::run(args).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::RotateKey(args) => rotate_key::run(args).await,
        Command::SupportBundle(args) => support_bundle::run(args).await,
        // Started by main before any runtime: the service control manager wants the thread.
        #[cfg(windows)]
        Command::Service(_) => Err(Failure::Config(anyhow::anyhow!(
            "tsgate service is run by main, not here"
        ))),
    }
}

/// Runs the gateway on `listener` until Ctrl-C or SIGTERM, with the session ticker and the
/// mailbox watchers; `on_ready` runs once everything is started. Shared by `serve` and
/// `demo`, so both stop the same way: watchers, use counts into the audit, database.
/// How often the periodic work runs, and the practice hours of the configuration file.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Expiry, yellow level, lost requests and automatic requests are looked at this often.
    pub tick: std::time::Duration,
    /// `[working_hours]` of the configuration file, if any.
    pub file_hours: Option<tsgate_session::hours::WorkingHours>,
}

/// Besides Ctrl-C and SIGTERM, the gateway also stops when `stop` resolves (`demo
/// --play-week` at the end of the week; `std::future::pending()` otherwise). `on_ready`
/// gets the running autopilot. `config` is what the support bundle of the admin page shows
/// (without secrets) and checks.
#[allow(clippy::too_many_arguments)]
pub async fn run_gateway(
    gateway: tsgate_gateway::GatewayConfig,
    listener: tokio::net::TcpListener,
    store: &std::sync::Arc<tsgate_store::AnyStore>,
    manager: &tsgate_session::SessionManager,
    pace: Pace,
    config: &crate::config::Config,
    on_ready: impl FnOnce(&tsgate_session::auto::Autopilot),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Failure> {
    use anyhow::Context as _;
    // What a killed predecessor left in flight would block new requests until it timed out.
    match manager.settle_orphans().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            settled = n,
            "code requests left in flight by the previous run were settled as lost"
        ),
        Err(e) => {
            tracing::warn!(error = %sistemats::error::describe_chain(&e), "could not look for requests left in flight")
        }
    }
    // Several nodes on one database: the periodic passes are the work of the node holding
    // this lease (taken over 3 periods after its holder stops renewing it).
    let periodic = std::sync::Arc::new(tsgate_session::lease::Lease::new(
        store.clone(),
        "periodic",
        manager.node_name(),
        time::Duration::try_from(pace.tick * 3).unwrap_or(time::Duration::seconds(45)),
    ));
    let ticker = manager.spawn_ticker(pace.tick, Some(periodic.clone()));
    let state = tsgate_gateway::AppState::new(gateway, crate::app::backends(store, manager))
        .context("cannot start the gateway")
        .map_err(Failure::Config)?;
    state.set_support(std::sync::Arc::new(support_bundle::ServingReport {
        config: config.clone(),
        store: store.clone(),
    }));
    let mailboxes = crate::app::start_mailboxes(store, manager, &state)
        .await
        .map_err(Failure::Config)?;
    let (pilot, pilot_task) = crate::app::start_autopilot(
        store,
        manager,
        &mailboxes,
        pace.file_hours,
        pace.tick,
        periodic.clone(),
    )
    .await;
    // The working-hours endpoints read the practice hours through it, and ask it to plan a
    // user again at once after a change.
    state.set_autopilot(pilot.clone());
    on_ready(&pilot);
    let shutdown = async move {
        tokio::select! {
            () = shutdown_signal() => {},
            () = stop => {},
        }
    };
    let served = tsgate_gateway::serve(listener, state, shutdown).await;
    pilot_task.abort();
    ticker.abort();
    periodic.release().await;
    mailboxes.shutdown().await;
    crate::app::shutdown_session(manager).await;
    store.close().await;
    served
        .context("gateway stopped with an error")
        .map_err(Failure::Refused)
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
