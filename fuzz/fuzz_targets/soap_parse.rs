//! The SOAP envelope/Fault parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::soap::{self, Body};

fuzz_target!(|data: &[u8]| {
    if let Ok(Body::Fault(fault)) = soap::parse(data) {
        let _ = fault.is_schema_error();
        let _ = fault.to_envelope();
    }
});
