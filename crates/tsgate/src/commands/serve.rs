//! `tsgate serve`: the gateway with the configured Sistema TS.

use std::time::Duration;

use anyhow::Context;

use super::{Failure, shutdown_signal};
use crate::app;
use crate::cli::ServeArgs;
use crate::config::Config;

/// How often expiry, yellow level and lost requests are checked.
pub const TICK: Duration = Duration::from_secs(15);

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let store = app::open_store(&config).await.map_err(Failure::Config)?;
    let manager = app::manager(&config, store.clone())
        .await
        .map_err(Failure::Config)?;
    let gateway = app::gateway_config(&config).map_err(Failure::Config)?;
    let listener = gateway
        .bind()
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))
        .map_err(Failure::Config)?;
    let ticker = manager.spawn_ticker(TICK);
    let state = tsgate_gateway::AppState::new(gateway, app::backends(&store, &manager))
        .context("cannot start the gateway")
        .map_err(Failure::Config)?;
    let mailboxes = app::start_mailboxes(&store, &manager, &state)
        .await
        .map_err(Failure::Config)?;
    tracing::info!(listen = %config.listen, environment = ?config.environment, "tsgate serving");
    let served = tsgate_gateway::serve(listener, state, shutdown_signal()).await;
    ticker.abort();
    mailboxes.shutdown().await;
    app::shutdown_session(&manager).await;
    store.close().await;
    served
        .context("gateway stopped with an error")
        .map_err(Failure::Refused)
}
