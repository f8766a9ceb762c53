//! DEM receipt parsing (what the proxy and the client read from Sistema TS) must never
//! panic; whatever parses must yield an outcome and serialize again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::dem::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = Receipt::parse(data) {
        let _ = receipt.service();
        let _ = receipt.outcome();
        let _ = receipt.second_factor_problem();
        let _ = receipt.to_envelope();
    }
});
