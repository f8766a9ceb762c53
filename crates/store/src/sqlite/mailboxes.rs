//! Certified-mailbox settings of each user (the password encrypted) and what each watcher
//! has read.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use tsgate_session::mailbox::{UserMailbox, WatchState};
use tsgate_session::{MailboxRepo, StoreResult, UserId};

use super::{SqliteStore, ms};
use crate::error::{Error, Result};
use crate::stored::{mailbox_from_stored, mailbox_settings_json, mailbox_slot};

impl SqliteStore {
    async fn write_mailbox(&self, user: &UserId, m: &UserMailbox) -> Result<()> {
        let keys = self.keys.read().await;
        let password_enc = keys.seal(
            m.settings.password.expose_secret().as_bytes(),
            mailbox_slot(user.as_str()),
        );
        let settings = mailbox_settings_json(m)?;
        self.write_one(
            sqlx::query(
                "INSERT INTO mailboxes (user_id, settings, password_enc, updated_at_ms)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings,
                 password_enc = excluded.password_enc, updated_at_ms = excluded.updated_at_ms",
            )
            .bind(user.as_str())
            .bind(settings)
            .bind(password_enc)
            .bind(ms(OffsetDateTime::now_utc())),
        )
        .await?;
        Ok(())
    }

    async fn mailbox_of(&self, user: &UserId) -> Result<Option<UserMailbox>> {
        let row = sqlx::query("SELECT settings, password_enc FROM mailboxes WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(self.mailbox_from_row(user.as_str(), &row).await?))
    }

    async fn all_mailboxes(&self) -> Result<Vec<(UserId, UserMailbox)>> {
        let rows =
            sqlx::query("SELECT user_id, settings, password_enc FROM mailboxes ORDER BY user_id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("user_id")?;
            let mailbox = self.mailbox_from_row(&id, &row).await?;
            let id = UserId::new(id).map_err(|_| Error::Corrupt("mailbox user id".into()))?;
            out.push((id, mailbox));
        }
        Ok(out)
    }

    async fn watch_state_of(&self, mailbox: &str) -> Result<Option<WatchState>> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM mailbox_watch_state WHERE mailbox = ?")
                .bind(mailbox)
                .fetch_optional(&self.pool)
                .await?;
        state
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| Error::Corrupt(format!("watch state: {e}")))
            })
            .transpose()
    }

    async fn write_watch_state(&self, mailbox: &str, state: &WatchState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.write_one(
            sqlx::query(
                "INSERT INTO mailbox_watch_state (mailbox, state, updated_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (mailbox) DO UPDATE SET state = excluded.state,
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(mailbox)
            .bind(json)
            .bind(ms(OffsetDateTime::now_utc())),
        )
        .await?;
        Ok(())
    }

    async fn delete_mailbox(&self, user: &UserId) -> Result<bool> {
        let n = self
            .write_one(sqlx::query("DELETE FROM mailboxes WHERE user_id = ?").bind(user.as_str()))
            .await?;
        Ok(n > 0)
    }
}

impl SqliteStore {
    async fn mailbox_from_row(&self, user: &str, row: &SqliteRow) -> Result<UserMailbox> {
        let password = self.keys.read().await.open_string(
            &row.try_get::<Vec<u8>, _>("password_enc")?,
            mailbox_slot(user),
        )?;
        mailbox_from_stored(&row.try_get::<String, _>("settings")?, &password)
    }
}

#[async_trait]
impl MailboxRepo for SqliteStore {
    async fn set_mailbox(&self, user: &UserId, mailbox: &UserMailbox) -> StoreResult<()> {
        Ok(self.write_mailbox(user, mailbox).await?)
    }

    async fn mailbox(&self, user: &UserId) -> StoreResult<Option<UserMailbox>> {
        Ok(self.mailbox_of(user).await?)
    }

    async fn remove_mailbox(&self, user: &UserId) -> StoreResult<bool> {
        Ok(self.delete_mailbox(user).await?)
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<(UserId, UserMailbox)>> {
        Ok(self.all_mailboxes().await?)
    }

    async fn watch_state(&self, mailbox: &str) -> StoreResult<Option<WatchState>> {
        Ok(self.watch_state_of(mailbox).await?)
    }

    async fn set_watch_state(&self, mailbox: &str, state: &WatchState) -> StoreResult<()> {
        Ok(self.write_watch_state(mailbox, state).await?)
    }
}
