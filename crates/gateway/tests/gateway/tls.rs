//! The proxy over HTTPS (rustls with ring), trusting an extra CA given in the settings.

use std::sync::Arc;

use axum::body::Body;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tower::ServiceExt as _;

use crate::helpers::*;

/// A fresh CA and a `localhost` certificate it signed: (CA PEM, leaf PEM, leaf key).
pub fn localhost_certificate() -> (String, String, KeyPair) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tsgate test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key)
}

/// An HTTPS server for `localhost` with a certificate from a fresh CA; returns the CA PEM.
async fn spawn_tls_upstream() -> (String, String, Arc<Upstream>) {
    let (ca_pem, leaf_pem, leaf_key) = localhost_certificate();
    let leaf = rustls::pki_types::CertificateDer::from_pem_slice(leaf_pem.as_bytes()).unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));

    let upstream = Arc::new(Upstream::default());
    let router = upstream_router(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        router.clone().oneshot(req.map(Body::new))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://localhost:{port}"), ca_pem, upstream)
}

#[tokio::test]
async fn https_upstream_with_a_configured_ca() {
    let (base, ca_pem, upstream) = spawn_tls_upstream().await;
    let invio = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";

    let trusted = {
        let (base, ca_pem) = (base.clone(), ca_pem.clone());
        spawn_app_with(move |c| {
            c.upstream_dem_base = base;
            c.upstream_ca_pem = Some(ca_pem);
        })
        .await
    };
    let r = trusted
        .http
        .post(trusted.proxy_url(&trusted.tokens.doctor, invio))
        .header("content-type", "text/xml; charset=utf-8")
        .header("x-tsgate-user", U1)
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), RECEIPT_OK);
    assert_eq!(
        upstream.seen.lock().unwrap()[0].headers["authorization2f"],
        format!("Bearer {CODE_U1}").as_str()
    );

    // Without the CA the certificate is not trusted: a 502 Fault, nothing forwarded.
    let untrusted = spawn_app_with(move |c| c.upstream_dem_base = base).await;
    let r = untrusted
        .http
        .post(untrusted.proxy_url(&untrusted.tokens.doctor, invio))
        .header("content-type", "text/xml; charset=utf-8")
        .header("x-tsgate-user", U1)
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(upstream.seen.lock().unwrap().len(), 1);
}

#[test]
fn a_bad_ca_is_a_config_error_in_italian() {
    let config = tsgate_gateway::GatewayConfig {
        upstream_ca_pem: Some("not a pem".into()),
        ..Default::default()
    };
    let e = config.validate().unwrap_err();
    assert!(e.contains("certificat"), "{e}");
}

/// The gateway serves HTTPS with a configured certificate (one worker per core or on the
/// caller's runtime): API and proxy answer over TLS, the client's address still reaches
/// the handlers, and plain HTTP on that port gets nothing.
#[tokio::test]
async fn the_gateway_itself_over_https() {
    for workers in [0, 2] {
        let (ca_pem, leaf_pem, leaf_key) = localhost_certificate();
        let key_pem = leaf_key.serialize_pem();
        let app = spawn_app_with(move |c| {
            c.http_workers = workers;
            c.tls = Some(tsgate_gateway::TlsSettings {
                certificate_chain_pem: leaf_pem,
                private_key_pem: key_pem,
            });
        })
        .await;
        let https = reqwest::Client::builder()
            .no_proxy()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let base = app.base.replace("http://127.0.0.1", "https://localhost");
        let r = https.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200, "workers {workers}");
        let r = https
            .post(format!(
                "{base}/ts/{}/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
                app.tokens.doctor
            ))
            .header("content-type", "text/xml; charset=utf-8")
            .header("x-tsgate-user", U1)
            .body("<x/>")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "workers {workers}");
        assert_eq!(r.text().await.unwrap(), RECEIPT_OK);
        assert!(
            app.http.get(app.url("/healthz")).send().await.is_err(),
            "plain HTTP on the HTTPS port"
        );
    }
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_in_italian() {
    let (_, leaf_pem, _) = localhost_certificate();
    let (_, _, other_key) = localhost_certificate();
    let config = tsgate_gateway::GatewayConfig {
        tls: Some(tsgate_gateway::TlsSettings {
            certificate_chain_pem: leaf_pem,
            private_key_pem: other_key.serialize_pem(),
        }),
        ..Default::default()
    };
    let e = config.validate().unwrap_err();
    assert!(e.contains("non vanno insieme"), "{e}");
    let config = tsgate_gateway::GatewayConfig {
        tls: Some(tsgate_gateway::TlsSettings {
            certificate_chain_pem: "nothing".into(),
            private_key_pem: "nothing".into(),
        }),
        ..Default::default()
    };
    assert!(config.validate().unwrap_err().contains("certificato HTTPS"));
}
