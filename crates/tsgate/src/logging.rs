//! Logging: human-readable lines on stderr, filtered by `RUST_LOG` (default `info`).
//!
//! Secrets never reach a log line because they are typed (`Password`, `Pin`, `SessionCode`
//! print as `***`); this module adds nothing that could undo that. Panics are logged too,
//! redacted, by the hook of [`crate::panic`] (target `panic`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `verbose` raises tsgate's own crates to `debug`.
pub fn init(verbose: bool) {
    let default = if verbose {
        "info,tsgate=debug,tsgate_gateway=debug,tsgate_session=debug,tsgate_sim=debug,sistemats=debug"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
