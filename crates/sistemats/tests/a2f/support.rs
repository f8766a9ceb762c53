//! Shared helpers: spec directory, xmllint validation, a cached test key pair.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use sistemats::a2f::UserIdentity;
use sistemats::sanitel::{SanitelCertificate, SanitelKey, generate_test_pair};

/// `/work/main/spec` relative to this crate.
pub fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec")
}

/// Validates a standalone payload element against the official A2F XSD with `xmllint`.
/// Returns xmllint's verdict; panics (test failure) if xmllint cannot be run.
pub fn xmllint_a2f(payload: &str) -> Result<(), String> {
    let schema = spec_dir().join("sts-a2f-service.v0.1.xsd");
    assert!(schema.exists(), "XSD not found at {}", schema.display());
    let mut file = tempfile::Builder::new()
        .suffix(".xml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut file, payload.as_bytes()).expect("write temp file");
    let output = match Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file.path())
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!(
            "xmllint could not be run ({e}): install libxml2-utils (Debian) — XSD validation is mandatory"
        ),
    };
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Asserts that a payload is valid, printing it and xmllint's complaint otherwise.
pub fn assert_valid(payload: &str) {
    if let Err(why) = xmllint_a2f(payload) {
        panic!("payload not valid against the A2F XSD:\n{why}\n{payload}");
    }
}

/// A test key pair generated once per test binary (RSA key generation is slow).
pub fn pair() -> &'static (SanitelCertificate, SanitelKey, String, String) {
    static PAIR: OnceLock<(SanitelCertificate, SanitelKey, String, String)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let (cert_pem, key_pem) = generate_test_pair("SanitelCF-test").expect("generate pair");
        let cert = SanitelCertificate::from_pem(&cert_pem).expect("cert");
        let key = SanitelKey::from_pkcs8_pem(&key_pem).expect("key");
        (cert, key, cert_pem, key_pem)
    })
}

/// The kit's test doctor.
pub fn doctor() -> UserIdentity {
    UserIdentity::new("PROVAX00X00X000Y", "PROVAX00X00X000Y", "130", "202")
}

/// A 36-character code as Sistema TS issues them.
pub const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
