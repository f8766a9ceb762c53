//! Encryption of secrets at rest.
//!
//! Every secret value (Sistema TS password, PIN, mailbox password, session code) is stored as
//!
//! ```text
//! 0x01 | key id (4 bytes) | nonce (24 random bytes) | XChaCha20-Poly1305 ciphertext + tag
//! ```
//!
//! with associated data `tsgate:v1|<table>|<column>|<row key>`, so a ciphertext copied into
//! another row or column fails to decrypt instead of handing one user's password to another.
//! The key id is the first 4 bytes of `SHA-256("tsgate master key id" | key)`: it tells which
//! key of a [`KeyRing`] opens a value, which is what makes rotation possible.
//!
//! ## The master key
//!
//! 32 random bytes, never stored in the database: a file created on first run with mode 0600
//! ([`MasterKey::load_or_create`]; a file readable by others is refused), or the environment
//! variable `TSGATE_MASTER_KEY` (base64, [`MasterKey::from_env`]). Losing it makes the stored
//! passwords, PINs and codes unrecoverable (they must be entered again); the rest of the
//! database stays readable.
//!
//! ## Rotation
//!
//! [`crate::AnyStore::rotate_key_file`] (`tsgate rotate-key`) does it with the key file of
//! [`crate::KeyFile`]:
//!
//! 1. the new key is written to `master.key.next` (a temporary file, fsync, rename);
//! 2. every secret and the key check are re-encrypted under it in ONE transaction;
//! 3. the old key is copied to `master.key.retired-<id>` (backups made before the rotation
//!    need it), then `master.key.next` is renamed over `master.key`.
//!
//! A crash anywhere leaves the database wholly under one of the two keys, because step 2 is
//! one transaction, and both keys on disk. The next open
//! ([`crate::AnyStore::open_keyed`]) settles it by the id in front of the stored key check:
//! under the new key it finishes step 3, under the old one it deletes `master.key.next`.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;

const FORMAT: u8 = 1;
const ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
/// The environment variable holding the master key in base64.
pub const MASTER_KEY_ENV: &str = "TSGATE_MASTER_KEY";

/// The id of a master key: the first 4 bytes of `SHA-256("tsgate master key id" | key)`,
/// written in front of every value sealed under it. Shown as 8 hex digits, it names a key in
/// messages (which key file a backup needs) without revealing anything of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte master key. `Debug` shows only its id.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={})", self.id())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// A key from base64 (standard alphabet, 32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let raw = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| Error::InvalidKey("il valore non è base64 valido".into()))?,
        );
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            Error::InvalidKey(format!("servono 32 byte, ne sono arrivati {}", raw.len()))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key from `TSGATE_MASTER_KEY`, if set.
    pub fn from_env() -> Result<Option<Self>, Error> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(v) => Self::from_base64(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a random key if it does not
    /// exist. A key file that group or others may read is refused.
    pub fn load_or_create(path: &Path) -> Result<Self, Error> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_file(path),
            Err(source) => Err(Error::KeyFile {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Reads an existing key file (32 raw bytes), checking its permissions.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::KeyFilePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let raw = Zeroizing::new(std::fs::read(path).map_err(io)?);
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            Error::InvalidKey(format!(
                "il file {} deve contenere 32 byte, ne contiene {}",
                path.display(),
                raw.len()
            ))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// Creates a new key file (fails if it exists) with mode 0600 and a random key.
    pub fn create_file(path: &Path) -> Result<Self, Error> {
        let key = Self::generate();
        key.write_new(path)?;
        Ok(key)
    }

    /// Writes this key into a new file (fails if it exists) with mode 0600, synced to disk
    /// before this returns.
    pub fn write_new(&self, path: &Path) -> Result<(), Error> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let io = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        let mut file = options.open(path).map_err(io)?;
        file.write_all(self.bytes.as_slice()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(())
    }

    /// Whether `path` holds this very key (without checking the file's permissions).
    pub(crate) fn is_in_file(&self, path: &Path) -> bool {
        std::fs::read(path)
            .map(Zeroizing::new)
            .is_ok_and(|raw| raw.as_slice() == self.bytes.as_slice())
    }

    /// A 32-byte key for another purpose (e.g. sealing the web UI's session cookies),
    /// derived from this one so that no second secret has to be kept: the same master key
    /// gives the same subkey after a restart, and a rotated master key gives a new one.
    /// Different `purpose` strings give independent keys; none of them reveals this key.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let digest = Sha256::new()
            .chain_update(b"tsgate subkey v1\0")
            .chain_update(purpose.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.bytes.as_slice())
            .finalize();
        Zeroizing::new(digest.into())
    }

    /// The id written in front of every ciphertext made with this key.
    pub fn id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(b"tsgate master key id")
            .chain_update(self.bytes.as_slice())
            .finalize();
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        KeyId(id)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.bytes.as_slice()))
    }
}

/// Where a ciphertext lives; bound into it as associated data.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    /// Table name.
    pub table: &'a str,
    /// Column name.
    pub column: &'a str,
    /// Primary key of the row, in text.
    pub row: &'a str,
}

impl Slot<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("tsgate:v1|{}|{}|{}", self.table, self.column, self.row).into_bytes()
    }
}

