//! The binary's part of the support bundle (`tsgate_gateway::support` assembles it): the
//! configuration as an allow-list of its non-secret keys, a read-only upstream for the
//! command line's manager, and the certified mailboxes as `tsgate check` found them.

use serde::Serialize;
use tsgate_session::mailbox::{MailboxStatus, MailboxUpdate, MailboxView, UserMailbox};
use tsgate_session::{
    CreateResult, Identity, MailboxError, MailboxService, RevokeOutcome, SessionCode, TokenCheck,
    Upstream, UpstreamError, UserId,
};

use crate::config::{AutomaticConfig, Config, LimitsConfig, UpstreamKind};

/// The configuration as a support bundle shows it: every key named here, copied one by one.
/// A key added to [`Config`] stays out until it is added here. Paths and addresses are not
/// secrets; the database URL loses its password (`redact_url`) and every URL its query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigSummary {
    /// Address of the HTTP server.
    pub listen: String,
    /// Data folder.
    pub data_dir: String,
    /// SQLite file, or the PostgreSQL URL without password and parameters.
    pub database: String,
    /// Where the master key comes from (never the key).
    pub master_key: String,
    /// This node's name.
    pub node_name: String,
    /// `test`, `production` or `custom`.
    pub environment: UpstreamKind,
    /// Base URL of the A2F service in use.
    pub a2f_base: Option<String>,
    /// Base URL of the DEM services in use.
    pub dem_base: Option<String>,
    /// Base URL of the RBE (ricetta bianca) services in use.
    pub rbe_base: Option<String>,
    /// File of a private CA for the upstream.
    pub upstream_ca_file: Option<String>,
    /// File of the SanitelCF certificate.
    pub sanitel_certificate: Option<String>,
    /// URL of the SanitelCF certificate (a simulator's).
    pub sanitel_certificate_url: Option<String>,
    /// Timeout of one call to Sistema TS, seconds.
    pub upstream_timeout_seconds: u64,
    /// Minimum time between two `create` for the same user, seconds.
    pub min_create_interval_seconds: u64,
    /// Yellow this many minutes before expiry.
    pub yellow_minutes: u64,
    /// HTTPS on `listen`.
    pub https: bool,
    /// The HTTPS certificate file (the key file is not named).
    pub tls_certificate: Option<String>,
    /// HTTP worker threads in use.
    pub http_workers: usize,
    /// `[limits]`: numbers only.
    pub limits: LimitsConfig,
    /// `[automatic]`: numbers only.
    pub automatic: AutomaticConfig,
    /// `[working_hours]` of the file: the week, or why it is wrong.
    pub working_hours: Option<String>,
}

