//! `tsgate`: one shared Sistema TS second factor (ID-SESSIONE) for every doctor and
//! workstation of a practice.
//!
//! This binary only parses the command line, sets up logging and wires the crates together;
//! the behaviour lives in the library crates.

mod app;
mod cli;
mod commands;
mod config;
mod logging;
mod panic;
mod support;
mod upstream;
#[cfg(windows)]
mod winservice;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // First: the default hook would print a panic's message as is, and it may quote a secret.
    panic::install();
    let cli = cli::Cli::parse();
    sistemats::client::install_crypto_provider();
    let command = match cli.command {
        // The service control manager needs this thread; the service makes its own runtime.
        #[cfg(windows)]
        cli::Command::Service(command) => return winservice::main(command, cli.verbose),
        command => command,
    };
    logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tsgate: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(commands::run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tsgate: {failure:#}");
            ExitCode::from(failure.exit_code())
        }
    }
}
