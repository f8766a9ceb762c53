//! Working hours and automatic requests: the practice default and each user's choices,
//! both as JSON (nothing secret in them).

use async_trait::async_trait;
use time::OffsetDateTime;
use tsgate_session::auto::UserSchedule;
use tsgate_session::hours::WorkingHours;
use tsgate_session::{ScheduleRepo, StoreError, StoreResult, UserId};

use super::{SqliteStore, ms};
use crate::error::{Error, Result};
use crate::stored::{PRACTICE_HOURS, from_json, to_json};

impl SqliteStore {
    async fn user_exists(&self, user: &UserId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl ScheduleRepo for SqliteStore {
    async fn practice_hours(&self) -> StoreResult<Option<WorkingHours>> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM practice_settings WHERE key = ?")
                .bind(PRACTICE_HOURS)
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::from)?;
        Ok(value
            .map(|v| from_json("practice working hours", &v))
            .transpose()?)
    }

    async fn set_practice_hours(&self, hours: &WorkingHours) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "INSERT INTO practice_settings (key, value, updated_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(PRACTICE_HOURS)
            .bind(to_json(hours)?)
            .bind(ms(OffsetDateTime::now_utc())),
        )
        .await?;
        Ok(())
    }

    async fn schedule(&self, user: &UserId) -> StoreResult<UserSchedule> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT schedule FROM user_schedules WHERE user_id = ?")
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(Error::from)?;
        match value {
            Some(v) => Ok(from_json("user schedule", &v)?),
            None if self.user_exists(user).await? => Ok(UserSchedule::default()),
            None => Err(StoreError::NotFound(format!("user {user}"))),
        }
    }

    async fn set_schedule(&self, user: &UserId, schedule: &UserSchedule) -> StoreResult<()> {
        if !self.user_exists(user).await? {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        self.write_one(
            sqlx::query(
                "INSERT INTO user_schedules (user_id, schedule, updated_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET schedule = excluded.schedule,
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(user.as_str())
            .bind(to_json(schedule)?)
            .bind(ms(OffsetDateTime::now_utc())),
        )
        .await?;
        Ok(())
    }
}
