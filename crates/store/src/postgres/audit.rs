//! The audit log: session events (written with each session commit) and administration
//! changes, in one table.

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use tsgate_session::{
    Application, AuditEntry, AuditFilter, AuditLog, PracticeId, StoreResult, UserId,
};

use super::PgStore;
use crate::error::Result;
use crate::stored::{AUDIT_COLUMNS, AuditRow, ms};

/// Writes one line inside `tx` (a session commit's transaction, or its own).
pub(crate) async fn insert_audit(tx: &mut PgConnection, entry: &AuditEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at_ms, user_id, application, actor, kind, outcome, code_hint, practice_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
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

impl PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, entry).await
    }

    async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        // Only the conditions given: each query gets the plan of its own index.
        let mut sql =
            QueryBuilder::<Postgres>::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE TRUE"));
        if let Some(user) = &filter.user {
            sql.push(" AND user_id = ")
                .push_bind(user.as_str().to_owned());
        }
        if let Some(actor) = &filter.actor {
            // Stored as its Display (`ws:<id>`, `mailbox`, `cli`, `system`).
            sql.push(" AND actor = ").push_bind(actor.to_string());
        }
        if let Some(kind) = filter.kind {
            sql.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(since) = filter.since {
            sql.push(" AND at_ms >= ").push_bind(ms(since));
        }
        if let Some(until) = filter.until {
            sql.push(" AND at_ms < ").push_bind(ms(until));
        }
        if let Some(practice) = &filter.practice {
            // The practice's administration, and the session events of its members; the
            // default practice also sees the installation's own lines (no practice, no user).
            sql.push(" AND (practice_id = ")
                .push_bind(practice.as_str().to_owned())
                .push(" OR user_id IN (SELECT user_id FROM practice_members WHERE practice_id = ")
                .push_bind(practice.as_str().to_owned())
                .push(")");
            if practice.as_str() == PracticeId::DEFAULT {
                sql.push(" OR (practice_id IS NULL AND user_id IS NULL)");
            }
            sql.push(")");
        }
        sql.push(" ORDER BY at_ms DESC, id DESC LIMIT ")
            .push_bind(i64::from(filter.effective_limit()));
        let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}

#[async_trait]
impl AuditLog for PgStore {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        Ok(self.append_audit(entry).await?)
    }

    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        Ok(self.query_audit(filter).await?)
    }
}
