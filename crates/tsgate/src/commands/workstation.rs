//! `tsgate workstation …`: registered workstations and their tokens.

use anyhow::anyhow;
use tsgate_session::WorkstationId;
use tsgate_session::audit::AdminAction;
use tsgate_session::{PracticeRule, WorkstationRepo, WorkstationRole, WorkstationSpec};

use super::Failure;
use super::user::{audit_in, store, user_id};
use crate::cli::{
    ConfigArgs, WorkstationAddArgs, WorkstationCommand, WorkstationRefArgs, WorkstationSetUsersArgs,
};

/// Runs one `workstation` subcommand.
pub async fn run(command: WorkstationCommand) -> Result<(), Failure> {
    match command {
        WorkstationCommand::Add(args) => add(args).await,
        WorkstationCommand::List(args) => list(args).await,
        WorkstationCommand::Revoke(args) => revoke(args).await,
        WorkstationCommand::SetUsers(args) => set_users(args).await,
    }
}

/// Refuses users that are not doctors of `practice` (or, with no practice, not in tsgate)
/// before anything is written: naming them, and the command that adds them.
async fn check_users(
    store: &tsgate_store::AnyStore,
    practice: Option<&tsgate_session::PracticeId>,
    users: &[tsgate_session::UserId],
) -> Result<(), Failure> {
    use tsgate_session::{PracticeRepo, UserDirectory};
    let mut unknown = Vec::new();
    for user in users {
        let known = match practice {
            Some(p) => store.is_member(p, user).await,
            None => store.user(user).await.map(|u| u.is_some()),
        }
        .map_err(|e| Failure::Refused(e.into()))?;
        if !known {
            unknown.push(user.as_str());
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let place = practice.map_or_else(|| "tsgate".to_owned(), |p| format!("practice {p}"));
    Err(Failure::Config(anyhow!(
        "--users: {} not a doctor of {place}: add with `tsgate user add` (or `tsgate practice \
         add-member`) first",
        unknown.join(", ")
    )))
}

async fn set_users(args: WorkstationSetUsersArgs) -> Result<(), Failure> {
    let users = args
        .users
        .iter()
        .filter(|u| !u.trim().is_empty())
        .map(|u| user_id(u))
        .collect::<Result<Vec<_>, _>>()?;
    let store = store(&args.config).await?;
    let id = WorkstationId(args.id.clone());
    let found = store
        .workstation(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
        .ok_or_else(|| {
            Failure::Config(anyhow!(
                "no active workstation {}: see `tsgate workstation list`",
                args.id
            ))
        })?;
    if !found.role.lists_users() {
        return Err(Failure::Config(anyhow!(
            "a {} workstation lists no users: it acts for every doctor of its practice",
            found.role
        )));
    }
    check_users(&store, found.practice.as_ref(), &users).await?;
    store
        .set_workstation_users(&id, &users)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    let names: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
    audit_in(
        &store,
        found.practice.as_ref(),
        AdminAction::WorkstationUsersSet,
        None,
        format!("workstation {}: {}", args.id, names.join(", ")),
    )
    .await?;
    if names.is_empty() {
        println!(
            "workstation {} acts for no doctor now: it can do nothing until some are set",
            args.id
        );
    } else {
        println!("workstation {} acts for {}", args.id, names.join(", "));
    }
    Ok(())
}

fn role(value: &str) -> Result<WorkstationRole, Failure> {
    WorkstationRole::parse(value).ok_or_else(|| {
        Failure::Config(anyhow!(
            "--role {value} is not a role: use admin, doctor, staff, backend or vendor"
        ))
    })
}

async fn add(args: WorkstationAddArgs) -> Result<(), Failure> {
    let role = role(&args.role)?;
    let users = args
        .users
        .iter()
        .map(|u| user_id(u))
        .collect::<Result<Vec<_>, _>>()?;
    if !users.is_empty() && !role.lists_users() {
        return Err(Failure::Config(anyhow!(
            "a {role} workstation lists no users: it acts for every doctor of its practice"
        )));
    }
    let practice = match role.practice_rule() {
        PracticeRule::Forbidden => None,
        PracticeRule::Optional if args.all_practices => None,
        _ => Some(super::practice::practice_id(&args.practice)?),
    };
    let store = store(&args.config).await?;
    check_users(&store, practice.as_ref(), &users).await?;
    let spec = WorkstationSpec {
        name: args.name.clone(),
        role,
        practice: practice.clone(),
        users,
    };
    let (workstation, token) = store
        .register_workstation(&spec)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    // The id names it in the audit; the token never goes there.
    audit_in(
        &store,
        practice.as_ref(),
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
        let practice = ws.practice.as_ref().map_or("*", |p| p.as_str());
        println!(
            "{}  {:<7}  {:<7}  {:<16}  {:<24}  {}",
            ws.id.0,
            ws.role.as_str(),
            state,
            practice,
            ws.name,
            users.join(",")
        );
    }
    Ok(())
}

async fn revoke(args: WorkstationRefArgs) -> Result<(), Failure> {
    let store = store(&args.config).await?;
    let id = WorkstationId(args.id.clone());
    let practice = store
        .workstation(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
        .and_then(|ws| ws.practice);
    if store
        .revoke_workstation(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
    {
        audit_in(
            &store,
            practice.as_ref(),
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
