//! `tsgate check`: validates what `serve` needs, one line per check, and says what to fix.

use std::time::Duration;

use time::OffsetDateTime;
use tsgate_mailbox::{DiagnosticCode, MailboxSettings, MailboxStatus};
use tsgate_session::UserId;
use tsgate_session::mailbox::UserMailbox;
use tsgate_session::{Health as _, MailboxRepo as _};

use super::Failure;
use crate::app;
use crate::cli::ConfigArgs;
use crate::config::Config;

/// Runs every check; exit code 1 if any failed, 2 if the configuration itself is invalid.
pub async fn run(args: ConfigArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    println!(
        "ok    configuration ({:?} environment, listen {})",
        config.environment, config.listen
    );
    let mut failed = 0;
    // The certified mailboxes, read while the database is open and tried last.
    let mut mailboxes = None;

    match app::open_store(&config).await {
        Ok(store) => {
            match store.ping().await {
                // The path of a SQLite file, or the URL without its password.
                Ok(()) => println!(
                    "ok    master key and database {}",
                    config.database().map(|d| d.to_string()).unwrap_or_default()
                ),
                Err(e) => {
                    failed += 1;
                    println!("FAIL  database: {}", sistemats::error::describe_chain(&e));
                }
            }
            match store.list_mailboxes().await {
                Ok(list) => mailboxes = Some(list),
                Err(e) => {
                    failed += 1;
                    println!(
                        "FAIL  certified mailboxes: cannot read their settings: {}",
                        sistemats::error::describe_chain(&e)
                    );
                }
            }
            store.close().await;
        }
        Err(e) => {
            failed += 1;
            println!("FAIL  master key or database: {e:#}");
        }
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
                println!(
                    "FAIL  {what}: {}{}",
                    error.message,
                    next_step(error.code, user)
                );
            }
            (None, None) => {
                failed += 1;
                println!(
                    "FAIL  {what}: nessuna risposta dalla casella entro {} secondi: controlla \
                     indirizzo e porta e che il server di tsgate raggiunga Internet.",
                    MAILBOX_TIMEOUT.as_secs()
                );
            }
        }
        for warning in &status.diagnostics {
            match warning.code {
                DiagnosticCode::OcrUnavailable if !ocr_warned => {
                    ocr_warned = true;
                    println!("WARN  reading codes in images: {}", warning.message);
                }
                DiagnosticCode::MailboxFull => println!("WARN  {what}: {}", warning.message),
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
