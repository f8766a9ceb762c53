//! `tsgate sim`: the Sistema TS simulator alone.

use std::time::Duration;

use anyhow::anyhow;
use tsgate_sim::{CodeFormat, Enforcement, Mode, SimConfig};

use super::{Failure, shutdown_signal};
use crate::cli::{SimArgs, SimCodeFormat, SimEnforcement, SimMode};

/// Translates the command line into a [`SimConfig`].
pub fn config_from(args: &SimArgs) -> Result<SimConfig, Failure> {
    if !(args.validity_hours.is_finite()
        && args.validity_hours > 0.0
        && args.validity_hours <= 24.0 * 30.0)
    {
        return Err(Failure::Config(anyhow!(
            "--validity must be a number of hours between 0 and 720, got {}",
            args.validity_hours
        )));
    }
    Ok(SimConfig {
        listen: args.listen,
        mode: match args.mode {
            SimMode::Production => Mode::Production,
            SimMode::Test => Mode::Test,
        },
        enforcement: match args.enforcement {
            SimEnforcement::Off => Enforcement::Off,
            SimEnforcement::Warn => Enforcement::Warn,
            SimEnforcement::Block => Enforcement::Block,
        },
        validity: Duration::from_secs_f64(args.validity_hours * 3600.0),
        maildir: args.maildir.clone(),
        smtp: args.smtp.clone(),
        code_format: match args.code_format {
            SimCodeFormat::Text => CodeFormat::Text,
            SimCodeFormat::Image => CodeFormat::Image,
        },
        data_dir: args.data_dir.clone(),
        max_prescriptions: args.max_prescriptions,
        ..SimConfig::default()
    })
}

/// Runs the simulator until Ctrl-C.
pub async fn run(args: SimArgs) -> Result<(), Failure> {
    let config = config_from(&args)?;
    let running = tsgate_sim::start(config)
        .await
        .map_err(|e| Failure::Config(e.context("cannot start the simulator")))?;
    let base = &running.base_url;
    println!("Sistema TS simulator listening on {base}");
    println!("  test users:   {base}/sim/users");
    println!("  certificate:  {base}/sim/certificate");
    println!("  mail outbox:  {base}/sim/outbox");
    println!("  counters:     {base}/sim/stats");
    println!("Press Ctrl-C to stop.");
    shutdown_signal().await;
    running
        .stop()
        .await
        .map_err(|e| Failure::Refused(e.context("simulator did not stop cleanly")))
}
