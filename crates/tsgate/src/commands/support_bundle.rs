//! `tsgate support-bundle`: the support bundle written to a file, and the part of a serving
//! gateway's bundles that only the binary knows ([`ServingReport`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use tsgate_gateway::support::{
    self, Bundle, CheckStatus, Installation, InstallationReport, Origin, Scope, Sources,
};
use tsgate_session::{AdminAction, AuditEntry, AuditLog as _, PracticeId, StoreError};
use tsgate_store::AnyStore;

use super::Failure;
use super::check::{Checked, run_checks};
use crate::app;
use crate::cli::SupportBundleArgs;
use crate::config::Config;
use crate::support::{CheckedMailboxes, ConfigSummary, ReadOnlyUpstream};

/// The configuration and the checks of a serving process, for its API's bundles: the
/// checks run on the server's own database, without mailbox logins (the watchers' state is
/// in the bundle).
#[derive(Debug)]
pub struct ServingReport {
    /// The configuration the server runs with.
    pub config: Config,
    /// The server's database.
    pub store: Arc<AnyStore>,
}

#[tsgate_session::async_trait]
impl InstallationReport for ServingReport {
    async fn report(&self) -> Installation {
        let checked = run_checks(
            &self.config,
            Some(self.store.as_ref()),
            false,
            &mut |_: &support::Check| {},
        )
        .await;
        installation(&self.config, &checked)
    }
}

fn installation(config: &Config, checked: &Checked) -> Installation {
    Installation {
        configuration: ConfigSummary::of(config).to_json(),
        checks: checked.checks.clone(),
    }
}

/// Where the bundle goes: `--out` (a file, or a folder for the default name), else the
/// current folder. Checked before anything is read, so a wrong path costs nothing.
fn destination(out: Option<&Path>) -> Result<Option<PathBuf>, Failure> {
    let Some(out) = out else {
        return Ok(None);
    };
    if out.is_dir() {
        return Ok(Some(out.to_owned()));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::Config(anyhow!(
            "--out {}: the folder {} does not exist",
            out.display(),
            parent.display()
        )));
    }
    Ok(Some(out.to_owned()))
}

/// Writes the bundle and says where and what.
pub async fn run(args: SupportBundleArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let practice = args
        .practice
        .as_deref()
        .map(|p| PracticeId::new(p).map_err(|e| Failure::Config(anyhow!("--practice {p}: {e}"))))
        .transpose()?;
    let out = destination(args.out.as_deref())?;
    let origin = Origin {
        produced_by: "cli".into(),
        node: None,
    };
    eprintln!("Checking the installation (as `tsgate check`), logging in to each mailbox…");
    let (bundle, store) = match app::open_store(&config).await {
        Ok(store) => {
            let checked = run_checks(
                &config,
                Some(store.as_ref()),
                true,
                &mut |_: &support::Check| {},
            )
            .await;
            let bundle = practice_bundle(&config, &store, checked, origin, practice).await;
            (bundle, Some(store))
        }
        Err(e) => {
            if practice.is_some() {
                return Err(Failure::Refused(e.context("cannot read the practice")));
            }
            let checked = run_checks(&config, None, true, &mut |_: &support::Check| {}).await;
            let note = format!("{e:#}");
            let bundle = Bundle::without_data(origin, installation(&config, &checked), note);
            (Ok(bundle), None)
        }
    };
    let bundle = match bundle {
        Ok(b) => b,
        Err(failure) => {
            if let Some(store) = &store {
                store.close().await;
            }
            return Err(failure);
        }
    };
    let path = match out {
        Some(dir) if dir.is_dir() => dir.join(bundle.file_name()),
        Some(file) => file,
        None => PathBuf::from(bundle.file_name()),
    };
    let written = bundle
        .to_zip()
        .map_err(anyhow::Error::from)
        .and_then(|bytes| {
            std::fs::write(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))
                .map(|()| bytes.len())
        });
    if let Some(store) = &store {
        if written.is_ok() {
            let entry = AuditEntry::admin(
                time::OffsetDateTime::now_utc(),
                tsgate_session::Actor::Cli,
                AdminAction::SupportBundle,
                None,
                format!("{} doctors", bundle.doctors.len()),
            )
            .in_practice(
                bundle
                    .practice
                    .as_ref()
                    .and_then(|p| PracticeId::new(p.id.as_str()).ok()),
            );
            if let Err(e) = store.append(&entry).await {
                tracing::warn!(error = %sistemats::error::describe_chain(&e), "could not audit the support bundle");
            }
        }
        store.close().await;
    }
    let size = written.map_err(Failure::Refused)?;
    print_contents(&path, size, &bundle);
    Ok(())
}

/// The bundle of the practice asked for (or the installation), over an open database.
async fn practice_bundle(
    config: &Config,
    store: &Arc<AnyStore>,
    checked: Checked,
    origin: Origin,
    practice: Option<PracticeId>,
) -> Result<Bundle, Failure> {
    let manager = app::manager_with(
        store.clone(),
        Arc::new(ReadOnlyUpstream),
        app::policy(config),
        app::CLI_NODE,
        Arc::new(tsgate_session::SystemClock),
        None,
    );
    let installation = installation(config, &checked);
    let mailboxes = CheckedMailboxes {
        list: checked.mailboxes,
    };
    let sources = Sources {
        sessions: &manager,
        store: store.as_ref(),
        mailboxes: Some(&mailboxes as &dyn tsgate_session::MailboxService),
    };
    let scope = match &practice {
        Some(p) => Scope::Practice(p.clone()),
        None => Scope::Installation,
    };
    support::collect(origin, Ok(installation), sources, scope)
        .await
        .map_err(|e| match (e, &practice) {
            (StoreError::NotFound(_), Some(p)) => Failure::Config(anyhow!(
                "--practice {p}: no such practice (tsgate practice list)"
            )),
            (e, _) => Failure::Refused(anyhow::Error::new(e).context("cannot read the database")),
        })
}

/// What `tsgate support-bundle` prints once the file is written.
fn print_contents(path: &Path, size: usize, b: &Bundle) {
    println!(
        "Support bundle written to {} ({} KB)",
        path.display(),
        size.div_ceil(1024)
    );
    println!(
        "  tsgate {} ({}), {} {}",
        b.build.version, b.build.profile, b.build.os, b.build.arch
    );
    match &b.practice {
        Some(p) => println!("  practice {} ({} doctors)", p.id, p.doctors),
        None => println!(
            "  the whole installation in numbers ({} practices, no doctor named; --practice P for one)",
            b.practices.len()
        ),
    }
    if let Some(i) = &b.installation {
        let count = |s| i.checks.iter().filter(|c| c.status == s).count();
        println!(
            "  configuration without secrets; checks: {} ok, {} warnings, {} failed",
            count(CheckStatus::Ok),
            count(CheckStatus::Warn),
            count(CheckStatus::Fail)
        );
    }
    if let Some(note) = &b.data_note {
        println!("  no data from the database: {note}");
    }
    println!(
        "  {} doctors with session, automatic requests, mailbox and last {} audit lines{}",
        b.doctors.len(),
        support::HISTORY_LINES,
        if b.doctors_omitted > 0 {
            format!(" ({} more not described)", b.doctors_omitted)
        } else {
            String::new()
        }
    );
    println!(
        "  {} recent errors; audit of the last {} days: {} lines, {} failures",
        b.recent_errors.len(),
        support::SUMMARY_DAYS,
        b.audit_summary.lines,
        b.audit_summary.failures
    );
    println!(
        "  LEGGIMI.txt (summary) and tsgate-support.json; no passwords, PINs, codes, tokens or patient data."
    );
}
