//! Typed outcomes of the three operations: what callers should match on.

use time::OffsetDateTime;

use crate::secret::SessionCode;

use super::codes::{A2fError, A2fErrorKind, Severity};
use super::dates::parse_revoke_date;
use super::response::{Errore, Response};
use super::service::{COMM_TOKEN, INFO_EMAIL_STATUS, INFO_LAST_REVOKE};

/// Start and end of an ID-SESSIONE's validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// `dataInizioValidita`.
    pub from: OffsetDateTime,
    /// `dataFineValidita`.
    pub until: OffsetDateTime,
}

/// Result of `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Production: the code was e-mailed to the certified address.
    Sent {
        /// `info/emailStatus`, if present.
        email_status: Option<String>,
    },
    /// Test environment: the code came back in `comunicazioni` (`token`).
    Issued {
        /// The new ID-SESSIONE.
        code: SessionCode,
        /// `info/emailStatus`, if present.
        email_status: Option<String>,
    },
    /// Refused; the error says why and what to do.
    Refused(A2fError),
}

/// Result of `checkToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// `stato` 0: usable until `valid_until`.
    Valid {
        /// `dataInizioValidita`.
        valid_from: OffsetDateTime,
        /// `dataFineValidita`.
        valid_until: OffsetDateTime,
    },
    /// `stato` 1 or warning 06.
    Revoked {
        /// Validity period, when the server sent `infoToken`.
        validity: Option<Validity>,
    },
    /// `stato` 2 or warning 07.
    Expired {
        /// Validity period, when the server sent `infoToken`.
        validity: Option<Validity>,
    },
    /// A `stato` not documented: treat as unusable.
    Unknown {
        /// `stato`.
        state: i32,
        /// `descrizione`.
        description: String,
        /// Validity period.
        validity: Validity,
    },
    /// Refused (unknown code, wrong user, …).
    Refused(A2fError),
}

impl TokenStatus {
    /// Whether the code can be used on business calls now.
    pub fn is_usable(&self) -> bool {
        matches!(self, TokenStatus::Valid { .. })
    }
}

/// Result of `revoke`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// Warning 05: already revoked (or no longer valid) before this call.
    AlreadyRevoked {
        /// `info/lastRevokePreviousDate`, when present and readable.
        at: Option<OffsetDateTime>,
    },
    /// Refused.
    Refused(A2fError),
}

/// Warnings are announced by `W`, but some servers omit `tipoErrore`: the codes that are
/// warnings by definition count as warnings too.
fn is_warning(e: &A2fError) -> bool {
    e.severity == Severity::Warning
        || matches!(
            e.kind,
            A2fErrorKind::AlreadyRevoked | A2fErrorKind::Revoked | A2fErrorKind::Expired
        )
}

fn errors(response: &Response) -> Vec<A2fError> {
    response.errori.iter().map(Errore::to_error).collect()
}

/// The error to report for a negative response: the first non-warning, else the first
/// error, else a synthetic one from `codEsito`.
fn refusal(response: &Response, errors: &[A2fError]) -> A2fError {
    errors
        .iter()
        .find(|e| !is_warning(e))
        .or_else(|| errors.first())
        .cloned()
        .unwrap_or_else(|| A2fError::new(&response.cod_esito, Severity::Unknown, ""))
}

impl Response {
    /// The typed outcome of a `create` response.
    pub fn create_outcome(&self) -> CreateOutcome {
        let errors = errors(self);
        if !self.is_positive() || errors.iter().any(|e| !is_warning(e)) {
            return CreateOutcome::Refused(refusal(self, &errors));
        }
        let email_status = self.info_value(INFO_EMAIL_STATUS).map(str::to_owned);
        match self.comunicazione(COMM_TOKEN).map(str::trim) {
            Some(code) if !code.is_empty() => CreateOutcome::Issued {
                code: SessionCode::new(code),
                email_status,
            },
            _ => CreateOutcome::Sent { email_status },
        }
    }

    /// The typed outcome of a `checkToken` response.
    pub fn token_status(&self) -> TokenStatus {
        let errors = errors(self);
        if errors.iter().any(|e| !is_warning(e)) {
            return TokenStatus::Refused(refusal(self, &errors));
        }
        let validity = self.info_token.as_ref().map(|t| Validity {
            from: t.data_inizio_validita,
            until: t.data_fine_validita,
        });
        if errors.iter().any(|e| e.kind == A2fErrorKind::Revoked) {
            return TokenStatus::Revoked { validity };
        }
        if errors.iter().any(|e| e.kind == A2fErrorKind::Expired) {
            return TokenStatus::Expired { validity };
        }
        match (&self.info_token, validity) {
            (Some(t), Some(v)) => match t.stato {
                0 if self.is_positive() => TokenStatus::Valid {
                    valid_from: v.from,
                    valid_until: v.until,
                },
                1 => TokenStatus::Revoked { validity: Some(v) },
                2 => TokenStatus::Expired { validity: Some(v) },
                state => TokenStatus::Unknown {
                    state,
                    description: t.descrizione.clone(),
                    validity: v,
                },
            },
            _ => TokenStatus::Refused(refusal(self, &errors)),
        }
    }

    /// The typed outcome of a `revoke` response.
    pub fn revoke_outcome(&self) -> RevokeOutcome {
        let errors = errors(self);
        if errors.iter().any(|e| !is_warning(e)) {
            return RevokeOutcome::Refused(refusal(self, &errors));
        }
        if errors.iter().any(|e| {
            matches!(
                e.kind,
                A2fErrorKind::AlreadyRevoked | A2fErrorKind::Revoked | A2fErrorKind::Expired
            )
        }) {
            let at = self
                .info_value(INFO_LAST_REVOKE)
                .and_then(parse_revoke_date);
            return RevokeOutcome::AlreadyRevoked { at };
        }
        if self.is_positive() {
            RevokeOutcome::Revoked
        } else {
            RevokeOutcome::Refused(refusal(self, &errors))
        }
    }
}
