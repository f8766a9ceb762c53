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
use tsgate_store::AnyStore;

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

    let opened = match store {
        Some(_) => None,
        None => Some(app::open_store(config).await),
    };
    let store: Result<&AnyStore, String> = match (store, &opened) {
        (Some(s), _) => Ok(s),
        (None, Some(Ok(s))) => Ok(s.as_ref()),
        (None, Some(Err(e))) => Err(format!("{e:#}")),
        (None, None) => Err(String::new()),
    };
    match store {
        Ok(store) => {
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
        Err(e) => push(&mut checked, Fail, format!("master key or database: {e}")),
    }
    if let Some(Ok(own)) = &opened {
        own.close().await;
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
        Ok(cert) => match cert.expiry_warning(OffsetDateTime::now_utc()) {
            None => push(
                &mut checked,
                Fine,
                format!(
                    "SanitelCF certificate valid until {}",
                    cert.not_after().date()
                ),
            ),
            Some(warning) => push(
                &mut checked,
                Warn,
                format!("SanitelCF certificate: {warning}"),
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
                format!("{what}: {}{}", error.message, next_step(error.code, user)),
            )),
            (None, None) => lines.push(Check::new(
                CheckStatus::Fail,
                format!(
                    "{what}: nessuna risposta dalla casella entro {} secondi: controlla \
                     indirizzo e porta e che il server di tsgate raggiunga Internet.",
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
                        format!("reading codes in images: {}", warning.message),
                    ));
                }
                DiagnosticCode::MailboxFull => lines.push(Check::new(
                    CheckStatus::Warn,
                    format!("{what}: {}", warning.message),
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
