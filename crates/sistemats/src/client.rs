//! HTTPS client for the A2F and DEM services.
//!
//! Every call is a `POST` with `Content-Type: text/xml; charset=UTF-8`, a quoted
//! `SOAPAction`, HTTP Basic sent pre-emptively (the Sistema TS front-end refuses the
//! challenge-response dance) and, on DEM calls only, `Authorization2F: Bearer <ID-SESSIONE>`.
//! Answers are classified into transport trouble, refused password (401), unknown user,
//! schema faults, other faults and business payloads ([`classify`]).
//!
//! TLS uses rustls with the *ring* provider, chosen explicitly: another crate in the build
//! may enable aws-lc-rs, and rustls refuses to guess between two providers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE};

use crate::a2f::{
    CreateOutcome, CreateRequest, Operation, Response, RevokeOutcome, TokenRequest, TokenStatus,
};
use crate::env::Environment;
use crate::error::{Error, FieldError, ParseError};
use crate::secret::{Password, Pin, SessionCode};
use crate::soap::{self, Body, Fault};
use crate::xml::Element;

/// The header carrying the ID-SESSIONE on DEM calls.
pub const AUTHORIZATION_2F: &str = "Authorization2F";
/// Content type of every request.
pub const CONTENT_TYPE_XML: &str = "text/xml; charset=UTF-8";
/// Fault text of the front-end for an unknown user (HTTP 500).
pub const UNKNOWN_USER_FAULT: &str = "Errore generico di autenticazione";
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of a call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A Sistema TS user's first factor: user id, password (Basic) and PIN (encrypted in bodies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sistema TS user id (Basic user).
    pub user_id: String,
    /// Password (Basic); masked in `Debug`.
    pub password: Password,
    /// PIN code; masked in `Debug`.
    pub pin: Pin,
}

impl Credentials {
    /// New credentials.
    pub fn new(user_id: impl Into<String>, password: Password, pin: Pin) -> Self {
        Self {
            user_id: user_id.into(),
            password,
            pin,
        }
    }
}

