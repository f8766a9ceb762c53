//! `tsgate serve` configuration: defaults, then a TOML file, then `TSGATE_*` environment
//! variables (each key of the file is also `TSGATE_<KEY>` in upper case; a key of a table
//! joins the table with a double underscore: `[limits] api_rate_burst` is
//! `TSGATE_LIMITS__API_RATE_BURST`).
//!
//! Secrets are never in this file: Sistema TS passwords and PINs live encrypted in the
//! database; the master key is a file (created on first run, mode 0600) or
//! `TSGATE_MASTER_KEY`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::bail;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tsgate_session::Policy;
use tsgate_session::hours::{HoursSpec, WorkingHours};

mod extract;

/// An example configuration with every key and its default, shipped in the docs.
#[cfg(test)]
pub const EXAMPLE: &str = include_str!("../../../docs/tsgate.example.toml");

/// The `/etc/tsgate/tsgate.toml` of the Debian package.
#[cfg(test)]
pub const PACKAGED: &str = include_str!("../../../packaging/debian/tsgate.toml");

/// A database URL (`database_url`). It may hold the database password: `Debug` never shows
/// it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", tsgate_store::redact_url(&self.0))
    }
}

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
    /// The database as a URL, instead of `database`: `postgres://user:password@host/db`
    /// (PostgreSQL: several nodes on one database) or `sqlite://path`. Absent: the SQLite
    /// file of `database`. `Debug` hides its password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// Master key file (default `<data_dir>/master.key`); `TSGATE_MASTER_KEY` (base64) wins.
    pub master_key_file: Option<PathBuf>,
    /// This node's name among several on one database (default: the host name). It owns
    /// the node's leases and the `create`s it sends: give each node its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// `test`, `production` or `custom`.
    pub environment: UpstreamKind,
    /// With `custom`: base URL of the A2F service (e.g. `http://127.0.0.1:8089`).
    pub a2f_base: Option<String>,
    /// With `custom`: base URL of the DEM services.
    pub dem_base: Option<String>,
    /// Base URL of the RBE (ricetta bianca, class C) services the proxy forwards to.
    /// Default: `https://ricettabiancaservicetest.sanita.finanze.it` (test),
    /// `https://ricettabiancaservice.sanita.finanze.it` (production), `dem_base` (custom).
    /// Those hosts are LIKELY, not confirmed (docs/PROTOCOL.md §5.10): this key exists so
    /// that a wrong one can be corrected without a new release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbe_base: Option<String>,
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
    /// HTTPS on `listen`: the certificate chain (PEM) of tsgate's own address. With
    /// `tls_key`; without both, plain HTTP (fine on `localhost`, not on a network).
    pub tls_certificate: Option<PathBuf>,
    /// The private key (PEM) of `tls_certificate`.
    pub tls_key: Option<PathBuf>,
    /// Threads serving HTTP (API, UI, proxy), each with its own connections; `0`: one per
    /// CPU core.
    pub http_workers: usize,
    /// Body sizes, timeouts and per-workstation rates of the gateway (`[limits]`).
    pub limits: LimitsConfig,
    /// The practice's working hours (`[working_hours]`). When present they are the practice
    /// default, and the UI, the API and the command line cannot change it; each doctor may
    /// still have own hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<HoursSpec>,
    /// Automatic requests (`[automatic]`): lead time, renewal, daily cap, backoff.
    pub automatic: AutomaticConfig,
}

/// The `[automatic]` table: when and how often tsgate requests codes by itself. The defaults
/// are the domain's ([`Policy::default`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutomaticConfig {
    /// Minutes before a working range starts at which its code is requested.
    pub lead_minutes: u64,
    /// Minutes before expiry at which a code that ends within working hours is replaced.
    pub renew_before_minutes: u64,
    /// Automatic `create`s per doctor and day, at most.
    pub daily_cap: u32,
    /// Minutes the mail of an automatic request may take before it counts as a failure and
    /// every workstation is told, with the mailbox's diagnostics.
    pub mail_wait_minutes: u64,
    /// Minutes of pause after a failed automatic request; doubled at each further failure.
    pub backoff_minutes: u64,
    /// Longest pause between automatic attempts, in minutes.
    pub backoff_max_minutes: u64,
}

impl Default for AutomaticConfig {
    fn default() -> Self {
        let policy = Policy::default();
        Self {
            lead_minutes: policy.auto_lead.whole_minutes() as u64,
            renew_before_minutes: policy.auto_renew_before.whole_minutes() as u64,
            daily_cap: policy.auto_daily_cap,
            mail_wait_minutes: policy.auto_mail_wait.whole_minutes() as u64,
            backoff_minutes: policy.auto_backoff.whole_minutes() as u64,
            backoff_max_minutes: policy.auto_backoff_max.whole_minutes() as u64,
        }
    }
}

impl AutomaticConfig {
    /// Every key out of its range, and the two that depend on each other, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let t = "automatic";
        bounded(p, t, "lead_minutes", self.lead_minutes, 0, 240, "minutes");
        bounded(
            p,
            t,
            "renew_before_minutes",
            self.renew_before_minutes,
            5,
            480,
            "minutes",
        );
        bounded(p, t, "daily_cap", self.daily_cap, 1, 24, "requests");
        bounded(
            p,
            t,
            "mail_wait_minutes",
            self.mail_wait_minutes,
            1,
            60,
            "minutes",
        );
        bounded(
            p,
            t,
            "backoff_minutes",
            self.backoff_minutes,
            1,
            240,
            "minutes",
        );
        bounded(
            p,
            t,
            "backoff_max_minutes",
            self.backoff_max_minutes,
            1,
            1440,
            "minutes",
        );
        if self.backoff_max_minutes < self.backoff_minutes {
            p.push(format!(
                "automatic.backoff_max_minutes ({}) must be at least automatic.backoff_minutes ({})",
                self.backoff_max_minutes,
                self.backoff_minutes
            ));
        }
        if self.renew_before_minutes <= self.mail_wait_minutes {
            p.push(format!(
                "automatic.renew_before_minutes ({}) must be more than automatic.mail_wait_minutes \
                 ({}): the mail of a renewal must have time to arrive before the code ends",
                self.renew_before_minutes, self.mail_wait_minutes
            ));
        }
        problems
    }

    /// The automatic-request rules of `policy` set from this table.
    pub fn apply(&self, policy: Policy) -> Policy {
        let minutes = |m: u64| time::Duration::minutes(m as i64);
        Policy {
            auto_lead: minutes(self.lead_minutes),
            auto_renew_before: minutes(self.renew_before_minutes),
            auto_daily_cap: self.daily_cap,
            auto_mail_wait: minutes(self.mail_wait_minutes),
            auto_backoff: minutes(self.backoff_minutes),
            auto_backoff_max: minutes(self.backoff_max_minutes),
            ..policy
        }
    }
}

