//! Session records: JSON of the non-secret part + the encrypted code, CAS on `version`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::OffsetDateTime;
use time::serde::rfc3339;
use tsgate_session::auto::AutoState;
use tsgate_session::{
    Actor, Application, AuditEntry, BlockKind, CodeRequest, CodeSlot, CredentialsBlock,
    CurrentCode, EndReason, Level, RecordedError, RequestStage, SessionCode, SessionKey,
    SessionRecord, SessionStore, StoreResult, UpstreamHealth, UserId,
};

use super::{SqliteStore, audit::insert_audit, ms};
use crate::crypto::Slot;
use crate::error::{Error, Result};

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
    })
}

fn row_key(key: &SessionKey) -> String {
    format!("{}/{}", key.user, key.application)
}

const CODE_COLUMN: &str = "code_enc";

impl SqliteStore {
    async fn load_record(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT version, state, code_enc FROM sessions WHERE user_id = ? AND application = ?",
        )
        .bind(key.user.as_str())
        .bind(key.application.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get("version")?;
        let state: String = row.try_get("state")?;
        let sealed: Option<Vec<u8>> = row.try_get(CODE_COLUMN)?;
        let stored: StoredState = serde_json::from_str(&state)
            .map_err(|e| Error::Corrupt(format!("session {key}: {e}")))?;
        let code = match sealed {
            None => None,
            Some(sealed) => {
                let rk = row_key(key);
                let slot = Slot {
                    table: "sessions",
                    column: CODE_COLUMN,
                    row: &rk,
                };
                let clear = self.keys.read().await.open_string(&sealed, slot)?;
                Some(SessionCode::new(clear.as_str()))
            }
        };
        from_stored(
            key.clone(),
            u64::try_from(version).unwrap_or(0),
            stored,
            code,
        )
        .map(Some)
    }

    async fn commit_record(
        &self,
        record: &SessionRecord,
        expected: u64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let state =
            serde_json::to_string(&to_stored(record)).map_err(|e| Error::Corrupt(e.to_string()))?;
        let rk = row_key(&record.key);
        let keys = self.keys.read().await;
        let sealed = record.usable_code().map(|c| {
            keys.seal(
                c.code.expose_secret().as_bytes(),
                Slot {
                    table: "sessions",
                    column: CODE_COLUMN,
                    row: &rk,
                },
            )
        });
        let expected = i64::try_from(expected).map_err(|_| Error::Conflict)?;
        let now = ms(OffsetDateTime::now_utc());
        let mut tx = self.write_tx().await?;
        let affected = if expected == 0 {
            sqlx::query(
                "INSERT INTO sessions (user_id, application, version, state, code_enc, updated_at_ms)
                 VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(record.key.user.as_str())
            .bind(record.key.application.as_str())
            .bind(&state)
            .bind(&sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE sessions SET version = ?, state = ?, code_enc = ?, updated_at_ms = ?
                 WHERE user_id = ? AND application = ? AND version = ?",
            )
            .bind(expected + 1)
            .bind(&state)
            .bind(&sealed)
            .bind(now)
            .bind(record.key.user.as_str())
            .bind(record.key.application.as_str())
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if affected != 1 {
            drop(tx);
            return Err(Error::Conflict);
        }
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn session_keys(&self) -> Result<Vec<SessionKey>> {
        let rows = sqlx::query("SELECT user_id, application FROM sessions ORDER BY user_id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let user: String = row.try_get("user_id")?;
                let app: String = row.try_get("application")?;
                Ok(SessionKey::new(
                    UserId::new(user).map_err(|e| Error::Corrupt(e.to_string()))?,
                    app.parse::<Application>()
                        .map_err(|e| Error::Corrupt(e.to_string()))?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>> {
        Ok(self.load_record(key).await?)
    }

    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()> {
        Ok(self.commit_record(record, expected_version, audit).await?)
    }

    async fn keys(&self) -> StoreResult<Vec<SessionKey>> {
        Ok(self.session_keys().await?)
    }
}