/// How to build a [`SistemaTsClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where to send calls.
    pub environment: Environment,
    /// Connect timeout (TCP + TLS).
    pub connect_timeout: Duration,
    /// Total timeout of one call, body included.
    pub timeout: Duration,
    /// PEM certificates to trust *instead of* the platform roots (tests, simulator over TLS).
    pub ca_pem: Option<String>,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for an environment: 10 s connect, 60 s total, platform roots,
    /// `User-Agent: tsgate/<version>`.
    pub fn new(environment: Environment) -> Self {
        Self {
            environment,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            ca_pem: None,
            user_agent: format!("tsgate/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A raw HTTP answer, before classification.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// Whether a `WWW-Authenticate` header was present.
    pub www_authenticate: bool,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Client for Sistema TS. Cheap to clone (connection pool shared).
#[derive(Debug, Clone)]
pub struct SistemaTsClient {
    http: reqwest::Client,
    environment: Environment,
}

impl SistemaTsClient {
    /// Builds a client; refuses an environment that points a custom base at production.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        config.environment.validate()?;
        let tls = tls_config(config.ca_pem.as_deref())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(crate::error::describe_chain(&e)))?;
        Ok(Self {
            http,
            environment: config.environment,
        })
    }

    /// The environment this client talks to.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// `create`: asks for a new ID-SESSIONE. The request is validated before sending.
    pub async fn create(
        &self,
        credentials: &Credentials,
        request: &CreateRequest,
    ) -> Result<CreateOutcome, Error> {
        request.validate()?;
        let response = self
            .call_a2f(credentials, Operation::Create, request.to_envelope())
            .await?;
        Ok(response.create_outcome())
    }

    /// `checkToken`: state and validity of an ID-SESSIONE.
    pub async fn check_token(
        &self,
        credentials: &Credentials,
        request: &TokenRequest,
    ) -> Result<TokenStatus, Error> {
        request.validate()?;
        let response = self
            .call_a2f(
                credentials,
                Operation::CheckToken,
                request.to_envelope(Operation::CheckToken),
            )
            .await?;
        Ok(response.token_status())
    }

    /// `revoke`: revokes an ID-SESSIONE.
    pub async fn revoke(
        &self,
        credentials: &Credentials,
        request: &TokenRequest,
    ) -> Result<RevokeOutcome, Error> {
        request.validate()?;
        let response = self
            .call_a2f(
                credentials,
                Operation::Revoke,
                request.to_envelope(Operation::Revoke),
            )
            .await?;
        Ok(response.revoke_outcome())
    }

    /// Sends an A2F envelope and parses the response of `op` (no `Authorization2F`).
    pub async fn call_a2f(
        &self,
        credentials: &Credentials,
        op: Operation,
        envelope: String,
    ) -> Result<Response, Error> {
        let url = self.environment.a2f_url();
        let raw = self
            .post(&url, credentials, op.soap_action(), envelope, None)
            .await?;
        let payload = classify(&raw)?;
        Ok(Response::from_payload(op, &payload)?)
    }

    /// Sends a DEM envelope to `service_path` (`/DemRicettaPrescrittoServicesWeb/services/…`)
    /// with `Authorization2F: Bearer <code>` when a code is given, and returns the body
    /// payload element (the receipt) for the typed DEM layer to read.
    pub async fn call_dem(
        &self,
        credentials: &Credentials,
        service_path: &str,
        soap_action: &str,
        envelope: String,
        code: Option<&SessionCode>,
    ) -> Result<Element, Error> {
        let url = self.environment.dem_url(service_path);
        let raw = self
            .post(&url, credentials, soap_action, envelope, code)
            .await?;
        classify(&raw)
    }

    /// Sends an RBE (ricetta bianca) envelope to `service_path` on the environment's RBE
    /// base, like [`SistemaTsClient::call_dem`]. The SOAPAction is the caller's: the
    /// published ones are not confirmed (`sistemats::rbe::RbeService::soap_action` is the
    /// default), so a deployment can send another without a new release.
    pub async fn call_rbe(
        &self,
        credentials: &Credentials,
        service_path: &str,
        soap_action: &str,
        envelope: String,
        code: Option<&SessionCode>,
    ) -> Result<Element, Error> {
        let url = self.environment.rbe_url(service_path);
        let raw = self
            .post(&url, credentials, soap_action, envelope, code)
            .await?;
        classify(&raw)
    }

    /// The HTTP exchange alone: POST with all Sistema TS headers, body read whole.
    pub async fn post(
        &self,
        url: &str,
        credentials: &Credentials,
        soap_action: &str,
        envelope: String,
        code: Option<&SessionCode>,
    ) -> Result<RawResponse, Error> {
        let headers = request_headers(credentials, soap_action, code)?;
        let started = Instant::now();
        let response = self
            .http
            .post(url)
            .headers(headers)
            .body(envelope)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let www_authenticate = response.headers().contains_key(WWW_AUTHENTICATE);
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        tracing::debug!(
            soap_action = soap_action.trim_matches('"'),
            status,
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            with_code = code.is_some(),
            "Sistema TS call"
        );
        Ok(RawResponse {
            status,
            www_authenticate,
            body,
        })
    }
}

/// The headers of a Sistema TS call. Secret values are marked sensitive (hidden in `Debug`).
pub fn request_headers(
    credentials: &Credentials,
    soap_action: &str,
    code: Option<&SessionCode>,
) -> Result<HeaderMap, Error> {
    use base64::Engine as _;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_XML));
    let action = format!("\"{}\"", soap_action.trim().trim_matches('"'));
    headers.insert(
        "SOAPAction",
        HeaderValue::from_str(&action)
            .map_err(|_| FieldError::new("SOAPAction", "caratteri non ammessi"))?,
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        credentials.user_id,
        credentials.password.expose_secret()
    ));
    let mut auth = HeaderValue::from_str(&format!("Basic {basic}"))
        .map_err(|_| FieldError::new("Authorization", "caratteri non ammessi"))?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    if let Some(code) = code {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", code.expose_secret()))
            .map_err(|_| {
                FieldError::new(
                    "Authorization2F",
                    "l'ID-SESSIONE contiene caratteri non ammessi",
                )
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION_2F, value);
    }
    Ok(headers)
}

