//! Errors of session operations: each has a stable code and an Italian message that says
//! what to do next. Internal causes stay out of the message: they are kept as the error's
//! `source`, for the log. (Which HTTP status each code gets is the gateway's business.)

use std::error::Error as StdError;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::code::FormatError;
use crate::ids::UserId;
use crate::italy;
use crate::record::BlockKind;

/// Why Sistema TS refused a typed or pasted code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Sistema TS does not know the code for this user.
    NotFound,
    /// A newer code is already in use: going back would alternate codes.
    Superseded,
    /// Past its validity.
    Expired {
        /// `dataFineValidita` if known.
        at: Option<OffsetDateTime>,
    },
    /// Revoked.
    Revoked,
    /// The code belongs to another user.
    WrongUser,
}

impl RejectReason {
    /// A code that was good once (replaced, expired, revoked): pasted while a newer one is in
    /// use it is old mail, not a problem.
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            Self::Superseded | Self::Expired { .. } | Self::Revoked
        )
    }

    /// The 422 reason of the API: `rejected`, `expired`, `revoked`, `wrong_user`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotFound | Self::Superseded => "rejected",
            Self::Expired { .. } => "expired",
            Self::Revoked => "revoked",
            Self::WrongUser => "wrong_user",
        }
    }
}

/// A session operation that did not succeed.
///
/// `Display` is the Italian message for the doctor; [`SessionError::code`] is the stable
/// machine-readable code. Cheap to clone: requests that join a `create` in flight all get
/// its error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SessionError {
    /// The user is not configured in tsgate. HTTP 404.
    #[error("L'utente {0} non è configurato in tsgate: aggiungilo con «tsgate user add».")]
    UnknownUser(UserId),
    /// Password and PIN were never entered. HTTP 409.
    #[error(
        "Password e PIN di Sistema TS dell'utente {0} non sono configurati: inseriscili nelle impostazioni dell'utente."
    )]
    CredentialsMissing(UserId),
    /// There is no usable code (copy, proxy). HTTP 404.
    #[error("Nessun codice valido per l'utente {0}: richiedine uno nuovo.")]
    NoCode(UserId),
    /// A valid code exists and the request did not confirm its replacement. HTTP 409.
    #[error(
        "C'è già un codice valido fino {until}: confermi di volerlo sostituire? Il nuovo codice prenderà il posto di quello attuale appena verificato."
    )]
    CodeActive {
        /// "alle 11:51" in Italian time.
        until: String,
        /// The expiry itself.
        expires_at: OffsetDateTime,
    },
    /// The minimum interval between two requests has not passed. HTTP 429.
    #[error(
        "Un codice è stato richiesto da poco: controlla la casella di posta certificata. Potrai richiederne un altro {when}."
    )]
    TooSoon {
        /// "alle 10:42:07".
        when: String,
        /// When a new request is possible (for `Retry-After`).
        retry_at: OffsetDateTime,
    },
    /// The day's automatic requests are used up (a held call asked for one more).
    #[error("{0}")]
    AutoLimit(String),
    /// The pasted text is not a code. HTTP 422, reason `format`.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Sistema TS refused the code; nothing was replaced. HTTP 422 with the reason.
    #[error("{message}")]
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The Italian message, with the time for an expired code.
        message: String,
    },
    /// Sistema TS refused the first factor: tsgate makes no automatic call until it is
    /// changed. HTTP 423.
    #[error("{message}")]
    CredentialsRefused {
        /// Password, PIN or user.
        kind: BlockKind,
        /// The Italian message.
        message: String,
    },
    /// A2F 200. HTTP 502.
    #[error(
        "Sistema TS non ha un indirizzo e-mail certificato per questo utente: certificalo sul portale Sistema TS (Sicurezza → Certifica mail), poi richiedi di nuovo il codice."
    )]
    NoCertifiedMail,
    /// A2F 100. HTTP 502.
    #[error(
        "Sistema TS non è riuscito a inviare la mail con il codice: riprova tra qualche minuto."
    )]
    MailSendFailed,
    /// Timeout, 5xx, connection refused. HTTP 503.
    #[error("{message}")]
    Unavailable {
        /// "Sistema TS non risponde …" with the time of the last success.
        message: String,
    },
    /// Another A2F error. HTTP 502.
    #[error("Sistema TS ha risposto con l'errore {code}: {message}")]
    Upstream {
        /// A2F `codEsito`.
        code: String,
        /// Sistema TS' description.
        message: String,
    },
    /// Database or internal failure. HTTP 500. The cause is for the log only.
    #[error("Errore interno di tsgate: riprova; se si ripete, contatta l'assistenza.")]
    Internal {
        /// For the log; never shown to the doctor.
        #[source]
        source: Arc<dyn StdError + Send + Sync + 'static>,
    },
}

