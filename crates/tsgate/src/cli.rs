//! Command-line interface (the contract is in docs/INTERFACES.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// tsgate — one shared Sistema TS second factor (ID-SESSIONE) for every doctor and workstation.
#[derive(Debug, Parser)]
#[command(name = "tsgate", version, about, propagate_version = true)]
pub struct Cli {
    /// More detailed logs (tsgate's own crates at debug level). `RUST_LOG` overrides.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The Sistema TS simulator alone (A2F + DEM prescriber services, production semantics).
    Sim(SimArgs),
}

/// `tsgate sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089", env = "TSGATE_SIM_LISTEN")]
    pub listen: SocketAddr,
    /// `production`: the code is only e-mailed; `test`: `create` also returns it and the
    /// monthly wildcard is accepted.
    #[arg(long, value_enum, default_value_t = SimMode::Production)]
    pub mode: SimMode,
    /// How DEM services treat a missing or invalid `Authorization2F`.
    #[arg(long = "a2f-enforcement", value_enum, default_value_t = SimEnforcement::Block)]
    pub enforcement: SimEnforcement,
    /// Serve the outbox of sent mails at /sim/outbox (HTML) and /sim/outbox.json.
    /// The outbox is always kept; the flag is accepted for compatibility with the contract.
    #[arg(long = "mail-outbox", default_value_t = true)]
    pub mail_outbox: bool,
    /// Also deliver mails into Maildirs under DIR (one per recipient address, as Dovecot
    /// serves `maildir:DIR/%u`).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Also deliver mails to this SMTP server (plain SMTP, for a local test server).
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// Code in the mail as text or as a PNG image (as SSN mails do).
    #[arg(long = "code-format", value_enum, default_value_t = SimCodeFormat::Text)]
    pub code_format: SimCodeFormat,
    /// Validity of a new ID-SESSIONE, in hours.
    #[arg(long = "validity", value_name = "HOURS", default_value_t = 16.0)]
    pub validity_hours: f64,
    /// Keep the simulator's RSA key pair and certificate here across restarts.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Simulated environment.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimMode {
    /// Code only by e-mail, no wildcard.
    Production,
    /// Code also in the `create` response, monthly wildcard accepted.
    Test,
}

/// `Authorization2F` enforcement of the simulated DEM services.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimEnforcement {
    /// Not checked.
    Off,
    /// Accepted with warning 9101.
    Warn,
    /// Refused with 9999 + 9101.
    Block,
}

/// How the simulator draws the code in its mails.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimCodeFormat {
    /// Plain text and HTML.
    Text,
    /// A PNG image of the code.
    Image,
}
