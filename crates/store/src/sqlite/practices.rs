//! Practices, their members, and the bulk import of doctors.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use tsgate_session::{
    ImportCounts, ImportedUser, ListQuery, Page, Practice, PracticeCounts, PracticeId,
    PracticeRepo, StoreResult, UserId, UserProfile,
};

use super::users::{PROFILE_COLUMNS, date_text, profile_from_row};
use super::{SqliteStore, ms};
use crate::crypto::{KeyRing, Slot};
use crate::error::{Error, Result};
use crate::stored::{PracticeRow, count};

fn practice_from_row(row: &SqliteRow) -> Result<Practice> {
    Practice::try_from(PracticeRow::from_row(row)?)
}

impl SqliteStore {
    async fn upsert_practice(&self, id: &PracticeId, name: &str) -> Result<Practice> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "INSERT INTO practices (id, name, created_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name
             RETURNING id, name, created_at_ms",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(ms(OffsetDateTime::now_utc()))
        .fetch_one(&mut *tx)
        .await?;
        let practice = practice_from_row(&row)?;
        tx.commit().await?;
        Ok(practice)
    }

    async fn practice_by_id(&self, id: &PracticeId) -> Result<Option<Practice>> {
        sqlx::query("SELECT id, name, created_at_ms FROM practices WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(practice_from_row)
            .transpose()
    }

    async fn page_of_practices(&self, q: &ListQuery) -> Result<Page<Practice>> {
        let limit = q.effective_limit();
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT id, name, created_at_ms FROM practices WHERE 1 = 1",
        );
        if let Some(after) = &q.after {
            sql.push(" AND id > ").push_bind(after.clone());
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND (instr(id, ")
                .push_bind(needle.clone())
                .push(") > 0 OR instr(lower(name), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(practice_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |p| p.id.to_string()))
    }

    async fn counts_of(&self, id: &PracticeId) -> Result<PracticeCounts> {
        let row = sqlx::query(
            "SELECT
               (SELECT count(*) FROM practice_members WHERE practice_id = ?1) AS users,
               (SELECT count(*) FROM workstations
                 WHERE practice_id = ?1 AND revoked_at_ms IS NULL) AS workstations,
               (SELECT count(*) FROM practice_members m JOIN sessions s ON s.user_id = m.user_id
                 WHERE m.practice_id = ?1 AND s.code_enc IS NOT NULL) AS active",
        )
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(PracticeCounts {
            users: count(row.try_get("users")?),
            workstations: count(row.try_get("workstations")?),
            active_sessions: count(row.try_get("active")?),
        })
    }

    async fn insert_member(&self, practice: &PracticeId, user: &UserId) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for (table, column, value) in [
            ("practices", "id", practice.as_str()),
            ("users", "user_id", user.as_str()),
        ] {
            let found = sqlx::query(AssertSqlSafe(format!(
                "SELECT 1 FROM {table} WHERE {column} = ?"
            )))
            .bind(value)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if !found {
                return Err(Error::NotFound(format!("{table} {value}")));
            }
        }
        sqlx::query("INSERT OR IGNORE INTO practice_members (practice_id, user_id) VALUES (?, ?)")
            .bind(practice.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    async fn delete_member(&self, practice: &PracticeId, user: &UserId) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM practice_members WHERE practice_id = ? AND user_id = ?")
            .bind(practice.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // The practice's workstations stop acting for a doctor who left it.
        sqlx::query(
            "DELETE FROM workstation_users WHERE user_id = ?1 AND workstation_id IN
               (SELECT id FROM workstations WHERE practice_id = ?2)",
        )
        .bind(user.as_str())
        .bind(practice.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn member(&self, practice: &PracticeId, user: &UserId) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM practice_members WHERE practice_id = ? AND user_id = ?")
                .bind(practice.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<PracticeId>> {
        sqlx::query_scalar::<_, String>(
            "SELECT practice_id FROM practice_members WHERE user_id = ? ORDER BY practice_id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|p| PracticeId::new(p).map_err(|e| Error::Corrupt(e.to_string())))
        .collect()
    }

    async fn import_batch(&self, rows: &[ImportedUser]) -> Result<ImportCounts> {
        let keys = self.keys.read().await;
        let mut counts = ImportCounts::default();
        let now = ms(OffsetDateTime::now_utc());
        let mut tx = self.write_tx().await?;
        for row in rows {
            counts.practices_created += import_practice(&mut tx, row, now).await?;
            let id = row.profile.user_id.as_str();
            let before = sqlx::query(AssertSqlSafe(format!(
                "SELECT {PROFILE_COLUMNS} FROM users u WHERE u.user_id = ?"
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(profile_from_row)
            .transpose()?;
            let mut changed = false;
            if before.as_ref() != Some(&row.profile) {
                write_profile(&mut tx, &row.profile, now).await?;
                changed = before.is_some();
            }
            if let Some((password, pin)) = &row.credentials {
                changed |= import_credentials(&mut tx, &keys, id, password, pin, now).await?;
            }
            match (before.is_some(), changed) {
                (false, _) => counts.users_created += 1,
                (true, true) => counts.users_updated += 1,
                (true, false) => counts.users_unchanged += 1,
            }
            counts.memberships_added += sqlx::query(
                "INSERT OR IGNORE INTO practice_members (practice_id, user_id) VALUES (?, ?)",
            )
            .bind(row.practice.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Creates the practice of `row` when missing (1) or renames it when the row names it (0).
async fn import_practice(tx: &mut SqliteConnection, row: &ImportedUser, now: i64) -> Result<u64> {
    let name = row
        .practice_name
        .clone()
        .unwrap_or_else(|| row.practice.to_string());
    let created =
        sqlx::query("INSERT OR IGNORE INTO practices (id, name, created_at_ms) VALUES (?, ?, ?)")
            .bind(row.practice.as_str())
            .bind(&name)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if created == 0 && row.practice_name.is_some() {
        sqlx::query("UPDATE practices SET name = ? WHERE id = ? AND name <> ?")
            .bind(&name)
            .bind(row.practice.as_str())
            .bind(&name)
            .execute(&mut *tx)
            .await?;
    }
    Ok(created)
}

/// Inserts or updates a profile inside an import's transaction.
async fn write_profile(tx: &mut SqliteConnection, p: &UserProfile, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (user_id, fiscal_code, region, asl, ssa, specialization, display_name,
             environment, role, password_changed_on, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET fiscal_code = excluded.fiscal_code,
             region = excluded.region, asl = excluded.asl, ssa = excluded.ssa,
             specialization = excluded.specialization, display_name = excluded.display_name,
             environment = excluded.environment, role = excluded.role,
             password_changed_on = excluded.password_changed_on,
             updated_at_ms = excluded.updated_at_ms",
    )
    .bind(p.user_id.as_str())
    .bind(&p.fiscal_code)
    .bind(&p.region)
    .bind(&p.asl)
    .bind(&p.ssa)
    .bind(&p.specialization)
    .bind(&p.display_name)
    .bind(p.environment.as_str())
    .bind(p.role.as_str())
    .bind(p.password_changed_at.map(date_text).transpose()?)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Sets the credentials of `user` unless they are already these; `true` when written.
async fn import_credentials(
    tx: &mut SqliteConnection,
    keys: &KeyRing,
    user: &str,
    password: &tsgate_session::Password,
    pin: &tsgate_session::Pin,
    now: i64,
) -> Result<bool> {
    let slot = |column| Slot {
        table: "credentials",
        column,
        row: user,
    };
    let stored = sqlx::query("SELECT password_enc, pin_enc FROM credentials WHERE user_id = ?")
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(stored) = stored {
        let same_password = keys
            .open_string(
                &stored.try_get::<Vec<u8>, _>("password_enc")?,
                slot("password_enc"),
            )?
            .as_str()
            == password.expose_secret();
        let same_pin = keys
            .open_string(&stored.try_get::<Vec<u8>, _>("pin_enc")?, slot("pin_enc"))?
            .as_str()
            == pin.expose_secret();
        if same_password && same_pin {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
         VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (user_id) DO UPDATE SET password_enc = excluded.password_enc,
             pin_enc = excluded.pin_enc, revision = credentials.revision + 1,
             updated_at_ms = excluded.updated_at_ms",
    )
    .bind(user)
    .bind(keys.seal(password.expose_secret().as_bytes(), slot("password_enc")))
    .bind(keys.seal(pin.expose_secret().as_bytes(), slot("pin_enc")))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

#[async_trait]
impl PracticeRepo for SqliteStore {
    async fn put_practice(&self, id: &PracticeId, name: &str) -> StoreResult<Practice> {
        Ok(self.upsert_practice(id, name).await?)
    }

    async fn practice(&self, id: &PracticeId) -> StoreResult<Option<Practice>> {
        Ok(self.practice_by_id(id).await?)
    }

    async fn practices_page(&self, query: &ListQuery) -> StoreResult<Page<Practice>> {
        Ok(self.page_of_practices(query).await?)
    }

    async fn practice_counts(&self, id: &PracticeId) -> StoreResult<PracticeCounts> {
        Ok(self.counts_of(id).await?)
    }

    async fn add_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<()> {
        Ok(self.insert_member(practice, user).await?)
    }

    async fn remove_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        Ok(self.delete_member(practice, user).await?)
    }

    async fn is_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        Ok(self.member(practice, user).await?)
    }

    async fn practices_of(&self, user: &UserId) -> StoreResult<Vec<PracticeId>> {
        Ok(self.memberships(user).await?)
    }

    async fn import_users(&self, rows: &[ImportedUser]) -> StoreResult<ImportCounts> {
        Ok(self.import_batch(rows).await?)
    }
}
