//! The HTTP client against a tiny loopback server that records what it receives.

use std::time::Duration;

use base64::Engine as _;
use sistemats::a2f::{
    Application, CreateOutcome, CreateRequest, Errore, InfoToken, Operation, Response,
    RevokeOutcome, Severity, TokenRequest, TokenStatus,
};
use sistemats::client::{ClientConfig, Credentials, SistemaTsClient};
use sistemats::env::Environment;
use sistemats::error::Error;
use sistemats::soap::{self, Body, Fault};
use sistemats::{Password, Pin, SessionCode};
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{CODE, doctor, pair};

const PASSWORD: &str = "Segreta.2026";
const PIN: &str = "1234567890";

/// One request as the server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned answer.
struct Canned {
    status: &'static str,
    extra_headers: &'static str,
    body: String,
    delay: Duration,
}

fn ok(body: String) -> Canned {
    Canned {
        status: "200 OK",
        extra_headers: "",
        body,
        delay: Duration::ZERO,
    }
}

/// Serves the canned answers in order, one per connection, and reports each request.
async fn server(answers: Vec<Canned>) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for answer in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let header_end = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(pos);
                }
            };
            let Some(header_end) = header_end else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[header_end + 4..].to_vec();
            while body.len() < length {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(Seen {
                request_line,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            tokio::time::sleep(answer.delay).await;
            let response = format!(
                "HTTP/1.1 {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
                answer.status,
                answer.body.len(),
                answer.extra_headers,
                answer.body
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}"), rx)
}

fn client(base: &str, timeout: Duration) -> SistemaTsClient {
    let mut config = ClientConfig::new(Environment::custom(base, base).unwrap());
    config.timeout = timeout;
    config.connect_timeout = Duration::from_secs(5);
    SistemaTsClient::new(config).unwrap()
}

fn credentials() -> Credentials {
    Credentials::new("PROVAX00X00X000Y", Password::new(PASSWORD), Pin::new(PIN))
}

fn expected_basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("PROVAX00X00X000Y:{PASSWORD}"))
    )
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(!text.contains(PIN), "PIN leaked: {text}");
    assert!(!text.contains(CODE), "code leaked: {text}");
    assert!(
        !text.contains(&expected_basic()[6..]),
        "Basic header leaked: {text}"
    );
}

#[tokio::test]
async fn create_sends_the_right_headers_and_reads_the_code() {
    let answer = Response::success()
        .with_info("emailStatus", "ok")
        .with_comunicazione("token", CODE)
        .to_envelope(Operation::Create);
    let (base, mut seen) = server(vec![ok(answer)]).await;
    let (cert, key, ..) = pair();
    let req = CreateRequest::new(&doctor(), &Pin::new(PIN), Application::Prescriber, cert).unwrap();
    let outcome = client(&base, Duration::from_secs(10))
        .create(&credentials(), &req)
        .await
        .unwrap();
    assert_no_secret(&format!("{outcome:?}"));
    match outcome {
        CreateOutcome::Issued { code, .. } => assert_eq!(code.expose_secret(), CODE),
        other => panic!("{other:?}"),
    }
    let seen = seen.recv().await.unwrap();
    assert_eq!(
        seen.request_line,
        "POST /a2f-auth-ws/soap/v1/authentication-service HTTP/1.1"
    );
    assert_eq!(
        seen.header("SOAPAction"),
        Some("\"http://wsdl.auth.a2f.sts.sanita.finanze.it/create\"")
    );
    assert_eq!(seen.header("Content-Type"), Some("text/xml; charset=UTF-8"));
    assert_eq!(
        seen.header("Authorization"),
        Some(expected_basic().as_str())
    );
    assert!(seen.header("User-Agent").unwrap().starts_with("tsgate/"));
    assert_eq!(
        seen.header("Authorization2F"),
        None,
        "no second factor on A2F calls"
    );
    // The body is the request, PIN encrypted.
    assert!(!seen.body.contains(PIN));
    let Body::Payload(p) = soap::parse(seen.body.as_bytes()).unwrap() else {
        panic!()
    };
    let received = CreateRequest::from_payload(&p).unwrap();
    assert_eq!(
        key.decrypt(&received.identificativo.unwrap().value)
            .unwrap(),
        PIN
    );
}

