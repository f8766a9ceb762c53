//! The pooled HTTP/1.1 client towards Sistema TS (hyper-util legacy client + rustls/ring).
//!
//! Chosen over reqwest for the hot path: it takes the incoming body as is (no re-boxing),
//! keeps idle keep-alive connections per host, and was measured faster for this use.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;

use super::services::Upstream;
use crate::config::GatewayConfig;

type Pooled = Client<HttpsConnector<HttpConnector>, Body>;

/// Connector plus the upstream bases it forwards to (DEM, RBE).
///
/// Each thread gets its own pool ([`ProxyClient::client`]): a pooled connection is driven
/// by a task of the runtime that opened it, so sharing one pool between the per-core
/// runtimes of [`crate::serve`] would bounce every call between threads.
#[derive(Clone, Debug)]
pub(crate) struct ProxyClient {
    connector: HttpsConnector<HttpConnector>,
    max_idle: usize,
    /// `scheme://authority` plus an optional path prefix without trailing `/`: DEM.
    base: String,
    /// The same for the RBE (ricetta bianca) services.
    rbe_base: String,
    /// Identifies this client's pools in the threads' caches, and tells them when it is gone.
    alive: Arc<()>,
}

thread_local! {
    /// This thread's pools, one per live [`ProxyClient`] (one in a server; more in tests).
    static POOLS: std::cell::RefCell<Vec<(std::sync::Weak<()>, Pooled)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl ProxyClient {
    pub(crate) fn new(config: &GatewayConfig) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            // A container without ca-certificates: the Mozilla list still verifies Sistema TS.
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if let Some(pem) = &config.upstream_ca_pem {
            for cert in crate::config::parse_ca_pem(pem)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("certificato CA dell'upstream non valido: {e}"))?;
            }
        }
        if roots.is_empty() {
            return Err(
                "nessun certificato radice disponibile per verificare Sistema TS: installa ca-certificates o indica upstream_ca_pem"
                    .into(),
            );
        }
        tracing::debug!(system_roots = added, "proxy TLS roots loaded");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("configurazione TLS non valida: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let limits = &config.limits;
        let mut http = HttpConnector::new();
        // The https connector decides the scheme; the inner one must accept https URIs.
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(
            limits.proxy_connect_timeout_seconds,
        )));
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);

        let base = |name: &str, url: &str| -> Result<String, String> {
            let uri: Uri = url
                .parse()
                .map_err(|_| format!("{name} non valido: {url}"))?;
            if uri.scheme().is_none() || uri.authority().is_none() {
                return Err(format!(
                    "{name} deve essere un indirizzo completo (https://…): {url}"
                ));
            }
            Ok(url.trim_end_matches('/').to_owned())
        };
        Ok(Self {
            connector,
            max_idle: limits.proxy_pool_max_idle,
            base: base("upstream_dem_base", &config.upstream_dem_base)?,
            rbe_base: base("upstream_rbe_base", &config.upstream_rbe_base)?,
            alive: Arc::new(()),
        })
    }

    /// The upstream URI of a service path on its host, with the optional query.
    pub(crate) fn uri(
        &self,
        upstream: Upstream,
        path: &str,
        query: Option<&str>,
    ) -> Result<Uri, http::uri::InvalidUri> {
        let base = match upstream {
            Upstream::Dem => &self.base,
            Upstream::Rbe => &self.rbe_base,
        };
        let mut s = String::with_capacity(base.len() + path.len() + 1 + query.map_or(0, str::len));
        s.push_str(base);
        s.push_str(path);
        if let Some(q) = query {
            s.push('?');
            s.push_str(q);
        }
        s.parse()
    }

    /// The calling thread's pool (created on first use; pools of dropped clients are let go).
    pub(crate) fn client(&self) -> Pooled {
        POOLS.with_borrow_mut(|pools| {
            let me = Arc::downgrade(&self.alive);
            if let Some((_, pool)) = pools.iter().find(|(id, _)| id.ptr_eq(&me)) {
                return pool.clone();
            }
            pools.retain(|(id, _)| id.strong_count() > 0);
            let pool = Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(self.max_idle)
                .build(self.connector.clone());
            pools.push((me, pool.clone()));
            pool
        })
    }
}
