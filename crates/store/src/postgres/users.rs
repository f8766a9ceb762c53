//! Users and their credentials.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder};
use time::{Date, OffsetDateTime};
use tsgate_session::{
    Credentials, ListQuery, Page, Password, Pin, StoreResult, UserDirectory, UserId, UserProfile,
};

use super::PgStore;
use crate::error::{Error, Result};
use crate::stored::{PROFILE_COLUMNS, ProfileRow, credentials_slot, date_text, ms};

/// Inserts or updates a profile inside `tx`.
pub(crate) async fn write_profile(tx: &mut PgConnection, p: &UserProfile, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (user_id, fiscal_code, region, asl, ssa, specialization, display_name,
             environment, role, password_changed_on, created_at_ms, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
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
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether `user` exists; when it does, its row stays (`FOR KEY SHARE`) until `tx` ends, so
/// that rows inserted next that refer to it cannot meet a concurrent delete.
pub(crate) async fn lock_user(tx: &mut PgConnection, user: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM users WHERE user_id = $1 FOR KEY SHARE")
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

impl PgStore {
    async fn credentials_of(&self, user: &UserId) -> Result<Option<Credentials>> {
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = sqlx::query_as(
            "SELECT password_enc, pin_enc, revision FROM credentials WHERE user_id = $1",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some((password, pin, revision)) = row else {
            return Ok(None);
        };
        let keys = self.keys.read().await;
        let password =
            keys.open_string(&password, credentials_slot(user.as_str(), "password_enc"))?;
        let pin = keys.open_string(&pin, credentials_slot(user.as_str(), "pin_enc"))?;
        Ok(Some(Credentials {
            password: Password::new(password.as_str()),
            pin: Pin::new(pin.as_str()),
            revision,
        }))
    }

    async fn upsert_user(&self, p: &UserProfile) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_profile(&mut conn, p, ms(OffsetDateTime::now_utc())).await
    }

    async fn user_by_id(&self, user: &UserId) -> Result<Option<UserProfile>> {
        let row: Option<ProfileRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PROFILE_COLUMNS} FROM users u WHERE u.user_id = $1"
        )))
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserProfile::try_from).transpose()
    }

    async fn all_users(&self) -> Result<Vec<UserProfile>> {
        let rows: Vec<ProfileRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PROFILE_COLUMNS} FROM users u ORDER BY u.user_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(UserProfile::try_from).collect()
    }

    async fn page_of_users(&self, q: &ListQuery) -> Result<Page<UserProfile>> {
        let limit = q.effective_limit();
        // A practice's members through their primary key (practice_id, user_id), everybody
        // through the users' own; either way the cursor is a range on the index. The search
        // scans rows in that order (an admin typing a name).
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {PROFILE_COLUMNS} FROM "));
        let order = match &q.practice {
            Some(practice) => {
                sql.push(
                    "practice_members m JOIN users u ON u.user_id = m.user_id WHERE m.practice_id = ",
                )
                .push_bind(practice.as_str().to_owned());
                "m.user_id"
            }
            None => {
                sql.push("users u WHERE TRUE");
                "u.user_id"
            }
        };
        if let Some(after) = &q.after {
            sql.push(format_args!(" AND {order} > "))
                .push_bind(after.clone());
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND (strpos(lower(u.user_id), ")
                .push_bind(needle.clone())
                .push(") > 0 OR strpos(lower(u.fiscal_code), ")
                .push_bind(needle.clone())
                .push(") > 0 OR strpos(lower(coalesce(u.display_name, '')), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        sql.push(format_args!(" ORDER BY {order} LIMIT "))
            .push_bind(i64::from(limit) + 1);
        let rows: Vec<ProfileRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let rows = rows
            .into_iter()
            .map(UserProfile::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |p| p.user_id.to_string()))
    }

    async fn users_with_mailbox_or_schedule(&self) -> Result<Vec<UserId>> {
        sqlx::query_scalar::<_, String>(
            "SELECT user_id FROM mailboxes UNION SELECT user_id FROM user_schedules ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|u| UserId::new(u).map_err(|e| Error::Corrupt(e.to_string())))
        .collect()
    }

    async fn delete_user(&self, user: &UserId) -> Result<bool> {
        // Credentials, mailbox, session, schedule, memberships and the workstations' lists
        // go with the user (ON DELETE CASCADE); the audit stays.
        let n = sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn write_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> Result<i64> {
        // Held until the commit: a key rotation waits for it.
        let keys = self.keys.read().await;
        let password_enc = keys.seal(
            password.expose_secret().as_bytes(),
            credentials_slot(user.as_str(), "password_enc"),
        );
        let pin_enc = keys.seal(
            pin.expose_secret().as_bytes(),
            credentials_slot(user.as_str(), "pin_enc"),
        );
        let now = ms(OffsetDateTime::now_utc());
        let mut tx = self.pool.begin().await?;
        if !lock_user(&mut tx, user.as_str()).await? {
            return Err(Error::NotFound(format!("user {user}")));
        }
        let revision: i64 = sqlx::query_scalar(
            "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
             VALUES ($1, $2, $3, 1, $4)
             ON CONFLICT (user_id) DO UPDATE SET password_enc = excluded.password_enc,
                 pin_enc = excluded.pin_enc, revision = credentials.revision + 1,
                 updated_at_ms = excluded.updated_at_ms
             RETURNING revision",
        )
        .bind(user.as_str())
        .bind(password_enc)
        .bind(pin_enc)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(day) = password_changed_on {
            sqlx::query(
                "UPDATE users SET password_changed_on = $1, updated_at_ms = $2 WHERE user_id = $3",
            )
            .bind(date_text(day)?)
            .bind(now)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(revision)
    }
}

#[async_trait]
impl UserDirectory for PgStore {
    async fn user(&self, user: &UserId) -> StoreResult<Option<UserProfile>> {
        Ok(self.user_by_id(user).await?)
    }

    async fn credentials(&self, user: &UserId) -> StoreResult<Option<Credentials>> {
        Ok(self.credentials_of(user).await?)
    }

    async fn put_user(&self, profile: &UserProfile) -> StoreResult<()> {
        Ok(self.upsert_user(profile).await?)
    }

    async fn list_users(&self) -> StoreResult<Vec<UserProfile>> {
        Ok(self.all_users().await?)
    }

    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>> {
        Ok(self.page_of_users(query).await?)
    }

    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        Ok(self.users_with_mailbox_or_schedule().await?)
    }

    async fn remove_user(&self, user: &UserId) -> StoreResult<bool> {
        Ok(self.delete_user(user).await?)
    }

    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> StoreResult<i64> {
        Ok(self
            .write_credentials(user, password, pin, password_changed_on)
            .await?)
    }
}
