//! # tsgate-store
//!
//! Persistence for tsgate: [`SqliteStore`] implements every port of the domain
//! ([`tsgate_session::ports`]: [`SessionStore`](tsgate_session::SessionStore),
//! [`AuditLog`](tsgate_session::AuditLog), [`UserDirectory`](tsgate_session::UserDirectory),
//! [`WorkstationRepo`](tsgate_session::WorkstationRepo),
//! [`MailboxRepo`](tsgate_session::MailboxRepo), [`Health`](tsgate_session::Health)), so it is
//! a [`tsgate_session::Store`]. It is the embedded default; a PostgreSQL module will implement
//! the same ports. The types it stores (workstations, mailbox settings, audit entries) are the
//! domain's; import them from `tsgate_session`.
//!
//! Ports answer with the domain's [`StoreError`](tsgate_session::StoreError); what is not a
//! port (opening the database, key files, [`SqliteStore::rotate_key`]) answers with [`Error`],
//! whose messages an operator acts on are in Italian.
//!
//! Secrets (Sistema TS passwords, PINs, mailbox passwords, session codes) are encrypted at
//! rest with XChaCha20-Poly1305 under a master key kept outside the database: see [`crypto`].
//!
//! With the `testing` feature, `tsgate_store::testing` gives tests a temporary store with a
//! fresh key and a sample user.

pub mod crypto;
mod error;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use crypto::{KeyRing, MASTER_KEY_ENV, MasterKey};
pub use error::{Error, Result};
pub use sqlite::SqliteStore;
