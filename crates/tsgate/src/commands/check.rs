//! `tsgate check`: validates what `serve` needs, one line per check, and says what to fix.

use std::time::Duration;

use time::OffsetDateTime;
use tsgate_mailbox::{DiagnosticCode, MailboxSettings, MailboxStatus};
use tsgate_session::MailboxRepo as _;
use tsgate_session::UserId;
use tsgate_session::mailbox::UserMailbox;
use tsgate_store::sqlite::backup;
use tsgate_store::{KeyFile, KeyRing, MasterKey, SqliteStore};

use super::Failure;
use crate::app;
use crate::cli::ConfigArgs;
use crate::config::Config;

/// Runs every check; exit code 1 if any failed, 2 if the configuration itself is invalid.
/// Writes nothing: no data folder, master key or database is created, and an existing
/// SQLite database is read from a copy (a first run or an older schema is reported, not
/// fixed).
pub async fn run(args: ConfigArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    println!(
        "ok    configuration ({:?} environment, listen {})",
        config.environment, config.listen
    );
    let mut failed = 0;
    // The certified mailboxes, read while the database is open and tried last.
    let mut mailboxes = None;

    match inspect_store(&config).await {
        StoreCheck::Checked(list) => mailboxes = Some(list),
        StoreCheck::NotYet => {}
        StoreCheck::Failed(n) => failed += n,
    }

    if let Some(certificate) = &config.tls_certificate {
        let checked = app::tls_settings(&config)
            .map_err(|e| format!("{e:#}"))
            .and_then(|tls| {
                tsgate_gateway::GatewayConfig {
                    tls,
                    ..Default::default()
                }
                .validate()
            });
        match checked {
            Ok(()) => println!("ok    HTTPS certificate and key {}", certificate.display()),
            Err(e) => {
                failed += 1;
                println!("FAIL  HTTPS (tls_certificate, tls_key): {e}");
            }
        }
    }

    match app::load_certificate(&config).await {
        Ok(cert) => match cert.expiry_notice(OffsetDateTime::now_utc()) {
            None => println!(
                "ok    SanitelCF certificate valid until {}",
                cert.not_after().date()
            ),
            Some(notice) => println!("WARN  SanitelCF certificate: {}", notice.english()),
        },
        Err(e) => {
            failed += 1;
            println!("FAIL  SanitelCF certificate: {e:#}");
        }
    }

    match config.environment() {
        Ok(env) => {
            for (name, base) in [("A2F", env.a2f_base()), ("DEM", env.dem_base())] {
                match reachable(base).await {
                    Ok(()) => println!("ok    {name} service reachable at {base}"),
                    Err(e) => {
                        failed += 1;
                        println!("FAIL  {name} service at {base}: {e}");
                    }
                }
            }
        }
        Err(e) => {
            failed += 1;
            println!("FAIL  environment: {e}");
        }
    }

    if let Some(list) = mailboxes {
        failed += check_mailboxes(list).await;
    }

    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Refused(anyhow::anyhow!(
            "{failed} check(s) failed"
        )))
    }
}

/// What [`inspect_store`] found.
enum StoreCheck {
    /// The key opens the database: its certified mailboxes, to try.
    Checked(Vec<(UserId, UserMailbox)>),
    /// No key or database yet: a first run creates them.
    NotYet,
    /// This many checks failed (already printed).
    Failed(usize),
}

