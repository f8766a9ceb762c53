//! Practices, their members, and the bulk import of doctors.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;
use tsgate_session::{
    ImportCounts, ImportedUser, ListQuery, Page, Password, Pin, Practice, PracticeCounts,
    PracticeId, PracticeRepo, StoreResult, UserId, UserProfile,
};

use super::PgStore;
use super::users::{lock_user, write_profile};
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::stored::{PROFILE_COLUMNS, PracticeRow, ProfileRow, count, credentials_slot, ms};

/// Whether the practice `id` exists; when it does, its row stays (`FOR KEY SHARE`) until `tx`
/// ends, so that rows inserted next that refer to it cannot meet a concurrent delete.
pub(crate) async fn lock_practice(tx: &mut PgConnection, id: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM practices WHERE id = $1 FOR KEY SHARE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

impl PgStore {
    async fn upsert_practice(&self, id: &PracticeId, name: &str) -> Result<Practice> {
        let row: PracticeRow = sqlx::query_as(
            "INSERT INTO practices (id, name, created_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name
             RETURNING id, name, created_at_ms",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(ms(OffsetDateTime::now_utc()))
        .fetch_one(&self.pool)
        .await?;
        Practice::try_from(row)
    }

    async fn practice_by_id(&self, id: &PracticeId) -> Result<Option<Practice>> {
        let row: Option<PracticeRow> =
            sqlx::query_as("SELECT id, name, created_at_ms FROM practices WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(Practice::try_from).transpose()
    }

    async fn page_of_practices(&self, q: &ListQuery) -> Result<Page<Practice>> {
        let limit = q.effective_limit();
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, name, created_at_ms FROM practices WHERE TRUE",
        );
        if let Some(after) = &q.after {
            sql.push(" AND id > ").push_bind(after.clone());
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND (strpos(id, ")
                .push_bind(needle.clone())
                .push(") > 0 OR strpos(lower(name), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        sql.push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows: Vec<PracticeRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let rows = rows
            .into_iter()
            .map(Practice::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |p| p.id.to_string()))
    }

    async fn counts_of(&self, id: &PracticeId) -> Result<PracticeCounts> {
        let (users, workstations, active): (i64, i64, i64) = sqlx::query_as(
            "SELECT
               (SELECT count(*) FROM practice_members WHERE practice_id = $1),
               (SELECT count(*) FROM workstations
                 WHERE practice_id = $1 AND revoked_at_ms IS NULL),
               (SELECT count(*) FROM practice_members m JOIN sessions s ON s.user_id = m.user_id
                 WHERE m.practice_id = $1 AND s.code_enc IS NOT NULL)",
        )
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(PracticeCounts {
            users: count(users),
            workstations: count(workstations),
            active_sessions: count(active),
        })
    }

    async fn insert_member(&self, practice: &PracticeId, user: &UserId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !lock_practice(&mut tx, practice.as_str()).await? {
            return Err(Error::NotFound(format!("practices {practice}")));
        }
        if !lock_user(&mut tx, user.as_str()).await? {
            return Err(Error::NotFound(format!("users {user}")));
        }
        sqlx::query(
            "INSERT INTO practice_members (practice_id, user_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(practice.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_member(&self, practice: &PracticeId, user: &UserId) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM practice_members WHERE practice_id = $1 AND user_id = $2")
            .bind(practice.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // The practice's workstations stop acting for a doctor who left it.
        sqlx::query(
            "DELETE FROM workstation_users WHERE user_id = $1 AND workstation_id IN
               (SELECT id FROM workstations WHERE practice_id = $2)",
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
            sqlx::query("SELECT 1 FROM practice_members WHERE practice_id = $1 AND user_id = $2")
                .bind(practice.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<PracticeId>> {
        sqlx::query_scalar::<_, String>(
            "SELECT practice_id FROM practice_members WHERE user_id = $1 ORDER BY practice_id",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|p| PracticeId::new(p).map_err(|e| Error::Corrupt(e.to_string())))
        .collect()
    }

    async fn import_batch(&self, rows: &[ImportedUser]) -> Result<ImportCounts> {
        // Held until the commit: a key rotation waits for it.
        let keys = self.keys.read().await;
        let mut counts = ImportCounts::default();
        let now = ms(OffsetDateTime::now_utc());
        // Rows are taken in one order, practices first, then doctors, both by id (a stable
        // sort keeps repeated rows in their order): two imports lock the rows they share in
        // the same order, so they wait for each other but never deadlock.
        let mut by_practice: Vec<&ImportedUser> = rows.iter().collect();
        by_practice.sort_by(|a, b| a.practice.as_str().cmp(b.practice.as_str()));
        let mut by_user: Vec<&ImportedUser> = rows.iter().collect();
        by_user.sort_by(|a, b| a.profile.user_id.as_str().cmp(b.profile.user_id.as_str()));
        let mut tx = self.pool.begin().await?;
        for row in by_practice {
            counts.practices_created += import_practice(&mut tx, row, now).await?;
        }
        for row in by_user {
            let id = row.profile.user_id.as_str();
            // Locked: two imports of the same doctor take turns, each seeing the other's row.
            let before: Option<ProfileRow> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {PROFILE_COLUMNS} FROM users u WHERE u.user_id = $1 FOR UPDATE"
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let before = before.map(UserProfile::try_from).transpose()?;
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
                "INSERT INTO practice_members (practice_id, user_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
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
async fn import_practice(tx: &mut PgConnection, row: &ImportedUser, now: i64) -> Result<u64> {
    let name = row
        .practice_name
        .clone()
        .unwrap_or_else(|| row.practice.to_string());
    let created = sqlx::query(
        "INSERT INTO practices (id, name, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(row.practice.as_str())
    .bind(&name)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if created == 0 && row.practice_name.is_some() {
        sqlx::query("UPDATE practices SET name = $1 WHERE id = $2 AND name <> $1")
            .bind(&name)
            .bind(row.practice.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(created)
}

/// Sets the credentials of `user` unless they are already these; `true` when written.
async fn import_credentials(
    tx: &mut PgConnection,
    keys: &KeyRing,
    user: &str,
    password: &Password,
    pin: &Pin,
    now: i64,
) -> Result<bool> {
    let stored: Option<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT password_enc, pin_enc FROM credentials WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((stored_password, stored_pin)) = stored {
        let same_password = keys
            .open_string(&stored_password, credentials_slot(user, "password_enc"))?
            .as_str()
            == password.expose_secret();
        let same_pin = keys
            .open_string(&stored_pin, credentials_slot(user, "pin_enc"))?
            .as_str()
            == pin.expose_secret();
        if same_password && same_pin {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
         VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (user_id) DO UPDATE SET password_enc = excluded.password_enc,
             pin_enc = excluded.pin_enc, revision = credentials.revision + 1,
             updated_at_ms = excluded.updated_at_ms",
    )
    .bind(user)
    .bind(keys.seal(
        password.expose_secret().as_bytes(),
        credentials_slot(user, "password_enc"),
    ))
    .bind(keys.seal(
        pin.expose_secret().as_bytes(),
        credentials_slot(user, "pin_enc"),
    ))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

#[async_trait]
impl PracticeRepo for PgStore {
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
