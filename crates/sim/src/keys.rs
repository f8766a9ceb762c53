//! The simulator's SanitelCF-like RSA key pair and certificate, and PIN/CF decryption.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPublicKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::{Pkcs1v15Encrypt, PrivateKey};

/// Entries kept in the decryption cache before it is emptied.
const CACHE_LIMIT: usize = 8192;

/// Key file names inside `SimConfig::data_dir`.
const KEY_FILE: &str = "sim-key.pem";
const CERT_FILE: &str = "sim-cert.pem";

/// The RSA 1024-bit test key pair (like the real SanitelCF) and its certificate.
pub struct SimKeys {
    private: PrivateKey,
    /// The same private key for OpenSSL, which decrypts about twenty times faster than the
    /// pure-Rust constant-time implementation: RSA decryption of the PIN and the patient CF
    /// is most of the cost of a simulated InvioPrescritto, and the simulator must sustain
    /// thousands per second on two cores. Not on Windows, where there is no OpenSSL to link
    /// (the pure-Rust key decrypts there).
    #[cfg(not(windows))]
    decrypting: openssl::rsa::Rsa<openssl::pkey::Private>,
    cert_pem: String,
    /// Decrypted values by ciphertext. PKCS#1 v1.5 decryption is deterministic for a given
    /// ciphertext, and clients often resend the same encrypted PIN: caching skips the RSA
    /// operation that otherwise dominates the cost of a DEM call.
    cache: Mutex<HashMap<String, Option<String>>>,
}

impl std::fmt::Debug for SimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimKeys").finish_non_exhaustive()
    }
}

struct RsaSpki(Vec<u8>);

impl rcgen::PublicKeyData for RsaSpki {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        // Only used to write the rsaEncryption key algorithm identifier.
        &rcgen::PKCS_RSA_SHA256
    }
}

impl SimKeys {
    /// Loads the pair from `data_dir` if present there, otherwise generates it (and saves it
    /// when a `data_dir` is given).
    pub fn load_or_generate(data_dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = data_dir {
            let (key_path, cert_path) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
            if key_path.exists() && cert_path.exists() {
                let key_pem = std::fs::read_to_string(&key_path)
                    .with_context(|| format!("reading {}", key_path.display()))?;
                let private = PrivateKey::from_pkcs8_pem(&key_pem)
                    .with_context(|| format!("invalid key in {}", key_path.display()))?;
                let cert_pem = std::fs::read_to_string(&cert_path)
                    .with_context(|| format!("reading {}", cert_path.display()))?;
                return Self::from_parts(private, cert_pem);
            }
            let keys = Self::generate()?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let key_pem = keys
                .private
                .to_pkcs8_pem(LineEnding::LF)
                .context("encoding the key")?;
            write_private(&key_path, key_pem.as_bytes())?;
            std::fs::write(&cert_path, &keys.cert_pem)
                .with_context(|| format!("writing {}", cert_path.display()))?;
            return Ok(keys);
        }
        Self::generate()
    }

    /// A fresh key pair and certificate.
    pub fn generate() -> anyhow::Result<Self> {
        let mut rng = getrandom_04::SysRng;
        let private = PrivateKey::new(&mut rng, 1024).context("generating the RSA key")?;
        let cert_pem = make_certificate(&private)?;
        Self::from_parts(private, cert_pem)
    }

    fn from_parts(private: PrivateKey, cert_pem: String) -> anyhow::Result<Self> {
        #[cfg(not(windows))]
        let decrypting = {
            let der = private.to_pkcs8_der().context("encoding the key")?;
            openssl::pkey::PKey::private_key_from_pkcs8(der.as_bytes())
                .and_then(|key| key.rsa())
                .context("loading the key into OpenSSL")?
        };
        Ok(Self {
            private,
            #[cfg(not(windows))]
            decrypting,
            cert_pem,
            cache: Mutex::new(HashMap::new()),
        })
    }

    #[cfg(windows)]
    fn decrypt(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        self.private.decrypt(Pkcs1v15Encrypt, ciphertext).ok()
    }

    #[cfg(not(windows))]
    fn decrypt(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let mut clear = vec![0u8; self.decrypting.size() as usize];
        let len = self
            .decrypting
            .private_decrypt(ciphertext, &mut clear, openssl::rsa::Padding::PKCS1)
            .ok()?;
        clear.truncate(len);
        Some(clear)
    }

    /// The certificate (PEM) clients encrypt PINs and fiscal codes with.
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Decrypts a base64 RSA PKCS#1 v1.5 ciphertext made with the certificate. `None` when it
    /// is not base64, not made with this key, or not UTF-8.
    pub fn decrypt_b64(&self, b64: &str) -> Option<String> {
        let b64 = b64.trim();
        if let Some(hit) = self.cache.lock().ok()?.get(b64) {
            return hit.clone();
        }
        let clear = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .ok()
            .and_then(|ct| self.decrypt(&ct))
            .and_then(|pt| String::from_utf8(pt).ok());
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(b64.to_owned(), clear.clone());
        }
        clear
    }

    /// Encrypts with the public key (for tests and the demo's own clients).
    pub fn encrypt_b64(&self, clear: &str) -> anyhow::Result<String> {
        let mut rng = getrandom_04::SysRng;
        let ct = self
            .private
            .to_public_key()
            .encrypt(&mut rng, Pkcs1v15Encrypt, clear.as_bytes())
            .context("RSA encryption")?;
        Ok(base64::engine::general_purpose::STANDARD.encode(ct))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// A certificate shaped like SanitelCF (`CN=SanitelCF`, RSA 1024) issued by a throw-away
/// simulator CA. rcgen's ring backend cannot sign with a 1024-bit RSA key, and the real
/// certificate is not self-signed either, so an ECDSA CA signs it.
fn make_certificate(private: &PrivateKey) -> anyhow::Result<String> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};
    let spki = RsaSpki(
        private
            .to_public_key()
            .to_pkcs1_der()
            .context("encoding the public key")?
            .as_bytes()
            .to_vec(),
    );
    let mut ca_params = CertificateParams::default();
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(DnType::CommonName, "CA Simulatore Sistema TS (tsgate)");
    ca_params.distinguished_name = ca_dn;
    ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "IT");
    dn.push(DnType::OrganizationName, "tsgate simulator");
    dn.push(DnType::OrganizationalUnitName, "Servizi Telematici (test)");
    dn.push(DnType::CommonName, "SanitelCF");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3 * 365);
    let cert = params
        .signed_by(&spki, &issuer)
        .context("signing the certificate")?;
    Ok(cert.pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_persistence() {
        let dir = std::env::temp_dir().join(format!("tsgate-sim-keys-{}", std::process::id()));
        let keys = SimKeys::load_or_generate(Some(&dir)).unwrap();
        let ct = keys.encrypt_b64("1234567890").unwrap();
        assert_eq!(ct.len(), 172);
        assert_eq!(keys.decrypt_b64(&ct).as_deref(), Some("1234567890"));
        assert_eq!(keys.decrypt_b64("bm90IGEgY2lwaGVydGV4dA=="), None);
        let again = SimKeys::load_or_generate(Some(&dir)).unwrap();
        assert_eq!(again.certificate_pem(), keys.certificate_pem());
        assert_eq!(again.decrypt_b64(&ct).as_deref(), Some("1234567890"));
        assert!(
            keys.certificate_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