#[tokio::test]
async fn check_token_and_revoke() {
    let valid = Response::success().with_info_token(InfoToken {
        stato: 0,
        descrizione: "Valido".into(),
        data_inizio_validita: datetime!(2025-05-30 17:51:31 UTC),
        data_fine_validita: datetime!(2025-05-31 09:51:31 UTC),
    });
    let already = Response::failure(Errore::new("05", Severity::Warning, "già revocato"))
        .with_info("lastRevokePreviousDate", "30/05/2025 20:51:07");
    let (base, mut seen) = server(vec![
        ok(valid.to_envelope(Operation::CheckToken)),
        ok(already.to_envelope(Operation::Revoke)),
    ])
    .await;
    let (cert, ..) = pair();
    let req = TokenRequest::new(
        &doctor(),
        &Pin::new(PIN),
        &SessionCode::new(CODE),
        Application::Prescriber,
        cert,
    )
    .unwrap();
    let c = client(&base, Duration::from_secs(10));
    let status = c.check_token(&credentials(), &req).await.unwrap();
    assert!(
        matches!(status, TokenStatus::Valid { valid_until, .. } if valid_until == datetime!(2025-05-31 09:51:31 UTC))
    );
    let first = seen.recv().await.unwrap();
    assert_eq!(
        first.header("SOAPAction"),
        Some("\"http://wsdl.auth.a2f.sts.sanita.finanze.it/checkToken\"")
    );
    assert_eq!(first.header("Authorization2F"), None);
    let revoked = c.revoke(&credentials(), &req).await.unwrap();
    assert_eq!(
        revoked,
        RevokeOutcome::AlreadyRevoked {
            at: Some(datetime!(2025-05-30 18:51:07 UTC))
        }
    );
    let second = seen.recv().await.unwrap();
    assert_eq!(
        second.header("SOAPAction"),
        Some("\"http://wsdl.auth.a2f.sts.sanita.finanze.it/revoke\"")
    );
    assert!(second.body.contains("RevokeAuthReq"));
}

#[tokio::test]
async fn dem_calls_carry_the_second_factor() {
    let receipt = soap::envelope(
        &[],
        "<r:Ricevuta xmlns:r=\"urn:r\"><r:codEsitoInserimento>0000</r:codEsitoInserimento></r:Ricevuta>",
    );
    let (base, mut seen) = server(vec![ok(receipt.clone()), ok(receipt)]).await;
    let c = client(&base, Duration::from_secs(10));
    let code = SessionCode::new(CODE);
    let path = "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto";
    let action = "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto";
    let element = c
        .call_dem(&credentials(), path, action, "<x/>".into(), Some(&code))
        .await
        .unwrap();
    assert_eq!(element.name, "Ricevuta");
    let with = seen.recv().await.unwrap();
    assert_eq!(with.request_line, format!("POST {path} HTTP/1.1"));
    assert_eq!(
        with.header("Authorization2F"),
        Some(format!("Bearer {CODE}").as_str())
    );
    assert_eq!(
        with.header("SOAPAction"),
        Some(format!("\"{action}\"").as_str())
    );
    assert_eq!(
        with.header("Authorization"),
        Some(expected_basic().as_str())
    );
    // Already-quoted actions are not quoted twice; no code, no header.
    c.call_dem(
        &credentials(),
        path,
        &format!("\"{action}\""),
        "<x/>".into(),
        None,
    )
    .await
    .unwrap();
    let without = seen.recv().await.unwrap();
    assert_eq!(without.header("Authorization2F"), None);
    assert_eq!(
        without.header("SOAPAction"),
        Some(format!("\"{action}\"").as_str())
    );
}

#[tokio::test]
async fn http_failures_are_classified() {
    let rejected = Canned {
        status: "401 Unauthorized",
        extra_headers: "WWW-Authenticate: Basic realm=login\r\nX-Backside-Transport: FAIL FAIL\r\n",
        body: Fault::client("Rejected by policy. (from client)").to_envelope(),
        delay: Duration::ZERO,
    };
    let unknown = Canned {
        status: "500 Error",
        extra_headers: "X-Backside-Transport: FAIL FAIL\r\n",
        body: Fault::client("Errore generico di autenticazione").to_envelope(),
        delay: Duration::ZERO,
    };
    let schema = Canned {
        status: "500 Internal Server Error",
        extra_headers: "",
        body: Fault::client("cvc-length-valid: Value 'x' with length = '1' is not facet-valid")
            .to_envelope(),
        delay: Duration::ZERO,
    };
    let other = Canned {
        status: "500 Internal Server Error",
        extra_headers: "",
        body: Fault::server("Servizio momentaneamente non disponibile").to_envelope(),
        delay: Duration::ZERO,
    };
    let gateway = Canned {
        status: "502 Bad Gateway",
        extra_headers: "",
        body: "<html>bad gateway</html>".into(),
        delay: Duration::ZERO,
    };
    let (base, _seen) = server(vec![rejected, unknown, schema, other, gateway]).await;
    let c = client(&base, Duration::from_secs(10));
    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(
            c.call_a2f(&credentials(), Operation::Create, "<x/>".into())
                .await
                .unwrap_err(),
        );
    }
    assert!(matches!(errors[0], Error::PasswordRefused));
    assert!(matches!(errors[1], Error::UnknownUser));
    assert!(matches!(errors[2], Error::SchemaRejected(_)));
    assert!(
        matches!(&errors[3], Error::Fault { status: 500, fault } if fault.string.contains("non disponibile"))
    );
    assert!(matches!(errors[4], Error::HttpStatus(502)));
    assert!(errors[3].is_transient() && errors[4].is_transient() && !errors[0].is_transient());
    for e in &errors {
        assert_no_secret(&format!("{e} {e:?}"));
    }
    assert!(errors[0].to_string().contains("password"));
}

