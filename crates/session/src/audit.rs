//! Audit events: who did what to whose code, when, with which outcome. Never the code itself
//! (at most its [`SessionCode::hint`](sistemats::secret::SessionCode::hint)).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{Actor, Application, UserId};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    /// A new code was requested (`create`), joined, refused, or its `create` answered.
    Requested,
    /// A code was typed, pasted or found in the mailbox.
    Inserted,
    /// `checkToken` confirmed a code.
    Verified,
    /// A code was refused (format, Sistema TS, wrong user, older than the current one).
    Rejected,
    /// A code was sent on a business call (proxy), with the outcome (`ok`, `9101`).
    Used,
    /// A code was revoked (here or found revoked).
    Revoked,
    /// A code reached its `dataFineValidita`.
    Expired,
    /// A doctor copied the code for software that does not use tsgate.
    Copied,
}

impl AuditKind {
    /// Every kind, for filters and tests.
    pub const ALL: [AuditKind; 8] = [
        Self::Requested,
        Self::Inserted,
        Self::Verified,
        Self::Rejected,
        Self::Used,
        Self::Revoked,
        Self::Expired,
        Self::Copied,
    ];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Inserted => "inserted",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Used => "used",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Copied => "copied",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not an audit kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit kind")]
pub struct UnknownAuditKind;

impl FromStr for AuditKind {
    type Err = UnknownAuditKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownAuditKind)
    }
}

/// One audit line, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Whose session.
    pub user: UserId,
    /// Prescriber or dispenser.
    pub application: Application,
    /// Who did it (workstation, mailbox, cli, system).
    pub actor: Actor,
    /// What.
    pub kind: AuditKind,
    /// Short outcome: `ok`, `sent`, `joined`, `mailed`, `issued`, `too_soon`, an error code…
    pub outcome: String,
    /// `…2920`: the last four characters of the code concerned, if any.
    pub code_hint: Option<String>,
}
