//! The one error type of the JSON API.
//!
//! Each case says three things: the HTTP status, a stable machine `code`, and an Italian
//! message a doctor understands, with the next step. The internal cause (database error,
//! upstream detail) is kept apart as the error's source and never reaches the response:
//! [`ApiError::into_response`] attaches the whole cause chain to the response as a
//! [`CauseChain`] extension, and the request-log layer writes it once, with the route, as
//! crates.io does with its cause extension (`src/util/errors.rs`).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use sistemats::error::describe_chain;
use tsgate_session::{BoxError, SessionError, StoreError};

/// An error answered by the JSON API as `{"error": {"code", "message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` token.
    #[error("missing workstation token")]
    MissingToken,
    /// The token is unknown or revoked.
    #[error("invalid workstation token")]
    InvalidToken,
    /// The workstation may not act for this user.
    #[error("workstation may not act for user")]
    NotAllowedForUser {
        /// The user asked for.
        user: String,
    },
    /// The endpoint needs an admin workstation.
    #[error("admin only")]
    AdminOnly,
    /// Only a doctor's own workstation may see a code.
    #[error("code not visible from this workstation")]
    CodeNotVisible,
    /// Unknown user.
    #[error("unknown user")]
    UnknownUser,
    /// Unknown resource.
    #[error("not found")]
    NotFound,
    /// The request is malformed (bad JSON, bad query); the text is Italian.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Body too large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Too many requests from this workstation.
    #[error("rate limited")]
    RateLimited {
        /// Seconds to wait before retrying.
        retry_after_seconds: u64,
    },
    /// The request took too long.
    #[error("timeout")]
    Timeout,
    /// The feature is not configured on this server.
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// A refusal or failure of the session layer.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The input of an administration request is not acceptable (400), with an Italian
    /// message.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A refusal or failure of the store: a duplicate (409), a missing row (404), a
    /// failure (500, cause logged).
    #[error("store")]
    Store(#[from] StoreError),
    /// A failure inside tsgate; the cause is logged, never shown.
    #[error("internal")]
    Internal(#[source] BoxError),
    /// Working hours or an automatic-request mode that cannot be accepted (422); the text is
    /// the Italian reason, with how to write it.
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// The practice's working hours are set in the configuration file (409).
    #[error("practice hours set in the configuration file")]
    HoursFromFile,
    /// An admin workstation asked for another practice than its own (403).
    #[error("other practice")]
    OtherPractice,
    /// The user exists in another practice and the credentials given are not its own (409).
    #[error("user of another practice")]
    UserOfAnotherPractice {
        /// The user.
        user: String,
    },
}

impl From<tsgate_session::MailboxError> for ApiError {
    fn from(e: tsgate_session::MailboxError) -> Self {
        use tsgate_session::MailboxError;
        match e {
            MailboxError::UnknownUser => ApiError::Store(StoreError::NotFound("user".into())),
            MailboxError::Invalid(m) => ApiError::Invalid(m.0),
            MailboxError::Store(e) => ApiError::Store(e),
        }
    }
}

impl ApiError {
    /// An internal failure caused by `cause` (kept for the log).
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }
}

