//! `tsgate serve` configuration: defaults, then a TOML file, then `TSGATE_*` environment
//! variables (each key of the file is also `TSGATE_<KEY>` in upper case).
//!
//! Secrets are never in this file: Sistema TS passwords and PINs live encrypted in the
//! database; the master key is a file (created on first run, mode 0600) or
//! `TSGATE_MASTER_KEY`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// An example configuration with every key and its default, shipped in the docs.
#[cfg(test)]
pub const EXAMPLE: &str = include_str!("../../../docs/tsgate.example.toml");

/// Which Sistema TS to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// The official test environment ("VALIDAZIONE"), fake data.
    Test,
    /// The real service. Must be named explicitly.
    Production,
    /// Another base URL, e.g. a `tsgate sim` (production hosts are refused here).
    Custom,
}

/// Everything `tsgate serve` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP server (API, UI, SOAP proxy).
    pub listen: SocketAddr,
    /// Folder of the database and of the master key file.
    pub data_dir: PathBuf,
    /// SQLite database file (default `<data_dir>/tsgate.db`).
    pub database: Option<PathBuf>,
    /// Master key file (default `<data_dir>/master.key`); `TSGATE_MASTER_KEY` (base64) wins.
    pub master_key_file: Option<PathBuf>,
    /// `test`, `production` or `custom`.
    pub environment: UpstreamKind,
    /// With `custom`: base URL of the A2F service (e.g. `http://127.0.0.1:8089`).
    pub a2f_base: Option<String>,
    /// With `custom`: base URL of the DEM services.
    pub dem_base: Option<String>,
    /// PEM file of a CA to trust for the upstream HTTPS (instead of the system roots).
    pub upstream_ca_file: Option<PathBuf>,
    /// The SanitelCF certificate (DER or PEM) that encrypts PINs. Required for `test` and
    /// `production`; with `custom` it may be fetched from a simulator (`sanitel_certificate_url`).
    pub sanitel_certificate: Option<PathBuf>,
    /// With `custom`: URL of the certificate served by a simulator (`…/sim/certificate`).
    pub sanitel_certificate_url: Option<String>,
    /// Timeout of one call to Sistema TS, in seconds.
    pub upstream_timeout_seconds: u64,
    /// Minimum time between two `create` for the same user, in seconds.
    pub min_create_interval_seconds: u64,
    /// The state turns yellow this many minutes before expiry.
    pub yellow_minutes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("tsgate-data"),
            database: None,
            master_key_file: None,
            environment: UpstreamKind::Test,
            a2f_base: None,
            dem_base: None,
            upstream_ca_file: None,
            sanitel_certificate: None,
            sanitel_certificate_url: None,
            upstream_timeout_seconds: 30,
            min_create_interval_seconds: 60,
            yellow_minutes: 60,
        }
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `TSGATE_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} not found", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        // TSGATE_MASTER_KEY is the key itself (read by the store), not a configuration key.
        figment = figment.merge(Env::prefixed("TSGATE_").ignore(&["MASTER_KEY", "SIM_LISTEN"]));
        let config: Config = figment.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the combinations the types cannot express.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self.environment {
            UpstreamKind::Custom => {
                if self.a2f_base.is_none() || self.dem_base.is_none() {
                    bail!("environment = \"custom\" needs a2f_base and dem_base");
                }
                if self.sanitel_certificate.is_none() && self.sanitel_certificate_url.is_none() {
                    bail!(
                        "environment = \"custom\" needs sanitel_certificate or sanitel_certificate_url"
                    );
                }
            }
            UpstreamKind::Test | UpstreamKind::Production => {
                if self.a2f_base.is_some() || self.dem_base.is_some() {
                    bail!("a2f_base/dem_base are only for environment = \"custom\"");
                }
                if self.sanitel_certificate.is_none() {
                    bail!(
                        "sanitel_certificate is required: the SanitelCF certificate file from the Sistema TS kit"
                    );
                }
            }
        }
        if self.upstream_timeout_seconds == 0 || self.upstream_timeout_seconds > 110 {
            // The session rules treat a create older than 120 s as lost.
            bail!("upstream_timeout_seconds must be between 1 and 110");
        }
        Ok(())
    }

    /// The database file.
    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tsgate.db"))
    }

    /// The master key file.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The Sistema TS environment of the protocol client.
    pub fn environment(&self) -> anyhow::Result<sistemats::env::Environment> {
        use sistemats::env::Environment;
        Ok(match self.environment {
            UpstreamKind::Test => Environment::Test,
            UpstreamKind::Production => Environment::Production,
            UpstreamKind::Custom => Environment::custom(
                self.a2f_base.clone().unwrap_or_default(),
                self.dem_base.clone().unwrap_or_default(),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_is_the_defaults_plus_a_certificate() {
        let parsed: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(EXAMPLE))
            .extract()
            .unwrap();
        parsed.validate().unwrap();
        assert_eq!(parsed.listen, Config::default().listen);
    }

    #[test]
    fn production_host_refused_in_custom() {
        let config = Config {
            environment: UpstreamKind::Custom,
            a2f_base: Some("https://servizits.sanita.finanze.it".into()),
            dem_base: Some("https://demservice.sanita.finanze.it".into()),
            sanitel_certificate_url: Some("http://x/sim/certificate".into()),
            ..Config::default()
        };
        config.validate().unwrap();
        assert!(config.environment().is_err());
    }

    #[test]
    fn custom_needs_bases() {
        let config = Config {
            environment: UpstreamKind::Custom,
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }
}
