//! `tsgate import FILE`: doctors (CSV or JSON) and workstations (JSON) in bulk, from the
//! server's command line (any practice). Idempotent; prints what changed and every refused
//! line with why.

use std::io::Read as _;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use tsgate_session::audit::AdminAction;
use tsgate_session::import::{ImportFormat, parse_import_in};
use tsgate_session::provision::{ImportScope, apply};

use super::Failure;
use super::user::{audit_in, store};
use crate::cli::ImportArgs;

/// Runs `tsgate import`.
pub async fn run(args: ImportArgs) -> Result<(), Failure> {
    let default_practice = args
        .practice
        .as_deref()
        .map(super::practice::practice_id)
        .transpose()?;
    let (bytes, name) = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")
            .map_err(Failure::Refused)?;
        (bytes, None)
    } else {
        let bytes = std::fs::read(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))
            .map_err(Failure::Config)?;
        (
            bytes,
            args.file
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned),
        )
    };
    let format = ImportFormat::detect(&bytes, name.as_deref());
    let config =
        crate::config::Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let plan = parse_import_in(
        &bytes,
        format,
        default_practice.as_ref(),
        config.user_environment(),
    )
    .map_err(|e| Failure::Refused(anyhow!("{e}")))?;
    let store = store(&args.config).await?;
    let started = Instant::now();
    let report = apply(
        store.as_ref(),
        plan,
        &ImportScope::Installation,
        args.dry_run,
    )
    .await
    .map_err(|e| Failure::Refused(e.into()))?;
    let elapsed = started.elapsed();
    if !args.dry_run {
        audit_in(
            &store,
            default_practice.as_ref(),
            AdminAction::Imported,
            None,
            format!(
                "{} doctors ({} new, {} changed), {} workstations created, {} lines refused",
                report.users_accepted,
                report.users.users_created,
                report.users.users_updated,
                report.workstations_created.len(),
                report.refused.len()
            ),
        )
        .await?;
    }
    let u = &report.users;
    println!(
        "{}doctors: {} accepted ({} new, {} changed, {} unchanged), {} memberships added, {} practices created",
        if args.dry_run { "[dry run] " } else { "" },
        report.users_accepted,
        u.users_created,
        u.users_updated,
        u.users_unchanged,
        u.memberships_added,
        u.practices_created
    );
    println!(
        "workstations: {} created, {} updated, {} unchanged",
        report.workstations_created.len(),
        report.workstations_updated,
        report.workstations_unchanged
    );
    for w in &report.workstations_created {
        let practice = w.practice.as_ref().map_or("*", |p| p.as_str());
        if args.dry_run {
            println!("  would create {} ({}, {practice})", w.name, w.role);
        } else if args.report.is_none() {
            // Without a report file the token is shown here, once.
            println!(
                "  {} ({}, {practice}) id {} token {}",
                w.name, w.role, w.id, w.token
            );
        } else {
            println!(
                "  {} ({}, {practice}) id {} (token in the report)",
                w.name, w.role, w.id
            );
        }
    }
    println!("refused: {} lines", report.refused.len());
    for r in &report.refused {
        println!(
            "  line {}{}: {}",
            r.line,
            r.id.as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            r.reason
        );
    }
    println!("took {:.1} s", elapsed.as_secs_f64());
    if let Some(path) = &args.report {
        write_report(path, &report).map_err(Failure::Refused)?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// Writes the report as JSON, readable by its owner only (it may hold tokens).
fn write_report(
    path: &std::path::Path,
    report: &tsgate_session::provision::ImportReport,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(&serde_json::to_vec_pretty(report)?)?;
    Ok(())
}
