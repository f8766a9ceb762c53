//! `tsgate user …`: Sistema TS users and their credentials, directly in the database.

use anyhow::{Context, anyhow};
use sistemats::{Password, Pin};
use time::Date;
use time::macros::format_description;
use tsgate_mailbox::MailboxSettings;
use tsgate_session::mailbox::UserMailbox;
use tsgate_session::{Actor, Environment, PracticeRepo as _, Role, UserId, UserProfile};
use tsgate_session::{
    AdminAction, AuditEntry, AuditLog as _, MailboxRepo as _, UserDirectory as _,
};
use tsgate_store::AnyStore;

use super::Failure;
use super::secrets::{Secret, read_secret};
use crate::app;
use crate::cli::{ConfigArgs, SetMailboxArgs, UserAddArgs, UserCommand, UserRefArgs};
use crate::config::Config;

/// Runs one `user` subcommand.
pub async fn run(command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add(args) => add(args).await,
        UserCommand::List(args) => list(args).await,
        UserCommand::Show(args) => show(args).await,
        UserCommand::Remove(args) => remove(args).await,
        UserCommand::SetCredentials(args) => set_credentials(args).await,
        UserCommand::SetMailbox(args) => set_mailbox(args).await,
        UserCommand::SetAuto(args) => super::hours::set_auto(args).await,
    }
}

/// Opens the store of the configuration named by `args`.
pub async fn store(args: &ConfigArgs) -> Result<std::sync::Arc<tsgate_store::AnyStore>, Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    app::open_store(&config).await.map_err(Failure::Config)
}

/// Records an administration change made from the command line (actor `cli`) in the audit
/// table, after the change itself. `outcome` names what changed, never a secret.
pub async fn audit(
    store: &AnyStore,
    action: AdminAction,
    user: Option<&UserId>,
    outcome: impl Into<String>,
) -> Result<(), Failure> {
    audit_in(store, None, action, user, outcome).await
}

/// [`audit`] of a change in one practice.
pub async fn audit_in(
    store: &AnyStore,
    practice: Option<&tsgate_session::PracticeId>,
    action: AdminAction,
    user: Option<&UserId>,
    outcome: impl Into<String>,
) -> Result<(), Failure> {
    let entry = AuditEntry::admin(
        time::OffsetDateTime::now_utc(),
        Actor::Cli,
        action,
        user.cloned(),
        outcome,
    )
    .in_practice(practice.cloned());
    store
        .append(&entry)
        .await
        .map_err(|e| Failure::Refused(e.into()))
}

/// Records an administration change made by `actor` (`cli`, or `system` for the demo's
/// seeding) in the audit table.
pub async fn audit_as(
    store: &AnyStore,
    actor: Actor,
    action: AdminAction,
    user: Option<&UserId>,
    outcome: impl Into<String>,
) -> anyhow::Result<()> {
    let entry = AuditEntry::admin(
        time::OffsetDateTime::now_utc(),
        actor,
        action,
        user.cloned(),
        outcome,
    );
    store
        .append(&entry)
        .await
        .context("the change is saved, but the audit line could not be written")
}

/// A user id from the command line.
pub fn user_id(value: &str) -> Result<UserId, Failure> {
    UserId::new(value).map_err(|_| {
        Failure::Config(anyhow!(
            "'{value}' is not a Sistema TS user id (1 to 16 characters, no spaces)"
        ))
    })
}

async fn add(args: UserAddArgs) -> Result<(), Failure> {
    let id = user_id(&args.user)?;
    let role = Role::parse(&args.role).ok_or_else(|| {
        Failure::Config(anyhow!("--role must be titolare, sostituto or farmacia"))
    })?;
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let environment = match args.environment.as_deref() {
        Some(e) => Environment::parse(e)
            .ok_or_else(|| Failure::Config(anyhow!("--environment must be test or production")))?,
        None => config.user_environment(),
    };
    let password_changed_at = args
        .password_changed
        .as_deref()
        .map(|d| Date::parse(d, format_description!("[year]-[month]-[day]")))
        .transpose()
        .map_err(|_| Failure::Config(anyhow!("--password-changed must be YYYY-MM-DD")))?;
    let profile = UserProfile {
        user_id: id.clone(),
        fiscal_code: args.cf.to_uppercase(),
        region: args.region,
        asl: args.asl,
        ssa: args.ssa,
        specialization: args.specialization,
        display_name: args.name,
        environment,
        role,
        password_changed_at,
    };
    // Every field at once, each named as its flag (`cf` is `--cf`, …).
    let problems = tsgate_session::fields::check_profile(&profile);
    if !problems.is_empty() {
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("--{}: {}", p.field, p.message))
            .collect();
        return Err(Failure::Config(anyhow!("{}", text.join("\n"))));
    }
    let practice = super::practice::practice_id(&args.practice)?;
    let password = Password::new(
        read_secret(Secret::nth("Sistema TS password", 1, 2)).map_err(Failure::Config)?,
    );
    let pin = Pin::new(read_secret(Secret::nth("Sistema TS PIN", 2, 2)).map_err(Failure::Config)?);
    let store = store(&args.config).await?;
    let existed = store
        .user(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
        .is_some();
    store
        .put_user(&profile)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    store
        .set_credentials(&id, &password, &pin, password_changed_at)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    store.add_member(&practice, &id).await.map_err(|e| match e {
        tsgate_session::StoreError::NotFound(_) => Failure::Refused(anyhow!(
            "practice {practice} does not exist: create it first with `tsgate practice add {practice} --name …` (the user was saved, without a practice)"
        )),
        e => Failure::Refused(e.into()),
    })?;
    let action = if existed {
        AdminAction::UserUpdated
    } else {
        AdminAction::UserAdded
    };
    audit_in(&store, Some(&practice), action, Some(&id), "ok").await?;
    println!(
        "user {} saved ({}, {})",
        id.as_str(),
        role.as_str(),
        environment.as_str()
    );
    Ok(())
}

