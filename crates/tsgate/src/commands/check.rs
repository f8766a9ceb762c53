//! `tsgate check`: validates what `serve` needs, one line per check, and says what to fix.

use std::time::Duration;

use time::OffsetDateTime;

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

    match app::open_store(&config).await {
        Ok(store) => {
            match store.ping().await {
                Ok(()) => println!(
                    "ok    master key and database {}",
                    config.database_path().display()
                ),
                Err(e) => {
                    failed += 1;
                    println!("FAIL  database: {e}");
                }
            }
            store.close().await;
        }
        Err(e) => {
            failed += 1;
            println!("FAIL  master key or database: {e:#}");
        }
    }

    match app::load_certificate(&config).await {
        Ok(cert) => match cert.expiry_warning(OffsetDateTime::now_utc()) {
            None => println!(
                "ok    SanitelCF certificate valid until {}",
                cert.not_after().date()
            ),
            Some(warning) => println!("WARN  SanitelCF certificate: {warning}"),
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