/// The master key and the database, read without writing anything; prints one line each.
async fn inspect_store(config: &Config) -> StoreCheck {
    let database = match config.database() {
        Ok(d) => d,
        Err(e) => {
            println!("FAIL  database: {e:#}");
            return StoreCheck::Failed(1);
        }
    };
    let first_run = "`tsgate serve` or the first `tsgate user add` creates it";
    // The key, as the server would take it, but never created here.
    let keys = match MasterKey::from_env() {
        Err(_) => {
            println!(
                "FAIL  master key: TSGATE_MASTER_KEY is set but is not a key (base64 of 32 bytes); \
                 unset it to use the key file {}",
                config.master_key_path().display()
            );
            return StoreCheck::Failed(1);
        }
        Ok(Some(key)) => {
            println!("ok    master key from TSGATE_MASTER_KEY ({})", key.id());
            Some(KeyRing::new(key))
        }
        Ok(None) => {
            let file = KeyFile::new(config.master_key_path());
            if file.path().exists() {
                match file.load().and_then(|key| Ok((key, file.pending()?))) {
                    Ok((key, pending)) => {
                        println!("ok    master key {} ({})", file.path().display(), key.id());
                        let ring = KeyRing::new(key);
                        Some(match pending {
                            Some(next) => ring.with_retired(next),
                            None => ring,
                        })
                    }
                    Err(e) => {
                        println!(
                            "FAIL  master key {}: {}",
                            file.path().display(),
                            e.english()
                        );
                        return StoreCheck::Failed(1);
                    }
                }
            } else {
                println!(
                    "WARN  no master key yet at {}: {first_run}",
                    file.path().display()
                );
                None
            }
        }
    };
    match (&database, keys) {
        (tsgate_store::Database::Sqlite(path), keys) if !path.exists() => {
            let _ = keys;
            println!("WARN  no database yet at {}: {first_run}", path.display());
            StoreCheck::NotYet
        }
        (tsgate_store::Database::Sqlite(path), None) => {
            println!(
                "FAIL  database {} exists but its master key is missing: put the key file \
                 back at {} (from where you saved it) or set TSGATE_MASTER_KEY; without it the \
                 stored passwords cannot be read",
                path.display(),
                config.master_key_path().display()
            );
            StoreCheck::Failed(1)
        }
        (tsgate_store::Database::Sqlite(path), Some(keys)) => inspect_sqlite(path, keys).await,
        (tsgate_store::Database::Postgres(_), None) => {
            println!(
                "WARN  no master key: PostgreSQL database {database} not opened (it would need \
                 the key)"
            );
            StoreCheck::NotYet
        }
        (tsgate_store::Database::Postgres(_), Some(_)) => {
            // A PostgreSQL database is shared by the nodes: opened like a server would.
            match app::open_store(config).await {
                Ok(store) => {
                    let found = match store.list_mailboxes().await {
                        Ok(list) => {
                            println!("ok    database {database}");
                            StoreCheck::Checked(list)
                        }
                        Err(e) => {
                            println!(
                                "FAIL  database {database}: cannot read the mailbox settings ({})",
                                sistemats::error::describe_chain(&e)
                            );
                            StoreCheck::Failed(1)
                        }
                    };
                    store.close().await;
                    found
                }
                Err(e) => {
                    println!("FAIL  database {database}: {e:#}");
                    StoreCheck::Failed(1)
                }
            }
        }
    }
}

/// Checks a copy of the SQLite database at `path` (made in a private temporary folder, as
/// `tsgate backup` does) and reads its mailboxes from the copy: the database itself is
/// neither migrated nor changed.
async fn inspect_sqlite(path: &std::path::Path, keys: KeyRing) -> StoreCheck {
    let fail = |e: &dyn std::fmt::Display| {
        println!("FAIL  database {}: {e}", path.display());
        StoreCheck::Failed(1)
    };
    let scratch = match tempfile::Builder::new().prefix("tsgate-check-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail(&format!("cannot make a temporary folder: {e}")),
    };
    let copy = scratch.path().join("check.db");
    let found = match backup::backup(path, &copy, false, Some(&keys)).await {
        Ok(found) => found,
        Err(e) => return fail(&e.english()),
    };
    let supported = backup::supported_schema();
    if found.schema_version < supported {
        println!(
            "ok    database {} ({} users; schema {}, `tsgate serve` updates it to {supported})",
            path.display(),
            found.users,
            found.schema_version
        );
    } else {
        println!(
            "ok    database {} ({} users), opened with the master key",
            path.display(),
            found.users
        );
    }
    match SqliteStore::open(&copy, keys).await {
        Ok(store) => {
            let list = store.list_mailboxes().await;
            store.close().await;
            match list {
                Ok(list) => StoreCheck::Checked(list),
                Err(e) => fail(&format!(
                    "cannot read the mailbox settings ({})",
                    sistemats::error::describe_chain(&e)
                )),
            }
        }
        Err(e) => fail(&e.english()),
    }
}

/// A TCP + TLS + HTTP round trip to the base URL: any HTTP answer counts as reachable.
async fn reachable(base: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    client
        .get(base)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sistemats::error::describe_chain(&e))
}

