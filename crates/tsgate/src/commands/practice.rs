//! `tsgate practice …`: the practices of a vendor's installation and their doctors.

use anyhow::anyhow;
use tsgate_session::audit::AdminAction;
use tsgate_session::{ListQuery, PracticeId, PracticeRepo, practice::all_pages};

use super::Failure;
use super::user::{audit_in, store, user_id};
use crate::cli::{ConfigArgs, PracticeAddArgs, PracticeCommand, PracticeMemberArgs};

/// Runs one `practice` subcommand.
pub async fn run(command: PracticeCommand) -> Result<(), Failure> {
    match command {
        PracticeCommand::Add(args) => add(args).await,
        PracticeCommand::List(args) => list(args).await,
        PracticeCommand::AddMember(args) => member(args, true).await,
        PracticeCommand::RemoveMember(args) => member(args, false).await,
    }
}

/// A practice id from the command line.
pub fn practice_id(value: &str) -> Result<PracticeId, Failure> {
    // The domain's text is Italian (the UI shows it); the command line says it in English.
    PracticeId::new(value.trim()).map_err(|_| {
        Failure::Config(anyhow!(
            "'{value}' is not a practice id: 1 to 64 lower-case letters, digits, '-', '_' or \
             '.', starting with a letter or a digit (e.g. studio-rossi); see `tsgate practice list`"
        ))
    })
}

async fn add(args: PracticeAddArgs) -> Result<(), Failure> {
    let id = practice_id(&args.id)?;
    let name = args.name.trim();
    if name.is_empty() {
        return Err(Failure::Config(anyhow!("--name must not be empty")));
    }
    let store = store(&args.config).await?;
    let practice = store
        .put_practice(&id, name)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    audit_in(
        &store,
        Some(&id),
        AdminAction::PracticeSet,
        None,
        format!("practice {id}"),
    )
    .await?;
    println!("practice {} saved ({})", practice.id, practice.name);
    Ok(())
}

async fn list(args: ConfigArgs) -> Result<(), Failure> {
    let store = store(&args).await?;
    let practices = all_pages(ListQuery::all(), |q| {
        let store = store.clone();
        async move { store.practices_page(&q).await }
    })
    .await
    .map_err(|e| Failure::Refused(e.into()))?;
    println!(
        "{:<24}  {:>7}  {:>12}  {:>15}  name",
        "practice", "doctors", "workstations", "active sessions"
    );
    for p in practices {
        let c = store
            .practice_counts(&p.id)
            .await
            .map_err(|e| Failure::Refused(e.into()))?;
        println!(
            "{:<24}  {:>7}  {:>12}  {:>15}  {}",
            p.id, c.users, c.workstations, c.active_sessions, p.name
        );
    }
    Ok(())
}

async fn member(args: PracticeMemberArgs, join: bool) -> Result<(), Failure> {
    let practice = practice_id(&args.practice)?;
    let user = user_id(&args.user)?;
    let store = store(&args.config).await?;
    let (changed, action) = if join {
        store
            .add_member(&practice, &user)
            .await
            .map_err(|e| Failure::Refused(e.into()))?;
        (true, AdminAction::MemberAdded)
    } else {
        let left = store
            .remove_member(&practice, &user)
            .await
            .map_err(|e| Failure::Refused(e.into()))?;
        (left, AdminAction::MemberRemoved)
    };
    if !changed {
        return Err(Failure::Refused(anyhow!(
            "{user} is not a member of {practice}"
        )));
    }
    audit_in(&store, Some(&practice), action, Some(&user), "ok").await?;
    println!("{user} {} {practice}", if join { "joined" } else { "left" });
    Ok(())
}