/// The current key (used to encrypt) and retired keys (still accepted to decrypt).
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: MasterKey,
    retired: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            retired: Vec::new(),
        }
    }

    /// Also accepts values encrypted under `old`.
    pub fn with_retired(mut self, old: MasterKey) -> Self {
        self.retired.push(old);
        self
    }

    /// The key used for new values.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub(crate) fn rotated(&self, new: MasterKey) -> Self {
        let mut retired = vec![self.current.clone()];
        retired.extend(self.retired.iter().cloned());
        Self {
            current: new,
            retired,
        }
    }

    /// Encrypts `plain` for `slot` under the current key.
    pub fn seal(&self, plain: &[u8], slot: Slot<'_>) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let aad = slot.aad();
        let sealed = self
            .current
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + ID_LEN + NONCE_LEN + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.current.id().0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The id of the key a value made by [`KeyRing::seal`] is sealed under (`None`: not a
    /// sealed value). Needs no key: it is how a database tells which key file it needs.
    pub fn sealed_under(sealed: &[u8]) -> Option<KeyId> {
        if sealed.len() < 1 + ID_LEN + NONCE_LEN + 16 || sealed[0] != FORMAT {
            return None;
        }
        let mut id = [0; ID_LEN];
        id.copy_from_slice(&sealed[1..1 + ID_LEN]);
        Some(KeyId(id))
    }

    /// Whether this ring holds the key of `id`.
    pub fn holds(&self, id: KeyId) -> bool {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .any(|k| k.id() == id)
    }

    /// Decrypts a value made by [`KeyRing::seal`] for the same `slot`.
    pub fn open(&self, sealed: &[u8], slot: Slot<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
        let fail = || Error::Decrypt {
            table: slot.table.to_owned(),
            column: slot.column.to_owned(),
        };
        if sealed.len() < 1 + ID_LEN + NONCE_LEN + 16 || sealed[0] != FORMAT {
            return Err(fail());
        }
        let id = &sealed[1..1 + ID_LEN];
        let key = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id().0 == id)
            .ok_or(Error::UnknownKeyId)?;
        let nonce = &sealed[1 + ID_LEN..1 + ID_LEN + NONCE_LEN];
        let aad = slot.aad();
        key.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: &sealed[1 + ID_LEN + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| fail())
    }

    /// Decrypts to a UTF-8 string.
    pub fn open_string(&self, sealed: &[u8], slot: Slot<'_>) -> Result<Zeroizing<String>, Error> {
        let bytes = self.open(sealed, slot)?;
        std::str::from_utf8(&bytes)
            .map(|s| Zeroizing::new(s.to_owned()))
            .map_err(|_| Error::Decrypt {
                table: slot.table.to_owned(),
                column: slot.column.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: Slot<'static> = Slot {
        table: "credentials",
        column: "password_enc",
        row: "PROVAX00X00X000Y",
    };

    #[test]
    fn round_trip_and_random_nonces() {
        let ring = KeyRing::new(MasterKey::generate());
        let a = ring.seal(b"Salve123", SLOT);
        let b = ring.seal(b"Salve123", SLOT);
        assert_ne!(a, b);
        assert_eq!(ring.open(&a, SLOT).unwrap().as_slice(), b"Salve123");
        assert!(!a.windows(8).any(|w| w == b"Salve123"));
    }

    #[test]
    fn ciphertext_is_bound_to_its_row_and_column() {
        let ring = KeyRing::new(MasterKey::generate());
        let sealed = ring.seal(b"Salve123", SLOT);
        let other_row = Slot {
            row: "OTHER",
            ..SLOT
        };
        let other_col = Slot {
            column: "pin_enc",
            ..SLOT
        };
        assert!(ring.open(&sealed, other_row).is_err());
        assert!(ring.open(&sealed, other_col).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(ring.open(&tampered, SLOT).is_err());
    }

    #[test]
    fn retired_keys_still_open_and_unknown_keys_are_named() {
        let old = MasterKey::generate();
        let sealed = KeyRing::new(old.clone()).seal(b"x", SLOT);
        let ring = KeyRing::new(MasterKey::generate()).with_retired(old);
        assert_eq!(ring.open(&sealed, SLOT).unwrap().as_slice(), b"x");
        let stranger = KeyRing::new(MasterKey::generate());
        assert!(matches!(
            stranger.open(&sealed, SLOT),
            Err(Error::UnknownKeyId)
        ));
    }

    #[test]
    fn key_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let k1 = MasterKey::load_or_create(&path).unwrap();
        let k2 = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(k1.id(), k2.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = MasterKey::load_or_create(&path).unwrap_err();
            assert!(matches!(e, Error::KeyFilePermissions { .. }));
            assert!(e.to_string().contains("chmod 600"));
        }
        assert!(!format!("{k1:?}").contains(&STANDARD.encode(k1.bytes.as_slice())));
    }

    #[test]
    fn base64_keys() {
        let raw = [7u8; 32];
        let k = MasterKey::from_base64(&STANDARD.encode(raw)).unwrap();
        assert_eq!(k.id(), MasterKey::from_bytes(raw).id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("!!").is_err());
    }
}
