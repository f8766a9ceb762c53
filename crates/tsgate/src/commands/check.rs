//! `tsgate check`: validates what `serve` needs, one line per check, and says what to fix.
//!
//! The checks are [`run_checks`]; `tsgate check` prints them as they come, the support
//! bundle (`tsgate support-bundle`, and a serving gateway's button) keeps them.

use std::time::Duration;

use time::OffsetDateTime;
use tsgate_gateway::support::{Check, CheckStatus};
use tsgate_mailbox::{DiagnosticCode, MailboxSettings, MailboxStatus};
use tsgate_session::UserId;
use tsgate_session::mailbox::UserMailbox;
use tsgate_session::{Health as _, MailboxRepo as _};
use tsgate_store::sqlite::backup;
use tsgate_store::{AnyStore, KeyFile, KeyRing, MasterKey, SqliteStore};

use super::Failure;
use crate::app;
use crate::cli::ConfigArgs;
use crate::config::Config;

/// Runs every check; exit code 1 if any failed, 2 if the configuration itself is invalid.
pub async fn run(args: ConfigArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    let checked = run_checks(&config, None, true, &mut |c: &Check| {
        println!("{:<5} {}", c.status.label(), c.text)
    })
    .await;
    let failed = checked.failed();
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Refused(anyhow::anyhow!(
            "{failed} check(s) failed"
        )))
    }
}

/// What the checks found.
#[derive(Debug, Default)]
pub struct Checked {
    /// One line per check, in order.
    pub checks: Vec<Check>,
    /// Each configured mailbox and what its login found (empty without logins).
    pub mailboxes: Vec<(UserId, UserMailbox, MailboxStatus)>,
}

impl Checked {
    /// The checks that failed.
    pub fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .count()
    }
}

/// The checks of `tsgate check`, each handed to `on_check` as soon as it is known. `store`:
/// the database already open (a serving process), else it is opened and closed here.
/// `mailbox_logins`: also log in to every certified mailbox (not from a serving process,
/// whose watchers already know, and where a login more per click could lock an account).
pub async fn run_checks(
    config: &Config,
    store: Option<&AnyStore>,
    mailbox_logins: bool,
    on_check: &mut (dyn FnMut(&Check) + Send),
) -> Checked {
    let mut checked = Checked::default();
    let mut push = |checked: &mut Checked, status: CheckStatus, text: String| {
        let check = Check::new(status, text);
        on_check(&check);
        checked.checks.push(check);
    };
    use CheckStatus::{Fail, Ok as Fine, Warn};
    push(
        &mut checked,
        Fine,
        format!(
            "configuration ({:?} environment, listen {})",
            config.environment, config.listen
        ),
    );
    // The certified mailboxes, read while the database is open and tried last.
    let mut mailboxes = None;

    match store {
        // A serving process: its own store, already open.
        Some(store) => {
            match store.ping().await {
                // The path of a SQLite file, or the URL without its password.
                Ok(()) => push(
                    &mut checked,
                    Fine,
                    format!(
                        "master key and database {}",
                        config.database().map(|d| d.to_string()).unwrap_or_default()
                    ),
                ),
                Err(e) => push(
                    &mut checked,
                    Fail,
                    format!("database: {}", sistemats::error::describe_chain(&e)),
                ),
            }
            match store.list_mailboxes().await {
                Ok(list) => mailboxes = Some(list),
                Err(e) => push(
                    &mut checked,
                    Fail,
                    format!(
                        "certified mailboxes: cannot read their settings: {}",
                        sistemats::error::describe_chain(&e)
                    ),
                ),
            }
        }
        // The command line: read without writing anything (no key, no database created).
        None => {
            let mut said = Vec::new();
            let found = inspect_store(config, &mut |status, text| said.push((status, text))).await;
            for (status, text) in said {
                push(&mut checked, status, text);
            }
            if let StoreCheck::Checked(list) = found {
                mailboxes = Some(list);
            }
        }
    }

    if let Some(certificate) = &config.tls_certificate {
        let tls_checked = app::tls_settings(config)
            .map_err(|e| format!("{e:#}"))
            .and_then(|tls| {
                tsgate_gateway::GatewayConfig {
                    tls,
                    ..Default::default()
                }
                .validate()
            });
        match tls_checked {
            Ok(()) => push(
                &mut checked,
                Fine,
                format!("HTTPS certificate and key {}", certificate.display()),
            ),
            Err(e) => push(
                &mut checked,
                Fail,
                format!("HTTPS (tls_certificate, tls_key): {e}"),
            ),
        }
    }

    match app::load_certificate(config).await {
        Ok(cert) => match cert.expiry_notice(OffsetDateTime::now_utc()) {
            None => push(
                &mut checked,
                Fine,
                format!(
                    "SanitelCF certificate valid until {}",
                    cert.not_after().date()
                ),
            ),
            Some(notice) => push(
                &mut checked,
                Warn,
                format!("SanitelCF certificate: {}", notice.english()),
            ),
        },
        Err(e) => push(&mut checked, Fail, format!("SanitelCF certificate: {e:#}")),
    }

    match config.environment() {
        Ok(env) => {
            let bases = [("A2F", env.a2f_base()), ("DEM", env.dem_base())];
            // Both at once: a server that does not answer costs one timeout, not two.
            let results = futures::future::join_all(bases.map(|(_, base)| reachable(base))).await;
            for ((name, base), result) in bases.into_iter().zip(results) {
                match result {
                    Ok(()) => push(
                        &mut checked,
                        Fine,
                        format!("{name} service reachable at {base}"),
                    ),
                    Err(e) => push(&mut checked, Fail, format!("{name} service at {base}: {e}")),
                }
            }
        }
        Err(e) => push(&mut checked, Fail, format!("environment: {e}")),
    }

    if let Some(list) = mailboxes.filter(|_| mailbox_logins) {
        let (lines, statuses) = check_mailboxes(&list).await;
        for check in lines {
            push(&mut checked, check.status, check.text);
        }
        checked.mailboxes = list
            .into_iter()
            .zip(statuses)
            .map(|((user, mailbox), status)| (user, mailbox, status))
            .collect();
    }
    checked
}