/// The `[limits]` table: what one workstation may send and how fast, and how long the
/// gateway waits. The defaults are the gateway's own ([`tsgate_gateway::Limits`]).
///
/// The timeout of tsgate's own calls to Sistema TS stays `upstream_timeout_seconds` at the
/// top level; the proxy opens its connections within the same connect timeout as those
/// calls (`upstream_timeout_seconds`, at most 10 s), so there is no key for it here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest JSON body accepted by the API, in bytes.
    pub api_body_bytes: usize,
    /// Largest SOAP request accepted by the proxy, in bytes.
    pub proxy_body_bytes: usize,
    /// Time allowed to one API request (the event stream excluded), in seconds.
    pub api_timeout_seconds: u64,
    /// Time allowed to Sistema TS to start answering a call forwarded by the proxy, in
    /// seconds (DEM calls can be slower than tsgate's own A2F calls).
    pub proxy_upstream_timeout_seconds: u64,
    /// Idle keep-alive connections kept open towards each Sistema TS host (0: none).
    pub proxy_pool_max_idle: usize,
    /// API requests per second allowed to one workstation, sustained; 0 = unlimited.
    pub api_rate_per_second: u32,
    /// API requests one workstation may send at once (ignored when unlimited).
    pub api_rate_burst: u32,
    /// Proxied SOAP calls per second allowed to one workstation, sustained; 0 = unlimited.
    pub proxy_rate_per_second: u32,
    /// Proxied SOAP calls one workstation may send at once (ignored when unlimited).
    pub proxy_rate_burst: u32,
    /// Time allowed to a client to send a request's headers (and its TLS handshake), in
    /// seconds; on a kept-alive HTTP/1.1 connection it also bounds the wait for the next
    /// request.
    pub header_read_timeout_seconds: u64,
    /// Time allowed to a whole request body, in seconds.
    pub body_timeout_seconds: u64,
    /// Slowest accepted request body after the grace period, in bytes per second; 0 = none.
    pub body_min_bytes_per_second: u64,
    /// Seconds a request body may take before the minimum rate applies.
    pub body_rate_grace_seconds: u64,
    /// A connection with no request in progress is closed after this many seconds.
    pub idle_timeout_seconds: u64,
    /// Open connections allowed from one address; more are closed at once.
    pub max_connections_per_ip: usize,
    /// Open connections allowed in all; more are closed at once.
    pub max_connections: usize,
    /// A proxied call with no usable code waits this long for an automatic request to bring
    /// one; 0 = never held.
    pub proxy_hold_seconds: u64,
    /// Proxied calls held at once; one more is answered at once with a 503 SOAP Fault.
    pub max_held_calls: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let gateway = tsgate_gateway::Limits::default();
        let (api_rate_per_second, api_rate_burst) = rate_keys(gateway.api_rate);
        let (proxy_rate_per_second, proxy_rate_burst) = rate_keys(gateway.proxy_rate);
        Self {
            api_body_bytes: gateway.api_body_bytes,
            proxy_body_bytes: gateway.proxy_body_bytes,
            api_timeout_seconds: gateway.api_timeout_seconds,
            proxy_upstream_timeout_seconds: gateway.proxy_upstream_timeout_seconds,
            proxy_pool_max_idle: gateway.proxy_pool_max_idle,
            api_rate_per_second,
            api_rate_burst,
            proxy_rate_per_second,
            proxy_rate_burst,
            header_read_timeout_seconds: gateway.header_read_timeout_seconds,
            body_timeout_seconds: gateway.body_timeout_seconds,
            body_min_bytes_per_second: gateway.body_min_bytes_per_second,
            body_rate_grace_seconds: gateway.body_rate_grace_seconds,
            idle_timeout_seconds: gateway.idle_timeout_seconds,
            max_connections_per_ip: gateway.max_connections_per_ip,
            max_connections: gateway.max_connections,
            proxy_hold_seconds: gateway.proxy_hold_seconds,
            max_held_calls: gateway.max_held_calls,
        }
    }
}

/// A gateway rate as the two keys of the file (`None`, unlimited, is a rate of 0).
fn rate_keys(quota: Option<tsgate_gateway::RateQuota>) -> (u32, u32) {
    quota.map_or((0, 0), |q| (q.per_second, q.burst))
}

/// The two keys of the file as a gateway rate: a rate of 0 is no limit.
fn rate_quota(per_second: u32, burst: u32) -> Option<tsgate_gateway::RateQuota> {
    (per_second > 0).then_some(tsgate_gateway::RateQuota { per_second, burst })
}

/// One bound of a numeric key of `[limits]`, checked with an error that names the key.
fn in_range<T>(problems: &mut Vec<String>, key: &str, value: T, min: T, max: T, unit: &str)
where
    T: PartialOrd + std::fmt::Display,
{
    bounded(problems, "limits", key, value, min, max, unit)
}

/// One bound of a numeric key of `table`, checked with an error that names the key.
fn bounded<T>(
    problems: &mut Vec<String>,
    table: &str,
    key: &str,
    value: T,
    min: T,
    max: T,
    unit: &str,
) where
    T: PartialOrd + std::fmt::Display,
{
    if value < min || value > max {
        problems.push(format!(
            "{table}.{key} must be between {min} and {max} {unit} (found {value})"
        ));
    }
}

