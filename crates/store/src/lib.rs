//! # tsgate-store
//!
//! Persistence for tsgate behind backend-neutral traits ([`UserRepo`], [`WorkstationRepo`],
//! [`AuditQuery`], [`AdminAudit`], and the session crate's [`SessionStore`](tsgate_session::SessionStore),
//! [`AuditSink`](tsgate_session::AuditSink), [`UserDirectory`](tsgate_session::UserDirectory)).
//! [`SqliteStore`] is the embedded default; a PostgreSQL module will implement the same traits.
//!
//! Secrets (Sistema TS passwords, PINs, mailbox passwords, session codes) are encrypted at
//! rest with XChaCha20-Poly1305 under a master key kept outside the database: see [`crypto`].

pub mod crypto;
mod error;
mod model;
pub mod sqlite;
mod traits;

pub use crypto::{KeyRing, MASTER_KEY_ENV, MasterKey};
pub use error::{Error, Result};
pub use model::{AuditFilter, UserMailbox, Workstation, WorkstationRole, WorkstationToken};
pub use sqlite::SqliteStore;
pub use traits::{AdminAudit, AuditQuery, Store, UserRepo, WorkstationRepo};
