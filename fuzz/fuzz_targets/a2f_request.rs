//! Request readers used by the simulator (`from_payload`) must never panic, and what they
//! read must validate or be refused without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::a2f::{CreateRequest, Operation, TokenRequest};
use sistemats::soap::{self, Body};

fuzz_target!(|data: &[u8]| {
    if let Ok(Body::Payload(payload)) = soap::parse(data) {
        if let Ok(create) = CreateRequest::from_payload(&payload) {
            if create.validate().is_ok() {
                let _ = create.to_envelope();
            }
        }
        if let Ok((op, token)) = TokenRequest::from_payload(&payload) {
            if token.validate().is_ok() {
                let _ = token.to_envelope(op);
            }
            let _ = Operation::from_soap_action(op.soap_action());
        }
    }
});
