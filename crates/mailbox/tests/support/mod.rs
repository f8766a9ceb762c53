//! Shared test helpers: a private Dovecot and realistic mails.
#![allow(dead_code)]

pub mod dovecot;
pub mod mail;
