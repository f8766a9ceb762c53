//! Registered workstations.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, QueryBuilder, Sqlite};
use time::OffsetDateTime;
use tsgate_session::{
    ListQuery, Page, PracticeId, StoreResult, UserId, Workstation, WorkstationId, WorkstationRepo,
    WorkstationSpec, WorkstationToken,
};

use super::{SqliteStore, ms};
use crate::error::{Error, Result};
use crate::stored::{WORKSTATION_COLUMNS as COLUMNS, WorkstationRow};

impl SqliteStore {
    async fn workstation_from_row(&self, row: &SqliteRow) -> Result<Workstation> {
        let row = WorkstationRow::from_row(row)?;
        // Only roles that name their users have a list; a backend's reach is its practice.
        let users = if row.role()?.lists_users() {
            sqlx::query_scalar(
                "SELECT user_id FROM workstation_users WHERE workstation_id = ? ORDER BY user_id",
            )
            .bind(&row.id)
            .fetch_all(&self.pool)
            .await?
        } else {
            Vec::new()
        };
        row.into_workstation(users)
    }

    async fn workstations_from_rows(&self, rows: &[SqliteRow]) -> Result<Vec<Workstation>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.workstation_from_row(row).await?);
        }
        Ok(out)
    }

    async fn insert_workstation(
        &self,
        spec: &WorkstationSpec,
    ) -> Result<(Workstation, WorkstationToken)> {
        let token = WorkstationToken::generate();
        let id = uuid::Uuid::new_v4().to_string();
        let now = OffsetDateTime::now_utc();
        let mut tx = self.write_tx().await?;
        if let Some(practice) = &spec.practice {
            let exists = sqlx::query("SELECT 1 FROM practices WHERE id = ?")
                .bind(practice.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !exists {
                return Err(Error::NotFound(format!("practice {practice}")));
            }
        }
        sqlx::query(
            "INSERT INTO workstations (id, name, token_hash, role, practice_id, created_at_ms)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&spec.name)
        .bind(token.hash().as_slice())
        .bind(spec.role.as_str())
        .bind(spec.practice.as_ref().map(PracticeId::as_str))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        insert_users(&mut tx, &id, &spec.users).await?;
        tx.commit().await?;
        let ws = self
            .workstation_by_id(&WorkstationId(id))
            .await?
            .ok_or_else(|| Error::NotFound("workstation just created".into()))?;
        Ok((ws, token))
    }

    async fn workstation_by_token(&self, token: &WorkstationToken) -> Result<Option<Workstation>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM workstations WHERE token_hash = ? AND revoked_at_ms IS NULL"
        )))
        .bind(token.hash().as_slice())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.workstation_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn workstation_by_id(&self, id: &WorkstationId) -> Result<Option<Workstation>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM workstations WHERE id = ?"
        )))
        .bind(&id.0)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.workstation_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn all_workstations(&self) -> Result<Vec<Workstation>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM workstations ORDER BY created_at_ms, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        self.workstations_from_rows(&rows).await
    }

    async fn page_of_workstations(&self, q: &ListQuery) -> Result<Page<Workstation>> {
        let limit = q.effective_limit();
        let mut sql = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {COLUMNS} FROM workstations WHERE revoked_at_ms IS NULL"
        ));
        if let Some(practice) = &q.practice {
            sql.push(" AND practice_id = ")
                .push_bind(practice.as_str().to_owned());
        }
        // The cursor is the last row's (creation time, id): the order of the index.
        if let Some((at, id)) = q.after.as_deref().and_then(|a| a.split_once('.')) {
            let at: i64 = at.parse().unwrap_or(i64::MAX);
            sql.push(" AND (created_at_ms, id) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(id.to_owned())
                .push(")");
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND instr(lower(name), ")
                .push_bind(needle)
                .push(") > 0");
        }
        sql.push(" ORDER BY created_at_ms, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let rows = self.workstations_from_rows(&rows).await?;
        Ok(Page::from_rows(rows, limit, |ws| {
            format!("{}.{}", ms(ws.created_at), ws.id)
        }))
    }

    async fn live_workstation_named(
        &self,
        practice: Option<&PracticeId>,
        name: &str,
    ) -> Result<Option<Workstation>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM workstations
             WHERE practice_id IS ? AND name = ? AND revoked_at_ms IS NULL
             ORDER BY created_at_ms LIMIT 1"
        )))
        .bind(practice.map(PracticeId::as_str))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.workstation_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn replace_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM workstations WHERE id = ?")
            .bind(&id.0)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(Error::NotFound(format!("workstation {id}")));
        }
        sqlx::query("DELETE FROM workstation_users WHERE workstation_id = ?")
            .bind(&id.0)
            .execute(&mut *tx)
            .await?;
        insert_users(&mut tx, &id.0, users).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_workstation_revoked(&self, id: &WorkstationId) -> Result<bool> {
        let n = self
            .write_one(
                sqlx::query(
                    "UPDATE workstations SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
                )
                .bind(ms(OffsetDateTime::now_utc()))
                .bind(&id.0),
            )
            .await?;
        Ok(n > 0)
    }
}

/// Lists `users` on the workstation `id`.
async fn insert_users(tx: &mut sqlx::SqliteConnection, id: &str, users: &[UserId]) -> Result<()> {
    for user in users {
        sqlx::query(
            "INSERT OR IGNORE INTO workstation_users (workstation_id, user_id) VALUES (?, ?)",
        )
        .bind(id)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl WorkstationRepo for SqliteStore {
    async fn register_workstation(
        &self,
        spec: &WorkstationSpec,
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        Ok(self.insert_workstation(spec).await?)
    }

    async fn workstations_page(&self, query: &ListQuery) -> StoreResult<Page<Workstation>> {
        Ok(self.page_of_workstations(query).await?)
    }

    async fn workstation_named(
        &self,
        practice: Option<&PracticeId>,
        name: &str,
    ) -> StoreResult<Option<Workstation>> {
        Ok(self.live_workstation_named(practice, name).await?)
    }

    async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>> {
        Ok(self.workstation_by_token(token).await?)
    }

    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>> {
        Ok(self.workstation_by_id(id).await?)
    }

    async fn list_workstations(&self) -> StoreResult<Vec<Workstation>> {
        Ok(self.all_workstations().await?)
    }

    async fn set_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> StoreResult<()> {
        Ok(self.replace_workstation_users(id, users).await?)
    }

    async fn revoke_workstation(&self, id: &WorkstationId) -> StoreResult<bool> {
        Ok(self.mark_workstation_revoked(id).await?)
    }
}
