//! Logging: human-readable lines on stderr, filtered by `RUST_LOG` (default `info`).
//!
//! Secrets never reach a log line because they are typed (`Password`, `Pin`, `SessionCode`
//! print as `***`); this module adds nothing that could undo that. Panics are logged too,
//! redacted, by the hook of [`crate::panic`] (target `panic`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `verbose` raises tsgate's own crates to `debug`.
pub fn init(verbose: bool) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// The same lines appended to `file` (a Windows service has no console).
#[cfg(windows)]
pub fn init_file(verbose: bool, file: std::fs::File) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

fn filter(verbose: bool) -> EnvFilter {
    let default = if verbose {
        "info,tsgate=debug,tsgate_gateway=debug,tsgate_session=debug,tsgate_sim=debug,sistemats=debug"
    } else {
        "info"
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}
