//! Settings of the gateway (the binary fills them from TOML and `TSGATE_*` variables).

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;

/// The 32-byte key that seals the web UI's session cookies. Prints masked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UiSessionKey(pub [u8; 32]);

impl fmt::Debug for UiSessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UiSessionKey(***)")
    }
}

/// Everything the gateway needs to know that is not a backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on (used by [`GatewayConfig::bind`]).
    pub listen: SocketAddr,
    /// Base URL of the DEM services the proxy forwards to, e.g.
    /// `https://demservice.sanita.finanze.it` (no trailing path).
    pub upstream_dem_base: String,
    /// Base URL of the RBE (ricetta bianca, class C) services the proxy forwards to, e.g.
    /// `https://ricettabiancaservice.sanita.finanze.it` (LIKELY host, PROTOCOL §5.10).
    pub upstream_rbe_base: String,
    /// Base URL of the A2F service (checked by `/readyz`; the session layer calls it).
    pub upstream_a2f_base: String,
    /// Extra CA certificates (PEM) trusted for the upstream, besides the system roots
    /// (the simulator's CA in tests and demos).
    pub upstream_ca_pem: Option<String>,
    /// Body sizes, timeouts, rate limits.
    pub limits: Limits,
    /// Interval of the SSE keep-alive comments.
    pub sse_keep_alive_seconds: u64,
    /// HTTP worker threads, each with its own single-threaded runtime, its own accepted
    /// connections and its own upstream pool (see [`crate::serve`]). `0`: serve on the
    /// caller's runtime instead.
    pub http_workers: usize,
    /// The Sistema TS environment of users added without naming one (the API, the admin
    /// page's preselection): the installation's own, so that a test installation never
    /// stores doctors as production ones by default.
    pub user_environment: tsgate_session::Environment,
    /// Serve HTTPS with this certificate and key instead of plain HTTP. Never serialized.
    #[serde(skip)]
    pub tls: Option<crate::tls::TlsSettings>,
    /// Key (32 bytes) that seals the web UI's session cookies, so that browsers stay signed
    /// in across restarts. `None`: a random key per process (a restart signs browsers out).
    /// Never serialized or logged.
    #[serde(skip)]
    pub ui_session_key: Option<UiSessionKey>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            // The test environment: production is used only when configured explicitly.
            upstream_dem_base: "https://demservicetest.sanita.finanze.it".into(),
            upstream_rbe_base: "https://ricettabiancaservicetest.sanita.finanze.it".into(),
            upstream_a2f_base: "https://servizitstest.sanita.finanze.it".into(),
            upstream_ca_pem: None,
            limits: Limits::default(),
            sse_keep_alive_seconds: 15,
            http_workers: 0,
            user_environment: tsgate_session::Environment::Test,
            tls: None,
            ui_session_key: None,
        }
    }
}

impl GatewayConfig {
    /// Binds [`GatewayConfig::listen`].
    pub async fn bind(&self) -> std::io::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(self.listen).await
    }

    /// Checks the settings that can be checked without network; the error is Italian, for
    /// `tsgate check` and the start-up message.
    pub fn validate(&self) -> Result<(), String> {
        for (name, url) in [
            ("upstream_dem_base", &self.upstream_dem_base),
            ("upstream_rbe_base", &self.upstream_rbe_base),
            ("upstream_a2f_base", &self.upstream_a2f_base),
        ] {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| format!("{name}: indirizzo non valido ({url})"))?;
            match uri.scheme_str() {
                Some("https") | Some("http") => {}
                _ => return Err(format!("{name}: l'indirizzo deve iniziare con https://")),
            }
            if uri.host().is_none() {
                return Err(format!("{name}: manca il nome del server ({url})"));
            }
        }
        if let Some(pem) = &self.upstream_ca_pem {
            parse_ca_pem(pem)?;
        }
        if let Some(tls) = &self.tls {
            tls.server_config()?;
        }
        Ok(())
    }
}

