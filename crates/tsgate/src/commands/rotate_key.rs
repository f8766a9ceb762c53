//! `tsgate rotate-key`: a new master key for every stored secret, with tsgate stopped.
//!
//! The store does the work and makes it crash-safe (`tsgate_store::crypto`, Rotation): the
//! new key is staged as `master.key.next`, every secret is re-encrypted in one transaction,
//! then the old key is kept as `master.key.retired-<id>` and the new one renamed into place.
//! Whatever process opens the database next (this command again, `serve`, any command)
//! completes or rolls back a rotation a crash interrupted, by the key the data is under.

use std::time::Duration;

use anyhow::anyhow;
use tsgate_store::{Access, AnyStore, Database, KeySource, RotationStep, Settled};

use super::Failure;
use super::backup::explain;
use crate::app;
use crate::cli::ConfigArgs;
use crate::config::Config;

/// The variable that makes this command stop at one [`RotationStep`] and wait to be killed:
/// how the end-to-end tests crash it at a known point. Unset, nothing happens.
const STOP_AT: &str = "TSGATE_TEST_STOP_AT";

/// Runs `tsgate rotate-key`.
pub async fn run(args: ConfigArgs) -> Result<(), Failure> {
    let config = Config::load(args.config.as_deref()).map_err(Failure::Config)?;
    let database = config.database().map_err(Failure::Config)?;
    let source = app::key_source(&config).map_err(Failure::Config)?;
    let KeySource::File(file) = &source else {
        let path = config.master_key_path();
        return Err(Failure::Refused(anyhow!(
            "the master key comes from TSGATE_MASTER_KEY, and tsgate rotate-key replaces a key \
             file. To rotate it: stop tsgate, write the key to {path} (base64 -d, mode 0600), \
             run tsgate rotate-key without TSGATE_MASTER_KEY, then keep the file or set \
             TSGATE_MASTER_KEY to the output of `base64 -w0 {path}` wherever tsgate runs",
            path = path.display()
        )));
    };
    // Never make up a key here: rotating a key that does not exist would lose the data's.
    file.load().map_err(|e| explain(e, &source))?;
    let opened = AnyStore::open_keyed(&database, &source, Access::Exclusive)
        .await
        .map_err(|e| explain(e, &source))?;
    match &opened.settled {
        Settled::Nothing => {}
        Settled::Completed { key, retired } => {
            opened.store.close().await;
            println!(
                "A key rotation interrupted earlier has been completed: every secret is under \
                 the key with id {key}, now in {}. The previous key is kept as {}.",
                file.path().display(),
                retired.display()
            );
            println!("{}", next_steps(&database));
            return Ok(());
        }
        Settled::RolledBack { key } => println!(
            "A key rotation interrupted earlier had not reached the database and was undone \
             (the secrets are under the key with id {key}); rotating now."
        ),
    }
    let rotated = opened
        .store
        .rotate_key_file(file, &opened.key, &stop_for_tests)
        .await;
    opened.store.close().await;
    let rotated = rotated.map_err(|e| explain(e, &source))?;
    println!(
        "Master key rotated: {} secrets re-encrypted under the new key (id {}), now in {}.",
        rotated.secrets,
        rotated.new,
        file.path().display()
    );
    println!(
        "The previous key (id {}) is kept as {}: backups made before now need it. Keep it \
         with them, and delete it together with the last of them.",
        rotated.old,
        rotated.retired.display()
    );
    println!("{}", next_steps(&database));
    Ok(())
}

fn next_steps(database: &Database) -> String {
    let mut next = String::from(
        "Next: save a copy of the new key file apart from the backups, and make a backup now \
         (tsgate backup FILE). Browsers signed in to the web UI sign in again.",
    );
    if matches!(database, Database::Postgres(_)) {
        next.push_str(
            " Copy the new key file to every other tsgate node (same path, mode 0600) before \
             starting them.",
        );
    }
    next
}

/// Stops the process at the step named by `TSGATE_TEST_STOP_AT`, saying so on standard error,
/// until it is killed.
fn stop_for_tests(step: RotationStep) {
    let Ok(at) = std::env::var(STOP_AT) else {
        return;
    };
    let name = match step {
        RotationStep::Staged => "staged",
        RotationStep::BeforeCommit => "before-commit",
        RotationStep::Committed => "committed",
        RotationStep::Done => "done",
    };
    if at == name {
        eprintln!("tsgate: stopped at {name} for a test");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
