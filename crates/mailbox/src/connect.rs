//! Opening an authenticated IMAP session: TCP, TLS (implicit or STARTTLS, rustls with the
//! ring provider), greeting, LOGIN; and turning every failure into a diagnostic.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::settings::{MailboxSettings, SettingsError, Tls};
use crate::status::{Diagnostic, DiagnosticCode, text};

/// Any byte stream an IMAP session can run on (TCP or TLS over TCP).
pub(crate) trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapIo for T {}

/// An authenticated session.
pub(crate) type ImapSession = Session<Box<dyn ImapIo>>;

/// Why no session could be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("settings")]
    Settings(#[from] SettingsError),
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("timeout")]
    Timeout,
    #[error("tls: {0}")]
    Tls(String),
    #[error("login refused")]
    Login,
    #[error("protocol: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// The diagnostic a doctor or an administrator reads.
    pub(crate) fn diagnostic(&self, settings: &MailboxSettings) -> Diagnostic {
        let host = settings.host.as_str();
        let port = settings.effective_port();
        match self {
            ConnectError::Settings(e) => Diagnostic::new(DiagnosticCode::Settings, e.to_string()),
            ConnectError::Connect(e) => {
                let detail = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connessione rifiutata".to_owned(),
                    std::io::ErrorKind::TimedOut => "tempo scaduto".to_owned(),
                    std::io::ErrorKind::NotFound => "server sconosciuto".to_owned(),
                    kind => {
                        tracing::debug!(error = %e, "mailbox connection failed");
                        text::io_error(kind).to_owned()
                    }
                };
                Diagnostic::new(
                    DiagnosticCode::Connection,
                    text::connection(host, port, &detail),
                )
            }
            ConnectError::Timeout => Diagnostic::new(
                DiagnosticCode::Connection,
                text::connection(host, port, "nessuna risposta"),
            ),
            ConnectError::Tls(detail) => {
                Diagnostic::new(DiagnosticCode::Tls, text::tls(host, detail))
            }
            ConnectError::Login => {
                Diagnostic::new(DiagnosticCode::LoginRefused, text::login_refused())
            }
            ConnectError::Protocol(detail) => {
                Diagnostic::new(DiagnosticCode::Protocol, text::protocol(detail))
            }
        }
    }
}

/// TLS client configuration: the given CA only, else the system roots, else Mozilla's.
pub(crate) fn tls_config(settings: &MailboxSettings) -> Result<Arc<ClientConfig>, ConnectError> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = &settings.ca_pem {
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|_| SettingsError::BadCaPem)?;
            roots.add(cert).map_err(|_| SettingsError::BadCaPem)?;
        }
        if roots.is_empty() {
            return Err(SettingsError::BadCaPem.into());
        }
    } else {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
    }
    // The ring provider explicitly: the process-wide default may be unset, and two
    // providers in one tree make rustls panic.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_detail(e: &std::io::Error) -> Option<String> {
    let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match inner {
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
            ..
        }) => "il certificato è intestato a un altro nome".to_owned(),
        rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)
        | rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext { .. }) => {
            "il certificato è scaduto".to_owned()
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            "certificato emesso da un'autorità sconosciuta".to_owned()
        }
        // rustls words the rest in English: the detail goes to the log only.
        rustls::Error::InvalidCertificate(other) => {
            tracing::debug!(error = ?other, "mailbox certificate refused");
            "certificato non valido".to_owned()
        }
        other => {
            tracing::debug!(error = %other, "mailbox TLS failed");
            "errore nel protocollo TLS".to_owned()
        }
    })
}

async fn tls_wrap(
    tcp: TcpStream,
    settings: &MailboxSettings,
    config: Arc<ClientConfig>,
) -> Result<Box<dyn ImapIo>, ConnectError> {
    let host = settings
        .host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let name = ServerName::try_from(host)
        .map_err(|_| ConnectError::Tls("nome del server non valido".into()))?;
    let stream = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| match tls_detail(&e) {
            Some(detail) => ConnectError::Tls(detail),
            None => {
                tracing::debug!(error = %e, "mailbox TLS handshake failed");
                ConnectError::Tls(text::io_error(e.kind()).to_owned())
            }
        })?;
    Ok(Box::new(stream))
}

async fn greeting<T: ImapIo>(client: &mut Client<T>) -> Result<(), ConnectError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ConnectError::Protocol("nessun saluto dal server".into())),
        Err(e) => Err(match tls_detail(&e) {
            Some(detail) => ConnectError::Tls(detail),
            None => ConnectError::Connect(e),
        }),
    }
}

/// Connects and logs in, all within the configured timeout.
pub(crate) async fn open(
    settings: &MailboxSettings,
    tls: Option<Arc<ClientConfig>>,
) -> Result<ImapSession, ConnectError> {
    settings.validate()?;
    let limit = Duration::from_secs(settings.timeout_secs.max(1));
    tokio::time::timeout(limit, open_inner(settings, tls))
        .await
        .map_err(|_| ConnectError::Timeout)?
}

async fn open_inner(
    settings: &MailboxSettings,
    tls: Option<Arc<ClientConfig>>,
) -> Result<ImapSession, ConnectError> {
    let host = settings
        .host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let tcp = TcpStream::connect((host, settings.effective_port()))
        .await
        .map_err(ConnectError::Connect)?;
    let _ = tcp.set_nodelay(true);
    let tls_config = || match &tls {
        Some(c) => Ok(c.clone()),
        None => tls_config(settings),
    };
    let client: Client<Box<dyn ImapIo>> = match settings.security {
        Tls::Implicit => {
            let stream = tls_wrap(tcp, settings, tls_config()?).await?;
            let mut client = Client::new(stream);
            greeting(&mut client).await?;
            client
        }
        Tls::StartTls => {
            let mut plain = Client::new(tcp);
            greeting(&mut plain).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| {
                    tracing::debug!(error = %e, "STARTTLS refused");
                    ConnectError::Protocol("STARTTLS rifiutato".to_owned())
                })?;
            let stream = tls_wrap(plain.into_inner(), settings, tls_config()?).await?;
            Client::new(stream)
        }
        Tls::Plain => {
            let stream: Box<dyn ImapIo> = Box::new(tcp);
            let mut client = Client::new(stream);
            greeting(&mut client).await?;
            client
        }
    };
    match client
        .login(&settings.username, settings.password.expose_secret())
        .await
    {
        Ok(session) => Ok(session),
        Err((async_imap::error::Error::No(_), _)) | Err((async_imap::error::Error::Bad(_), _)) => {
            Err(ConnectError::Login)
        }
        Err((async_imap::error::Error::Io(e), _)) => Err(ConnectError::Connect(e)),
        Err((async_imap::error::Error::ConnectionLost, _)) => Err(ConnectError::Connect(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        )),
        // The library's texts are English (and never contain the password: LOGIN is not
        // echoed): the log gets them, the diagnosis an Italian summary.
        Err((e, _)) => {
            tracing::debug!(error = %e, "unexpected answer to LOGIN");
            Err(ConnectError::Protocol(
                "risposta inattesa al login".to_owned(),
            ))
        }
    }
}
