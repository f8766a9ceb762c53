//! Session records ([`crate::stored::session`]: JSON of the non-secret part + the encrypted
//! code), CAS on `version`.
//!
//! Two nodes committing over the same version: the second `UPDATE … WHERE version = $n` waits
//! for the first's row lock, then finds the new version and changes nothing: a conflict,
//! never a lost update. Two first commits: the second insert waits on the primary key and
//! then does nothing.

use async_trait::async_trait;
use time::OffsetDateTime;
use tsgate_session::{AuditEntry, SessionKey, SessionRecord, SessionStore, StoreResult};

use super::{PgStore, audit::insert_audit};
use crate::error::{Error, Result};
use crate::stored::ms;
use crate::stored::session::{decode_record, encode_state, seal_code, session_key};

/// `version`, `state`, `code_enc`, `due_at_ms` of a session row.
type SessionRow = (i64, String, Option<Vec<u8>>, Option<i64>);

impl PgStore {
    async fn load_record(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT version, state, code_enc, due_at_ms FROM sessions
             WHERE user_id = $1 AND application = $2",
        )
        .bind(key.user.as_str())
        .bind(key.application.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some((version, state, sealed, due)) = row else {
            return Ok(None);
        };
        let keys = self.keys.read().await;
        decode_record(key, version, &state, sealed.as_deref(), due, &keys).map(Some)
    }

    async fn commit_record(
        &self,
        record: &SessionRecord,
        expected: u64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let state = encode_state(record)?;
        // Held until the commit: a key rotation waits for it.
        let keys = self.keys.read().await;
        let sealed = seal_code(record, &keys);
        let expected = i64::try_from(expected).map_err(|_| Error::Conflict)?;
        let now = ms(OffsetDateTime::now_utc());
        let due = record.due_at.map(ms);
        let mut tx = self.pool.begin().await?;
        let affected = if expected == 0 {
            sqlx::query(
                "INSERT INTO sessions
                 (user_id, application, version, state, code_enc, updated_at_ms, due_at_ms)
                 VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(record.key.user.as_str())
            .bind(record.key.application.as_str())
            .bind(&state)
            .bind(&sealed)
            .bind(now)
            .bind(due)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE sessions
                 SET version = $1, state = $2, code_enc = $3, updated_at_ms = $4, due_at_ms = $5
                 WHERE user_id = $6 AND application = $7 AND version = $8",
            )
            .bind(expected + 1)
            .bind(&state)
            .bind(&sealed)
            .bind(now)
            .bind(due)
            .bind(record.key.user.as_str())
            .bind(record.key.application.as_str())
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if affected != 1 {
            tx.rollback().await?;
            return Err(Error::Conflict);
        }
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn session_keys(&self) -> Result<Vec<SessionKey>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, application FROM sessions ORDER BY user_id, application",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(session_key).collect()
    }

    async fn due_keys(&self, now: OffsetDateTime) -> Result<Vec<SessionKey>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, application FROM sessions
             WHERE due_at_ms <= $1 ORDER BY due_at_ms, user_id, application",
        )
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(session_key).collect()
    }
}

#[async_trait]
impl SessionStore for PgStore {
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

    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        Ok(self.due_keys(now).await?)
    }
}
