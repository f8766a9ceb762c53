//! SanitelCF encryption: formats, randomness, decryption, expiry, openssl interoperability.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sistemats::sanitel::{OFFICIAL_NOT_AFTER, SanitelCertificate, SanitelError, SanitelKey};
use time::{Duration, OffsetDateTime};

use crate::support::pair;

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn encrypts_on_one_line_with_fresh_randomness() {
    let (cert, key, ..) = pair();
    let a = cert.encrypt("1234567890").unwrap();
    let b = cert.encrypt("1234567890").unwrap();
    assert_ne!(a, b, "PKCS#1 v1.5 must be randomised");
    for c in [&a, &b] {
        assert_eq!(
            c.len(),
            172,
            "1024-bit key: 128 bytes → 172 base64 characters"
        );
        assert!(!c.contains('\n') && !c.contains('\r'));
        assert_eq!(STANDARD.decode(c).unwrap().len(), 128);
        assert_eq!(key.decrypt(c).unwrap(), "1234567890");
    }
    assert_eq!(
        key.decrypt(&cert.encrypt("RSSMRA80A01H501U").unwrap())
            .unwrap(),
        "RSSMRA80A01H501U"
    );
    assert_eq!(key.decrypt("not base64!"), Err(SanitelError::Decrypt));
    assert_eq!(
        key.decrypt(&STANDARD.encode([1u8; 5])),
        Err(SanitelError::Decrypt)
    );
}

#[test]
fn loads_pem_der_and_files() {
    let (cert, key, cert_pem, _) = pair();
    let der = pem_to_der(cert_pem);
    let from_der = SanitelCertificate::from_der(&der).unwrap();
    assert_eq!(from_der.not_after(), cert.not_after());
    assert!(
        from_der.subject().contains("CN=SanitelCF-test"),
        "{}",
        from_der.subject()
    );
    let dir = tempfile::tempdir().unwrap();
    let der_path = dir.path().join("SanitelCF.cer");
    let pem_path = dir.path().join("SanitelCF.pem");
    std::fs::write(&der_path, &der).unwrap();
    std::fs::write(&pem_path, format!("\n{cert_pem}")).unwrap();
    for path in [&der_path, &pem_path] {
        let loaded = SanitelCertificate::from_file(path).unwrap();
        assert_eq!(key.decrypt(&loaded.encrypt("42").unwrap()).unwrap(), "42");
    }
    assert!(matches!(
        SanitelCertificate::from_file(dir.path().join("missing.cer")),
        Err(SanitelError::Io { .. })
    ));
    assert!(matches!(
        SanitelCertificate::from_bytes(b"garbage"),
        Err(SanitelError::Certificate(_))
    ));
    assert!(
        SanitelCertificate::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        )
        .is_err()
    );
    assert_eq!(
        SanitelKey::from_pkcs8_pem("nope").unwrap_err(),
        SanitelError::Key
    );
}

#[test]
fn expiry_helpers() {
    let (cert, ..) = pair();
    let not_after = cert.not_after();
    let now = OffsetDateTime::now_utc();
    assert!(not_after > now + Duration::days(9 * 365));
    assert!(!cert.expires_within(now, Duration::days(30)));
    assert!(cert.expires_within(not_after - Duration::days(10), Duration::days(30)));
    assert_eq!(cert.expiry_warning(not_after - Duration::days(365)), None);
    let soon = cert.expiry_warning(not_after - Duration::days(20)).unwrap();
    assert!(
        soon.contains("scade") && soon.contains("20 giorni"),
        "{soon}"
    );
    let expired = cert.expiry_warning(not_after + Duration::days(1)).unwrap();
    assert!(expired.contains("scaduto"), "{expired}");
    assert_eq!(OFFICIAL_NOT_AFTER.year(), 2027);
}

#[test]
fn debug_shows_no_key_material() {
    let (cert, key, _, key_pem) = pair();
    assert_eq!(format!("{key:?}"), "SanitelKey(***)");
    let debug = format!("{cert:?}");
    assert!(debug.contains("SanitelCertificate"));
    let key_body: String = key_pem.lines().nth(1).unwrap().to_owned();
    assert!(!debug.contains(&key_body));
}

/// Same algorithm as `openssl pkeyutl -encrypt -certin` (what the MEF manual documents).
#[test]
fn interoperates_with_openssl() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not installed: interoperability check not run");
        return;
    }
    let (cert, key, cert_pem, key_pem) = pair();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let plain_path = dir.path().join("plain");
    let cipher_path = dir.path().join("cipher");
    std::fs::write(&cert_path, cert_pem).unwrap();
    std::fs::write(&key_path, key_pem).unwrap();
    std::fs::write(&plain_path, "1234567890").unwrap();
    // openssl encrypts with the certificate, we decrypt.
    let status = Command::new("openssl")
        .args([
            "pkeyutl",
            "-encrypt",
            "-certin",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&cert_path)
        .arg("-in")
        .arg(&plain_path)
        .arg("-out")
        .arg(&cipher_path)
        .status()
        .unwrap();
    assert!(status.success());
    let cipher = STANDARD.encode(std::fs::read(&cipher_path).unwrap());
    assert_eq!(key.decrypt(&cipher).unwrap(), "1234567890");
    // We encrypt, openssl decrypts with the key.
    std::fs::write(
        &cipher_path,
        STANDARD
            .decode(cert.encrypt("0987654321").unwrap())
            .unwrap(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .args([
            "pkeyutl",
            "-decrypt",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&key_path)
        .arg("-in")
        .arg(&cipher_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"0987654321");
}
