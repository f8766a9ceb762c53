//! SanitelCF encryption of PINs and fiscal codes.
//!
//! Sistema TS wants sensitive identifiers encrypted with the public key of the *SanitelCF*
//! certificate, RSA PKCS#1 v1.5 ("RSA/ECB/PKCS1Padding"), then base64 on one line. The
//! padding is randomised, so the same PIN encrypts differently every time: servers decrypt,
//! they never compare ciphertexts.
//!
//! [`SanitelKey`] is the decrypting side, for the simulator, and [`generate_test_pair`]
//! makes the simulator's key and certificate (RSA 1024 like the official one, so a
//! ciphertext is 172 base64 characters, as on the real service).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem};

/// End of validity of the official SanitelCF certificate (2024–2027 kit).
pub const OFFICIAL_NOT_AFTER: OffsetDateTime = time::macros::datetime!(2027-01-23 00:00 UTC);

/// How long before expiry [`SanitelCertificate::expiry_warning`] starts warning.
pub const EXPIRY_WARNING_WINDOW: time::Duration = time::Duration::days(60);

/// Why the SanitelCF certificate or the simulator key cannot be used.
///
/// `Display` is Italian, for the doctor; [`SanitelError::english`] is the same for the
/// command line and the logs. Neither mixes the two languages: the English details of the
/// parsers are only in the English text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SanitelError {
    /// The file is neither a PEM nor a DER X.509 certificate (the parser's detail, English).
    #[error(
        "certificato SanitelCF non leggibile: non è un certificato X.509 (PEM o DER). Scaricare di nuovo il certificato dal kit di Sistema TS e aggiornarlo in tsgate"
    )]
    Certificate(String),
    /// The certificate does not hold an RSA public key.
    #[error("il certificato indicato non contiene una chiave RSA: non è il certificato SanitelCF")]
    NotRsa,
    /// Reading the file failed.
    #[error("impossibile leggere il file del certificato SanitelCF {}: {}", path.display(), io_italian(*kind))]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        kind: std::io::ErrorKind,
    },
    /// Encryption failed (value too long for the key, or no system randomness).
    #[error("cifratura con il certificato SanitelCF non riuscita")]
    Encrypt,
    /// The private key is not a PKCS#8 RSA key.
    #[error("chiave privata non valida: serve una chiave RSA in formato PKCS#8 PEM")]
    Key,
    /// The ciphertext is not base64, not for this key, or not UTF-8 once decrypted.
    #[error("valore cifrato non valido o non cifrato con il certificato atteso")]
    Decrypt,
    /// Key or certificate generation failed (the generator's detail, English).
    #[error("generazione della coppia di chiavi di prova non riuscita")]
    Generate(String),
}

impl SanitelError {
    /// The same as `Display`, in English, for the command line and the logs.
    pub fn english(&self) -> String {
        match self {
            Self::Certificate(detail) => format!(
                "not an X.509 certificate in PEM or DER ({detail}); download the SanitelCF \
                 certificate from the Sistema TS kit again"
            ),
            Self::NotRsa => {
                "the certificate holds no RSA key: it is not the SanitelCF certificate".to_owned()
            }
            Self::Io { path, kind } => {
                format!("cannot read {}: {}", path.display(), io_english(*kind))
            }
            Self::Encrypt => "encryption with the SanitelCF certificate failed".to_owned(),
            Self::Key => "invalid private key: an RSA key in PKCS#8 PEM is needed".to_owned(),
            Self::Decrypt => {
                "invalid encrypted value, or not encrypted with the expected certificate".to_owned()
            }
            Self::Generate(detail) => format!("cannot generate the test key pair: {detail}"),
        }
    }
}

/// An I/O failure said in Italian (the standard library's texts are English).
fn io_italian(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind;
    match kind {
        ErrorKind::NotFound => "il file non esiste",
        ErrorKind::PermissionDenied => "permesso negato",
        ErrorKind::IsADirectory => "è una cartella, non un file",
        _ => "errore di lettura",
    }
}

/// An I/O failure said in English, plainly.
fn io_english(kind: std::io::ErrorKind) -> String {
    use std::io::ErrorKind;
    match kind {
        ErrorKind::NotFound => "no such file".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        ErrorKind::IsADirectory => "it is a folder, not a file".to_owned(),
        other => other.to_string(),
    }
}