impl LimitsConfig {
    /// Largest accepted body: 64 MiB (a DEM request is a few kilobytes).
    const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
    /// Smallest accepted body: 1 KiB (below it not even a SOAP envelope fits).
    const MIN_BODY_BYTES: usize = 1024;
    /// Longest timeout: 10 minutes.
    const MAX_TIMEOUT_SECONDS: u64 = 600;
    /// Highest rate or burst: far above what a practice sends, low enough to catch typos.
    const MAX_RATE: u32 = 100_000;
    /// Most connections: far above a practice, below what a process may usually open.
    const MAX_CONNECTIONS: usize = 100_000;
    /// Fastest minimum body rate: 10 MB/s, already more than many links.
    const MAX_BODY_RATE: u64 = 10_000_000;
    /// Longest hold of a proxied call: 2 minutes (practice software times out before).
    const MAX_HOLD_SECONDS: u64 = 120;

    /// Every key out of its range, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let bytes = "bytes";
        in_range(
            p,
            "api_body_bytes",
            self.api_body_bytes,
            Self::MIN_BODY_BYTES,
            Self::MAX_BODY_BYTES,
            bytes,
        );
        in_range(
            p,
            "proxy_body_bytes",
            self.proxy_body_bytes,
            Self::MIN_BODY_BYTES,
            Self::MAX_BODY_BYTES,
            bytes,
        );
        in_range(
            p,
            "api_timeout_seconds",
            self.api_timeout_seconds,
            1,
            Self::MAX_TIMEOUT_SECONDS,
            "seconds",
        );
        in_range(
            p,
            "proxy_upstream_timeout_seconds",
            self.proxy_upstream_timeout_seconds,
            1,
            Self::MAX_TIMEOUT_SECONDS,
            "seconds",
        );
        for (key, value) in [
            (
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            ("body_timeout_seconds", self.body_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
        ] {
            in_range(p, key, value, 1, Self::MAX_TIMEOUT_SECONDS, "seconds");
        }
        in_range(
            p,
            "body_rate_grace_seconds",
            self.body_rate_grace_seconds,
            0,
            Self::MAX_TIMEOUT_SECONDS,
            "seconds",
        );
        in_range(
            p,
            "body_min_bytes_per_second",
            self.body_min_bytes_per_second,
            0,
            Self::MAX_BODY_RATE,
            "bytes per second (0 = no minimum)",
        );
        in_range(
            p,
            "max_connections_per_ip",
            self.max_connections_per_ip,
            1,
            Self::MAX_CONNECTIONS,
            "connections",
        );
        in_range(
            p,
            "max_connections",
            self.max_connections,
            1,
            Self::MAX_CONNECTIONS,
            "connections",
        );
        in_range(
            p,
            "proxy_hold_seconds",
            self.proxy_hold_seconds,
            0,
            Self::MAX_HOLD_SECONDS,
            "seconds (0 = never held)",
        );
        in_range(
            p,
            "max_held_calls",
            self.max_held_calls,
            1,
            Self::MAX_CONNECTIONS,
            "calls",
        );
        in_range(
            p,
            "proxy_pool_max_idle",
            self.proxy_pool_max_idle,
            0,
            1024,
            "connections",
        );
        for (name, per_second, burst) in [
            ("api_rate", self.api_rate_per_second, self.api_rate_burst),
            (
                "proxy_rate",
                self.proxy_rate_per_second,
                self.proxy_rate_burst,
            ),
        ] {
            in_range(
                p,
                &format!("{name}_per_second"),
                per_second,
                0,
                Self::MAX_RATE,
                "requests per second (0 = unlimited)",
            );
            if per_second > 0 {
                in_range(
                    p,
                    &format!("{name}_burst"),
                    burst,
                    1,
                    Self::MAX_RATE,
                    "requests",
                );
            }
        }
        problems
    }

    /// The gateway's limits; `upstream_timeout_seconds` is the top-level key (see above).
    pub fn to_gateway(&self, upstream_timeout_seconds: u64) -> tsgate_gateway::Limits {
        tsgate_gateway::Limits {
            api_body_bytes: self.api_body_bytes,
            proxy_body_bytes: self.proxy_body_bytes,
            api_timeout_seconds: self.api_timeout_seconds,
            proxy_upstream_timeout_seconds: self.proxy_upstream_timeout_seconds,
            proxy_connect_timeout_seconds: connect_timeout_seconds(upstream_timeout_seconds),
            proxy_pool_max_idle: self.proxy_pool_max_idle,
            api_rate: rate_quota(self.api_rate_per_second, self.api_rate_burst),
            proxy_rate: rate_quota(self.proxy_rate_per_second, self.proxy_rate_burst),
            header_read_timeout_seconds: self.header_read_timeout_seconds,
            body_timeout_seconds: self.body_timeout_seconds,
            body_min_bytes_per_second: self.body_min_bytes_per_second,
            body_rate_grace_seconds: self.body_rate_grace_seconds,
            idle_timeout_seconds: self.idle_timeout_seconds,
            max_connections_per_ip: self.max_connections_per_ip,
            max_connections: self.max_connections,
            proxy_hold_seconds: self.proxy_hold_seconds,
            max_held_calls: self.max_held_calls,
        }
    }
}

/// Time allowed to open a connection to Sistema TS, for tsgate's own calls and the proxy.
pub fn connect_timeout_seconds(upstream_timeout_seconds: u64) -> u64 {
    upstream_timeout_seconds.min(10)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("tsgate-data"),
            database: None,
            database_url: None,
            master_key_file: None,
            node_name: None,
            environment: UpstreamKind::Test,
            a2f_base: None,
            dem_base: None,
            rbe_base: None,
            upstream_ca_file: None,
            sanitel_certificate: None,
            sanitel_certificate_url: None,
            upstream_timeout_seconds: 30,
            min_create_interval_seconds: 60,
            yellow_minutes: 60,
            tls_certificate: None,
            tls_key: None,
            http_workers: 0,
            limits: LimitsConfig::default(),
            working_hours: None,
            automatic: AutomaticConfig::default(),
        }
    }
}

