//! `tsgate backup` and `tsgate restore`: the SQLite database to a file and back, checked
//! (`tsgate_store::sqlite::backup`); PostgreSQL has its own tools, which are explained.
//!
//! Why `backup` on PostgreSQL explains `pg_dump` instead of running it: `pg_dump` must be at
//! least the server's major version (the tsgate host often has none, or an older one), it
//! needs the database password, which tsgate would have to hand over through the
//! environment, and a PostgreSQL installation is usually backed up by its administrator's own
//! regime (continuous archiving, nightly dumps) that one more dump from tsgate would
//! duplicate. The command to use is printed, and the exit code (1) says nothing was written.

use std::path::Path;

use anyhow::anyhow;
use tsgate_store::sqlite::backup::{self, Inspection};
use tsgate_store::{Database, Error, Holder, KeyRing, KeySource};

use super::Failure;
use crate::app;
use crate::cli::{BackupArgs, RestoreArgs};
use crate::config::Config;

/// `tsgate backup OUT_FILE`.
pub async fn backup(args: BackupArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let db = match config.database().map_err(Failure::Config)? {
        Database::Sqlite(path) => path,
        Database::Postgres(url) => {
            return Err(Failure::Refused(anyhow!(
                "{}",
                pg_dump_advice(&url, &args.out)
            )));
        }
    };
    if let Some(folder) = args.out.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(Failure::Config(anyhow!(
            "the folder {} does not exist: create it, or give another OUT_FILE",
            folder.display()
        )));
    }
    let source = app::key_source(&config).map_err(Failure::Config)?;
    // The key in use, read and never created: the copy is checked with it.
    let key = match &source {
        KeySource::Given(key) => Some(key.clone()),
        KeySource::File(file) => match file.load() {
            Ok(key) => Some(key),
            Err(Error::MissingKeyFile(_)) => None,
            Err(e) => return Err(explain(e, &source)),
        },
    };
    let ring = key.clone().map(KeyRing::new);
    let found = backup::backup(&db, &args.out, args.force, ring.as_ref())
        .await
        .map_err(|e| explain(e, &source))?;

    println!(
        "Backup written: {} ({})",
        args.out.display(),
        size(found.bytes)
    );
    println!("  checked: {}", contents(&found));
    println!(
        "The backup does not contain the master key, and cannot be read without it: the \
         passwords, PINs and codes in it are encrypted under the key with id {}.",
        found.key
    );
    match (key, found.secrets) {
        (Some(key), Some(_)) => {
            println!(
                "Master key: {} (id {}). Save a copy of it once, apart from the backups \
                 (another medium, a password manager, a safe): it changes only with \
                 tsgate rotate-key.",
                key_place(&source),
                key.id()
            );
            Ok(())
        }
        (key, _) => Err(Failure::Refused(anyhow!(
            "the backup {} is written and whole, but {} does not open it{}: the database's \
             secrets are under the master key with id {}. Find the key file with that id \
             (tsgate serve's master_key_file or TSGATE_MASTER_KEY) and save it with the \
             backups, or the stored passwords, PINs and codes cannot be restored.",
            args.out.display(),
            key_place(&source),
            key.map(|k| format!(" (its id is {})", k.id()))
                .unwrap_or_else(|| " (there is no such key)".into()),
            found.key
        ))),
    }
}