/// The HTTP status of a domain error: the mapping of the domain's stable codes onto HTTP.
pub fn session_status(e: &SessionError) -> StatusCode {
    match e {
        SessionError::UnknownUser(_) | SessionError::NoCode(_) => StatusCode::NOT_FOUND,
        SessionError::CredentialsMissing(_) | SessionError::CodeActive { .. } => {
            StatusCode::CONFLICT
        }
        SessionError::TooSoon { .. } | SessionError::AutoLimit(_) => StatusCode::TOO_MANY_REQUESTS,
        SessionError::Format(_) | SessionError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        SessionError::CredentialsRefused { .. } => StatusCode::LOCKED,
        SessionError::NoCertifiedMail
        | SessionError::MailSendFailed
        | SessionError::Upstream { .. } => StatusCode::BAD_GATEWAY,
        SessionError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        SessionError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The cause chain of a failed request, attached to its response by
/// [`ApiError::into_response`] and logged once by the request-log layer. Never a secret:
/// causes are database and I/O errors, which carry no bound values.
#[derive(Clone, Debug)]
pub struct CauseChain {
    /// The API error code.
    pub code: &'static str,
    /// `outer: inner: …`.
    pub chain: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

const INTERNAL_MESSAGE: &str = "Errore interno di tsgate. Riprova tra poco; se il problema si ripete, contatta l'assistenza indicando l'ora dell'errore.";

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingToken | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::NotAllowedForUser { .. } | ApiError::AdminOnly | ApiError::CodeNotVisible => {
                StatusCode::FORBIDDEN
            }
            ApiError::UnknownUser | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::NotConfigured(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Session(e) => session_status(e),
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidSchedule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::HoursFromFile => StatusCode::CONFLICT,
            ApiError::OtherPractice => StatusCode::FORBIDDEN,
            ApiError::UserOfAnotherPractice { .. } => StatusCode::CONFLICT,
            ApiError::Store(e) => match e {
                StoreError::NotFound(_) => StatusCode::NOT_FOUND,
                StoreError::Conflict => StatusCode::CONFLICT,
                StoreError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable machine code (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingToken => "missing_token",
            ApiError::InvalidToken => "invalid_token",
            ApiError::NotAllowedForUser { .. } => "not_allowed",
            ApiError::AdminOnly => "admin_only",
            ApiError::CodeNotVisible => "code_not_visible",
            ApiError::UnknownUser => "unknown_user",
            ApiError::NotFound => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout => "timeout",
            ApiError::NotConfigured(_) => "not_configured",
            ApiError::Internal(_) => "internal",
            ApiError::Session(e) => e.code(),
            ApiError::Invalid(_) => "invalid",
            ApiError::InvalidSchedule(_) => "invalid_schedule",
            ApiError::HoursFromFile => "hours_from_file",
            ApiError::OtherPractice => "other_practice",
            ApiError::UserOfAnotherPractice { .. } => "user_of_another_practice",
            ApiError::Store(e) => match e {
                StoreError::NotFound(_) => "not_found",
                StoreError::Conflict => "already_exists",
                StoreError::Backend(_) => "internal",
            },
        }
    }

    /// The Italian message for people, with the next step.
    pub fn message(&self) -> String {
        match self {
            ApiError::MissingToken => "Postazione non riconosciuta: manca il token della postazione. Inserisci il token ricevuto dall'amministratore di tsgate.".into(),
            ApiError::InvalidToken => "Il token di questa postazione non è valido o è stato revocato. Chiedi all'amministratore di tsgate un nuovo token.".into(),
            ApiError::NotAllowedForUser { user } => format!("Questa postazione non è autorizzata ad agire per l'utente {user}. Chiedi all'amministratore di tsgate di abilitarla."),
            ApiError::AdminOnly => "Operazione riservata alla postazione dell'amministratore di tsgate.".into(),
            ApiError::CodeNotVisible => "Il codice si può vedere solo dalla postazione del medico a cui appartiene. Da questa postazione puoi vederne solo lo stato.".into(),
            ApiError::UnknownUser => "Utente non configurato in tsgate. Controlla l'utente o chiedi all'amministratore di aggiungerlo.".into(),
            ApiError::NotFound | ApiError::Store(StoreError::NotFound(_)) => "Risorsa non trovata. Controlla l'indirizzo.".into(),
            ApiError::BadRequest(m) => format!("Richiesta non valida: {m}"),
            ApiError::PayloadTooLarge => "Richiesta troppo grande: invia solo i dati richiesti.".into(),
            ApiError::RateLimited { retry_after_seconds } => format!("Troppe richieste da questa postazione. Attendi {retry_after_seconds} secondi e riprova."),
            ApiError::Timeout => "tsgate non ha completato l'operazione in tempo. Riprova tra poco.".into(),
            ApiError::NotConfigured(what) => format!("Funzione non disponibile su questo server tsgate ({what}). Contatta l'amministratore."),
            ApiError::Internal(_) | ApiError::Store(StoreError::Backend(_)) => INTERNAL_MESSAGE.into(),
            // The domain's Display is its Italian message (never the internal cause).
            ApiError::Session(e) => e.to_string(),
            ApiError::Store(StoreError::Conflict) => "Esiste già un elemento con questo identificativo.".into(),
            ApiError::Invalid(m) => format!("Dati non validi: {m}"),
            ApiError::InvalidSchedule(m) => m.clone(),
            ApiError::OtherPractice => "Questa postazione amministra solo il proprio studio. Per un altro studio usa la postazione del suo amministratore o quella del fornitore del gestionale.".into(),
            ApiError::UserOfAnotherPractice { user } => format!("L'utente {user} è già configurato in tsgate per un altro studio. Per aggiungerlo anche a questo studio inserisci la stessa password e lo stesso PIN di Sistema TS che ha già (vengono solo confrontati, non cambiati), oppure chiedi al fornitore del gestionale di aggiungerlo."),
            ApiError::HoursFromFile => "Gli orari dello studio sono impostati nel file di configurazione di tsgate (sezione [working_hours]): si cambiano lì e valgono al riavvio. Ogni medico può comunque avere orari propri.".into(),
        }
    }

    /// The whole cause chain kept for the log, when there is a cause worth logging.
    pub fn cause_chain(&self) -> Option<String> {
        let source = match self {
            ApiError::Internal(c) => c.as_ref() as &(dyn std::error::Error + 'static),
            ApiError::Session(e @ SessionError::Internal { .. }) => e,
            ApiError::Store(e @ StoreError::Backend(_)) => e,
            _ => return None,
        };
        Some(describe_chain(source))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let cause = self.cause_chain();
        let message = self.message();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: &message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry = match &self {
            ApiError::RateLimited {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            ApiError::Session(SessionError::TooSoon { retry_at, .. }) => {
                let secs = (*retry_at - time::OffsetDateTime::now_utc()).whole_seconds();
                Some(secs.max(1) as u64)
            }
            _ => None,
        };
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ApiError::MissingToken | ApiError::InvalidToken) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tsgate\""),
            );
        }
        if let Some(chain) = cause {
            response.extensions_mut().insert(CauseChain {
                code: self.code(),
                chain,
            });
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        // Not even the rejection text is logged: serde quotes the offending value, which
        // may be a password or a PIN sent with the wrong type.
        tracing::debug!(status = rejection.status().as_u16(), "JSON body refused");
        ApiError::BadRequest(
            "il corpo deve essere un oggetto JSON con i campi previsti (vedi /api/v1/openapi.json)."
                .into(),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        tracing::debug!(status = rejection.status().as_u16(), "query refused");
        ApiError::BadRequest(
            "parametri non validi (le date vanno in formato RFC 3339, es. 2026-01-31T08:00:00Z)."
                .into(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        tracing::debug!(detail = %rejection.body_text(), "path refused");
        ApiError::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(e: ApiError) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
        let r = e.into_response();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap(), headers)
    }

    #[tokio::test]
    async fn mapping_of_every_case() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::MissingToken, 401, "missing_token"),
            (ApiError::InvalidToken, 401, "invalid_token"),
            (
                ApiError::NotAllowedForUser { user: "U1".into() },
                403,
                "not_allowed",
            ),
            (ApiError::AdminOnly, 403, "admin_only"),
            (ApiError::CodeNotVisible, 403, "code_not_visible"),
            (ApiError::UnknownUser, 404, "unknown_user"),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::BadRequest("x".into()), 400, "bad_request"),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (
                ApiError::RateLimited {
                    retry_after_seconds: 3,
                },
                429,
                "rate_limited",
            ),
            (ApiError::Timeout, 504, "timeout"),
            (ApiError::NotConfigured("admin"), 501, "not_configured"),
            (ApiError::internal("db down"), 500, "internal"),
            (SessionError::UnknownUser(uid()).into(), 404, "unknown_user"),
            (SessionError::NoCode(uid()).into(), 404, "no_code"),
            (
                SessionError::TooSoon {
                    when: "alle 10:42:07".into(),
                    retry_at: time::OffsetDateTime::now_utc() + time::Duration::seconds(60),
                }
                .into(),
                429,
                "too_soon",
            ),
            (
                SessionError::Unavailable {
                    message: "Sistema TS non risponde.".into(),
                }
                .into(),
                503,
                "upstream_unavailable",
            ),
            (SessionError::internal("bug").into(), 500, "internal"),
            (StoreError::Conflict.into(), 409, "already_exists"),
            (StoreError::NotFound("ws".into()).into(), 404, "not_found"),
            (StoreError::backend("disk").into(), 500, "internal"),
            (ApiError::Invalid("nome vuoto".into()), 400, "invalid"),
            (
                ApiError::InvalidSchedule("Orari non validi: x".into()),
                422,
                "invalid_schedule",
            ),
            (ApiError::HoursFromFile, 409, "hours_from_file"),
        ];
        for (error, status, code) in cases {
            let (s, body, _) = render(error).await;
            assert_eq!(s.as_u16(), status, "{body}");
            assert_eq!(body["error"]["code"], code);
            let message = body["error"]["message"].as_str().unwrap();
            assert!(!message.is_empty());
            assert_eq!(body.as_object().unwrap().len(), 1);
            assert_eq!(body["error"].as_object().unwrap().len(), 2);
        }
    }

    fn uid() -> tsgate_session::UserId {
        tsgate_session::UserId::new("PROVAX00X00X000Y").unwrap()
    }

    #[tokio::test]
    async fn domain_refusals_keep_their_code_and_message() {
        let (s, body, h) = render(
            SessionError::Rejected {
                reason: tsgate_session::RejectReason::Expired { at: None },
                message: "Il codice è scaduto alle 00:05: richiedine uno nuovo.".into(),
            }
            .into(),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "expired");
        assert_eq!(
            body["error"]["message"],
            "Il codice è scaduto alle 00:05: richiedine uno nuovo."
        );
        assert!(!h.contains_key(header::RETRY_AFTER));
        let (_, _, h) = render(
            SessionError::TooSoon {
                when: "alle 10:42:07".into(),
                retry_at: time::OffsetDateTime::now_utc() + time::Duration::seconds(90),
            }
            .into(),
        )
        .await;
        let secs: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=90).contains(&secs));
    }

    #[tokio::test]
    async fn internal_causes_stay_out_of_the_body() {
        for e in [
            ApiError::internal("sqlite: disk I/O error at /secret/path"),
            SessionError::internal("sqlite: disk I/O error at /secret/path").into(),
            StoreError::backend("sqlite /secret/path").into(),
        ] {
            // The cause travels with the response, for the request log only.
            let response = e.into_response();
            let chain = response
                .extensions()
                .get::<CauseChain>()
                .unwrap()
                .chain
                .clone();
            assert!(chain.contains("/secret/path"), "{chain}");
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert!(!String::from_utf8_lossy(&bytes).contains("/secret/path"));
        }
    }

    /// The status of every domain code (the mapping lives here, not in the domain).
    #[test]
    fn status_of_every_domain_error() {
        use tsgate_session::{BlockKind, FormatError, RejectReason};
        let now = time::OffsetDateTime::now_utc();
        let rejected = |reason| SessionError::Rejected {
            reason,
            message: "x".into(),
        };
        let cases: Vec<(SessionError, u16, &str)> = vec![
            (SessionError::UnknownUser(uid()), 404, "unknown_user"),
            (
                SessionError::CredentialsMissing(uid()),
                409,
                "credentials_missing",
            ),
            (SessionError::NoCode(uid()), 404, "no_code"),
            (
                SessionError::CodeActive {
                    until: "alle 10:00".into(),
                    expires_at: now,
                },
                409,
                "code_active",
            ),
            (
                SessionError::TooSoon {
                    when: "alle 10:00:00".into(),
                    retry_at: now,
                },
                429,
                "too_soon",
            ),
            (SessionError::Format(FormatError::Empty), 422, "format"),
            (rejected(RejectReason::NotFound), 422, "rejected"),
            (rejected(RejectReason::Superseded), 422, "rejected"),
            (rejected(RejectReason::Expired { at: None }), 422, "expired"),
            (rejected(RejectReason::Revoked), 422, "revoked"),
            (rejected(RejectReason::WrongUser), 422, "wrong_user"),
            (
                SessionError::CredentialsRefused {
                    kind: BlockKind::Password,
                    message: "x".into(),
                },
                423,
                "password_refused",
            ),
            (
                SessionError::CredentialsRefused {
                    kind: BlockKind::Pin,
                    message: "x".into(),
                },
                423,
                "pin_refused",
            ),
            (SessionError::NoCertifiedMail, 502, "no_certified_mail"),
            (SessionError::MailSendFailed, 502, "mail_send_failed"),
            (
                SessionError::Unavailable {
                    message: "x".into(),
                },
                503,
                "upstream_unavailable",
            ),
            (
                SessionError::Upstream {
                    code: "9999".into(),
                    message: "x".into(),
                },
                502,
                "upstream_error",
            ),
            (SessionError::internal("disk full"), 500, "internal"),
        ];
        for (e, status, code) in cases {
            assert_eq!(session_status(&e).as_u16(), status, "{e:?}");
            assert_eq!(e.code(), code, "{e:?}");
        }
    }

    #[tokio::test]
    async fn retry_after_and_www_authenticate() {
        let (_, _, h) = render(ApiError::RateLimited {
            retry_after_seconds: 7,
        })
        .await;
        assert_eq!(h[header::RETRY_AFTER], "7");
        let (_, _, h) = render(ApiError::InvalidToken).await;
        assert!(h.contains_key(header::WWW_AUTHENTICATE));
    }
}