/// The `TSGATE_*` variables that are configuration keys. `__` separates a table from its
/// key (`TSGATE_LIMITS__PROXY_RATE_BURST`); the flat keys have single underscores only.
fn environment() -> Env {
    // Variables of the same prefix that are not configuration keys: the master key itself
    // (read by the store), the `--config` and demo options of the command line, the
    // simulator's address, the end-to-end tests' binary and the point where a test stops
    // `rotate-key`.
    Env::prefixed("TSGATE_")
        .ignore(&[
            "MASTER_KEY",
            "SIM_LISTEN",
            "CONFIG",
            "DEMO_IMAP_PASSWORD",
            "E2E_BIN",
            "TEST_STOP_AT",
        ])
        .split("__")
}

impl Config {
    /// Defaults, then `file` (if given), then `TSGATE_*` variables. Every problem is
    /// reported at once, each with its key (see [`extract`]).
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        let mut figment = defaults.clone();
        if let Some(file) = file {
            if !file.is_file() {
                let looked = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
                bail!(
                    "configuration file {} not found (looked for {}; given by --config or \
                     TSGATE_CONFIG): check the path, or start from docs/tsgate.example.toml",
                    file.display(),
                    looked.display()
                );
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(environment());
        Self::from_figment(&figment, &defaults, file)
    }

    /// The configuration of `figment` (`defaults` merged with the sources), checked; the
    /// error lists every problem, one per line.
    fn from_figment(
        figment: &Figment,
        defaults: &Figment,
        file: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let (config, mut problems) = extract::extract(figment, defaults);
        if let Some(config) = &config {
            problems.extend(config.problems());
        }
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => {
                let count = match problems.len() {
                    1 => "1 problem".to_owned(),
                    n => format!("{n} problems"),
                };
                let source = match file {
                    Some(file) => format!("the configuration {} has {count}", file.display()),
                    None => format!(
                        "no configuration file was given (neither --config FILE nor \
                         TSGATE_CONFIG is set), so only the built-in defaults and the TSGATE_* \
                         variables were read, and they have {count}"
                    ),
                };
                let next = match file {
                    Some(_) => "fix them and run the command again",
                    None => {
                        "pass a configuration file with `--config FILE` or \
                         `TSGATE_CONFIG=FILE` (every key is in docs/tsgate.example.toml)"
                    }
                };
                bail!("{source}:\n  - {}\n{next}", problems.join("\n  - "))
            }
        }
    }

