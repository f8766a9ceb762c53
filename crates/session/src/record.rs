//! The persisted session record of one key. The derived state names of the API come from
//! here (see [`crate::view`]); the record's shape makes impossible states unrepresentable:
//! there is at most one current code, and a replacement request is separate from it.

use sistemats::secret::SessionCode;
use time::OffsetDateTime;

use crate::auto::AutoState;
use crate::ids::{Actor, SessionKey};
use crate::level::Level;

/// The record of one key, shared by every workstation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// (user, `RICETTA-DEM`, application).
    pub key: SessionKey,
    /// Optimistic-concurrency version: 0 = never stored; each commit increments it.
    pub version: u64,
    /// The code in use (or why there is none).
    pub code: CodeSlot,
    /// A `create` in flight, or done and waiting for the mailed code.
    pub request: Option<CodeRequest>,
    /// When the last `create` was sent (for the minimum interval).
    pub last_create_at: Option<OffsetDateTime>,
    /// Set when Sistema TS refused the first factor: no automatic call until it changes.
    pub blocked: Option<CredentialsBlock>,
    /// The last problem, as the doctor should read it; cleared by the next success.
    pub last_error: Option<RecordedError>,
    /// Reachability of Sistema TS as seen through this key's calls.
    pub upstream: UpstreamHealth,
    /// The level workstations were last told, so that a change due to time alone
    /// (green to yellow) is announced once.
    pub announced_level: Option<Level>,
    /// `dataInizioValidita` of the newest code ever made current: an older code is never
    /// taken back, even after the newer one ended (codes never alternate).
    pub newest_valid_from: Option<OffsetDateTime>,
    /// What automatic requests did today (count, failures, backoff).
    pub auto: AutoState,
    /// The first moment at which time alone changes this record (expiry, the yellow level,
    /// a lost `create`, the re-verification of a suspect code): the periodic pass visits it
    /// then, and only then. `None`: nothing is pending. Set by [`crate::decide`] from
    /// [`crate::next_due`]; stores keep it in an indexed column.
    pub due_at: Option<OffsetDateTime>,
}

impl SessionRecord {
    /// A key that never had a code.
    pub fn new(key: SessionKey) -> Self {
        Self {
            key,
            version: 0,
            code: CodeSlot::Empty,
            request: None,
            last_create_at: None,
            blocked: None,
            last_error: None,
            upstream: UpstreamHealth::default(),
            announced_level: None,
            newest_valid_from: None,
            auto: AutoState::default(),
            due_at: None,
        }
    }

    /// The current code if it may be sent (active, or suspect while re-verifying).
    pub fn usable_code(&self) -> Option<&CurrentCode> {
        match &self.code {
            CodeSlot::Active(c) => Some(c),
            CodeSlot::Suspect { code, .. } => Some(code),
            CodeSlot::Empty | CodeSlot::Ended { .. } => None,
        }
    }

    /// Whether a `create` is in flight and not yet considered lost.
    pub fn create_in_flight(&self, now: OffsetDateTime, timeout: time::Duration) -> bool {
        self.create_alive_at()
            .is_some_and(|alive| now - alive < timeout)
    }

    /// When the `create` in flight was last known to be running (sent or renewed).
    pub fn create_alive_at(&self) -> Option<OffsetDateTime> {
        match &self.request {
            Some(CodeRequest {
                stage:
                    RequestStage::Creating {
                        started_at,
                        renewed_at,
                        ..
                    },
                ..
            }) => Some(renewed_at.map_or(*started_at, |r| r.max(*started_at))),
            _ => None,
        }
    }
}

/// The current code, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeSlot {
    /// Never had a code.
    Empty,
    /// Verified by `checkToken`.
    Active(CurrentCode),
    /// A business call returned 9101: re-verifying with `checkToken`.
    Suspect {
        /// The code under suspicion (still sent meanwhile).
        code: CurrentCode,
        /// When the 9101 was seen.
        since: OffsetDateTime,
        /// When the last re-verification was started.
        last_check_at: OffsetDateTime,
    },
    /// Not usable any more.
    Ended {
        /// Why.
        reason: EndReason,
        /// When (for `Expired`, the `dataFineValidita`).
        at: OffsetDateTime,
    },
}

/// Why a code ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Past `dataFineValidita`, or `checkToken` said so.
    Expired,
    /// Revoked here, on the portal, or by the first use of a newer code.
    Revoked,
    /// A code was entered and Sistema TS refused it, and no good code exists.
    Rejected,
}

impl EndReason {
    /// `expired`, `revoked` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Rejected => "rejected",
        }
    }

    /// Parses [`EndReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "expired" => Some(Self::Expired),
            "revoked" => Some(Self::Revoked),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A code verified by `checkToken`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentCode {
    /// The secret itself.
    pub code: SessionCode,
    /// `dataInizioValidita`.
    pub valid_from: OffsetDateTime,
    /// `dataFineValidita`: the expiry, never computed locally.
    pub valid_until: OffsetDateTime,
    /// When tsgate last verified it.
    pub verified_at: OffsetDateTime,
}

/// A request for a new code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRequest {
    /// When the request was made.
    pub requested_at: OffsetDateTime,
    /// Who made it.
    pub by: Actor,
    /// In flight or sent.
    pub stage: RequestStage,
}

/// Where a request is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestStage {
    /// `create` sent, no answer yet: this is the single-flight lease.
    Creating {
        /// When `create` was sent.
        started_at: OffsetDateTime,
        /// The process that sent it (`node#incarnation`, see
        /// [`crate::SessionManager::with_instance`]): when that process is known to be gone,
        /// its successor settles the request at once instead of waiting for the timeout.
        owner: Option<String>,
        /// When that process last said the call is still running: the lease runs
        /// [`crate::Policy::create_timeout`] from here (or from `started_at`), so a slow
        /// `create` keeps it and a dead process loses it.
        renewed_at: Option<OffsetDateTime>,
    },
    /// Sistema TS accepted; the code is on its way by mail.
    Sent {
        /// When Sistema TS answered.
        sent_at: OffsetDateTime,
    },
}

/// Which part of the first factor Sistema TS refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// HTTP 401.
    Password,
    /// A2F 301/302.
    Pin,
    /// HTTP 500 "Errore generico di autenticazione", 601/602.
    User,
}

impl BlockKind {
    /// `password_refused`, `pin_refused`, `user_refused`: also the API error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password_refused",
            Self::Pin => "pin_refused",
            Self::User => "user_refused",
        }
    }

    /// Parses [`BlockKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password_refused" => Some(Self::Password),
            "pin_refused" => Some(Self::Pin),
            "user_refused" => Some(Self::User),
            _ => None,
        }
    }
}

/// Sistema TS refused the credentials of revision `revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsBlock {
    /// What was refused.
    pub kind: BlockKind,
    /// When.
    pub at: OffsetDateTime,
    /// The credentials revision that was refused; a newer revision lifts the block.
    pub revision: i64,
}

/// An error as shown to every workstation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedError {
    /// Stable code (`password_refused`, `upstream_unavailable`, …).
    pub code: String,
    /// Italian text with the next step.
    pub message: String,
    /// When it happened.
    pub at: OffsetDateTime,
}

/// Last success and outage start, for "Sistema TS non risponde (ultimo contatto alle …)".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamHealth {
    /// Last answer from Sistema TS.
    pub last_success_at: Option<OffsetDateTime>,
    /// Start of the current outage.
    pub down_since: Option<OffsetDateTime>,
}