/// `tsgate restore BACKUP_FILE`.
pub async fn restore(args: RestoreArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let db = match config.database().map_err(Failure::Config)? {
        Database::Sqlite(path) => path,
        Database::Postgres(url) => {
            return Err(Failure::Refused(anyhow!(
                "{}",
                pg_restore_advice(&url, &args.backup)
            )));
        }
    };
    // Before the key and the folders (PostgreSQL got its advice above): a mistyped name is
    // the likeliest error.
    if !args.backup.is_file() {
        return Err(Failure::Config(anyhow!(
            "backup file {} not found: give a file written by `tsgate backup`",
            args.backup.display()
        )));
    }
    if let Some(folder) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .map_err(|e| Failure::Config(anyhow!("cannot create {}: {e}", folder.display())))?;
    }
    let source = app::key_source(&config).map_err(Failure::Config)?;
    // The key must exist already: a restore never makes one up.
    let ring = match &source {
        KeySource::Given(key) => KeyRing::new(key.clone()),
        KeySource::File(file) => {
            let key = file.load().map_err(|e| explain(e, &source))?;
            // A rotation not settled yet: its new key may be the backup's.
            match file.pending().map_err(|e| explain(e, &source))? {
                Some(next) => KeyRing::new(key).with_retired(next),
                None => KeyRing::new(key),
            }
        }
    };
    let restored = backup::restore(&db, &args.backup, &ring)
        .await
        .map_err(|e| explain(e, &source))?;
    let found = &restored.backup;
    println!("Restored {} from {}", db.display(), args.backup.display());
    let migrated = if restored.schema_version > found.schema_version {
        format!(", migrated to {}", restored.schema_version)
    } else {
        String::new()
    };
    println!("  checked: {}{migrated}", contents(found));
    match &restored.previous {
        Some(previous) => println!(
            "The database it replaced is kept as {}: delete it once tsgate works as expected.",
            previous.display()
        ),
        None => println!("There was no database to replace."),
    }
    println!("Start tsgate again (e.g. systemctl start tsgate).");
    Ok(())
}

