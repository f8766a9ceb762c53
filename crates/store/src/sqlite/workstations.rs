//! Registered workstations.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use tsgate_session::{
    StoreResult, UserId, Workstation, WorkstationId, WorkstationRepo, WorkstationRole,
    WorkstationToken,
};

use super::{SqliteStore, from_ms, ms};
use crate::error::{Error, Result};

impl SqliteStore {
    async fn workstation_from_row(&self, row: &SqliteRow) -> Result<Workstation> {
        let id: String = row.try_get("id")?;
        let users = sqlx::query(
            "SELECT user_id FROM workstation_users WHERE workstation_id = ? ORDER BY user_id",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            UserId::new(r.try_get::<String, _>("user_id")?)
                .map_err(|e| Error::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Workstation {
            id: WorkstationId(id),
            name: row.try_get("name")?,
            role: WorkstationRole::parse(&row.try_get::<String, _>("role")?)
                .ok_or_else(|| Error::Corrupt("workstation role".into()))?,
            users,
            created_at: from_ms(row.try_get("created_at_ms")?)?,
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at_ms")?
                .map(from_ms)
                .transpose()?,
        })
    }

    async fn insert_workstation(
        &self,
        name: &str,
        role: WorkstationRole,
        users: &[UserId],
    ) -> Result<(Workstation, WorkstationToken)> {
        let token = WorkstationToken::generate();
        let id = uuid::Uuid::new_v4().to_string();
        let now = OffsetDateTime::now_utc();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO workstations (id, name, token_hash, role, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(name)
        .bind(token.hash().as_slice())
        .bind(role.as_str())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        for user in users {
            sqlx::query(
                "INSERT OR IGNORE INTO workstation_users (workstation_id, user_id) VALUES (?, ?)",
            )
            .bind(&id)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let ws = self
            .workstation_by_id(&WorkstationId(id))
            .await?
            .ok_or_else(|| Error::NotFound("workstation just created".into()))?;
        Ok((ws, token))
    }

    async fn workstation_by_token(&self, token: &WorkstationToken) -> Result<Option<Workstation>> {
        let row = sqlx::query(
            "SELECT id, name, role, created_at_ms, revoked_at_ms FROM workstations
             WHERE token_hash = ? AND revoked_at_ms IS NULL",
        )
        .bind(token.hash().as_slice())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.workstation_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn workstation_by_id(&self, id: &WorkstationId) -> Result<Option<Workstation>> {
        let row = sqlx::query(
            "SELECT id, name, role, created_at_ms, revoked_at_ms FROM workstations WHERE id = ?",
        )
        .bind(&id.0)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.workstation_from_row(&row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn all_workstations(&self) -> Result<Vec<Workstation>> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_at_ms, revoked_at_ms FROM workstations ORDER BY created_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.workstation_from_row(row).await?);
        }
        Ok(out)
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
        for user in users {
            sqlx::query(
                "INSERT OR IGNORE INTO workstation_users (workstation_id, user_id) VALUES (?, ?)",
            )
            .bind(&id.0)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_workstation_revoked(&self, id: &WorkstationId) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE workstations SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
        )
        .bind(ms(OffsetDateTime::now_utc()))
        .bind(&id.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}

#[async_trait]
impl WorkstationRepo for SqliteStore {
    async fn create_workstation(
        &self,
        name: &str,
        role: WorkstationRole,
        users: &[UserId],
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        Ok(self.insert_workstation(name, role, users).await?)
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
