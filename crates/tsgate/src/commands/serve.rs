//! `tsgate serve`: the gateway with the configured Sistema TS.

use std::time::Duration;

use anyhow::Context;

use super::{Failure, Pace, run_gateway};
use crate::app;
use crate::cli::ServeArgs;
use crate::config::Config;

/// How often expiry, yellow level and lost requests are checked.
pub const TICK: Duration = Duration::from_secs(15);

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), Failure> {
    run_until(args, std::future::pending()).await
}

/// Runs the gateway until Ctrl-C, SIGTERM or `stop` (a Windows service's stop request).
pub async fn run_until(
    args: ServeArgs,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Failure> {
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let store = app::open_store(&config).await.map_err(Failure::Config)?;
    let manager = app::node_manager(&config, store.clone(), &app::node_name_of(&config))
        .await
        .map_err(Failure::Config)?;
    let gateway = app::gateway_config(&config).map_err(Failure::Config)?;
    let listener = gateway
        .bind()
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))
        .map_err(Failure::Config)?;
    let (listen, environment) = (config.listen, config.environment);
    let scheme = if gateway.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let pace = Pace {
        tick: TICK,
        file_hours: config.file_hours().map_err(Failure::Config)?,
    };
    run_gateway(
        gateway,
        listener,
        &store,
        &manager,
        pace,
        &config,
        |_| tracing::info!(%listen, scheme, ?environment, "tsgate serving"),
        stop,
    )
    .await
}
