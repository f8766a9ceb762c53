//! Per-workstation state the application keeps: the cache of authenticated workstations
//! and the rate limiters. Neither knows HTTP.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tsgate_session::{StoreResult, Workstation, WorkstationRepo, WorkstationToken};

use crate::config::RateQuota;

/// How long an authenticated workstation is trusted without asking the database again.
/// A revocation through this process (API, UI) takes effect at once; one made by another
/// process (`tsgate workstation revoke`) within this time.
const WORKSTATION_TTL: Duration = Duration::from_secs(5);

/// Entries kept before expired ones are swept.
const WORKSTATION_CACHE_SWEEP: usize = 4096;

/// Workstations recently authenticated, by token hash, in front of the store: every proxied
/// call and API request authenticates its workstation, and this keeps the database off that
/// hot path. Owned by the application state (one per gateway, dropped with it). Unknown
/// tokens are never cached, so a new workstation works at once.
pub struct WorkstationCache {
    repo: Arc<dyn WorkstationRepo>,
    entries: Mutex<HashMap<[u8; 32], (Instant, Workstation)>>,
}

impl fmt::Debug for WorkstationCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkstationCache")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl WorkstationCache {
    /// A cache in front of `repo`.
    pub fn new(repo: Arc<dyn WorkstationRepo>) -> Self {
        Self {
            repo,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], (Instant, Workstation)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live workstation holding `token`, if any.
    pub async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>> {
        let key = token.hash();
        if let Some((at, ws)) = self.lock().get(&key)
            && at.elapsed() < WORKSTATION_TTL
        {
            return Ok(Some(ws.clone()));
        }
        let found = self
            .repo
            .authenticate(token)
            .await?
            .filter(Workstation::is_live);
        if let Some(ws) = &found {
            let mut entries = self.lock();
            if entries.len() >= WORKSTATION_CACHE_SWEEP {
                entries.retain(|_, (at, _)| at.elapsed() < WORKSTATION_TTL);
            }
            entries.insert(key, (Instant::now(), ws.clone()));
        }
        Ok(found)
    }

    /// Forgets every cached workstation (after a revocation or a user removal).
    pub fn forget_all(&self) {
        self.lock().clear();
    }
}

/// Per-workstation token buckets.
pub(crate) struct WorkstationLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl fmt::Debug for WorkstationLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkstationLimiter")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl WorkstationLimiter {
    pub(crate) fn new(quota: Option<RateQuota>) -> Self {
        let limiter = quota.map(|q| {
            let rate = NonZeroU32::new(q.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(q.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self { limiter }
    }

    /// `Err(wait)` when the workstation must slow down.
    pub(crate) fn check(&self, workstation_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&workstation_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_past_the_burst() {
        let l = WorkstationLimiter::new(Some(RateQuota {
            per_second: 1,
            burst: 2,
        }));
        assert!(l.check("w1").is_ok());
        assert!(l.check("w1").is_ok());
        assert!(l.check("w1").is_err());
        assert!(l.check("w2").is_ok(), "buckets are per workstation");
        assert!(WorkstationLimiter::new(None).check("w1").is_ok());
    }
}
