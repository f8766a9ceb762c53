//! # tsgate-gateway
//!
//! The HTTP server of tsgate: the JSON API under `/api/v1` (with Server-Sent Events), the
//! SOAP proxy under `/ts/`, and the operational endpoints `/healthz`, `/readyz`, `/metrics`.
//!
//! It knows HTTP and nothing else: sessions are the domain's [`SessionManager`]
//! (`tsgate-session`), and workstations, users and the audit its backend ports
//! ([`tsgate_session::Store`]), which the binary wires to a store crate. The only port of
//! the mailboxes is the domain's `MailboxService` too, implemented by `tsgate-mailbox`.
//!
//! [`SessionManager`]: tsgate_session::SessionManager
//!
//! ```no_run
//! # async fn run(backends: tsgate_gateway::Backends) -> Result<(), Box<dyn std::error::Error>> {
//! use tsgate_gateway::{AppState, GatewayConfig, serve};
//! let config = GatewayConfig::default();
//! let listener = config.bind().await?;
//! let state = AppState::new(config, backends)?;
//! serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod api;
pub mod auth;
pub mod config;
mod conn;
pub mod error;
mod metrics;
pub mod notices;
pub mod proxy;
mod server;
mod state;
pub mod support;
mod tls;
mod ui;
mod workstations;

pub use api::admin::{NewUser, NewWorkstation, UserRecord};
pub use auth::WorkstationCache;
pub use config::{GatewayConfig, Limits, RateQuota, UiSessionKey};
pub use error::{ApiError, CauseChain, session_status};
pub use metrics::metrics_handle;
pub use server::{router, routes, serve};
pub use state::{AppState, Backends, GatewayError};
pub use tls::TlsSettings;

/// The OpenAPI 3.0 document served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = api::OPENAPI;
