//! Store errors. Messages an operator acts on (key file, wrong key) are in Italian; the rest
//! goes to logs. No message contains a secret: sqlx errors carry SQL text, never bound values.
//!
//! [`Error`] is what the store's own operations return (opening the database, key files,
//! [`rotate_key`](crate::AnyStore::rotate_key)); the ports return the domain's
//! [`StoreError`], into which [`Error`] converts with its cause kept as the source.

use std::path::PathBuf;

use tsgate_session::StoreError;

use crate::crypto::KeyId;

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
    /// The key file to read does not exist (a restore never creates a key).
    #[error(
        "Il file della chiave principale {} non esiste: copialo dove era (permessi 600) dalla copia di sicurezza della chiave.",
        .0.display()
    )]
    MissingKeyFile(PathBuf),
    /// The data is sealed under a key that is not the one in use.
    #[error(
        "I segreti di questo database sono cifrati con la chiave principale {data}, non con quella in uso ({current}): serve il file della chiave con id {data}."
    )]
    KeyMismatch {
        /// The id of the key the data is under.
        data: KeyId,
        /// The id of the key in use.
        current: KeyId,
    },
    /// Another process holds the database while an exclusive operation was asked.
    #[error("Il database {database} è in uso da {by}: fermalo e riprova.")]
    InUse {
        /// The database (a path, or a URL without its password).
        database: String,
        /// Who.
        by: Holder,
    },
    /// A restore or a key rotation holds the database.
    #[error(
        "Sul database {database} è in corso tsgate restore o tsgate rotate-key: attendi che finisca e riprova."
    )]
    Maintenance {
        /// The database file.
        database: String,
    },
    /// The SQLite database to copy does not exist.
    #[error("Il database {} non esiste.", .0.display())]
    NoDatabase(PathBuf),
    /// A file that is not a tsgate database where one was expected.
    #[error("{} non è un database di tsgate: {why}.", path.display())]
    NotTsgateDatabase {
        /// The file.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A database written by a newer tsgate.
    #[error(
        "Il database è stato scritto da una versione più recente di tsgate (schema {found}; questa versione arriva a {supported}): usa quella versione o una successiva."
    )]
    SchemaTooNew {
        /// The schema version found.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// `PRAGMA integrity_check` found a problem.
    #[error("Il controllo di integrità di {} è fallito: {report}", path.display())]
    Integrity {
        /// The file.
        path: PathBuf,
        /// SQLite's report (table and page names, never values).
        report: String,
    },
    /// The file to write exists and may not be replaced.
    #[error("Il file {} esiste già.", .0.display())]
    Exists(PathBuf),
    /// A file operation of a backup, a restore or a key rotation failed.
    #[error("Operazione sul file {} non riuscita: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
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

/// Who holds a database that an operation wanted for itself alone ([`Error::InUse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Another process has it open (its [`crate::sqlite::DbLock`]).
    Process,
    /// A server holds the `periodic` lease: running, of a version that takes no lock, or
    /// killed less than three ticks ago.
    Server {
        /// Its node name.
        node: String,
        /// Seconds until the lease runs out unless renewed.
        seconds: i64,
    },
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Process => f.write_str("un altro processo tsgate (tsgate serve o un comando)"),
            Self::Server { node, seconds } => write!(
                f,
                "tsgate serve (il nodo «{node}» tiene il lease «periodic» per altri {seconds} secondi)"
            ),
        }
    }
}

impl Error {
    /// The same as `Display`, always in English, for the command line and the logs: the
    /// messages an operator acts on are Italian for the web UI, and an English sentence of
    /// the command line must not embed them.
    pub fn english(&self) -> String {
        match self {
            Self::UnknownKeyId => "a secret is sealed under a master key other than the one in \
                 use: start tsgate with the key file used before"
                .to_owned(),
            Self::WrongMasterKey => "the master key does not match this database: use the key \
                 file it was created with (without it the stored passwords, PINs and codes are \
                 lost and must be entered again)"
                .to_owned(),
            Self::KeyFile { path, source } => format!(
                "cannot read or create the master key file {}: {source}",
                path.display()
            ),
            Self::KeyFilePermissions { path, mode } => format!(
                "the master key file {} can be read by other users (mode {mode:o}): run \
                 `chmod 600 {}` and start again",
                path.display(),
                path.display()
            ),
            Self::InvalidKey(_) => "invalid master key: it must be 32 bytes in base64".to_owned(),
            Self::InvalidDatabaseUrl(url) => format!(
                "invalid database_url \"{url}\": use postgres://user:password@host:port/database \
                 for PostgreSQL, or sqlite://path/tsgate.db for SQLite"
            ),
            Self::MissingKeyFile(path) => format!(
                "the master key file {} does not exist: copy it back (mode 600) from where you \
                 saved it",
                path.display()
            ),
            Self::KeyMismatch { data, current } => format!(
                "the secrets of this database are sealed under master key {data}, not the one in \
                 use ({current}): the key file with id {data} is needed"
            ),
            Self::InUse { database, by } => {
                let by = match by {
                    Holder::Process => {
                        "another tsgate process (tsgate serve or a command)".to_owned()
                    }
                    Holder::Server { node, seconds } => format!(
                        "tsgate serve (node \"{node}\" holds the periodic lease for {seconds} more \
                         seconds)"
                    ),
                };
                format!("the database {database} is in use by {by}: stop it and try again")
            }
            Self::Maintenance { database } => format!(
                "tsgate restore or tsgate rotate-key is running on the database {database}: wait \
                 for it to finish and try again"
            ),
            Self::NoDatabase(path) => format!("the database {} does not exist", path.display()),
            Self::NotTsgateDatabase { path, .. } => {
                format!("{} is not a tsgate database", path.display())
            }
            Self::SchemaTooNew { found, supported } => format!(
                "the database was written by a newer tsgate (schema {found}; this version reads \
                 up to {supported}): use that version or a later one"
            ),
            Self::Integrity { path, report } => {
                format!("the integrity check of {} failed: {report}", path.display())
            }
            Self::Exists(path) => format!("the file {} already exists", path.display()),
            Self::File { path, source } => {
                format!("file operation on {} failed: {source}", path.display())
            }
            // The other texts are English already.
            other => other.to_string(),
        }
    }

    /// [`Error::InUse`] by the server whose node `owner` holds the `periodic` lease until
    /// `until_ms` (Unix milliseconds).
    pub(crate) fn served(database: String, owner: &str, until_ms: i64) -> Self {
        let now = crate::stored::ms(time::OffsetDateTime::now_utc());
        Self::InUse {
            database,
            by: Holder::Server {
                node: owner.to_owned(),
                seconds: (until_ms - now).max(0) / 1000 + 1,
            },
        }
    }
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
