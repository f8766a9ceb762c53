//! The A2F service as the domain sees it. The gateway adapts `sistemats`' client to this trait;
//! tests use fakes.

use async_trait::async_trait;
use sistemats::secret::SessionCode;
use time::OffsetDateTime;

use crate::user::Identity;

/// What a successful `create` gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateResult {
    /// Test environment: the new code came back in the response (`comunicazioni/token`).
    Issued(SessionCode),
    /// Production: Sistema TS mailed the code to the certified address.
    Mailed,
}

/// The answer of `checkToken` about one code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// `stato` 0: usable, from `dataInizioValidita` until `dataFineValidita`.
    Valid {
        /// `dataInizioValidita` (the request time of that code).
        valid_from: OffsetDateTime,
        /// `dataFineValidita`: the only source of the expiry.
        valid_until: OffsetDateTime,
    },
    /// `stato` 1 or warning 06: revoked (explicitly, or by the first use of a newer code).
    Revoked,
    /// Warning 07 (or `stato` 2): no longer valid.
    Expired {
        /// `dataFineValidita` if Sistema TS returned it.
        valid_until: Option<OffsetDateTime>,
    },
    /// 603 / 04 / 19 / 20: no such code for these parameters.
    NotFound,
    /// 602 or a code issued to another user: refused, and never stored.
    WrongUser,
}

/// The answer of `revoke`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// Warning 05: it was already revoked or no longer valid.
    AlreadyGone,
}

/// Upstream failures, by what the domain must do about them.
///
/// The `detail`/`message` strings are for people and logs: the adapter must never put a
/// password, PIN, code or Basic header in them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// HTTP 401 on the Basic header: password expired or wrong. Stop calling.
    #[error("password refused (HTTP 401)")]
    PasswordRefused,
    /// A2F 301/302: PIN wrong. Stop calling.
    #[error("PIN refused (A2F {code})")]
    PinRefused {
        /// `301` or `302`.
        code: String,
    },
    /// HTTP 500 "Errore generico di autenticazione", A2F 601/602: the user is not known as
    /// configured. Stop calling.
    #[error("user refused ({code})")]
    UserRefused {
        /// The A2F code or `http-500`.
        code: String,
    },
    /// A2F 200: the user never certified an e-mail address on the Sistema TS portal.
    #[error("no certified e-mail address (A2F 200)")]
    NoCertifiedMail,
    /// A2F 100: Sistema TS could not send the mail.
    #[error("mail send failed (A2F 100)")]
    MailSendFailed,
    /// Timeout, connection failure, HTTP 5xx, malformed answer: try again later.
    #[error("Sistema TS unavailable: {detail}")]
    Unavailable {
        /// What went wrong, without secrets.
        detail: String,
    },
    /// Any other A2F error, with Sistema TS' own (Italian) description.
    #[error("A2F error {code}: {message}")]
    A2f {
        /// `codEsito` of the error.
        code: String,
        /// `descrEsito`.
        message: String,
    },
}

impl UpstreamError {
    /// Whether the first factor was refused: no automatic call may follow.
    pub fn refuses_credentials(&self) -> bool {
        matches!(
            self,
            Self::PasswordRefused | Self::PinRefused { .. } | Self::UserRefused { .. }
        )
    }
}

/// The three A2F operations for one identity.
///
/// Implementations must time out well below [`crate::Policy::create_timeout`]: a `create`
/// older than that is considered lost and another one may start.
#[async_trait]
pub trait Upstream: Send + Sync {
    /// `create`: asks Sistema TS for a new code for `identity`.
    async fn create(&self, identity: &Identity) -> Result<CreateResult, UpstreamError>;
    /// `checkToken`: state and validity of `code`.
    async fn check_token(
        &self,
        identity: &Identity,
        code: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError>;
    /// `revoke`.
    async fn revoke(
        &self,
        identity: &Identity,
        code: &SessionCode,
    ) -> Result<RevokeOutcome, UpstreamError>;
}