/// The SanitelCF certificate: encrypts identifiers for Sistema TS.
#[derive(Clone)]
pub struct SanitelCertificate {
    key: rsa::PublicKey,
    subject: String,
    not_after: OffsetDateTime,
}

impl fmt::Debug for SanitelCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SanitelCertificate")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl SanitelCertificate {
    /// From DER bytes (the official `.cer`).
    pub fn from_der(der: &[u8]) -> Result<Self, SanitelError> {
        let cert =
            Certificate::from_der(der).map_err(|e| SanitelError::Certificate(e.to_string()))?;
        Self::from_certificate(&cert)
    }

    /// From a PEM text (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &str) -> Result<Self, SanitelError> {
        let cert = Certificate::from_pem(pem.trim().as_bytes())
            .map_err(|e| SanitelError::Certificate(e.to_string()))?;
        Self::from_certificate(&cert)
    }

    /// From file contents, PEM or DER (detected).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SanitelError> {
        let looks_pem = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .is_some_and(|start| bytes[start..].starts_with(b"-----BEGIN"));
        if looks_pem {
            let text =
                std::str::from_utf8(bytes).map_err(|e| SanitelError::Certificate(e.to_string()))?;
            Self::from_pem(text)
        } else {
            Self::from_der(bytes)
        }
    }

    /// From a file, PEM or DER.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SanitelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| SanitelError::Io {
            path: path.to_owned(),
            kind: e.kind(),
        })?;
        Self::from_bytes(&bytes)
    }

    fn from_certificate(cert: &Certificate) -> Result<Self, SanitelError> {
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| SanitelError::Certificate(e.to_string()))?;
        let key = rsa::PublicKey::from_public_key_der(&spki).map_err(|_| SanitelError::NotRsa)?;
        let secs = tbs.validity().not_after.to_unix_duration().as_secs();
        let not_after = i64::try_from(secs)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .ok_or_else(|| SanitelError::Certificate("invalid expiry date".into()))?;
        Ok(Self {
            key,
            subject: tbs.subject().to_string(),
            not_after,
        })
    }

    /// Encrypts a value (PIN, fiscal code): RSA PKCS#1 v1.5 with fresh randomness, base64
    /// standard alphabet on one line.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, SanitelError> {
        let cipher = self
            .key
            .pkcs1v15_encrypt(plaintext.as_bytes())
            .map_err(|_| SanitelError::Encrypt)?;
        Ok(STANDARD.encode(cipher))
    }

    /// The certificate's subject (RFC 4514 text), e.g. `CN=SanitelCF,OU=…`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Whether the certificate expires before `now + window` (or has already expired).
    pub fn expires_within(&self, now: OffsetDateTime, window: time::Duration) -> bool {
        self.not_after <= now + window
    }

    /// An Italian warning when the certificate has expired or expires within
    /// [`EXPIRY_WARNING_WINDOW`]; `None` otherwise.
    pub fn expiry_warning(&self, now: OffsetDateTime) -> Option<String> {
        self.expiry_notice(now).map(|n| n.to_string())
    }

    /// Whether the certificate has expired or expires within [`EXPIRY_WARNING_WINDOW`]:
    /// `Display` in Italian, [`ExpiryNotice::english`] for the command line and the logs.
    pub fn expiry_notice(&self, now: OffsetDateTime) -> Option<ExpiryNotice> {
        if self.not_after <= now {
            Some(ExpiryNotice::Expired {
                not_after: self.not_after,
            })
        } else if self.expires_within(now, EXPIRY_WARNING_WINDOW) {
            Some(ExpiryNotice::Soon {
                not_after: self.not_after,
                days: (self.not_after - now).whole_days(),
            })
        } else {
            None
        }
    }
}

/// The certificate is expired or expires soon ([`SanitelCertificate::expiry_notice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryNotice {
    /// It expired at `not_after`.
    Expired {
        /// End of validity.
        not_after: OffsetDateTime,
    },
    /// It expires at `not_after`, in `days` days.
    Soon {
        /// End of validity.
        not_after: OffsetDateTime,
        /// Whole days left.
        days: i64,
    },
}

