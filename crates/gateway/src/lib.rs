//! # tsgate-gateway
//!
//! The HTTP server of tsgate: the JSON API under `/api/v1` (with Server-Sent Events), the
//! SOAP proxy under `/ts/`, and the operational endpoints `/healthz`, `/readyz`, `/metrics`.
//!
//! It knows HTTP and nothing else: sessions, workstations and the audit are reached through
//! the traits in [`ports`], which the binary implements over `tsgate-session` and
//! `tsgate-store`.
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

pub mod adapters;
mod api;
pub mod auth;
pub mod config;
mod conn;
pub mod error;
mod metrics;
pub mod notices;
pub mod ports;
pub mod proxy;
mod server;
mod state;
mod tls;
mod ui;

pub use auth::TokenHash;
pub use config::{GatewayConfig, Limits, RateQuota, UiSessionKey};
pub use error::ApiError;
pub use metrics::metrics_handle;
pub use ports::{
    AdminDirectory, AdminError, AuditFilter, AuditLog, AuditRecord, BackendError, Caller,
    CodeProvider, MailboxService, NewUser, NewWorkstation, NoUsableCode, ProxyOutcome, Role,
    SessionService, UserId, Workstation, WorkstationDirectory,
};
pub use server::{router, routes, serve};
pub use state::{AppState, Backends, GatewayError};
pub use tls::TlsSettings;
pub use tsgate_store::WorkstationToken;

/// The OpenAPI 3.0 document served at `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = api::OPENAPI;