/// One line of what a checked database holds.
fn contents(found: &Inspection) -> String {
    let secrets = match found.secrets {
        Some(n) => format!("{n} secrets open with the master key"),
        None => "secrets not opened".into(),
    };
    format!(
        "integrity ok, schema version {}; users: {}, workstations: {}, audit lines: {}; {secrets}",
        found.schema_version, found.users, found.workstations, found.audit_lines
    )
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 10 << 20 => format!("{} MiB", b >> 20),
        b if b >= 10 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Where the master key in use is, for messages (never the key itself).
pub fn key_place(source: &KeySource) -> String {
    match source {
        KeySource::Given(_) => "the master key of TSGATE_MASTER_KEY".into(),
        KeySource::File(file) => format!("the master key file {}", file.path().display()),
    }
}

/// The store's refusals of a backup, a restore or a rotation, in English, each with the next
/// step; anything else as it is.
pub fn explain(e: Error, source: &KeySource) -> Failure {
    let message = match &e {
        Error::Exists(path) => format!(
            "{} already exists: choose another name, or add --force to replace it",
            path.display()
        ),
        Error::NoDatabase(path) => format!(
            "there is no database at {} (data_dir or database in the configuration): nothing \
             to back up",
            path.display()
        ),
        Error::InUse { database, by } => match by {
            Holder::Process => format!(
                "the database {database} is in use by another tsgate process (tsgate serve, \
                 or a command): stop tsgate (e.g. systemctl stop tsgate) and run this again"
            ),
            Holder::Server { node, seconds } => format!(
                "a tsgate serve still holds the database {database} (node \"{node}\" renewed \
                 its lease, which runs out in {seconds} s): stop every tsgate serve and run \
                 this again; if it was killed, wait {seconds} s"
            ),
        },
        Error::Maintenance { database } => format!(
            "a tsgate restore or rotate-key is running on the database {database}: wait until \
             it ends, then run this again"
        ),
        Error::MissingKeyFile(path) => format!(
            "there is no master key at {}: copy there (mode 0600) the master key file saved \
             with the backups, then run this again",
            path.display()
        ),
        Error::KeyMismatch { data, current } => {
            let mut message = format!(
                "this backup is encrypted under the master key with id {data}, but {} has id \
                 {current}: nothing was changed. ",
                key_place(source)
            );
            match source {
                KeySource::File(file) => {
                    let retired = file.retired_path(*data);
                    if retired.exists() {
                        message.push_str(&format!(
                            "The key with id {data} was replaced by tsgate rotate-key and is \
                             kept as {}: copy it to {} (keep a copy of the current one too: \
                             backups made since the rotation need it), then run tsgate \
                             restore again.",
                            retired.display(),
                            file.path().display()
                        ));
                    } else {
                        message.push_str(&format!(
                            "Put the master key file saved with this backup (id {data}) at \
                             {} with mode 0600, keeping a copy of the current one, then run \
                             tsgate restore again.",
                            file.path().display()
                        ));
                    }
                }
                KeySource::Given(_) => message.push_str(&format!(
                    "Set TSGATE_MASTER_KEY to the key saved with this backup (id {data}), then \
                     run tsgate restore again."
                )),
            }
            message
        }
        Error::SchemaTooNew { found, supported } => format!(
            "the backup was written by a newer tsgate (schema version {found}; this one reads up \
             to {supported}): restore it with that version of tsgate or a later one"
        ),
        Error::NotTsgateDatabase { path, why } => format!(
            "{} is not a tsgate database ({why}): give a file written by tsgate backup",
            path.display()
        ),
        Error::Integrity { path, report } => format!(
            "{} is damaged (SQLite integrity check: {report}): use another backup",
            path.display()
        ),
        Error::File { path, source } => format!("cannot use the file {}: {source}", path.display()),
        _ => return Failure::Refused(anyhow::Error::new(e)),
    };
    Failure::Refused(anyhow!(message))
}

/// `url` as it may be typed: no password (`PGPASSWORD` or `~/.pgpass` holds it).
fn without_password(url: &str) -> String {
    let shown = tsgate_store::redact_url(url).replace(":***@", "@");
    match shown.split_once('?') {
        Some((head, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                head.to_owned()
            } else {
                format!("{head}?{}", kept.join("&"))
            }
        }
        None => shown,
    }
}

fn pg_dump_advice(url: &str, out: &Path) -> String {
    format!(
        "tsgate backup copies the SQLite database; this installation uses PostgreSQL ({}). \
         Back it up with PostgreSQL's own tool, which is online and consistent as well, with \
         pg_dump of the server's major version or newer:\n\n    \
         pg_dump --format=custom --file='{}' '{}'\n\n\
         (the password in PGPASSWORD or ~/.pgpass, never on the command line), or with the \
         continuous archiving your database administrator runs. Restore with pg_restore, every \
         tsgate node stopped (see tsgate restore). Save the master key (TSGATE_MASTER_KEY or \
         the key file) apart from the dumps: a dump is useless without it.",
        tsgate_store::redact_url(url),
        out.display(),
        without_password(url)
    )
}

fn pg_restore_advice(url: &str, backup: &Path) -> String {
    format!(
        "tsgate restore replaces a SQLite database; this installation uses PostgreSQL ({}). \
         Stop every tsgate node, then restore the dump with PostgreSQL's own tool:\n\n    \
         pg_restore --clean --if-exists --no-owner --dbname='{}' '{}'\n\n\
         and start the nodes with the master key the dump was made under (tsgate check says \
         whether it opens the database).",
        tsgate_store::redact_url(url),
        without_password(url),
        backup.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_advice_never_shows_the_password() {
        let url =
            "postgres://tsgate:S3gret0@db.example.it:5432/tsgate?sslmode=require&password=S3gret0";
        let advice = pg_dump_advice(url, Path::new("/backup/tsgate.dump"));
        assert!(!advice.contains("S3gret0"), "{advice}");
        assert!(
            advice.contains(
                "pg_dump --format=custom --file='/backup/tsgate.dump' \
                 'postgres://tsgate@db.example.it:5432/tsgate?sslmode=require'"
            ),
            "{advice}"
        );
        let advice = pg_restore_advice(url, Path::new("/backup/tsgate.dump"));
        assert!(!advice.contains("S3gret0"), "{advice}");
        assert!(advice.contains("pg_restore"), "{advice}");
    }
}
