//! The audit log: session events (written with each session commit) and administration
//! changes, in one table.

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};
use tsgate_session::audit::{AdminEvent, AuditEntry, AuditEntryKind};
use tsgate_session::{Application, AuditEvent, AuditSink, StoreError, UserId};

use super::{SqliteStore, from_ms, ms};
use crate::error::{Error, Result};
use crate::model::AuditFilter;
use crate::traits::{AdminAudit, AuditQuery};

const INSERT: &str =
    "INSERT INTO audit (at_ms, user_id, application, actor, kind, outcome, code_hint)
     VALUES (?, ?, ?, ?, ?, ?, ?)";

pub(crate) async fn insert_audit(
    tx: &mut Transaction<'_, Sqlite>,
    event: &AuditEvent,
) -> Result<()> {
    sqlx::query(INSERT)
        .bind(ms(event.at))
        .bind(event.user.as_str())
        .bind(event.application.as_str())
        .bind(event.actor.to_string())
        .bind(event.kind.as_str())
        .bind(&event.outcome)
        .bind(&event.code_hint)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl AuditSink for SqliteStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        insert_audit(&mut tx, event).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }
}

#[async_trait]
impl AdminAudit for SqliteStore {
    async fn record_admin(&self, event: &AdminEvent) -> Result<()> {
        sqlx::query(INSERT)
            .bind(ms(event.at))
            .bind(event.user.as_ref().map(UserId::as_str))
            .bind(None::<&str>)
            .bind(event.actor.to_string())
            .bind(event.action.as_str())
            .bind(&event.outcome)
            .bind(None::<&str>)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl AuditQuery for SqliteStore {
    async fn query_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let limit = i64::from(filter.limit.unwrap_or(100).clamp(1, 10_000));
        let rows = sqlx::query(
            "SELECT at_ms, user_id, application, actor, kind, outcome, code_hint FROM audit
             WHERE (?1 IS NULL OR user_id = ?1)
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR kind = ?3)
               AND (?4 IS NULL OR at_ms >= ?4)
               AND (?5 IS NULL OR at_ms < ?5)
             ORDER BY at_ms DESC, id DESC
             LIMIT ?6",
        )
        .bind(filter.user.as_ref().map(UserId::as_str))
        .bind(filter.actor.as_deref())
        .bind(filter.kind.map(AuditEntryKind::as_str))
        .bind(filter.since.map(ms))
        .bind(filter.until.map(ms))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let corrupt = |e: &dyn std::fmt::Display| Error::Corrupt(format!("audit: {e}"));
        rows.into_iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: from_ms(row.try_get("at_ms")?)?,
                    user: row
                        .try_get::<Option<String>, _>("user_id")?
                        .map(UserId::new)
                        .transpose()
                        .map_err(|e| corrupt(&e))?,
                    application: row
                        .try_get::<Option<String>, _>("application")?
                        .map(|a| a.parse::<Application>())
                        .transpose()
                        .map_err(|e| corrupt(&e))?,
                    actor: row
                        .try_get::<String, _>("actor")?
                        .parse()
                        .map_err(|e| corrupt(&e))?,
                    kind: row
                        .try_get::<String, _>("kind")?
                        .parse()
                        .map_err(|e| corrupt(&e))?,
                    outcome: row.try_get("outcome")?,
                    code_hint: row.try_get("code_hint")?,
                })
            })
            .collect()
    }
}
