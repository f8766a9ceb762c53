//! A session record as both backends store it: the JSON of its non-secret part (`state`),
//! the code sealed apart (`code_enc`, slot `sessions.code_enc.<user>/<application>`), and the
//! version that the compare-and-swap checks. One form, so that a database moves from one
//! backend to the other by copying rows.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::serde::rfc3339;
use tsgate_session::auto::AutoState;
use tsgate_session::{
    Actor, Application, BlockKind, CodeRequest, CodeSlot, CredentialsBlock, CurrentCode, EndReason,
    Level, RecordedError, RequestStage, SessionCode, SessionKey, SessionRecord, UpstreamHealth,
    UserId,
};

use crate::crypto::{KeyRing, Slot};
use crate::error::{Error, Result};

/// The column of the sealed code.
pub(crate) const CODE_COLUMN: &str = "code_enc";

/// The row key of a session in its code's [`Slot`]: `<user>/<application>`.
pub(crate) fn row_key(key: &SessionKey) -> String {
    format!("{}/{}", key.user, key.application)
}

/// The slot of the code of the session whose [`row_key`] is `row`.
pub(crate) fn code_slot(row: &str) -> Slot<'_> {
    Slot {
        table: "sessions",
        column: CODE_COLUMN,
        row,
    }
}

/// The `state` column of `record`: everything but the code, as JSON.
pub(crate) fn encode_state(record: &SessionRecord) -> Result<String> {
    serde_json::to_string(&to_stored(record)).map_err(|e| Error::Corrupt(e.to_string()))
}

/// The `code_enc` column of `record`: its usable code sealed under the current key, if any.
pub(crate) fn seal_code(record: &SessionRecord, keys: &KeyRing) -> Option<Vec<u8>> {
    let row = row_key(&record.key);
    record
        .usable_code()
        .map(|c| keys.seal(c.code.expose_secret().as_bytes(), code_slot(&row)))
}

/// The key of a session row from its `user_id` and `application` columns.
pub(crate) fn session_key((user, application): (String, String)) -> Result<SessionKey> {
    Ok(SessionKey::new(
        UserId::new(user).map_err(|e| Error::Corrupt(e.to_string()))?,
        application
            .parse::<Application>()
            .map_err(|e| Error::Corrupt(e.to_string()))?,
    ))
}

/// The record of `key` from its stored columns (`due_at_ms`: [`SessionRecord::due_at`]).
pub(crate) fn decode_record(
    key: &SessionKey,
    version: i64,
    state: &str,
    sealed: Option<&[u8]>,
    due_at_ms: Option<i64>,
    keys: &KeyRing,
) -> Result<SessionRecord> {
    let stored: StoredState =
        serde_json::from_str(state).map_err(|e| Error::Corrupt(format!("session {key}: {e}")))?;
    let code = match sealed {
        None => None,
        Some(sealed) => {
            let row = row_key(key);
            let clear = keys.open_string(sealed, code_slot(&row))?;
            Some(SessionCode::new(clear.as_str()))
        }
    };
    let mut record = from_stored(
        key.clone(),
        u64::try_from(version).unwrap_or(0),
        stored,
        code,
    )?;
    record.due_at = due_at_ms.map(super::from_ms).transpose()?;
    Ok(record)
}

