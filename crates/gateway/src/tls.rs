//! HTTPS on the gateway's own port.
//!
//! On a practice's network the proxy carries each doctor's Sistema TS password (the Basic
//! header of the practice software) and the web page shows codes; and browsers give pages
//! notifications and the clipboard only over HTTPS (or on `localhost`). With a certificate
//! and key configured, every connection is TLS (rustls with ring).
//!
//! Handshakes run in tasks of their own, so a slow or silent client never holds up the
//! accepting of others; they must finish within `limits.header_read_timeout_seconds`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::conn::{AcceptBackoff, AfterAcceptError, ConnectionGuard, ConnectionLimiter};

/// Certificate chain and private key of the gateway (PEM). The key is never printed.
#[derive(Clone)]
pub struct TlsSettings {
    /// The server certificate, then any intermediate certificates.
    pub certificate_chain_pem: String,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key_pem: String,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings").finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// The rustls configuration; the error is Italian (it reaches `tsgate check` and the
    /// start-up of `serve`).
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let certs = CertificateDer::pem_slice_iter(self.certificate_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("certificato HTTPS di tsgate non leggibile: {e}"))?;
        if certs.is_empty() {
            return Err("certificato HTTPS di tsgate: nessun certificato PEM trovato".into());
        }
        let key = PrivateKeyDer::from_pem_slice(self.private_key_pem.as_bytes()).map_err(|_| {
            "chiave privata HTTPS di tsgate non leggibile: serve un file PEM con la chiave (PKCS#8, PKCS#1 o SEC1)".to_owned()
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("configurazione TLS non valida: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!("il certificato HTTPS e la chiave privata di tsgate non vanno insieme: {e}")
        })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The peer address of a TLS connection, as `ConnectInfo<RemoteAddr>` (plain connections
/// get `ConnectInfo<SocketAddr>`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RemoteAddr(pub(crate) SocketAddr);

/// A connection that finished its TLS handshake, with its place under the connection caps.
pub(crate) type Handshaken = (TlsStream<TcpStream>, SocketAddr, ConnectionGuard);

/// Accepts TCP connections and hands over those that completed the TLS handshake.
#[derive(Debug)]
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<Handshaken>,
}

impl TlsListener {
    /// Starts accepting on `listener` (in a task of the current runtime, which ends when
    /// this listener is dropped). A connection over the caps of `limiter` is closed at once;
    /// one that has not finished its handshake within `handshake_timeout` is dropped.
    pub(crate) fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        limiter: Arc<ConnectionLimiter>,
        handshake_timeout: Duration,
    ) -> Self {
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut backoff = AcceptBackoff::default();
            loop {
                let accepted = tokio::select! {
                    () = tx.closed() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, remote) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        if let AfterAcceptError::Wait(delay) =
                            backoff.failed(&e, std::time::Instant::now())
                        {
                            tokio::select! {
                                () = tx.closed() => return,
                                () = tokio::time::sleep(delay) => {}
                            }
                        }
                        continue;
                    }
                };
                backoff.accepted();
                let Ok(guard) = limiter.admit(remote.ip()) else {
                    continue;
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, remote, guard)).await;
                        }
                        // Plain HTTP on the HTTPS port, an unknown CA, a scanner: say it
                        // once at debug level, nothing to answer.
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                });
            }
        });
        Self { ready }
    }

    /// The next connection that finished its handshake.
    pub(crate) async fn accept(&mut self) -> Handshaken {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task is gone only when this listener is being dropped.
            None => std::future::pending().await,
        }
    }
}
