//! `tsgate workstation …`: registered workstations and their tokens.

use anyhow::anyhow;
use tsgate_session::WorkstationId;
use tsgate_session::audit::AdminAction;
use tsgate_session::{WorkstationRepo, WorkstationRole};

use super::Failure;
use super::user::{audit, store, user_id};
use crate::cli::{ConfigArgs, WorkstationAddArgs, WorkstationCommand, WorkstationRefArgs};

/// Runs one `workstation` subcommand.
pub async fn run(command: WorkstationCommand) -> Result<(), Failure> {
    match command {
        WorkstationCommand::Add(args) => add(args).await,
        WorkstationCommand::List(args) => list(args).await,
        WorkstationCommand::Revoke(args) => revoke(args).await,
    }
}

fn role(value: &str) -> Result<WorkstationRole, Failure> {
    match value {
        "admin" => Ok(WorkstationRole::Admin),
        "doctor" => Ok(WorkstationRole::Doctor),
        "staff" => Ok(WorkstationRole::Staff),
        _ => Err(Failure::Config(anyhow!(
            "--role must be admin, doctor or staff"
        ))),
    }
}

async fn add(args: WorkstationAddArgs) -> Result<(), Failure> {
    let role = role(&args.role)?;
    let users = args
        .users
        .iter()
        .map(|u| user_id(u))
        .collect::<Result<Vec<_>, _>>()?;
    let store = store(&args.config).await?;
    let (workstation, token) = store
        .create_workstation(&args.name, role, &users)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    // The id names it in the audit; the token never goes there.
    audit(
        &store,
        AdminAction::WorkstationAdded,
        None,
        format!("workstation {} ({})", workstation.id.0, role.as_str()),
    )
    .await?;
    println!(
        "workstation {} ({}) registered, id {}",
        workstation.name, args.role, workstation.id.0
    );
    println!(
        "token (shown only now, keep it on that workstation): {}",
        token.expose_secret()
    );
    Ok(())
}

async fn list(args: ConfigArgs) -> Result<(), Failure> {
    let store = store(&args).await?;
    let list = store
        .list_workstations()
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    if list.is_empty() {
        println!("no workstations yet: add one with `tsgate workstation add`");
    }
    for ws in list {
        let users: Vec<&str> = ws.users.iter().map(|u| u.as_str()).collect();
        let state = if ws.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        println!(
            "{}  {:<7}  {:<7}  {:<24}  {}",
            ws.id.0,
            format!("{:?}", ws.role).to_lowercase(),
            state,
            ws.name,
            users.join(",")
        );
    }
    Ok(())
}

async fn revoke(args: WorkstationRefArgs) -> Result<(), Failure> {
    let store = store(&args.config).await?;
    let id = WorkstationId(args.id.clone());
    if store
        .revoke_workstation(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
    {
        audit(
            &store,
            AdminAction::WorkstationRevoked,
            None,
            format!("workstation {}", args.id),
        )
        .await?;
        println!("workstation {} revoked", args.id);
        Ok(())
    } else {
        Err(Failure::Refused(anyhow!(
            "no active workstation {}",
            args.id
        )))
    }
}
