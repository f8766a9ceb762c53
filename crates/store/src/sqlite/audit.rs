//! The audit log: session events (written with each session commit) and administration
//! changes, in one table.

use async_trait::async_trait;
use sqlx::{FromRow, SqliteConnection};
use tsgate_session::{
    Application, AuditEntry, AuditEntryKind, AuditFilter, AuditLog, PracticeId, StoreResult, UserId,
};

use super::{SqliteStore, ms};
use crate::error::Result;
use crate::stored::AuditRow;

const INSERT: &str =
    "INSERT INTO audit (at_ms, user_id, application, actor, kind, outcome, code_hint, practice_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/// Writes one line inside `tx` (a session commit's transaction, or its own).
pub(crate) async fn insert_audit(tx: &mut SqliteConnection, entry: &AuditEntry) -> Result<()> {
    sqlx::query(INSERT)
        .bind(ms(entry.at))
        .bind(entry.user.as_ref().map(UserId::as_str))
        .bind(entry.application.map(Application::as_str))
        .bind(entry.actor.to_string())
        .bind(entry.kind.as_str())
        .bind(&entry.outcome)
        .bind(&entry.code_hint)
        .bind(entry.practice.as_ref().map(PracticeId::as_str))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut tx = self.write_tx().await?;
        insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at_ms, user_id, application, actor, kind, outcome, code_hint, practice_id
             FROM audit
             WHERE (?1 IS NULL OR user_id = ?1)
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR kind = ?3)
               AND (?4 IS NULL OR at_ms >= ?4)
               AND (?5 IS NULL OR at_ms < ?5)
               AND (?7 IS NULL OR practice_id = ?7 OR user_id IN
                    (SELECT user_id FROM practice_members WHERE practice_id = ?7)
                    OR (?7 = 'default' AND practice_id IS NULL AND user_id IS NULL))
             ORDER BY at_ms DESC, id DESC
             LIMIT ?6",
        )
        .bind(filter.user.as_ref().map(UserId::as_str))
        // Stored as its Display (`ws:<id>`, `mailbox`, `cli`, `system`).
        .bind(filter.actor.as_ref().map(ToString::to_string))
        .bind(filter.kind.map(AuditEntryKind::as_str))
        .bind(filter.since.map(ms))
        .bind(filter.until.map(ms))
        .bind(i64::from(filter.effective_limit()))
        .bind(filter.practice.as_ref().map(PracticeId::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| AuditEntry::try_from(AuditRow::from_row(row)?))
            .collect()
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        Ok(self.append_audit(entry).await?)
    }

    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        Ok(self.query_audit(filter).await?)
    }
}
