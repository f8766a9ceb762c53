//! Users and their credentials.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, QueryBuilder, Row, Sqlite};
use time::{Date, OffsetDateTime};
use tsgate_session::{
    Credentials, ListQuery, Page, Password, Pin, StoreResult, UserDirectory, UserId, UserProfile,
};

use super::{SqliteStore, ms};
use crate::crypto::Slot;
use crate::error::{Error, Result};
use crate::stored::ProfileRow;

pub(crate) use crate::stored::{PROFILE_COLUMNS, date_text};

pub(crate) fn profile_from_row(row: &SqliteRow) -> Result<UserProfile> {
    UserProfile::try_from(ProfileRow::from_row(row)?)
}

impl SqliteStore {
    async fn credentials_of(&self, user: &UserId) -> Result<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT password_enc, pin_enc, revision FROM credentials WHERE user_id = ?",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let keys = self.keys.read().await;
        let slot = |column| Slot {
            table: "credentials",
            column,
            row: user.as_str(),
        };
        let password = keys.open_string(
            &row.try_get::<Vec<u8>, _>("password_enc")?,
            slot("password_enc"),
        )?;
        let pin = keys.open_string(&row.try_get::<Vec<u8>, _>("pin_enc")?, slot("pin_enc"))?;
        Ok(Some(Credentials {
            password: Password::new(password.as_str()),
            pin: Pin::new(pin.as_str()),
            revision: row.try_get("revision")?,
        }))
    }

    async fn upsert_user(&self, p: &UserProfile) -> Result<()> {
        let now = ms(OffsetDateTime::now_utc());
        self.write_one(sqlx::query(
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
        .bind(now)).await?;
        Ok(())
    }

    async fn user_by_id(&self, user: &UserId) -> Result<Option<UserProfile>> {
        sqlx::query(
            "SELECT user_id, fiscal_code, region, asl, ssa, specialization, display_name,
                 environment, role, password_changed_on FROM users WHERE user_id = ?",
        )
        .bind(user.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(profile_from_row)
        .transpose()
    }

    async fn all_users(&self) -> Result<Vec<UserProfile>> {
        let rows = sqlx::query(
            "SELECT user_id, fiscal_code, region, asl, ssa, specialization, display_name,
                 environment, role, password_changed_on FROM users ORDER BY user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(profile_from_row).collect()
    }

    async fn page_of_users(&self, q: &ListQuery) -> Result<Page<UserProfile>> {
        let limit = q.effective_limit();
        // A practice's members through their primary key (practice_id, user_id), everybody
        // through the users' own; either way the cursor is a range on the index, so a page
        // costs the same at the end of 100,000 rows as at the start. The search scans rows
        // in that order (an admin typing a name).
        let mut sql = QueryBuilder::<Sqlite>::new(format!("SELECT {PROFILE_COLUMNS} FROM "));
        let order = match &q.practice {
            Some(practice) => {
                sql.push("practice_members m JOIN users u ON u.user_id = m.user_id WHERE m.practice_id = ")
                    .push_bind(practice.as_str().to_owned());
                "m.user_id"
            }
            None => {
                sql.push("users u WHERE 1 = 1");
                "u.user_id"
            }
        };
        if let Some(after) = &q.after {
            sql.push(format_args!(" AND {order} > "))
                .push_bind(after.clone());
        }
        if let Some(needle) = q.needle() {
            sql.push(" AND (instr(lower(u.user_id), ")
                .push_bind(needle.clone())
                .push(") > 0 OR instr(lower(u.fiscal_code), ")
                .push_bind(needle.clone())
                .push(") > 0 OR instr(lower(coalesce(u.display_name, '')), ")
                .push_bind(needle)
                .push(") > 0)");
        }
        sql.push(format_args!(" ORDER BY {order} LIMIT "))
            .push_bind(i64::from(limit) + 1);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let rows = rows
            .iter()
            .map(profile_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(rows, limit, |p| p.user_id.to_string()))
    }

    async fn delete_user(&self, user: &UserId) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM workstation_users WHERE user_id = ?")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM users WHERE user_id = ?")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn write_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> Result<i64> {
        let keys = self.keys.read().await;
        let slot = |column| Slot {
            table: "credentials",
            column,
            row: user.as_str(),
        };
        let password_enc = keys.seal(password.expose_secret().as_bytes(), slot("password_enc"));
        let pin_enc = keys.seal(pin.expose_secret().as_bytes(), slot("pin_enc"));
        let now = ms(OffsetDateTime::now_utc());
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(Error::NotFound(format!("user {user}")));
        }
        let revision: i64 = sqlx::query(
            "INSERT INTO credentials (user_id, password_enc, pin_enc, revision, updated_at_ms)
             VALUES (?, ?, ?, 1, ?)
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
        .await?
        .try_get("revision")?;
        if let Some(day) = password_changed_on {
            sqlx::query(
                "UPDATE users SET password_changed_on = ?, updated_at_ms = ? WHERE user_id = ?",
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
impl UserDirectory for SqliteStore {
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

    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        // Both tables are keyed by user: two index scans, whatever the number of doctors
        // without a mailbox.
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM mailboxes UNION SELECT user_id FROM user_schedules ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(ids
            .into_iter()
            .map(|id| UserId::new(id).map_err(|e| Error::Corrupt(e.to_string())))
            .collect::<Result<Vec<_>>>()?)
    }

    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>> {
        Ok(self.page_of_users(query).await?)
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
