//! The namespace-aware XML tree parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = sistemats::xml::parse(data) {
        let _ = root.find_local("Body");
    }
});