/// `url` without the password of its user and without its query (where other credentials
/// could be: `sslpassword=`, tokens).
fn public_url(url: &str) -> String {
    let redacted = tsgate_store::redact_url(url);
    match redacted.split_once('?') {
        Some((head, _)) => format!("{head}?…"),
        None => redacted,
    }
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

impl ConfigSummary {
    /// The summary of `config`.
    pub fn of(config: &Config) -> Self {
        let environment = config.environment().ok();
        Self {
            listen: config.listen.to_string(),
            data_dir: path(&config.data_dir),
            database: match &config.database_url {
                Some(url) => public_url(&url.0),
                None => path(&config.database_path()),
            },
            master_key: if std::env::var_os("TSGATE_MASTER_KEY").is_some() {
                "TSGATE_MASTER_KEY (environment)".to_owned()
            } else {
                format!("file {}", config.master_key_path().display())
            },
            node_name: crate::app::node_name_of(config),
            environment: config.environment,
            a2f_base: environment.as_ref().map(|e| public_url(e.a2f_base())),
            dem_base: environment.as_ref().map(|e| public_url(e.dem_base())),
            rbe_base: config.rbe_base().ok().map(|b| public_url(&b)),
            upstream_ca_file: config.upstream_ca_file.as_deref().map(path),
            sanitel_certificate: config.sanitel_certificate.as_deref().map(path),
            sanitel_certificate_url: config.sanitel_certificate_url.as_deref().map(public_url),
            upstream_timeout_seconds: config.upstream_timeout_seconds,
            min_create_interval_seconds: config.min_create_interval_seconds,
            yellow_minutes: config.yellow_minutes,
            https: config.tls_certificate.is_some() && config.tls_key.is_some(),
            tls_certificate: config.tls_certificate.as_deref().map(path),
            http_workers: config.http_workers(),
            limits: config.limits.clone(),
            automatic: config.automatic.clone(),
            working_hours: match config.file_hours() {
                Ok(hours) => hours.map(|h| h.week.to_string()),
                Err(e) => Some(format!("{e:#}")),
            },
        }
    }

    /// As JSON, for the bundle.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The upstream of a manager that only reads (the command line's support bundle): it never
/// calls Sistema TS, so a bundle is made even when the certificate or the network is what
/// is broken.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnlyUpstream;

fn read_only() -> UpstreamError {
    UpstreamError::Unavailable {
        detail: "read-only: the support bundle calls no service".into(),
    }
}

#[tsgate_session::async_trait]
impl Upstream for ReadOnlyUpstream {
    async fn create(&self, _: &Identity) -> Result<CreateResult, UpstreamError> {
        Err(read_only())
    }

    async fn check_token(
        &self,
        _: &Identity,
        _: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError> {
        Err(read_only())
    }

    async fn revoke(&self, _: &Identity, _: &SessionCode) -> Result<RevokeOutcome, UpstreamError> {
        Err(read_only())
    }
}

/// The certified mailboxes as the logins of `tsgate check` found them: what the command
/// line's bundle shows (the watchers' live state is in the serving process only).
#[derive(Debug, Default)]
pub struct CheckedMailboxes {
    /// Each user's settings and what the login found.
    pub list: Vec<(UserId, UserMailbox, MailboxStatus)>,
}

#[tsgate_session::async_trait]
impl MailboxService for CheckedMailboxes {
    async fn status(&self, user: &UserId) -> Result<MailboxView, MailboxError> {
        let Some((_, mailbox, status)) = self.list.iter().find(|(u, _, _)| u == user) else {
            return Ok(MailboxView::not_configured());
        };
        let key = mailbox.mailbox_key();
        let shared_with = self
            .list
            .iter()
            .filter(|(u, m, _)| u != user && m.mailbox_key() == key)
            .map(|(u, _, _)| u.as_str().to_owned())
            .collect();
        Ok(MailboxView::of(
            user,
            mailbox,
            status.clone(),
            mailbox.addresses(),
            shared_with,
        ))
    }

    async fn configure(&self, _: &UserId, _: MailboxUpdate) -> Result<MailboxView, MailboxError> {
        Err(MailboxError::UnknownUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    /// Every value of `json` that is not a number (or a bool or null), with its key.
    fn texts(json: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match json {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    texts(v, &format!("{key}.{k}"), out);
                }
            }
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {
            }
            other => out.push(format!("{key} = {other}")),
        }
    }

    #[test]
    fn limits_and_automatic_hold_numbers_only() {
        // They are shown whole: a text key added to them must be looked at first.
        let mut found = Vec::new();
        texts(
            &serde_json::to_value(LimitsConfig::default()).unwrap(),
            "limits",
            &mut found,
        );
        texts(
            &serde_json::to_value(AutomaticConfig::default()).unwrap(),
            "automatic",
            &mut found,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn the_summary_has_no_password_of_any_url() {
        let config = Config {
            database_url: Some(DatabaseUrl(
                "postgres://tsgate:Db-Planted-91@db.example.it:5432/tsgate?sslpassword=Ssl-Planted-3&sslmode=require".into(),
            )),
            environment: UpstreamKind::Custom,
            a2f_base: Some("https://user:Up-Planted-7@sim.example.it".into()),
            dem_base: Some("https://sim.example.it?token=Tok-Planted-5".into()),
            rbe_base: Some("https://sim.example.it?token=Rbe-Planted-6".into()),
            sanitel_certificate_url: Some("https://sim.example.it/sim/certificate".into()),
            ..Config::default()
        };
        let json = ConfigSummary::of(&config).to_json().to_string();
        for planted in [
            "Db-Planted-91",
            "Ssl-Planted-3",
            "Up-Planted-7",
            "Tok-Planted-5",
            "Rbe-Planted-6",
        ] {
            assert!(!json.contains(planted), "{planted} in {json}");
        }
        assert!(
            json.contains("postgres://tsgate:***@db.example.it:5432/tsgate?…"),
            "{json}"
        );
        assert!(json.contains("\"environment\":\"custom\""), "{json}");
    }
}