    /// Checks the combinations and ranges the types cannot express; the error lists every
    /// problem, one per line.
    #[cfg(test)]
    pub fn validate(&self) -> anyhow::Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }

    /// Every combination or range the types cannot express that is wrong, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.tls_certificate.is_some() != self.tls_key.is_some() {
            problems.push(
                "tls_certificate and tls_key go together: give both, or neither for plain HTTP"
                    .to_owned(),
            );
        }
        if let Err(e) = self.database() {
            problems.push(format!("{e:#}"));
        }
        if self.http_workers > 256 {
            problems.push(format!(
                "http_workers must be between 0 (one per CPU core) and 256 (found {})",
                self.http_workers
            ));
        }
        match self.environment {
            UpstreamKind::Custom => {
                if self.a2f_base.is_none() || self.dem_base.is_none() {
                    problems.push(
                        "environment = \"custom\" needs a2f_base and dem_base (the simulator's \
                         address, e.g. http://127.0.0.1:8089)"
                            .to_owned(),
                    );
                }
                if self.sanitel_certificate.is_none() && self.sanitel_certificate_url.is_none() {
                    problems.push(
                        "environment = \"custom\" needs sanitel_certificate or \
                         sanitel_certificate_url"
                            .to_owned(),
                    );
                }
            }
            UpstreamKind::Test | UpstreamKind::Production => {
                if self.a2f_base.is_some() || self.dem_base.is_some() {
                    problems
                        .push("a2f_base/dem_base are only for environment = \"custom\"".to_owned());
                }
                // Outside production a production host is refused, as in `custom`.
                if let Some(rbe) = &self.rbe_base
                    && self.environment == UpstreamKind::Test
                    && let Err(e) = sistemats::env::Environment::custom(rbe, rbe)
                {
                    problems.push(format!("rbe_base: {e}"));
                }
                if self.sanitel_certificate.is_none() {
                    problems.push(
                        "sanitel_certificate is missing: it is required with environment = \
                         \"test\" or \"production\"; set it to the SanitelCF certificate file \
                         from the Sistema TS kit"
                            .to_owned(),
                    );
                }
            }
        }
        if self.upstream_timeout_seconds == 0 || self.upstream_timeout_seconds > 110 {
            // The session rules treat a create older than 120 s as lost.
            problems.push(format!(
                "upstream_timeout_seconds must be between 1 and 110 (found {})",
                self.upstream_timeout_seconds
            ));
        }
        problems.extend(self.limits.problems());
        problems.extend(self.automatic.problems());
        if let Err(e) = self.file_hours() {
            problems.push(format!("{e:#}"));
        }
        problems
    }

    /// The practice's working hours of the `[working_hours]` table, checked (`None` without
    /// the table). The error names the key: `working_hours.week: orario «9-13» non valido…`.
    pub fn file_hours(&self) -> anyhow::Result<Option<WorkingHours>> {
        let Some(spec) = &self.working_hours else {
            return Ok(None);
        };
        match spec.build() {
            Ok(hours) => Ok(Some(hours)),
            Err(e) if e.key.is_empty() => bail!("working_hours: {}", e.error),
            Err(e) => bail!("working_hours.{}: {}", e.key, e.error),
        }
    }

    /// The number of HTTP worker threads: as configured, or one per CPU core.
    pub fn http_workers(&self) -> usize {
        match self.http_workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    /// The database: `database_url` if given, otherwise the SQLite file of
    /// [`Config::database_path`].
    pub fn database(&self) -> anyhow::Result<tsgate_store::Database> {
        match &self.database_url {
            None => Ok(tsgate_store::Database::Sqlite(self.database_path())),
            Some(_) if self.database.is_some() => {
                bail!("database (a SQLite file) and database_url name the database twice: keep one")
            }
            Some(url) => {
                tsgate_store::Database::from_url(&url.0).map_err(|e| anyhow::anyhow!(e.english()))
            }
        }
    }

    /// The SQLite database file, when no `database_url` is given.
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

    /// The environment of users added without naming one: production on a production
    /// installation, test everywhere else (the official test service, the simulator).
    pub fn user_environment(&self) -> tsgate_session::Environment {
        match self.environment {
            UpstreamKind::Production => tsgate_session::Environment::Production,
            UpstreamKind::Test | UpstreamKind::Custom => tsgate_session::Environment::Test,
        }
    }

    /// The Sistema TS environment of the protocol client.
    pub fn environment(&self) -> anyhow::Result<sistemats::env::Environment> {
        use sistemats::env::Environment;
        Ok(match self.environment {
            UpstreamKind::Test => Environment::Test,
            UpstreamKind::Production => Environment::Production,
            UpstreamKind::Custom => {
                let env = Environment::custom(
                    self.a2f_base.clone().unwrap_or_default(),
                    self.dem_base.clone().unwrap_or_default(),
                )?;
                match &self.rbe_base {
                    Some(rbe) => env.with_rbe_base(rbe)?,
                    None => env,
                }
            }
        })
    }

    /// Base URL of the RBE services the proxy forwards to: `rbe_base` when set, otherwise
    /// the environment's (in `custom`, `dem_base`).
    pub fn rbe_base(&self) -> anyhow::Result<String> {
        let environment = self.environment()?;
        Ok(match (&self.rbe_base, self.environment) {
            (Some(rbe), UpstreamKind::Test | UpstreamKind::Production) => {
                rbe.trim_end_matches('/').to_owned()
            }
            _ => environment.rbe_base().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults, then `toml`, validated: [`Config::load`] without the file and the variables.
    fn from_toml(toml: &str) -> anyhow::Result<Config> {
        let defaults = Figment::from(Serialized::defaults(Config::default()));
        Config::from_figment(&defaults.clone().merge(Toml::string(toml)), &defaults, None)
    }

    const CERTIFICATE: &str = "sanitel_certificate = \"/etc/tsgate/SanitelCF.cer\"\n";

    #[test]
    fn example_file_is_the_defaults_plus_a_certificate() {
        let parsed = from_toml(EXAMPLE).unwrap();
        let expected = Config {
            sanitel_certificate: Some("/etc/tsgate/SanitelCF.cer".into()),
            ..Config::default()
        };
        assert_eq!(parsed, expected);
    }

    /// The Debian package's file keeps the service's data where its unit lets it write
    /// (`StateDirectory=tsgate`), and is otherwise the documented defaults.
    #[test]
    fn packaged_file_writes_only_to_the_state_directory() {
        let parsed = from_toml(PACKAGED).unwrap();
        let expected = Config {
            data_dir: "/var/lib/tsgate".into(),
            sanitel_certificate: Some("/etc/tsgate/SanitelCF.cer".into()),
            ..Config::default()
        };
        assert_eq!(parsed, expected);
        assert!(parsed.database_path().starts_with("/var/lib/tsgate"));
        assert!(parsed.master_key_path().starts_with("/var/lib/tsgate"));
        let unit = include_str!("../../../packaging/debian/tsgate.service");
        assert!(unit.contains("\nStateDirectory=tsgate\n"), "{unit}");
        assert!(
            unit.contains("ExecStart=/usr/bin/tsgate serve --config /etc/tsgate/tsgate.toml\n")
        );
    }

    #[test]
    fn database_url_selects_the_backend_and_hides_its_password() {
        use tsgate_store::Database;
        let url = "postgres://tsgate:s3cret@db.example.it:5432/tsgate";
        let config = from_toml(&format!("{CERTIFICATE}database_url = \"{url}\"\n")).unwrap();
        assert_eq!(config.database().unwrap(), Database::Postgres(url.into()));
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("db.example.it"),
            "{shown}"
        );
        let config = from_toml(&format!(
            "{CERTIFICATE}database_url = \"sqlite:///var/lib/tsgate/tsgate.db\"\n"
        ))
        .unwrap();
        assert_eq!(
            config.database().unwrap(),
            Database::Sqlite("/var/lib/tsgate/tsgate.db".into())
        );
        // Absent: the SQLite file of the data folder.
        assert_eq!(
            from_toml(CERTIFICATE).unwrap().database().unwrap(),
            Database::Sqlite(PathBuf::from("tsgate-data").join("tsgate.db"))
        );
        for (toml, error) in [
            (
                "database_url = \"mysql://db/tsgate\"\n",
                "invalid database_url",
            ),
            (
                "database = \"x.db\"\ndatabase_url = \"postgres://db/tsgate\"\n",
                "keep one",
            ),
        ] {
            let e = from_toml(&format!("{CERTIFICATE}{toml}")).unwrap_err();
            assert!(format!("{e:#}").contains(error), "{e:#}");
        }
    }

    #[test]
    fn limits_default_to_the_gateway_defaults() {
        let mapped = LimitsConfig::default().to_gateway(Config::default().upstream_timeout_seconds);
        // `Limits` has no `PartialEq`; its `Debug` shows every field.
        assert_eq!(
            format!("{mapped:?}"),
            format!("{:?}", tsgate_gateway::Limits::default())
        );
    }

    #[test]
    fn limits_table_is_read_and_mapped() {
        let config = from_toml(&format!(
            "{CERTIFICATE}upstream_timeout_seconds = 5\n\
             [limits]\n\
             api_body_bytes = 2048\n\
             proxy_upstream_timeout_seconds = 90\n\
             api_rate_per_second = 0\n\
             proxy_rate_per_second = 1\n\
             proxy_rate_burst = 2\n\
             header_read_timeout_seconds = 3\n\
             body_min_bytes_per_second = 0\n\
             max_connections_per_ip = 7\n\
             proxy_hold_seconds = 0\n\
             max_held_calls = 50\n"
        ))
        .unwrap();
        let limits = &config.limits;
        assert_eq!(limits.api_body_bytes, 2048);
        // Keys not in the table keep their defaults.
        assert_eq!(
            limits.proxy_body_bytes,
            LimitsConfig::default().proxy_body_bytes
        );
        let gateway = limits.to_gateway(config.upstream_timeout_seconds);
        assert_eq!(gateway.api_body_bytes, 2048);
        assert_eq!(gateway.proxy_upstream_timeout_seconds, 90);
        assert_eq!(gateway.api_rate, None, "0 means unlimited");
        assert_eq!(
            gateway.proxy_rate,
            Some(tsgate_gateway::RateQuota {
                per_second: 1,
                burst: 2
            })
        );
        assert_eq!(gateway.header_read_timeout_seconds, 3);
        assert_eq!(
            gateway.body_min_bytes_per_second, 0,
            "0 means no minimum rate"
        );
        assert_eq!(gateway.max_connections_per_ip, 7);
        assert_eq!(gateway.proxy_hold_seconds, 0, "0 means never held");
        assert_eq!(gateway.max_held_calls, 50);
        assert_eq!(
            gateway.idle_timeout_seconds,
            tsgate_gateway::Limits::default().idle_timeout_seconds
        );
        // The proxy connects within the same time as tsgate's own calls.
        assert_eq!(gateway.proxy_connect_timeout_seconds, 5);
        assert_eq!(
            LimitsConfig::default()
                .to_gateway(30)
                .proxy_connect_timeout_seconds,
            10
        );
    }

    #[test]
    fn out_of_range_limits_are_refused_with_the_key_and_the_range() {
        for (table, key, range) in [
            (
                "api_body_bytes = 0",
                "limits.api_body_bytes",
                "between 1024 and 67108864 bytes",
            ),
            (
                "proxy_body_bytes = 1_000_000_000_000",
                "limits.proxy_body_bytes",
                "between 1024 and 67108864 bytes",
            ),
            (
                "api_timeout_seconds = 0",
                "limits.api_timeout_seconds",
                "between 1 and 600 seconds",
            ),
            (
                "proxy_upstream_timeout_seconds = 86400",
                "limits.proxy_upstream_timeout_seconds",
                "between 1 and 600 seconds",
            ),
            (
                "proxy_pool_max_idle = 100000",
                "limits.proxy_pool_max_idle",
                "between 0 and 1024",
            ),
            (
                "header_read_timeout_seconds = 0",
                "limits.header_read_timeout_seconds",
                "between 1 and 600 seconds",
            ),
            (
                "body_timeout_seconds = 601",
                "limits.body_timeout_seconds",
                "between 1 and 600 seconds",
            ),
            (
                "idle_timeout_seconds = 0",
                "limits.idle_timeout_seconds",
                "between 1 and 600 seconds",
            ),
            (
                "body_rate_grace_seconds = 3600",
                "limits.body_rate_grace_seconds",
                "between 0 and 600 seconds",
            ),
            (
                "body_min_bytes_per_second = 100000000",
                "limits.body_min_bytes_per_second",
                "between 0 and 10000000 bytes per second",
            ),
            (
                "max_connections_per_ip = 0",
                "limits.max_connections_per_ip",
                "between 1 and 100000 connections",
            ),
            (
                "max_connections = 1000000",
                "limits.max_connections",
                "between 1 and 100000 connections",
            ),
            (
                "api_rate_per_second = 1000000",
                "limits.api_rate_per_second",
                "between 0 and 100000 requests per second (0 = unlimited)",
            ),
            (
                "proxy_rate_per_second = 5\nproxy_rate_burst = 0",
                "limits.proxy_rate_burst",
                "between 1 and 100000 requests",
            ),
        ] {
            let error = from_toml(&format!("{CERTIFICATE}[limits]\n{table}\n"))
                .expect_err(table)
                .to_string();
            assert!(error.contains(key), "{table}: {error}");
            assert!(error.contains(range), "{table}: {error}");
        }
        // A burst does not matter when the rate is unlimited.
        from_toml(&format!(
            "{CERTIFICATE}[limits]\nproxy_rate_per_second = 0\nproxy_rate_burst = 0\n"
        ))
        .unwrap();
    }

    #[test]
    fn unknown_limit_keys_and_wrong_types_are_refused() {
        let error = from_toml(&format!("{CERTIFICATE}[limits]\nproxy_rate = 5\n")).unwrap_err();
        assert!(format!("{error:#}").contains("proxy_rate"), "{error:#}");
        let error =
            from_toml(&format!("{CERTIFICATE}[limits]\napi_body_bytes = -1\n")).unwrap_err();
        assert!(format!("{error:#}").contains("api_body_bytes"), "{error:#}");
    }

    /// Set only in the child process started by `environment_overrides_flat_and_nested_keys`:
    /// the configuration file to load (not a `TSGATE_` name, so that it is no key itself).
    const CHILD_CONFIG: &str = "CONFIG_TEST_CHILD_FILE";

    /// Environment variables cannot be set safely in a multi-threaded test process
    /// (`set_var` is `unsafe`), so the test binary runs [`environment_child`] again in a
    /// child process with the variables set.
    #[test]
    fn environment_overrides_flat_and_nested_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tsgate.toml");
        std::fs::write(
            &file,
            format!("{CERTIFICATE}yellow_minutes = 30\n[limits]\nproxy_rate_burst = 9\n"),
        )
        .unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args([
            "config::tests::environment_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]);
        for (name, _) in std::env::vars() {
            if name.starts_with("TSGATE_") {
                child.env_remove(name);
            }
        }
        let out = child
            .env(CHILD_CONFIG, &file)
            .env("TSGATE_YELLOW_MINUTES", "15")
            .env("TSGATE_LIMITS__PROXY_RATE_PER_SECOND", "3")
            .env("TSGATE_LIMITS__API_RATE_PER_SECOND", "0")
            .env("TSGATE_LIMITS__API_BODY_BYTES", "4096")
            .env("TSGATE_LIMITS__MAX_CONNECTIONS_PER_IP", "16")
            .env("TSGATE_AUTOMATIC__DAILY_CAP", "2")
            .env(
                "TSGATE_DATABASE_URL",
                "postgres://tsgate:pw@db.example.it/tsgate",
            )
            .env(
                "TSGATE_WORKING_HOURS__WEEK",
                "lun-ven 08:00-13:00 15:00-19:30",
            )
            // Variables of the command line and the key store, not configuration keys.
            .env("TSGATE_CONFIG", "/nowhere/tsgate.toml")
            .env("TSGATE_MASTER_KEY", "not-a-key")
            .env("TSGATE_DEMO_IMAP_PASSWORD", "x")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The child half of `environment_overrides_flat_and_nested_keys` (passes at once
    /// when run by itself).
    #[test]
    fn environment_child() {
        let Ok(file) = std::env::var(CHILD_CONFIG) else {
            return;
        };
        let config = Config::load(Some(std::path::Path::new(&file))).unwrap();
        assert_eq!(config.yellow_minutes, 15, "flat key from the environment");
        assert_eq!(config.limits.proxy_rate_per_second, 3, "nested key");
        assert_eq!(config.limits.proxy_rate_burst, 9, "from the file");
        assert_eq!(config.limits.api_body_bytes, 4096);
        assert_eq!(config.limits.max_connections_per_ip, 16);
        assert_eq!(
            config.database().unwrap(),
            tsgate_store::Database::Postgres("postgres://tsgate:pw@db.example.it/tsgate".into()),
            "TSGATE_DATABASE_URL"
        );
        assert_eq!(
            config.automatic.daily_cap, 2,
            "[automatic] from the environment"
        );
        assert_eq!(
            config.file_hours().unwrap().map(|h| h.week.to_string()),
            Some("lun-ven 08:00-13:00 15:00-19:30".to_owned()),
            "[working_hours] from the environment"
        );
        let gateway = config.limits.to_gateway(config.upstream_timeout_seconds);
        assert_eq!(gateway.api_rate, None);
        assert_eq!(
            gateway.proxy_rate,
            Some(tsgate_gateway::RateQuota {
                per_second: 3,
                burst: 9
            })
        );
    }

    /// The `[working_hours]` example of the documented file, uncommented.
    fn example_working_hours() -> String {
        EXAMPLE
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| !l.is_empty() && !l.starts_with([' ', '#']))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn documented_working_hours_are_read() {
        let block = example_working_hours();
        assert!(block.starts_with("[working_hours]"), "{block}");
        let config = from_toml(&format!("{CERTIFICATE}{block}\n")).unwrap();
        let hours = config.file_hours().unwrap().expect("file hours");
        assert_eq!(
            hours.week.to_string(),
            "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00"
        );
        assert!(hours.public_holidays);
        assert_eq!(hours.closures.len(), 1);
        assert_eq!(hours.closures[0].note.as_deref(), Some("ferie"));
        assert_eq!(hours.closures[0].to.to_string(), "2027-01-06");
        // Without the table: no file hours (the stored or built-in ones apply).
        assert_eq!(from_toml(CERTIFICATE).unwrap().file_hours().unwrap(), None);
    }

    #[test]
    fn working_hours_day_by_day_with_toml_dates() {
        let config = from_toml(&format!(
            "{CERTIFICATE}[working_hours]\n\
             mon = [\"08:00-13:00\", \"15:00-19:30\"]\n\
             tue = \"08:00-13:00 15:00-19:30\"\n\
             ven = [\"08:00-13:00\"]\n\
             public_holidays = false\n\
             [[working_hours.closures]]\n\
             from = 2026-08-10\n\
             to = 2026-08-21\n\
             [[working_hours.closures]]\n\
             from = \"02/11/2026\"\n"
        ))
        .unwrap();
        let hours = config.file_hours().unwrap().unwrap();
        assert_eq!(
            hours.week.to_string(),
            "lun-mar 08:00-13:00 15:00-19:30; ven 08:00-13:00"
        );
        assert!(!hours.public_holidays);
        let closures: Vec<String> = hours
            .closures
            .iter()
            .map(|c| format!("{}..{}", c.from, c.to))
            .collect();
        assert_eq!(
            closures,
            ["2026-08-10..2026-08-21", "2026-11-02..2026-11-02"]
        );
    }

    #[test]
    fn wrong_working_hours_stop_the_start_naming_the_key() {
        for (table, expected) in [
            (
                "week = \"lun-ven 9-13\"",
                "working_hours.week: orario «9-13» non valido: scrivilo come 08:00-13:00",
            ),
            (
                "week = \"lunedi-sabbato 08:00-13:00\"",
                "working_hours.week: giorno «lunedi-sabbato» non valido",
            ),
            (
                "week = \"lun-ven\"",
                "working_hours.week: lun-ven: mancano le fasce orarie",
            ),
            (
                "mon = [\"08:00-13:00\", \"12:00-14:00\"]",
                "working_hours.mon: lunedì: le fasce 08:00-13:00 e 12:00-14:00 si sovrappongono",
            ),
            (
                "week = \"lun 08:00-13:00\"\nmon = []",
                "working_hours.week: la settimana va indicata in un solo modo",
            ),
            (
                "public_holidays = true",
                "working_hours.week: nessun orario indicato",
            ),
            (
                "week = \"lun 08:00-13:00\"\n[[working_hours.closures]]\nfrom = \"2026-02-30\"",
                "working_hours.closures[0].from: data «2026-02-30» non valida",
            ),
            (
                "week = \"lun 08:00-13:00\"\n[[working_hours.closures]]\nfrom = \"2026-12-24\"\nto = \"2026-12-01\"",
                "working_hours.closures[0]: chiusura dal 2026-12-24 al 2026-12-01",
            ),
        ] {
            let error =
                from_toml(&format!("{CERTIFICATE}[working_hours]\n{table}\n")).expect_err(table);
            let text = format!("{error:#}");
            assert!(text.contains(expected), "{table}:\n{text}");
        }
        // Keys that do not exist are refused, never ignored.
        let error = from_toml(&format!(
            "{CERTIFICATE}[working_hours]\nweekdays = \"lun 08:00-13:00\"\n"
        ))
        .unwrap_err();
        assert!(format!("{error:#}").contains("weekdays"), "{error:#}");
    }

    #[test]
    fn automatic_table_sets_the_policy() {
        let defaults = crate::app::policy(&from_toml(CERTIFICATE).unwrap());
        assert_eq!(
            defaults,
            Policy {
                create_timeout: defaults.create_timeout,
                ..Policy::default()
            },
            "no table: the domain's rules"
        );
        let config = from_toml(&format!(
            "{CERTIFICATE}[automatic]\nlead_minutes = 20\nrenew_before_minutes = 45\n\
             daily_cap = 2\nmail_wait_minutes = 5\nbackoff_minutes = 2\nbackoff_max_minutes = 30\n"
        ))
        .unwrap();
        let policy = crate::app::policy(&config);
        let minutes = time::Duration::minutes;
        assert_eq!(policy.auto_lead, minutes(20));
        assert_eq!(policy.auto_renew_before, minutes(45));
        assert_eq!(policy.auto_daily_cap, 2);
        assert_eq!(policy.auto_mail_wait, minutes(5));
        assert_eq!(policy.auto_backoff, minutes(2));
        assert_eq!(policy.auto_backoff_max, minutes(30));
        // The other rules stay the configuration's.
        assert_eq!(policy.yellow_before, minutes(60));
    }

    #[test]
    fn out_of_range_automatic_keys_are_refused_with_the_key_and_the_range() {
        for (table, expected) in [
            (
                "lead_minutes = 241",
                "automatic.lead_minutes must be between 0 and 240 minutes",
            ),
            (
                "renew_before_minutes = 4",
                "automatic.renew_before_minutes must be between 5 and 480 minutes",
            ),
            (
                "daily_cap = 0",
                "automatic.daily_cap must be between 1 and 24 requests",
            ),
            (
                "mail_wait_minutes = 0",
                "automatic.mail_wait_minutes must be between 1 and 60 minutes",
            ),
            (
                "backoff_minutes = 0",
                "automatic.backoff_minutes must be between 1 and 240 minutes",
            ),
            (
                "backoff_max_minutes = 2000",
                "automatic.backoff_max_minutes must be between 1 and 1440 minutes",
            ),
            (
                "backoff_minutes = 30\nbackoff_max_minutes = 10",
                "automatic.backoff_max_minutes (10) must be at least automatic.backoff_minutes (30)",
            ),
            (
                "renew_before_minutes = 10\nmail_wait_minutes = 10",
                "automatic.renew_before_minutes (10) must be more than automatic.mail_wait_minutes (10)",
            ),
        ] {
            let error = from_toml(&format!("{CERTIFICATE}[automatic]\n{table}\n"))
                .expect_err(table)
                .to_string();
            assert!(error.contains(expected), "{table}: {error}");
        }
        let error = from_toml(&format!("{CERTIFICATE}[automatic]\nlead = 5\n")).unwrap_err();
        assert!(format!("{error:#}").contains("lead"), "{error:#}");
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
    fn rbe_base_defaults_and_overrides() {
        let custom = Config {
            environment: UpstreamKind::Custom,
            a2f_base: Some("http://127.0.0.1:8089".into()),
            dem_base: Some("http://127.0.0.1:8089/".into()),
            sanitel_certificate_url: Some("http://127.0.0.1:8089/sim/certificate".into()),
            ..Config::default()
        };
        assert_eq!(custom.rbe_base().unwrap(), "http://127.0.0.1:8089");
        let split = Config {
            rbe_base: Some("http://127.0.0.1:8090/".into()),
            ..custom.clone()
        };
        assert_eq!(split.rbe_base().unwrap(), "http://127.0.0.1:8090");
        let to_production = Config {
            rbe_base: Some("https://ricettabiancaservice.sanita.finanze.it".into()),
            ..custom
        };
        assert!(to_production.rbe_base().is_err());

        let test = from_toml(CERTIFICATE).unwrap();
        assert_eq!(
            test.rbe_base().unwrap(),
            sistemats::env::TEST_RBE_BASE,
            "the test environment's own RBE host"
        );
        let error = from_toml(&format!(
            "{CERTIFICATE}rbe_base = \"https://ricettabiancaservice.sanita.finanze.it\"\n"
        ))
        .unwrap_err();
        assert!(format!("{error:#}").contains("rbe_base"), "{error:#}");
        let production = from_toml(&format!(
            "{CERTIFICATE}environment = \"production\"\nrbe_base = \"https://rbe.example.it/\"\n"
        ))
        .unwrap();
        assert_eq!(production.rbe_base().unwrap(), "https://rbe.example.it");
    }

    #[test]
    fn https_needs_certificate_and_key_together() {
        let with = |certificate: Option<&str>, key: Option<&str>| Config {
            sanitel_certificate: Some("/etc/tsgate/SanitelCF.cer".into()),
            tls_certificate: certificate.map(Into::into),
            tls_key: key.map(Into::into),
            ..Config::default()
        };
        assert!(with(None, None).validate().is_ok());
        assert!(with(Some("/c.pem"), Some("/k.pem")).validate().is_ok());
        for half in [with(Some("/c.pem"), None), with(None, Some("/k.pem"))] {
            let e = half.validate().unwrap_err().to_string();
            assert!(e.contains("tls_certificate and tls_key go together"), "{e}");
        }
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
