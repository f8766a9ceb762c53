//! Certified-mailbox settings of each user (the password encrypted) and what each watcher
//! has read.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use tsgate_session::mailbox::{MailboxSettings, UserMailbox, WatchState};
use tsgate_session::{MailboxRepo, Password, StoreResult, UserId};

use super::{SqliteStore, ms};
use crate::crypto::Slot;
use crate::error::{Error, Result};

impl SqliteStore {
    async fn write_mailbox(&self, user: &UserId, m: &UserMailbox) -> Result<()> {
        let keys = self.keys.read().await;
        let password_enc = keys.seal(
            m.settings.password.expose_secret().as_bytes(),
            Slot {
                table: "mailboxes",
                column: "password_enc",
                row: user.as_str(),
            },
        );
        let settings = settings_json(m)?;
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

/// The non-secret settings as stored: the watcher's settings (its serializer never writes
/// the password) plus the certified address.
fn settings_json(m: &UserMailbox) -> Result<String> {
    let mut value = serde_json::to_value(&m.settings).map_err(|e| Error::Corrupt(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("password");
        map.insert(
            "address".into(),
            m.address
                .clone()
                .map_or(serde_json::Value::Null, Into::into),
        );
    }
    Ok(value.to_string())
}

impl SqliteStore {
    async fn mailbox_from_row(&self, user: &str, row: &SqliteRow) -> Result<UserMailbox> {
        let password = self.keys.read().await.open_string(
            &row.try_get::<Vec<u8>, _>("password_enc")?,
            Slot {
                table: "mailboxes",
                column: "password_enc",
                row: user,
            },
        )?;
        let corrupt = |e: serde_json::Error| Error::Corrupt(format!("mailbox settings: {e}"));
        let mut value: serde_json::Value =
            serde_json::from_str(&row.try_get::<String, _>("settings")?).map_err(corrupt)?;
        let address = value
            .as_object_mut()
            .and_then(|map| map.remove("address"))
            .and_then(|a| a.as_str().map(str::to_owned));
        let mut settings: MailboxSettings = serde_json::from_value(value).map_err(corrupt)?;
        settings.password = Password::new(password.as_str());
        Ok(UserMailbox { settings, address })
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
