//! Store errors. Messages an operator acts on (key file, wrong key) are in Italian; the rest
//! goes to logs. No message contains a secret: sqlx errors carry SQL text, never bound values.

use std::path::PathBuf;

use tsgate_session::StoreError;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migration error.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A ciphertext did not decrypt (tampered, or moved to another row).
    #[error("a secret in {table}.{column} could not be decrypted (tampered or moved)")]
    Decrypt {
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// A value was encrypted under a key that is not in the ring.
    #[error(
        "Un segreto è cifrato con una chiave principale diversa da quella in uso: avvia tsgate con il file della chiave usato in precedenza."
    )]
    UnknownKeyId,
    /// The master key does not match this database.
    #[error(
        "La chiave principale non corrisponde a questo database: usa il file della chiave con cui è stato creato. Senza quella chiave password, PIN e codici salvati non sono recuperabili e vanno reinseriti."
    )]
    WrongMasterKey,
    /// The key file could not be read or written.
    #[error("Impossibile leggere o creare il file della chiave {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is readable by group or others.
    #[error(
        "Il file della chiave {} è accessibile ad altri utenti (permessi {mode:o}): esegui «chmod 600 {}» e riavvia tsgate.",
        path.display(), path.display()
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A master key given in the wrong form.
    #[error("Chiave principale non valida: {0}.")]
    InvalidKey(String),
    /// Stored data that does not parse.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Compare-and-swap lost against another writer.
    #[error("concurrent update")]
    Conflict,
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Conflict => StoreError::Conflict,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// Store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