/// What [`inspect_store`] found.
enum StoreCheck {
    /// The key opens the database: its certified mailboxes, to try.
    Checked(Vec<(UserId, UserMailbox)>),
    /// No key or database yet: a first run creates them.
    NotYet,
    /// A check failed (already said).
    Failed,
}

/// The master key and the database, read without writing anything; says one line each.
async fn inspect_store(
    config: &Config,
    say: &mut (dyn FnMut(CheckStatus, String) + Send),
) -> StoreCheck {
    let database = match config.database() {
        Ok(d) => d,
        Err(e) => {
            say(CheckStatus::Fail, format!("database: {e:#}"));
            return StoreCheck::Failed;
        }
    };
    let first_run = "`tsgate serve` or the first `tsgate user add` creates it";
    // The key, as the server would take it, but never created here.
    let keys = match MasterKey::from_env() {
        Err(_) => {
            say(
                CheckStatus::Fail,
                format!(
                    "master key: TSGATE_MASTER_KEY is set but is not a key (base64 of 32 bytes); \
                 unset it to use the key file {}",
                    config.master_key_path().display()
                ),
            );
            return StoreCheck::Failed;
        }
        Ok(Some(key)) => {
            say(
                CheckStatus::Ok,
                format!("master key from TSGATE_MASTER_KEY ({})", key.id()),
            );
            Some(KeyRing::new(key))
        }
        Ok(None) => {
            let file = KeyFile::new(config.master_key_path());
            if file.path().exists() {
                match file.load().and_then(|key| Ok((key, file.pending()?))) {
                    Ok((key, pending)) => {
                        say(
                            CheckStatus::Ok,
                            format!("master key {} ({})", file.path().display(), key.id()),
                        );
                        let ring = KeyRing::new(key);
                        Some(match pending {
                            Some(next) => ring.with_retired(next),
                            None => ring,
                        })
                    }
                    Err(e) => {
                        say(
                            CheckStatus::Fail,
                            format!("master key {}: {}", file.path().display(), e.english()),
                        );
                        return StoreCheck::Failed;
                    }
                }
            } else {
                say(
                    CheckStatus::Warn,
                    format!(
                        "no master key yet at {}: {first_run}",
                        file.path().display()
                    ),
                );
                None
            }
        }
    };
    match (&database, keys) {
        (tsgate_store::Database::Sqlite(path), keys) if !path.exists() => {
            let _ = keys;
            say(
                CheckStatus::Warn,
                format!("no database yet at {}: {first_run}", path.display()),
            );
            StoreCheck::NotYet
        }
        (tsgate_store::Database::Sqlite(path), None) => {
            say(
                CheckStatus::Fail,
                format!(
                    "database {} exists but its master key is missing: put the key file \
                 back at {} (from where you saved it) or set TSGATE_MASTER_KEY; without it the \
                 stored passwords cannot be read",
                    path.display(),
                    config.master_key_path().display()
                ),
            );
            StoreCheck::Failed
        }
        (tsgate_store::Database::Sqlite(path), Some(keys)) => inspect_sqlite(path, keys, say).await,
        (tsgate_store::Database::Postgres(_), None) => {
            say(
                CheckStatus::Warn,
                format!(
                    "no master key: PostgreSQL database {database} not opened (it would need \
                 the key)"
                ),
            );
            StoreCheck::NotYet
        }
        (tsgate_store::Database::Postgres(_), Some(_)) => {
            // A PostgreSQL database is shared by the nodes: opened like a server would.
            match app::open_store(config).await {
                Ok(store) => {
                    let found = match store.list_mailboxes().await {
                        Ok(list) => {
                            say(CheckStatus::Ok, format!("database {database}"));
                            StoreCheck::Checked(list)
                        }
                        Err(e) => {
                            say(
                                CheckStatus::Fail,
                                format!(
                                    "database {database}: cannot read the mailbox settings ({})",
                                    sistemats::error::describe_chain(&e)
                                ),
                            );
                            StoreCheck::Failed
                        }
                    };
                    store.close().await;
                    found
                }
                Err(e) => {
                    say(CheckStatus::Fail, format!("database {database}: {e:#}"));
                    StoreCheck::Failed
                }
            }
        }
    }
}

