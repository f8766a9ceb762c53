//! Certified-mailbox settings of each user (the password encrypted) and what each watcher
//! has read.

use async_trait::async_trait;
use time::OffsetDateTime;
use tsgate_session::mailbox::{UserMailbox, WatchState};
use tsgate_session::{MailboxRepo, StoreResult, UserId};

use super::PgStore;
use crate::error::{Error, Result};
use crate::stored::{mailbox_from_stored, mailbox_settings_json, mailbox_slot, ms};

impl PgStore {
    async fn write_mailbox(&self, user: &UserId, m: &UserMailbox) -> Result<()> {
        // Held until the write is done: a key rotation waits for it.
        let keys = self.keys.read().await;
        let password_enc = keys.seal(
            m.settings.password.expose_secret().as_bytes(),
            mailbox_slot(user.as_str()),
        );
        sqlx::query(
            "INSERT INTO mailboxes (user_id, settings, password_enc, updated_at_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings,
                 password_enc = excluded.password_enc, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(user.as_str())
        .bind(mailbox_settings_json(m)?)
        .bind(password_enc)
        .bind(ms(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mailbox_of(&self, user: &UserId) -> Result<Option<UserMailbox>> {
        let row: Option<(String, Vec<u8>)> =
            sqlx::query_as("SELECT settings, password_enc FROM mailboxes WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some((settings, sealed)) => self
                .open_mailbox(user.as_str(), &settings, &sealed)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn all_mailboxes(&self) -> Result<Vec<(UserId, UserMailbox)>> {
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT user_id, settings, password_enc FROM mailboxes ORDER BY user_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, settings, sealed) in rows {
            let mailbox = self.open_mailbox(&id, &settings, &sealed).await?;
            let id = UserId::new(id).map_err(|_| Error::Corrupt("mailbox user id".into()))?;
            out.push((id, mailbox));
        }
        Ok(out)
    }

    async fn open_mailbox(&self, user: &str, settings: &str, sealed: &[u8]) -> Result<UserMailbox> {
        let password = self
            .keys
            .read()
            .await
            .open_string(sealed, mailbox_slot(user))?;
        mailbox_from_stored(settings, &password)
    }

    async fn watch_state_of(&self, mailbox: &str) -> Result<Option<WatchState>> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM mailbox_watch_state WHERE mailbox = $1")
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
        sqlx::query(
            "INSERT INTO mailbox_watch_state (mailbox, state, updated_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox) DO UPDATE SET state = excluded.state,
                 updated_at_ms = excluded.updated_at_ms",
        )
        .bind(mailbox)
        .bind(json)
        .bind(ms(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_mailbox(&self, user: &UserId) -> Result<bool> {
        let n = sqlx::query("DELETE FROM mailboxes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}

#[async_trait]
impl MailboxRepo for PgStore {
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
