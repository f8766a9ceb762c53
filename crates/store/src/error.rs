//! Store errors. Messages an operator acts on (key file, wrong key) are in Italian; the rest
//! goes to logs. No message contains a secret: sqlx errors carry SQL text, never bound values.
//!
//! [`Error`] is what the store's own operations return (opening the database, key files,
//! [`rotate_key`](crate::AnyStore::rotate_key)); the ports return the domain's
//! [`StoreError`], into which [`Error`] converts with its cause kept as the source.

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
    /// A `database_url` that names no backend of this store (the password already masked).
    #[error(
        "URL del database non valido: «{0}». Usa postgres://utente:password@host:porta/database per PostgreSQL, oppure sqlite://percorso/tsgate.db per SQLite."
    )]
    InvalidDatabaseUrl(String),
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

/// Into the domain's error: the two cases the domain acts on keep their meaning, everything
/// else stays whole as the source (never flattened into a string).
impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Conflict => StoreError::Conflict,
            Error::NotFound(what) => StoreError::NotFound(what),
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

/// Store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn conversion_keeps_meaning_and_cause() {
        assert!(matches!(
            StoreError::from(Error::Conflict),
            StoreError::Conflict
        ));
        assert!(matches!(
            StoreError::from(Error::NotFound("user X".into())),
            StoreError::NotFound(w) if w == "user X"
        ));
        let e = StoreError::from(Error::Decrypt {
            table: "credentials".into(),
            column: "pin_enc".into(),
        });
        let source = e.source().expect("the cause is the source");
        assert!(matches!(
            source.downcast_ref::<Error>(),
            Some(Error::Decrypt { table, column }) if table == "credentials" && column == "pin_enc"
        ));
        let e = StoreError::from(Error::Database(sqlx::Error::PoolClosed));
        let source = e.source().and_then(|s| s.downcast_ref::<Error>());
        assert!(matches!(
            source,
            Some(Error::Database(sqlx::Error::PoolClosed))
        ));
    }
}