#[tokio::test]
async fn timeouts_and_unreachable_servers() {
    let slow = Canned {
        delay: Duration::from_secs(5),
        ..ok(Response::success().to_envelope(Operation::Create))
    };
    let (base, _seen) = server(vec![slow]).await;
    let c = client(&base, Duration::from_millis(300));
    let err = c
        .call_a2f(&credentials(), Operation::Create, "<x/>".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(err.is_transient());

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&base, Duration::from_secs(5))
        .call_a2f(&credentials(), Operation::Create, "<x/>".into())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_no_secret(&format!("{err} {err:?}"));
}

#[tokio::test]
async fn invalid_requests_never_leave_the_machine() {
    // Nobody listens here: a request that were sent would give a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = client(&base, Duration::from_secs(5));
    let mut req = CreateRequest {
        cf_utente: Some("TOO-SHORT".into()),
        ..CreateRequest::default()
    };
    match c.create(&credentials(), &req).await {
        Err(Error::Field(f)) => assert_eq!(f.field, "cfUtente"),
        other => panic!("{other:?}"),
    }
    req.cf_utente = None;
    let token = TokenRequest {
        user_id: None,
        identificativo: None,
        cf_utente: None,
        token: SessionCode::new("PROVAX00X00X000Y-2026-03-RICETTA-DEM-PRESCRITTORE"),
        contesto: None,
        applicazione: None,
        opzioni: Vec::new(),
        info_aggiuntive: Vec::new(),
    };
    let err = c.check_token(&credentials(), &token).await.unwrap_err();
    assert!(matches!(&err, Error::Field(f) if f.field == "token"));
    assert!(
        !err.to_string().contains("RICETTA-DEM"),
        "value of a secret field in error"
    );
}

#[test]
fn production_is_never_reached_by_accident() {
    let forged = Environment::Custom {
        a2f_base: "https://servizits.sanita.finanze.it".into(),
        dem_base: "http://127.0.0.1:1".into(),
        rbe_base: None,
    };
    assert!(matches!(
        SistemaTsClient::new(ClientConfig::new(forged)),
        Err(Error::Environment(_))
    ));
    // Production itself is allowed when chosen explicitly (no call is made here).
    let c = SistemaTsClient::new(ClientConfig::new(Environment::Production)).unwrap();
    assert!(c.environment().is_production());
    let bad_ca = ClientConfig {
        ca_pem: Some("not a pem".into()),
        ..ClientConfig::new(Environment::Test)
    };
    assert!(matches!(
        SistemaTsClient::new(bad_ca),
        Err(Error::Client(_))
    ));
}

#[test]
fn credentials_debug_is_masked() {
    let creds = credentials();
    assert_no_secret(&format!("{creds:?}"));
    assert!(format!("{creds:?}").contains("PROVAX00X00X000Y"));
}

/// HTTPS with a private CA (rcgen CA + leaf), through the explicit ring provider.
#[tokio::test]
async fn https_with_a_custom_ca() {
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use tokio_rustls::rustls;

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = Response::success()
        .with_info("revokeStatus", "ok")
        .to_envelope(Operation::Revoke);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        // Read until the end of headers plus body (the request is small).
        loop {
            let n = tls.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            if n == 0 || got.ends_with(b"</soapenv:Envelope>") {
                break;
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            body
        );
        tls.write_all(response.as_bytes()).await.unwrap();
        tls.shutdown().await.unwrap();
    });

    let base = format!("https://localhost:{port}");
    let config = ClientConfig {
        ca_pem: Some(ca_cert.pem()),
        ..ClientConfig::new(Environment::custom(&base, &base).unwrap())
    };
    let c = SistemaTsClient::new(config).unwrap();
    let (cert, ..) = pair();
    let req = TokenRequest::new(
        &doctor(),
        &Pin::new(PIN),
        &SessionCode::new(CODE),
        Application::Prescriber,
        cert,
    )
    .unwrap();
    assert_eq!(
        c.revoke(&credentials(), &req).await.unwrap(),
        RevokeOutcome::Revoked
    );

    // Without the CA the same server is refused (platform roots do not know it).
    let strict = SistemaTsClient::new(ClientConfig::new(
        Environment::custom(&base, &base).unwrap(),
    ))
    .unwrap();
    let err = strict.revoke(&credentials(), &req).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}
