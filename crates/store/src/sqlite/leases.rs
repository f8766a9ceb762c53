//! Named leases (see [`LeaseRepo`]).

use async_trait::async_trait;
use time::OffsetDateTime;
use tsgate_session::{LeaseRepo, StoreResult};

use super::{SqliteStore, ms};

#[async_trait]
impl LeaseRepo for SqliteStore {
    async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        // One statement: insert, or take over only when it is ours or has run out.
        let taken = self
            .write_one(
                sqlx::query(
                    "INSERT INTO leases (name, owner, until_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,
                         until_ms = excluded.until_ms
                     WHERE leases.owner = excluded.owner OR leases.until_ms < ?4",
                )
                .bind(name)
                .bind(owner)
                .bind(ms(now + ttl))
                .bind(ms(now)),
            )
            .await?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        self.write_one(
            sqlx::query("DELETE FROM leases WHERE name = ? AND owner = ?")
                .bind(name)
                .bind(owner),
        )
        .await?;
        Ok(())
    }
}
