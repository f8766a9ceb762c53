//! One process among several does a piece of work at a time: the one that holds its lease
//! ([`LeaseRepo`]). The periodic passes (expiry, automatic requests) and each certified
//! mailbox's watcher run on one node; when that node dies, another takes over once the lease
//! has run out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{Duration, OffsetDateTime};

use crate::ports::LeaseRepo;

/// A named lease this process takes, renews and gives up.
pub struct Lease {
    repo: Arc<dyn LeaseRepo>,
    name: String,
    owner: String,
    ttl: Duration,
    held: AtomicBool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("held", &self.held.load(Ordering::Relaxed))
            .finish()
    }
}

impl Lease {
    /// The lease `name` for `owner` (the node's name: a restarted node takes its own leases
    /// back at once), held `ttl` past each renewal.
    pub fn new(
        repo: Arc<dyn LeaseRepo>,
        name: impl Into<String>,
        owner: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            repo,
            name: name.into(),
            owner: owner.into(),
            ttl,
            held: AtomicBool::new(false),
        }
    }

    /// Takes or renews the lease; `true` while this process holds it. A store failure counts
    /// as not holding it (another node may be doing the work).
    pub async fn hold(&self) -> bool {
        let now = OffsetDateTime::now_utc();
        let held = match self
            .repo
            .try_lease(&self.name, &self.owner, self.ttl, now)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = %self.name, error = %sistemats::error::describe_chain(&e), "lease not renewed");
                false
            }
        };
        if self.held.swap(held, Ordering::Relaxed) != held {
            if held {
                tracing::info!(lease = %self.name, owner = %self.owner, "lease taken: this node does the work");
            } else {
                tracing::info!(lease = %self.name, owner = %self.owner, "lease held by another node");
            }
        }
        held
    }

    /// Whether the last [`Lease::hold`] held it.
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }

    /// Gives the lease up (a clean shutdown), so that another node need not wait.
    pub async fn release(&self) {
        if self.held.swap(false, Ordering::Relaxed)
            && let Err(e) = self.repo.release_lease(&self.name, &self.owner).await
        {
            tracing::warn!(lease = %self.name, error = %sistemats::error::describe_chain(&e), "lease not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn one_holder_at_a_time_and_release_hands_over() {
        let store = Arc::new(MemoryStore::new());
        let a = Lease::new(store.clone(), "periodic", "node-a", Duration::seconds(20));
        let b = Lease::new(store.clone(), "periodic", "node-b", Duration::seconds(20));
        assert!(a.hold().await);
        assert!(!b.hold().await);
        assert!(a.hold().await, "renewed");
        a.release().await;
        assert!(!a.is_held());
        assert!(b.hold().await, "released: the other takes it at once");
    }
}
