//! The bound on proxied calls held while an automatic request brings a code.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many calls are held now, at most `max`.
#[derive(Debug)]
pub(crate) struct HeldCalls {
    count: Arc<AtomicUsize>,
    max: usize,
}

/// One held call; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Held {
    count: Arc<AtomicUsize>,
}

impl HeldCalls {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            count: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A place for one more held call, or `None` when `max` are held already.
    pub(crate) fn enter(&self) -> Option<Held> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()?;
        metrics::gauge!("tsgate_proxy_held_calls").increment(1.0);
        Some(Held {
            count: self.count.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("tsgate_proxy_held_calls").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_and_freed() {
        let held = HeldCalls::new(2);
        let a = held.enter().unwrap();
        let _b = held.enter().unwrap();
        assert!(held.enter().is_none());
        drop(a);
        assert!(held.enter().is_some());
    }
}