/// Sizes, timeouts and rates.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest JSON body accepted by the API.
    pub api_body_bytes: usize,
    /// Largest SOAP request body accepted by the proxy.
    pub proxy_body_bytes: usize,
    /// Time allowed to an API request (SSE excluded).
    pub api_timeout_seconds: u64,
    /// Time allowed to Sistema TS to start answering a proxied call.
    pub proxy_upstream_timeout_seconds: u64,
    /// Time allowed to open a connection to Sistema TS.
    pub proxy_connect_timeout_seconds: u64,
    /// Idle keep-alive connections kept per upstream host.
    pub proxy_pool_max_idle: usize,
    /// Per-workstation rate of the JSON API (`None`: unlimited).
    pub api_rate: Option<RateQuota>,
    /// Per-workstation rate of the SOAP proxy (`None`: unlimited).
    pub proxy_rate: Option<RateQuota>,
    /// Time allowed to a client to send a request's headers, from when the connection
    /// waits for them (after the TLS handshake, which has the same limit, or after the
    /// previous answer on a kept-alive HTTP/1.1 connection). Over it, the connection closes.
    pub header_read_timeout_seconds: u64,
    /// Time allowed to a request body, from when the gateway first waits for it; over it
    /// the API answers 408 and the proxy a SOAP Fault, and the connection closes.
    pub body_timeout_seconds: u64,
    /// Slowest accepted request body, in bytes per second on average, once
    /// [`Limits::body_rate_grace_seconds`] have passed (0: no minimum rate).
    pub body_min_bytes_per_second: u64,
    /// Time a request body may take before the minimum rate applies.
    pub body_rate_grace_seconds: u64,
    /// A connection with no request in progress (an answer still streaming, such as the
    /// event stream, counts as one) is closed after this long.
    pub idle_timeout_seconds: u64,
    /// Open connections allowed from one peer address; more are closed at once.
    pub max_connections_per_ip: usize,
    /// Open connections allowed in all (TLS handshakes included); more are closed at once.
    pub max_connections: usize,
    /// How long a proxied call with no usable code waits for an automatic request to bring
    /// one (0: never held, answered with the Fault at once).
    pub proxy_hold_seconds: u64,
    /// Proxied calls held at once, at most; more are answered with a Fault at once.
    pub max_held_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api_body_bytes: 64 * 1024,
            proxy_body_bytes: 8 * 1024 * 1024,
            api_timeout_seconds: 30,
            proxy_upstream_timeout_seconds: 120,
            proxy_connect_timeout_seconds: 10,
            proxy_pool_max_idle: 32,
            api_rate: Some(RateQuota {
                per_second: 10,
                burst: 50,
            }),
            proxy_rate: Some(RateQuota {
                per_second: 200,
                burst: 400,
            }),
            header_read_timeout_seconds: 10,
            body_timeout_seconds: 60,
            body_min_bytes_per_second: 1024,
            body_rate_grace_seconds: 5,
            idle_timeout_seconds: 60,
            max_connections_per_ip: 128,
            max_connections: 768,
            proxy_hold_seconds: 20,
            max_held_calls: 1000,
        }
    }
}

/// A token-bucket rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateQuota {
    /// Sustained requests per second (at least 1).
    pub per_second: u32,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

impl Limits {
    /// The per-connection limits of the accept loop.
    pub(crate) fn connections(&self) -> crate::conn::ConnLimits {
        use std::time::Duration;
        crate::conn::ConnLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            body: crate::conn::BodyLimits {
                timeout: Duration::from_secs(self.body_timeout_seconds),
                min_bytes_per_second: self.body_min_bytes_per_second,
                grace: Duration::from_secs(self.body_rate_grace_seconds),
            },
        }
    }
}

/// Parses one or more PEM certificates; the error is Italian (it reaches `tsgate check`).
pub(crate) fn parse_ca_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificato CA dell'upstream non leggibile: {e}"))?;
    if certs.is_empty() {
        return Err("certificato CA dell'upstream: nessun certificato PEM trovato".into());
    }
    Ok(certs)
}