/// Checks a copy of the SQLite database at `path` (made in a private temporary folder, as
/// `tsgate backup` does) and reads its mailboxes from the copy: the database itself is
/// neither migrated nor changed.
async fn inspect_sqlite(
    path: &std::path::Path,
    keys: KeyRing,
    say: &mut (dyn FnMut(CheckStatus, String) + Send),
) -> StoreCheck {
    let fail = |say: &mut (dyn FnMut(CheckStatus, String) + Send), e: &dyn std::fmt::Display| {
        say(
            CheckStatus::Fail,
            format!("database {}: {e}", path.display()),
        );
        StoreCheck::Failed
    };
    let scratch = match tempfile::Builder::new().prefix("tsgate-check-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail(say, &format!("cannot make a temporary folder: {e}")),
    };
    let copy = scratch.path().join("check.db");
    let found = match backup::backup(path, &copy, false, Some(&keys)).await {
        Ok(found) => found,
        Err(e) => return fail(say, &e.english()),
    };
    let supported = backup::supported_schema();
    if found.schema_version < supported {
        say(
            CheckStatus::Ok,
            format!(
                "database {} ({} users; schema {}, `tsgate serve` updates it to {supported})",
                path.display(),
                found.users,
                found.schema_version
            ),
        );
    } else {
        say(
            CheckStatus::Ok,
            format!(
                "database {} ({} users), opened with the master key",
                path.display(),
                found.users
            ),
        );
    }
    match SqliteStore::open(&copy, keys).await {
        Ok(store) => {
            let list = store.list_mailboxes().await;
            store.close().await;
            match list {
                Ok(list) => StoreCheck::Checked(list),
                Err(e) => fail(
                    say,
                    &format!(
                        "cannot read the mailbox settings ({})",
                        sistemats::error::describe_chain(&e)
                    ),
                ),
            }
        }
        Err(e) => fail(say, &e.english()),
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
/// once: repeated refused logins can lock an account): one line per user, and each user's
/// status. Never a password.
async fn check_mailboxes(list: &[(UserId, UserMailbox)]) -> (Vec<Check>, Vec<MailboxStatus>) {
    let mut lines = Vec::new();
    if list.is_empty() {
        lines.push(Check::new(
            CheckStatus::Ok,
            "no certified mailbox configured (codes are pasted by hand)",
        ));
        return (lines, Vec::new());
    }
    let mut distinct: Vec<&UserMailbox> = Vec::new();
    let mut index_of = Vec::with_capacity(list.len());
    for (_, mailbox) in list {
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

    let mut ocr_warned = false;
    for ((user, mailbox), &index) in list.iter().zip(&index_of) {
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
            (None, Some(_)) => lines.push(Check::new(
                CheckStatus::Ok,
                format!("{what}: login accepted"),
            )),
            (Some(error), _) => lines.push(Check::new(
                CheckStatus::Fail,
                // The diagnostic's message is Italian, for the doctor; this line is English.
                format!(
                    "{what}: {}{}",
                    english(error.code),
                    next_step(error.code, user)
                ),
            )),
            (None, None) => lines.push(Check::new(
                CheckStatus::Fail,
                format!(
                    "{what}: no answer from the mailbox within {} seconds: check host and \
                     port, and that the tsgate server reaches the Internet",
                    MAILBOX_TIMEOUT.as_secs()
                ),
            )),
        }
        for warning in &status.diagnostics {
            match warning.code {
                DiagnosticCode::OcrUnavailable if !ocr_warned => {
                    ocr_warned = true;
                    lines.push(Check::new(
                        CheckStatus::Warn,
                        format!("reading codes in images: {}", english(warning.code)),
                    ));
                }
                DiagnosticCode::MailboxFull => lines.push(Check::new(
                    CheckStatus::Warn,
                    format!("{what}: {}", english(warning.code)),
                )),
                _ => {}
            }
        }
    }
    let per_user = index_of.iter().map(|&i| statuses[i].clone()).collect();
    (lines, per_user)
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
