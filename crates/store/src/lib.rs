//! # tsgate-store
//!
//! Persistence for tsgate: two backends implement every port of the domain
//! ([`tsgate_session::ports`]: [`SessionStore`](tsgate_session::SessionStore),
//! [`AuditLog`](tsgate_session::AuditLog), [`UserDirectory`](tsgate_session::UserDirectory),
//! [`WorkstationRepo`](tsgate_session::WorkstationRepo),
//! [`PracticeRepo`](tsgate_session::PracticeRepo), [`MailboxRepo`](tsgate_session::MailboxRepo),
//! [`ScheduleRepo`](tsgate_session::ScheduleRepo), [`Health`](tsgate_session::Health)), so each
//! is a [`tsgate_session::Store`]: [`SqliteStore`], the embedded default, and [`PgStore`], for
//! several nodes on one PostgreSQL database. Both store the same columns in the same forms and
//! seal secrets in the same slots; [`AnyStore`] is whichever a [`Database`] URL names. The types
//! they store (workstations, mailbox settings, audit entries) are the domain's; import them from
//! `tsgate_session`.
//!
//! Ports answer with the domain's [`StoreError`](tsgate_session::StoreError); what is not a
//! port (opening the database, key files, [`AnyStore::rotate_key`]) answers with [`Error`],
//! whose messages an operator acts on are in Italian.
//!
//! Secrets (Sistema TS passwords, PINs, mailbox passwords, session codes) are encrypted at
//! rest with XChaCha20-Poly1305 under a master key kept outside the database: see [`crypto`].
//!
//! With the `testing` feature, `tsgate_store::testing` gives tests a temporary store with a
//! fresh key and a sample user, and [`testing::pg`] a throwaway PostgreSQL cluster.

mod any;
pub mod crypto;
mod error;
mod keyfile;
pub mod postgres;
pub mod sqlite;
mod stored;
#[cfg(feature = "testing")]
pub mod testing;

pub use any::{Access, AnyStore, Database, KeySource, Opened, Rotated, RotationStep, redact_url};
pub use crypto::{KeyId, KeyRing, MASTER_KEY_ENV, MasterKey};
pub use error::{Error, Holder, Result};
pub use keyfile::{KeyFile, Settled};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
