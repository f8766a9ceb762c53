//! Session records ([`crate::stored::session`]: JSON of the non-secret part + the encrypted
//! code), CAS on `version`.

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;
use tsgate_session::{AuditEntry, SessionKey, SessionRecord, SessionStore, StoreResult};

use super::{SqliteStore, audit::insert_audit, ms};
use crate::error::{Error, Result};
use crate::stored::session::{decode_record, encode_state, seal_code, session_key};

impl SqliteStore {
    async fn load_record(&self, key: &SessionKey) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT version, state, code_enc, due_at_ms FROM sessions
             WHERE user_id = ? AND application = ?",
        )
        .bind(key.user.as_str())
        .bind(key.application.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get("version")?;
        let state: String = row.try_get("state")?;
        let sealed: Option<Vec<u8>> = row.try_get("code_enc")?;
        let due: Option<i64> = row.try_get("due_at_ms")?;
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
        let keys = self.keys.read().await;
        let sealed = seal_code(record, &keys);
        let expected = i64::try_from(expected).map_err(|_| Error::Conflict)?;
        let now = ms(OffsetDateTime::now_utc());
        let due = record.due_at.map(ms);
        let mut tx = self.write_tx().await?;
        let affected = if expected == 0 {
            sqlx::query(
                "INSERT INTO sessions
                 (user_id, application, version, state, code_enc, updated_at_ms, due_at_ms)
                 VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
                 SET version = ?, state = ?, code_enc = ?, updated_at_ms = ?, due_at_ms = ?
                 WHERE user_id = ? AND application = ? AND version = ?",
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
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT user_id, application FROM sessions ORDER BY user_id")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(session_key).collect()
    }

    async fn due_keys(&self, now: OffsetDateTime) -> Result<Vec<SessionKey>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, application FROM sessions
             WHERE due_at_ms <= ? ORDER BY due_at_ms, user_id, application",
        )
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(session_key).collect()
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

    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        Ok(self.due_keys(now).await?)
    }
}
