//! Integration tests of the A2F codecs, SanitelCF encryption and the HTTP client.
//!
//! One test binary with modules keeps linking fast.

mod client;
mod codec;
mod proptests;
mod sanitel;
mod support;
mod xsd;
