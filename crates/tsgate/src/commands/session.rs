//! `tsgate session …`: the API's session actions, run in this process on the same database.
//!
//! The session rules (single request in flight, confirmation to replace, verification of
//! inserted codes) hold here too: the database records are updated with compare-and-swap,
//! so a running server and this command never overwrite each other. A running server's
//! workstations see the change at their next refresh.

use tsgate_session::{Actor, SessionView};

use super::Failure;
use super::secrets::{Secret, read_secret};
use super::user::user_id;
use crate::app;
use crate::cli::SessionCommand;
use crate::config::Config;

/// Runs one `session` subcommand.
pub async fn run(command: SessionCommand) -> Result<(), Failure> {
    let (args, action) = match command {
        SessionCommand::Status(a) => (a, Action::Status),
        SessionCommand::Request(a) => (a.session, Action::Request { replace: a.replace }),
        SessionCommand::Insert(a) => (a, Action::Insert),
        SessionCommand::Revoke(a) => (a, Action::Revoke),
    };
    let user = user_id(args.user())?;
    // Asked before anything is opened: an empty code leaves nothing half done.
    let code = match action {
        Action::Insert => {
            Some(read_secret(Secret::only("ID-SESSIONE code")).map_err(Failure::Config)?)
        }
        _ => None,
    };
    let config = Config::load(args.config.config.as_deref()).map_err(Failure::Config)?;
    let store = app::open_store(&config).await.map_err(Failure::Config)?;
    let manager = app::manager(&config, store.clone(), app::CLI_NODE)
        .await
        .map_err(Failure::Config)?;
    let result = match action {
        Action::Status => manager.status(&user).await,
        Action::Request { replace } => manager
            .request(&user, replace, Actor::Cli)
            .await
            .map(|o| o.view),
        Action::Insert => {
            let raw = code.unwrap_or_default();
            manager.submit_code(&user, &raw, Actor::Cli).await
        }
        Action::Revoke => manager.revoke(&user, Actor::Cli).await,
    };
    store.close().await;
    match result {
        Ok(view) => {
            print_view(&view);
            Ok(())
        }
        // The Italian message is the one the doctor would see; the cause stays in the log.
        Err(e) => {
            if matches!(e, tsgate_session::SessionError::Internal { .. }) {
                tracing::debug!(cause = %sistemats::error::describe_chain(&e), "session action refused");
            }
            Err(Failure::Refused(anyhow::anyhow!("{e}")))
        }
    }
}

enum Action {
    Status,
    Request { replace: bool },
    Insert,
    Revoke,
}

fn print_view(view: &SessionView) {
    match serde_json::to_string_pretty(view) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("cannot print the state: {e}"),
    }
}
