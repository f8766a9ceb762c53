//! The domain's [`Upstream`] over the real protocol client: A2F `create`, `checkToken` and
//! `revoke` sent with [`SistemaTsClient`], their outcomes translated into what the session
//! rules need to know.
//!
//! Nothing here keeps state; every call encrypts the PIN afresh with the SanitelCF
//! certificate. Error texts carry Sistema TS' own descriptions and our Italian messages,
//! never a password, PIN, code or Basic header.

use std::sync::Arc;

use sistemats::SessionCode;
use sistemats::a2f::{
    self, A2fError, A2fErrorKind, CreateOutcome, CreateRequest, TokenRequest, TokenStatus,
    UserIdentity,
};
use sistemats::client::{Credentials, SistemaTsClient};
use sistemats::error::Error as ClientError;
use sistemats::sanitel::SanitelCertificate;
use tsgate_session::{
    Application, CreateResult, Identity, RevokeOutcome, TokenCheck, Upstream, UpstreamError,
    async_trait,
};

/// [`Upstream`] implemented with the Sistema TS A2F web service.
#[derive(Debug, Clone)]
pub struct SistemaTsUpstream {
    client: SistemaTsClient,
    certificate: Arc<SanitelCertificate>,
}

impl SistemaTsUpstream {
    /// Uses `client` (already bound to an environment) and the SanitelCF certificate that
    /// encrypts PINs for that environment.
    pub fn new(client: SistemaTsClient, certificate: Arc<SanitelCertificate>) -> Self {
        Self {
            client,
            certificate,
        }
    }

    fn credentials(identity: &Identity) -> Credentials {
        Credentials::new(
            identity.profile.user_id.as_str(),
            identity.credentials.password.clone(),
            identity.credentials.pin.clone(),
        )
    }

    fn user_identity(identity: &Identity) -> UserIdentity {
        let profile = &identity.profile;
        let mut user = UserIdentity::new(
            profile.user_id.as_str(),
            profile.fiscal_code.as_str(),
            profile.region.as_str(),
            profile.asl.as_str(),
        );
        if !profile.ssa.is_empty() {
            user.ssa = profile.ssa.clone();
        }
        user
    }

    fn token_request(
        &self,
        identity: &Identity,
        code: &SessionCode,
    ) -> Result<TokenRequest, UpstreamError> {
        TokenRequest::new(
            &Self::user_identity(identity),
            &identity.credentials.pin,
            code,
            application(identity.application),
            &self.certificate,
        )
        .map_err(client_error)
    }
}

fn application(app: Application) -> a2f::Application {
    match app {
        Application::Prescrittore => a2f::Application::Prescriber,
        Application::Erogatore => a2f::Application::Dispenser,
    }
}

/// What the session rules must do about an A2F error code.
fn a2f_error(e: A2fError) -> UpstreamError {
    use A2fErrorKind as K;
    match e.kind {
        K::PinMalformed | K::PinInvalid => UpstreamError::PinRefused { code: e.code },
        K::UnknownUser | K::UserMismatch | K::NotAuthenticated => {
            UpstreamError::UserRefused { code: e.code }
        }
        K::NoCertifiedMail => UpstreamError::NoCertifiedMail,
        K::MailSendFailed => UpstreamError::MailSendFailed,
        K::System => UpstreamError::Unavailable {
            detail: format!("A2F {}: {}", e.code, e.description),
        },
        _ => UpstreamError::A2f {
            message: e.message(),
            code: e.code,
        },
    }
}

/// A faultstring as the doctor reads it: one line, at most 300 characters.
fn fault_text(faultstring: &str) -> String {
    let line = faultstring.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None if line.is_empty() => "(nessuna descrizione)".to_owned(),
        None => line,
    }
}

/// What the session rules must do about a transport or protocol failure.
fn client_error(e: ClientError) -> UpstreamError {
    match e {
        ClientError::PasswordRefused => UpstreamError::PasswordRefused,
        ClientError::UnknownUser => UpstreamError::UserRefused {
            code: "http-500".into(),
        },
        // Sistema TS did answer, with a SOAP Fault: say what it said, not "non risponde".
        ClientError::Fault { fault, .. } => UpstreamError::A2f {
            code: "SOAP".into(),
            message: fault_text(&fault.string),
        },
        ClientError::Transport(_)
        | ClientError::Timeout
        | ClientError::HttpStatus(_)
        | ClientError::Parse(_) => UpstreamError::Unavailable {
            detail: e.to_string(),
        },
        // A request Sistema TS refused as invalid, or one we refused to send: a configuration
        // problem of this user (a field of the wrong length, a bad certificate), not an outage.
        other => UpstreamError::A2f {
            code: "config".into(),
            message: other.to_string(),
        },
    }
}

#[async_trait]
impl Upstream for SistemaTsUpstream {
    async fn create(&self, identity: &Identity) -> Result<CreateResult, UpstreamError> {
        let request = CreateRequest::new(
            &Self::user_identity(identity),
            &identity.credentials.pin,
            application(identity.application),
            &self.certificate,
        )
        .map_err(client_error)?;
        match self
            .client
            .create(&Self::credentials(identity), &request)
            .await
        {
            Ok(CreateOutcome::Sent { .. }) => Ok(CreateResult::Mailed),
            Ok(CreateOutcome::Issued { code, .. }) => Ok(CreateResult::Issued(code)),
            Ok(CreateOutcome::Refused(e)) => Err(a2f_error(e)),
            Err(e) => Err(client_error(e)),
        }
    }

    async fn check_token(
        &self,
        identity: &Identity,
        code: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError> {
        let request = self.token_request(identity, code)?;
        let status = self
            .client
            .check_token(&Self::credentials(identity), &request)
            .await
            .map_err(client_error)?;
        match status {
            TokenStatus::Valid {
                valid_from,
                valid_until,
            } => Ok(TokenCheck::Valid {
                valid_from,
                valid_until,
            }),
            TokenStatus::Revoked { .. } => Ok(TokenCheck::Revoked),
            TokenStatus::Expired { validity } => Ok(TokenCheck::Expired {
                valid_until: validity.map(|v| v.until),
            }),
            // A state Sistema TS does not document: the code is not known to be usable.
            TokenStatus::Unknown { .. } => Ok(TokenCheck::NotFound),
            TokenStatus::Refused(e) => match e.code.as_str() {
                // 04: the code exists but for other parameters (another user, another
                // applicazione): the typical "code of another doctor" paste.
                "04" | "4" => Ok(TokenCheck::WrongUser),
                "603" | "19" | "20" => Ok(TokenCheck::NotFound),
                _ => Err(a2f_error(e)),
            },
        }
    }

    async fn revoke(
        &self,
        identity: &Identity,
        code: &SessionCode,
    ) -> Result<RevokeOutcome, UpstreamError> {
        let request = self.token_request(identity, code)?;
        match self
            .client
            .revoke(&Self::credentials(identity), &request)
            .await
        {
            Ok(a2f::RevokeOutcome::Revoked) => Ok(RevokeOutcome::Revoked),
            Ok(a2f::RevokeOutcome::AlreadyRevoked { .. }) => Ok(RevokeOutcome::AlreadyGone),
            Ok(a2f::RevokeOutcome::Refused(e)) => match e.kind {
                A2fErrorKind::NoCode | A2fErrorKind::Expired | A2fErrorKind::Revoked => {
                    Ok(RevokeOutcome::AlreadyGone)
                }
                _ => Err(a2f_error(e)),
            },
            Err(e) => Err(client_error(e)),
        }
    }
}
