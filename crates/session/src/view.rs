//! What workstations see of a session: never the code.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auto::AutoView;
use crate::ids::{Actor, Application, UserId};
pub use crate::level::Level;
use crate::policy::Policy;
use crate::record::{CodeSlot, EndReason, SessionRecord};

/// The state names of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    /// No usable code.
    None,
    /// `create` sent or done; waiting for the code.
    AwaitingCode,
    /// Verified code in use (see `pending` for a replacement on its way).
    Active,
    /// 9101 seen; re-verifying.
    Suspect,
    /// Past its validity.
    Expired,
    /// Revoked.
    Revoked,
    /// A code was refused and none is usable.
    Rejected,
    /// Sistema TS refused password, PIN or user: nothing happens until they are changed.
    CredentialsRefused,
}

impl StateName {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::AwaitingCode => "awaiting_code",
            Self::Active => "active",
            Self::Suspect => "suspect",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Rejected => "rejected",
            Self::CredentialsRefused => "credentials_refused",
        }
    }
}

/// `last_error` of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewError {
    /// Stable code.
    pub code: String,
    /// Italian message with the next step.
    pub message: String,
}

/// The session of one user as every workstation sees it (JSON of `GET …/session`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Sistema TS user id.
    pub user: UserId,
    /// `PRESCRITTORE` or `EROGATORE`.
    pub application: Application,
    /// State name.
    pub state: StateName,
    /// Colour.
    pub level: Level,
    /// `dataFineValidita` of the code in use (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Seconds until `expires_at` (0 when past).
    pub remaining_seconds: Option<i64>,
    /// When the card turns yellow: `expires_at` minus the configured warning window, so that
    /// pages counting down on their own change colour when the server would.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub yellow_from: Option<OffsetDateTime>,
    /// A replacement was requested while a code is in use.
    pub pending: bool,
    /// When the current request was made.
    #[serde(with = "time::serde::rfc3339::option")]
    pub requested_at: Option<OffsetDateTime>,
    /// Who made it (`ws:<id>`, `cli`, …).
    pub requested_by: Option<Actor>,
    /// The last problem.
    pub last_error: Option<ViewError>,
    /// Password expiry warning (from ten days before).
    pub password_warning: Option<String>,
    /// Automatic requests: on or off (and why), and the next one planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoView>,
}

/// The part of a view that changes only through events (not through the passing of
/// seconds): a notification is due when it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// State name.
    pub state: StateName,
    /// Colour.
    pub level: Level,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Replacement pending.
    pub pending: bool,
    /// Request time.
    pub requested_at: Option<OffsetDateTime>,
    /// Last error code and message.
    pub last_error: Option<(String, String)>,
}

/// Derives state, level and the rest from a record.
pub fn snapshot(record: &SessionRecord, now: OffsetDateTime, policy: &Policy) -> Snapshot {
    let requested = record.request.as_ref();
    let (state, expires_at) = match (&record.code, record.blocked.is_some()) {
        (_, true) => (
            StateName::CredentialsRefused,
            record.usable_code().map(|c| c.valid_until),
        ),
        (CodeSlot::Active(c), false) => (StateName::Active, Some(c.valid_until)),
        (CodeSlot::Suspect { code, .. }, false) => (StateName::Suspect, Some(code.valid_until)),
        (CodeSlot::Empty | CodeSlot::Ended { .. }, false) if requested.is_some() => {
            (StateName::AwaitingCode, None)
        }
        (CodeSlot::Empty, false) => (StateName::None, None),
        (CodeSlot::Ended { reason, .. }, false) => (
            match reason {
                EndReason::Expired => StateName::Expired,
                EndReason::Revoked => StateName::Revoked,
                EndReason::Rejected => StateName::Rejected,
            },
            None,
        ),
    };
    let level = match state {
        StateName::Active => match expires_at {
            Some(until) if until <= now => Level::Red,
            Some(until) if until - now <= policy.yellow_before => Level::Yellow,
            Some(_) => Level::Green,
            None => Level::Red,
        },
        StateName::Suspect => match expires_at {
            Some(until) if until > now => Level::Yellow,
            _ => Level::Red,
        },
        _ => Level::Red,
    };
    Snapshot {
        state,
        level,
        expires_at,
        pending: requested.is_some() && record.usable_code().is_some(),
        requested_at: requested.map(|r| r.requested_at),
        last_error: record
            .last_error
            .as_ref()
            .map(|e| (e.code.clone(), e.message.clone())),
    }
}

impl SessionView {
    /// The view of `record` at `now`; `password_warning` comes from the user's profile.
    pub fn build(
        record: &SessionRecord,
        now: OffsetDateTime,
        policy: &Policy,
        password_warning: Option<String>,
    ) -> Self {
        let s = snapshot(record, now, policy);
        Self {
            user: record.key.user.clone(),
            application: record.key.application,
            state: s.state,
            level: s.level,
            expires_at: s.expires_at,
            remaining_seconds: s.expires_at.map(|t| (t - now).whole_seconds().max(0)),
            yellow_from: s.expires_at.map(|t| t - policy.yellow_before),
            pending: s.pending,
            requested_at: s.requested_at,
            requested_by: record.request.as_ref().map(|r| r.by.clone()),
            last_error: s
                .last_error
                .map(|(code, message)| ViewError { code, message }),
            password_warning,
            auto: None,
        }
    }

    /// With the automatic part.
    pub fn with_auto(mut self, auto: Option<AutoView>) -> Self {
        self.auto = auto;
        self
    }
}