/// Longest wait for each step of a mailbox check (connection, TLS, login, each command).
const MAILBOX_STEP_TIMEOUT_SECS: u64 = 15;
/// Longest wait for a whole mailbox check.
const MAILBOX_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs in once to every configured certified mailbox (a mailbox shared by several users
/// once: repeated refused logins can lock an account) and prints one line per user.
/// Returns the number of failed users. Never prints a password.
async fn check_mailboxes(list: Vec<(UserId, UserMailbox)>) -> usize {
    if list.is_empty() {
        println!("ok    no certified mailbox configured (codes are pasted by hand)");
        return 0;
    }
    let mut distinct: Vec<&UserMailbox> = Vec::new();
    let mut index_of = Vec::with_capacity(list.len());
    for (_, mailbox) in &list {
        let same = distinct.iter().position(|d| same_login(d, mailbox));
        index_of.push(same.unwrap_or_else(|| {
            distinct.push(mailbox);
            distinct.len() - 1
        }));
    }
    let statuses = futures::future::join_all(
        distinct
            .iter()
            .map(|mailbox| check_mailbox(&mailbox.settings)),
    )
    .await;

    let mut failed = 0;
    let mut ocr_warned = false;
    for ((user, mailbox), index) in list.iter().zip(index_of) {
        let status = &statuses[index];
        let s = &mailbox.settings;
        let what = format!(
            "mailbox of {} ({} on {}:{})",
            user.as_str(),
            s.username,
            s.host,
            s.effective_port()
        );
        match (&status.last_error, status.last_check) {
            (None, Some(_)) => println!("ok    {what}: login accepted"),
            (Some(error), _) => {
                failed += 1;
                // The diagnostic's message is Italian, for the doctor; this line is English.
                println!(
                    "FAIL  {what}: {}{}",
                    english(error.code),
                    next_step(error.code, user)
                );
            }
            (None, None) => {
                failed += 1;
                println!(
                    "FAIL  {what}: no answer from the mailbox within {} seconds: check host and \
                     port, and that the tsgate server reaches the Internet",
                    MAILBOX_TIMEOUT.as_secs()
                );
            }
        }
        for warning in &status.diagnostics {
            match warning.code {
                DiagnosticCode::OcrUnavailable if !ocr_warned => {
                    ocr_warned = true;
                    println!("WARN  reading codes in images: {}", english(warning.code));
                }
                DiagnosticCode::MailboxFull => println!("WARN  {what}: {}", english(warning.code)),
                _ => {}
            }
        }
    }
    failed
}

/// Whether two users' settings open the same login (one account, one check).
fn same_login(a: &UserMailbox, b: &UserMailbox) -> bool {
    a.mailbox_key() == b.mailbox_key()
        && a.settings.security == b.settings.security
        && a.settings.ca_pem == b.settings.ca_pem
        && a.settings.password.expose_secret() == b.settings.password.expose_secret()
}

/// One login, bounded in time.
async fn check_mailbox(settings: &MailboxSettings) -> MailboxStatus {
    let mut settings = settings.clone();
    settings.timeout_secs = settings.timeout_secs.clamp(1, MAILBOX_STEP_TIMEOUT_SECS);
    tokio::time::timeout(MAILBOX_TIMEOUT, tsgate_mailbox::check(&settings))
        .await
        .unwrap_or_default()
}

/// A mailbox diagnostic in English (its message is the Italian one the doctor reads).
fn english(code: DiagnosticCode) -> &'static str {
    match code {
        DiagnosticCode::Settings => "the settings cannot work (see `tsgate user show`)",
        DiagnosticCode::LoginRefused => "the server refused the user name or the password",
        DiagnosticCode::Tls => {
            "the secure connection failed (certificate, host name or TLS version)"
        }
        DiagnosticCode::Connection => "cannot connect: check host and port, and the network",
        DiagnosticCode::Protocol => "the server answered something unexpected: is it IMAP?",
        DiagnosticCode::MailboxFull => "the mailbox is (almost) full: new mails may be refused",
        DiagnosticCode::NoMail => "no mail with a code arrived in time",
        DiagnosticCode::FoundInJunk => "the Sistema TS mail was in the spam folder",
        DiagnosticCode::CodeRejected => "a code was found but Sistema TS did not accept it",
        DiagnosticCode::CodeUnreadable => "a Sistema TS mail arrived but no code was found in it",
        DiagnosticCode::OcrUnavailable => {
            "tesseract is not installed or does not work: codes in images must be typed by hand \
             (install the Debian `tesseract-ocr` package)"
        }
        DiagnosticCode::GaveUp => "a request was given up after the waiting time",
    }
}

/// The command that fixes a mailbox problem, after the diagnostic (which says what is wrong).
fn next_step(code: DiagnosticCode, user: &UserId) -> String {
    match code {
        DiagnosticCode::LoginRefused | DiagnosticCode::Settings => format!(
            " (tsgate user set-mailbox {} … asks for the password again)",
            user.as_str()
        ),
        DiagnosticCode::Tls => format!(
            " (for a private server: tsgate user set-mailbox {} … --ca-file CA.pem)",
            user.as_str()
        ),
        _ => String::new(),
    }
}