async fn list(args: ConfigArgs) -> Result<(), Failure> {
    let store = store(&args).await?;
    let users = store
        .list_users()
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    if users.is_empty() {
        println!("no users yet: add one with `tsgate user add`");
    }
    for user in users {
        println!(
            "{:<16}  {:<9}  {:<10}  {}",
            user.user_id.as_str(),
            user.role.as_str(),
            user.environment.as_str(),
            user.display_name.unwrap_or_default()
        );
    }
    Ok(())
}

async fn show(args: UserRefArgs) -> Result<(), Failure> {
    let id = user_id(&args.user)?;
    let store = store(&args.config).await?;
    let user = existing_user(&store, &id).await?;
    let has_credentials = store
        .credentials(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
        .is_some();
    let mailbox = store
        .mailbox(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    let shown = serde_json::json!({
        "user": user,
        "credentials": if has_credentials { "set (encrypted)" } else { "missing" },
        "mailbox": mailbox.map(|m| serde_json::json!({
            "settings": m.settings, "address": m.address, "password": "set (encrypted)",
        })),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&shown).map_err(|e| Failure::Refused(e.into()))?
    );
    Ok(())
}

/// The stored profile of `id`, or the refusal "no user".
async fn existing_user(
    store: &tsgate_store::AnyStore,
    id: &tsgate_session::UserId,
) -> Result<UserProfile, Failure> {
    store
        .user(id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
        .ok_or_else(|| Failure::Refused(anyhow!("no user {}", id.as_str())))
}

async fn remove(args: UserRefArgs) -> Result<(), Failure> {
    let id = user_id(&args.user)?;
    let store = store(&args.config).await?;
    // The line stays visible to the admin of the practice the doctor was in.
    let practices = store
        .practices_of(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    if store
        .remove_user(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?
    {
        audit_in(
            &store,
            practices.first(),
            AdminAction::UserRemoved,
            Some(&id),
            "ok",
        )
        .await?;
        println!("user {} removed", id.as_str());
        Ok(())
    } else {
        Err(Failure::Refused(anyhow!("no user {}", id.as_str())))
    }
}

async fn set_credentials(args: UserRefArgs) -> Result<(), Failure> {
    let id = user_id(&args.user)?;
    let store = store(&args.config).await?;
    existing_user(&store, &id).await?;
    let password = Password::new(
        read_secret(Secret::nth("new Sistema TS password", 1, 2)).map_err(Failure::Config)?,
    );
    let pin = Pin::new(read_secret(Secret::nth("Sistema TS PIN", 2, 2)).map_err(Failure::Config)?);
    let today = time::OffsetDateTime::now_utc().date();
    store
        .set_credentials(&id, &password, &pin, Some(today))
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    audit(&store, AdminAction::CredentialsChanged, Some(&id), "ok").await?;
    println!(
        "credentials of {} updated; a running server lifts any block on the next request",
        id.as_str()
    );
    Ok(())
}

async fn set_mailbox(args: SetMailboxArgs) -> Result<(), Failure> {
    let id = user_id(&args.user)?;
    let store = store(&args.config).await?;
    existing_user(&store, &id).await?;
    let previous = store
        .mailbox(&id)
        .await
        .map_err(|e| Failure::Refused(e.into()))?;
    let password = match (&previous, args.keep_password) {
        (Some(p), true) => p.settings.password.clone(),
        (None, true) => {
            return Err(Failure::Config(anyhow!(
                "--keep-password: no mailbox stored yet"
            )));
        }
        (_, false) => Password::new(
            read_secret(Secret::only("mailbox (IMAP) password")).map_err(Failure::Config)?,
        ),
    };
    let mut settings =
        MailboxSettings::new(args.host, args.security.tls(), args.username, password);
    settings.port = args.port;
    settings.folders = args.folders;
    if !args.accepted_senders.is_empty() {
        settings.accepted_senders = args.accepted_senders;
    }
    if let Some(path) = &args.ca_file {
        settings.ca_pem = Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(Failure::Config)?,
        );
    }
    settings
        .validate()
        .map_err(|e| Failure::Config(anyhow!("{e}")))?;
    let mailbox = UserMailbox {
        settings,
        address: args.address.filter(|a| !a.trim().is_empty()),
    };
    tsgate_mailbox::bridge::save(&*store, &id, &mailbox)
        .await
        .context("cannot save the mailbox")
        .map_err(Failure::Refused)?;
    audit(&store, AdminAction::MailboxSet, Some(&id), "ok").await?;
    println!(
        "mailbox of {} saved; a running server starts using it within a minute",
        id.as_str()
    );
    Ok(())
}