impl ExpiryNotice {
    /// The same as `Display`, in English.
    pub fn english(&self) -> String {
        match self {
            Self::Expired { not_after } => format!(
                "the SanitelCF certificate expired on {}: Sistema TS will refuse PINs encrypted \
                 with it; download the new certificate from the Sistema TS portal and set \
                 sanitel_certificate to it",
                not_after.date()
            ),
            Self::Soon { not_after, days } => format!(
                "the SanitelCF certificate expires on {} (in {days} days): download the new \
                 certificate from the Sistema TS portal and set sanitel_certificate to it \
                 before then",
                not_after.date()
            ),
        }
    }
}

impl fmt::Display for ExpiryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date =
            |d: &OffsetDateTime| format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year());
        match self {
            Self::Expired { not_after } => write!(
                f,
                "Il certificato SanitelCF è scaduto il {}: Sistema TS rifiuterà PIN cifrati con esso. Scaricare il nuovo certificato dal portale Sistema TS e aggiornarlo in tsgate",
                date(not_after)
            ),
            Self::Soon { not_after, days } => write!(
                f,
                "Il certificato SanitelCF scade il {} (tra {days} giorni). Procurarsi il nuovo certificato dal portale Sistema TS e aggiornarlo in tsgate prima della scadenza",
                date(not_after)
            ),
        }
    }
}

/// The private key matching a SanitelCF-like certificate (simulator only).
#[derive(Clone)]
pub struct SanitelKey {
    key: rsa::PrivateKey,
}

impl fmt::Debug for SanitelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SanitelKey(***)")
    }
}

impl SanitelKey {
    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SanitelError> {
        let key = rsa::PrivateKey::from_pkcs8_pem(pem.trim()).map_err(|_| SanitelError::Key)?;
        Ok(Self { key })
    }

    /// Decrypts a base64 value produced by [`SanitelCertificate::encrypt`].
    ///
    /// PKCS#1 v1.5 decryption uses implicit rejection: a ciphertext made for another key may
    /// decrypt to garbage instead of failing, so callers compare the result with the
    /// expected value (as Sistema TS does with the PIN).
    pub fn decrypt(&self, base64: &str) -> Result<String, SanitelError> {
        let cipher = STANDARD
            .decode(base64.trim())
            .map_err(|_| SanitelError::Decrypt)?;
        let plain = self
            .key
            .pkcs1v15_decrypt(&cipher)
            .map_err(|_| SanitelError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SanitelError::Decrypt)
    }
}

/// Generates a test key pair: a 1024-bit RSA key and a self-signed certificate for it,
/// valid for ten years. Returns `(certificate PEM, private key PKCS#8 PEM)`.
///
/// For the simulator and tests only; never use it with real data.
pub fn generate_test_pair(common_name: &str) -> Result<(String, String), SanitelError> {
    use x509_cert::builder::{Builder, CertificateBuilder};
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let gen_err = |e: &dyn fmt::Display| SanitelError::Generate(e.to_string());
    let mut rng = getrandom::SysRng;
    let key = rsa::PrivateKey::new(&mut rng, 1024).map_err(|e| gen_err(&e))?;
    let public = key.to_public_key();
    let spki = SubjectPublicKeyInfoOwned::from_key(&public).map_err(|e| gen_err(&e))?;
    let cn: String = common_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " -_.".contains(*c))
        .collect();
    let subject = Name::from_str(&format!("CN={cn},OU=tsgate simulatore,O=tsgate,C=IT"))
        .map_err(|e| gen_err(&e))?;
    let mut serial = [0u8; 8];
    getrandom::fill(&mut serial).map_err(|e| gen_err(&e))?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| gen_err(&e))?;
    let validity = Validity::from_now(std::time::Duration::from_secs(10 * 365 * 24 * 3600))
        .map_err(|e| gen_err(&e))?;
    let builder = CertificateBuilder::new(SelfSigned { subject }, serial, validity, spki)
        .map_err(|e| gen_err(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key.clone());
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| gen_err(&e))?;
    let cert_pem = cert.to_pem(LineEnding::LF).map_err(|e| gen_err(&e))?;
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| gen_err(&e))?;
    Ok((cert_pem, key_pem.to_string()))
}

/// A bare self-signed certificate without extensions: all the simulator needs is the key.
struct SelfSigned {
    subject: x509_cert::name::Name,
}

impl x509_cert::builder::profile::BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &x509_cert::name::Name) -> x509_cert::name::Name {
        subject.clone()
    }

    fn get_subject(&self) -> x509_cert::name::Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(Vec::new())
    }
}
