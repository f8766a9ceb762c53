//! DEM request parsing (what the simulator reads from clients) must never panic; whatever
//! parses must be checkable against the XSD facets and serialize again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sistemats::dem::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::parse(data) {
        let _ = request.service();
        let _ = request.problems();
        let _ = request.pin_code();
    }
});