#[derive(Serialize, Deserialize)]
struct Validity {
    #[serde(with = "rfc3339")]
    valid_from: OffsetDateTime,
    #[serde(with = "rfc3339")]
    valid_until: OffsetDateTime,
    #[serde(with = "rfc3339")]
    verified_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StoredSlot {
    Empty,
    Active(Validity),
    Suspect {
        #[serde(flatten)]
        validity: Validity,
        #[serde(with = "rfc3339")]
        since: OffsetDateTime,
        #[serde(with = "rfc3339")]
        last_check_at: OffsetDateTime,
    },
    Ended {
        reason: String,
        #[serde(with = "rfc3339")]
        at: OffsetDateTime,
    },
}

#[derive(Serialize, Deserialize)]
struct StoredRequest {
    #[serde(with = "rfc3339")]
    requested_at: OffsetDateTime,
    by: Actor,
    #[serde(with = "rfc3339::option")]
    creating_since: Option<OffsetDateTime>,
    /// The process whose `create` it is (absent in records written before 0.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creating_owner: Option<String>,
    /// When its process last said the `create` is still running (absent before 0.2).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    creating_renewed: Option<OffsetDateTime>,
    #[serde(with = "rfc3339::option")]
    sent_at: Option<OffsetDateTime>,
}

#[derive(Serialize, Deserialize)]
struct StoredBlock {
    kind: String,
    #[serde(with = "rfc3339")]
    at: OffsetDateTime,
    revision: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredError {
    code: String,
    message: String,
    #[serde(with = "rfc3339")]
    at: OffsetDateTime,
}

/// The record without its code: nothing secret, so it can be plain JSON.
#[derive(Serialize, Deserialize)]
struct StoredState {
    slot: StoredSlot,
    request: Option<StoredRequest>,
    #[serde(with = "rfc3339::option")]
    last_create_at: Option<OffsetDateTime>,
    blocked: Option<StoredBlock>,
    last_error: Option<StoredError>,
    #[serde(with = "rfc3339::option")]
    last_success_at: Option<OffsetDateTime>,
    #[serde(with = "rfc3339::option")]
    down_since: Option<OffsetDateTime>,
    announced_level: Option<Level>,
    #[serde(default, with = "rfc3339::option")]
    newest_valid_from: Option<OffsetDateTime>,
    /// Automatic requests of the day (absent in records written before 0.2).
    #[serde(default, skip_serializing_if = "AutoState::is_empty")]
    auto: AutoState,
}

fn validity(c: &CurrentCode) -> Validity {
    Validity {
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        verified_at: c.verified_at,
    }
}

fn to_stored(r: &SessionRecord) -> StoredState {
    StoredState {
        slot: match &r.code {
            CodeSlot::Empty => StoredSlot::Empty,
            CodeSlot::Active(c) => StoredSlot::Active(validity(c)),
            CodeSlot::Suspect {
                code,
                since,
                last_check_at,
            } => StoredSlot::Suspect {
                validity: validity(code),
                since: *since,
                last_check_at: *last_check_at,
            },
            CodeSlot::Ended { reason, at } => StoredSlot::Ended {
                reason: reason.as_str().to_owned(),
                at: *at,
            },
        },
        request: r.request.as_ref().map(|q| StoredRequest {
            requested_at: q.requested_at,
            by: q.by.clone(),
            creating_since: match q.stage {
                RequestStage::Creating { started_at, .. } => Some(started_at),
                RequestStage::Sent { .. } => None,
            },
            creating_owner: match &q.stage {
                RequestStage::Creating { owner, .. } => owner.clone(),
                RequestStage::Sent { .. } => None,
            },
            creating_renewed: match q.stage {
                RequestStage::Creating { renewed_at, .. } => renewed_at,
                RequestStage::Sent { .. } => None,
            },
            sent_at: match q.stage {
                RequestStage::Sent { sent_at } => Some(sent_at),
                RequestStage::Creating { .. } => None,
            },
        }),
        last_create_at: r.last_create_at,
        blocked: r.blocked.as_ref().map(|b| StoredBlock {
            kind: b.kind.as_str().to_owned(),
            at: b.at,
            revision: b.revision,
        }),
        last_error: r.last_error.as_ref().map(|e| StoredError {
            code: e.code.clone(),
            message: e.message.clone(),
            at: e.at,
        }),
        last_success_at: r.upstream.last_success_at,
        down_since: r.upstream.down_since,
        announced_level: r.announced_level,
        newest_valid_from: r.newest_valid_from,
        auto: r.auto.clone(),
    }
}

fn from_stored(
    key: SessionKey,
    version: u64,
    s: StoredState,
    code: Option<SessionCode>,
) -> Result<SessionRecord> {
    let corrupt = |what: &str| Error::Corrupt(format!("session {key}: {what}"));
    let current = |v: Validity, code: Option<SessionCode>| -> Result<CurrentCode> {
        Ok(CurrentCode {
            code: code.ok_or_else(|| corrupt("code missing"))?,
            valid_from: v.valid_from,
            valid_until: v.valid_until,
            verified_at: v.verified_at,
        })
    };
    let slot = match s.slot {
        StoredSlot::Empty => CodeSlot::Empty,
        StoredSlot::Active(v) => CodeSlot::Active(current(v, code)?),
        StoredSlot::Suspect {
            validity,
            since,
            last_check_at,
        } => CodeSlot::Suspect {
            code: current(validity, code)?,
            since,
            last_check_at,
        },
        StoredSlot::Ended { reason, at } => CodeSlot::Ended {
            reason: EndReason::parse(&reason).ok_or_else(|| corrupt("end reason"))?,
            at,
        },
    };
    let request = match s.request {
        None => None,
        Some(q) => Some(CodeRequest {
            requested_at: q.requested_at,
            by: q.by,
            stage: match (q.creating_since, q.sent_at) {
                (Some(started_at), _) => RequestStage::Creating {
                    started_at,
                    owner: q.creating_owner,
                    renewed_at: q.creating_renewed,
                },
                (None, Some(sent_at)) => RequestStage::Sent { sent_at },
                (None, None) => return Err(corrupt("request stage")),
            },
        }),
    };
    let blocked = match s.blocked {
        None => None,
        Some(b) => Some(CredentialsBlock {
            kind: BlockKind::parse(&b.kind).ok_or_else(|| corrupt("block kind"))?,
            at: b.at,
            revision: b.revision,
        }),
    };
    Ok(SessionRecord {
        key,
        version,
        code: slot,
        request,
        last_create_at: s.last_create_at,
        blocked,
        last_error: s.last_error.map(|e| RecordedError {
            code: e.code,
            message: e.message,
            at: e.at,
        }),
        upstream: UpstreamHealth {
            last_success_at: s.last_success_at,
            down_since: s.down_since,
        },
        announced_level: s.announced_level,
        newest_valid_from: s.newest_valid_from,
        auto: s.auto,
        due_at: None,
    })
}
