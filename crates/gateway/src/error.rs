//! The one error type of the JSON API.
//!
//! Each case says three things: the HTTP status, a stable machine `code`, and an Italian
//! message a doctor understands, with the next step. The internal cause (database error,
//! upstream detail) is kept apart and written only to the log, never to the response:
//! the split follows crates.io's `src/util/errors.rs`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use tsgate_session::SessionError;

use crate::ports::{AdminError, BackendError};

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
    /// A refusal of the admin backend.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A failure inside tsgate; the cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        ApiError::Internal(e.0)
    }
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
            ApiError::Session(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::Admin(e) => match e {
                AdminError::NotFound => StatusCode::NOT_FOUND,
                AdminError::AlreadyExists => StatusCode::CONFLICT,
                AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
                AdminError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The stable machine code (`error.code`).
    pub fn code(&self) -> &str {
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
            ApiError::Admin(e) => match e {
                AdminError::NotFound => "not_found",
                AdminError::AlreadyExists => "already_exists",
                AdminError::Invalid(_) => "invalid",
                AdminError::Backend(_) => "internal",
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
            ApiError::NotFound | ApiError::Admin(AdminError::NotFound) => "Risorsa non trovata. Controlla l'indirizzo.".into(),
            ApiError::BadRequest(m) => format!("Richiesta non valida: {m}"),
            ApiError::PayloadTooLarge => "Richiesta troppo grande: invia solo i dati richiesti.".into(),
            ApiError::RateLimited { retry_after_seconds } => format!("Troppe richieste da questa postazione. Attendi {retry_after_seconds} secondi e riprova."),
            ApiError::Timeout => "tsgate non ha completato l'operazione in tempo. Riprova tra poco.".into(),
            ApiError::NotConfigured(what) => format!("Funzione non disponibile su questo server tsgate ({what}). Contatta l'amministratore."),
            ApiError::Internal(_) | ApiError::Admin(AdminError::Backend(_)) => INTERNAL_MESSAGE.into(),
            // The domain's Display is its Italian message (never the internal cause).
            ApiError::Session(e) => e.to_string(),
            ApiError::Admin(e) => match e {
                AdminError::AlreadyExists => "Esiste già un elemento con questo identificativo.".into(),
                AdminError::Invalid(m) => format!("Dati non validi: {m}"),
                AdminError::NotFound | AdminError::Backend(_) => INTERNAL_MESSAGE.into(),
            },
        }
    }

    /// The cause kept for the log, when there is one worth logging.
    fn log_cause(&self) -> Option<&str> {
        match self {
            ApiError::Internal(c) => Some(c),
            ApiError::Session(e) => e.cause(),
            ApiError::Admin(AdminError::Backend(BackendError(c))) => Some(c),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Some(cause) = self.log_cause() {
            if status.is_server_error() {
                tracing::error!(code = self.code(), %cause, "request failed");
            } else {
                tracing::warn!(code = self.code(), %cause, "request refused");
            }
        }
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

/// Fallback for unknown paths: JSON 404 instead of an empty body, except under `/ts`
/// where a proxy client without a token in the path gets the proxy's SOAP Fault (403).
pub(crate) async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let path = uri.path();
    if path == "/ts" || path.starts_with("/ts/") {
        return crate::proxy::no_workstation_fault();
    }
    ApiError::NotFound.into_response()
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
            (ApiError::Internal("db down".into()), 500, "internal"),
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
            (
                SessionError::Internal {
                    cause: "bug".into(),
                }
                .into(),
                500,
                "internal",
            ),
            (AdminError::AlreadyExists.into(), 409, "already_exists"),
            (
                AdminError::Invalid("nome vuoto".into()).into(),
                400,
                "invalid",
            ),
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
            ApiError::Internal("sqlite: disk I/O error at /secret/path".into()),
            SessionError::Internal {
                cause: "sqlite: disk I/O error at /secret/path".into(),
            }
            .into(),
            AdminError::Backend(BackendError("sqlite /secret/path".into())).into(),
        ] {
            let (_, body, _) = render(e).await;
            assert!(!body.to_string().contains("/secret/path"));
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
