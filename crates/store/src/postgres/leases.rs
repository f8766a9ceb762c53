//! Named leases (see [`LeaseRepo`]).

use async_trait::async_trait;
use time::OffsetDateTime;
use tsgate_session::{LeaseRepo, StoreResult};

use super::PgStore;
use crate::error::Error;
use crate::stored::ms;

#[async_trait]
impl LeaseRepo for PgStore {
    async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        // One statement, atomic under concurrency: insert, or take over only when it is ours
        // or has run out (the conflicting row is locked while the condition is checked).
        let taken = sqlx::query(
            "INSERT INTO leases (name, owner, until_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until_ms = EXCLUDED.until_ms
             WHERE leases.owner = EXCLUDED.owner OR leases.until_ms < $4",
        )
        .bind(name)
        .bind(owner)
        .bind(ms(now + ttl))
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(Error::from)?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }
}