/// Classifies a raw answer: 401 → [`Error::PasswordRefused`]; Fault "Errore generico di
/// autenticazione" → [`Error::UnknownUser`]; `cvc-` Fault → [`Error::SchemaRejected`];
/// other Fault → [`Error::Fault`]; non-2xx without Fault → [`Error::HttpStatus`];
/// otherwise the body payload element.
pub fn classify(raw: &RawResponse) -> Result<Element, Error> {
    if raw.status == 401 {
        return Err(Error::PasswordRefused);
    }
    let success = (200..300).contains(&raw.status);
    match soap::parse(&raw.body) {
        Ok(Body::Fault(fault)) => Err(classify_fault(raw.status, fault)),
        Ok(Body::Payload(payload)) if success => Ok(payload),
        Ok(Body::Payload(_)) => Err(Error::HttpStatus(raw.status)),
        Err(_) if !success => Err(Error::HttpStatus(raw.status)),
        Err(e) => Err(Error::Parse(ParseError::Soap(e))),
    }
}

fn classify_fault(status: u16, fault: Fault) -> Error {
    if fault
        .string
        .to_lowercase()
        .contains(&UNKNOWN_USER_FAULT.to_lowercase())
    {
        Error::UnknownUser
    } else if fault.is_schema_error() {
        Error::SchemaRejected(fault)
    } else {
        Error::Fault { status, fault }
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else {
        Error::Transport(crate::error::describe_chain(&e.without_url()))
    }
}

/// The error and its sources on one line (reqwest's top-level text alone says little).
/// Makes *ring* the process-wide rustls crypto provider, if none is installed yet.
///
/// tsgate builds rustls with the ring provider only (two providers in one build make rustls
/// panic at start). [`SistemaTsClient`] passes its provider explicitly and does not need this,
/// but other TLS users in the same process (reqwest clients built with defaults, test
/// clients) do: call it once at start. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn tls_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use rustls_platform_verifier::BuilderVerifierExt;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Client(e.to_string()))?;
    let mut config = match ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| Error::Client(format!("certificato CA non valido: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Client(format!("certificato CA non valido: {e}")))?;
            }
            if roots.is_empty() {
                return Err(Error::Client(
                    "nessun certificato CA nel PEM indicato".into(),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .with_platform_verifier()
            .map_err(|e| Error::Client(e.to_string()))?
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            www_authenticate: false,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn classification() {
        assert!(matches!(
            classify(&raw(401, "")),
            Err(Error::PasswordRefused)
        ));
        let unknown = Fault::client("Errore generico di autenticazione").to_envelope();
        assert!(matches!(
            classify(&raw(500, &unknown)),
            Err(Error::UnknownUser)
        ));
        let cvc = Fault::client("cvc-minLength-valid: x").to_envelope();
        assert!(matches!(
            classify(&raw(500, &cvc)),
            Err(Error::SchemaRejected(_))
        ));
        let other = Fault::server("boom").to_envelope();
        assert!(matches!(
            classify(&raw(500, &other)),
            Err(Error::Fault { status: 500, .. })
        ));
        assert!(matches!(
            classify(&raw(502, "<html/>")),
            Err(Error::HttpStatus(502))
        ));
        assert!(matches!(
            classify(&raw(200, "not xml")),
            Err(Error::Parse(_))
        ));
        let ok = soap::envelope(&[], "<x xmlns=\"urn:x\"/>");
        assert_eq!(classify(&raw(200, &ok)).unwrap().name, "x");
    }

    #[test]
    fn headers_mask_secrets() {
        let creds = Credentials::new(
            "PROVAX00X00X000Y",
            Password::new("Segreta1"),
            Pin::new("1234567890"),
        );
        let code = SessionCode::new("1f6a0702-2cfc-4903-8cfc-609a7e232920");
        let headers = request_headers(&creds, "urn:a", Some(&code)).unwrap();
        assert_eq!(headers["SOAPAction"], "\"urn:a\"");
        let debug = format!("{headers:?} {creds:?}");
        assert!(!debug.contains("609a7e232920"));
        assert!(!debug.contains("Segreta1"));
        assert!(!debug.contains("1234567890"));
        assert!(!debug.contains(&base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "PROVAX00X00X000Y:Segreta1"
        )));
    }
}
