//! Shared test helpers: a private Dovecot (from the crate's `test-support` feature) and
//! realistic mails.
#![allow(dead_code, unused_imports)]

pub mod dovecot {
    pub use tsgate_mailbox::test_support::*;
}
pub mod mail;
