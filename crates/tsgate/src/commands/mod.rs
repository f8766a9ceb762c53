//! One module per subcommand.

mod check;
mod demo;
mod secrets;
mod serve;
mod session;
mod sim;
mod user;
mod workstation;

use std::fmt;

use crate::cli::Command;

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
        Command::Session(command) => session::run(command).await,
        Command::Check(args) => check::run(args).await,
    }
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
