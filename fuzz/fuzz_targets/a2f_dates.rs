//! Date parsers of the A2F service must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::a2f::{format_date_time, parse_date_time, parse_revoke_date};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(t) = parse_date_time(text) {
            let _ = format_date_time(t);
        }
        let _ = parse_revoke_date(text);
        let _ = sistemats::a2f::Operation::from_soap_action(text);
    }
});