impl SessionError {
    /// Stable machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownUser(_) => "unknown_user",
            Self::CredentialsMissing(_) => "credentials_missing",
            Self::NoCode(_) => "no_code",
            Self::CodeActive { .. } => "code_active",
            Self::TooSoon { .. } => "too_soon",
            Self::AutoLimit(_) => "auto_limit",
            Self::Format(_) => "format",
            Self::Rejected { reason, .. } => reason.as_str(),
            Self::CredentialsRefused { kind, .. } => kind.as_str(),
            Self::NoCertifiedMail => "no_certified_mail",
            Self::MailSendFailed => "mail_send_failed",
            Self::Unavailable { .. } => "upstream_unavailable",
            Self::Upstream { .. } => "upstream_error",
            Self::Internal { .. } => "internal",
        }
    }

    /// An internal failure caused by `source` (kept for the log).
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self::Internal {
            source: Arc::from(source.into()),
        }
    }

    pub(crate) fn rejected(reason: RejectReason, now: OffsetDateTime) -> Self {
        let message = match &reason {
            RejectReason::NotFound => {
                "Sistema TS non riconosce questo codice per questo utente: controlla di averlo copiato per intero dall'ultima mail ricevuta.".to_owned()
            }
            RejectReason::Superseded => {
                "Questo codice è stato sostituito da uno più recente, già in uso: non serve inserirlo.".to_owned()
            }
            RejectReason::Expired { at: Some(at) } => format!(
                "Il codice è scaduto {}: richiedine uno nuovo.",
                italy::at_time(*at, now)
            ),
            RejectReason::Expired { at: None } => {
                "Il codice è scaduto: richiedine uno nuovo.".to_owned()
            }
            RejectReason::Revoked => {
                "Il codice è stato revocato: richiedine uno nuovo.".to_owned()
            }
            RejectReason::WrongUser => {
                "Questo codice appartiene a un altro utente: inserisci il codice ricevuto nella mail di questo utente.".to_owned()
            }
        };
        Self::Rejected { reason, message }
    }

    /// An old code pasted while a newer one is in use (until `active_until`): the doctor is
    /// told that nothing needs doing.
    pub(crate) fn stale_while_active(
        reason: RejectReason,
        active_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Self {
        let message = format!(
            "Questo è un codice vecchio, già sostituito: il codice attivo resta valido fino {} e \
             tutte le postazioni lo stanno usando. Non serve fare nulla.",
            italy::until_time(active_until, now)
        );
        Self::Rejected { reason, message }
    }

    pub(crate) fn credentials_refused(kind: BlockKind) -> Self {
        let message = match kind {
            BlockKind::Password => {
                "Sistema TS ha rifiutato la password: è scaduta o errata. Cambiala sul portale Sistema TS se è scaduta e aggiornala in tsgate; fino ad allora tsgate non farà altri tentativi, per non far bloccare l'utenza."
            }
            BlockKind::Pin => {
                "Sistema TS ha rifiutato il PIN: correggilo nelle impostazioni dell'utente in tsgate; fino ad allora tsgate non farà altri tentativi, per non far bloccare l'utenza."
            }
            BlockKind::User => {
                "Sistema TS non riconosce l'utente con questi dati: controlla identificativo, codice fiscale, regione e ASL nelle impostazioni dell'utente; fino ad allora tsgate non farà altri tentativi."
            }
        };
        Self::CredentialsRefused {
            kind,
            message: message.to_owned(),
        }
    }

    pub(crate) fn unavailable(last_success: Option<OffsetDateTime>, now: OffsetDateTime) -> Self {
        let message = match last_success {
            Some(t) => format!(
                "Sistema TS non risponde (ultimo contatto riuscito {}): riprova tra qualche minuto, tsgate riprende da solo appena torna disponibile.",
                italy::at_time(t, now)
            ),
            None => "Sistema TS non risponde: riprova tra qualche minuto, tsgate riprende da solo appena torna disponibile.".to_owned(),
        };
        Self::Unavailable { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn codes_and_messages() {
        let now = datetime!(2026-11-27 08:00 UTC);
        let cases: Vec<(SessionError, &str)> = vec![
            (
                SessionError::UnknownUser(UserId::new("X").unwrap()),
                "unknown_user",
            ),
            (
                SessionError::CredentialsMissing(UserId::new("X").unwrap()),
                "credentials_missing",
            ),
            (SessionError::NoCode(UserId::new("X").unwrap()), "no_code"),
            (
                SessionError::CodeActive {
                    until: "alle 10:00".into(),
                    expires_at: now,
                },
                "code_active",
            ),
            (
                SessionError::TooSoon {
                    when: "alle 10:00:00".into(),
                    retry_at: now,
                },
                "too_soon",
            ),
            (SessionError::AutoLimit("limite".into()), "auto_limit"),
            (SessionError::Format(FormatError::Empty), "format"),
            (
                SessionError::rejected(RejectReason::NotFound, now),
                "rejected",
            ),
            (
                SessionError::rejected(RejectReason::Superseded, now),
                "rejected",
            ),
            (
                SessionError::rejected(RejectReason::Expired { at: None }, now),
                "expired",
            ),
            (
                SessionError::rejected(RejectReason::Revoked, now),
                "revoked",
            ),
            (
                SessionError::rejected(RejectReason::WrongUser, now),
                "wrong_user",
            ),
            (
                SessionError::credentials_refused(BlockKind::Password),
                "password_refused",
            ),
            (
                SessionError::credentials_refused(BlockKind::Pin),
                "pin_refused",
            ),
            (SessionError::NoCertifiedMail, "no_certified_mail"),
            (SessionError::MailSendFailed, "mail_send_failed"),
            (SessionError::unavailable(None, now), "upstream_unavailable"),
            (
                SessionError::Upstream {
                    code: "9999".into(),
                    message: "x".into(),
                },
                "upstream_error",
            ),
            (SessionError::internal("disk full"), "internal"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e:?}");
            assert!(!e.to_string().is_empty());
        }
        let internal = SessionError::internal("disk full");
        assert!(!internal.to_string().contains("disk"));
        assert_eq!(
            std::error::Error::source(&internal).map(ToString::to_string),
            Some("disk full".to_owned())
        );
    }

    #[test]
    fn expired_message_has_the_time() {
        let now = datetime!(2026-11-27 08:00 UTC);
        let e = SessionError::rejected(
            RejectReason::Expired {
                at: Some(datetime!(2026-11-26 23:05 UTC)),
            },
            now,
        );
        assert_eq!(
            e.to_string(),
            "Il codice è scaduto alle 00:05: richiedine uno nuovo."
        );
    }
}
