//! Which connections are served: caps per peer address and in all, and what the accept
//! loop does when the process runs out of file descriptors.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a repeated warning (refused connections, accept errors) reaches the log.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Lets a line through at most once per interval and counts the ones it held back.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    origin: Instant,
    interval: Duration,
    /// Milliseconds after `origin` when the next line may pass (0: at once).
    next_ms: AtomicU64,
    held_back: AtomicU64,
}

impl LogThrottle {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            origin: Instant::now(),
            interval,
            next_ms: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be logged at `now`, `n` being how many were held back since
    /// the last one; `None` if this one is to be held back.
    pub(crate) fn allow(&self, now: Instant) -> Option<u64> {
        let now_ms = now.saturating_duration_since(self.origin).as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        let passes = now_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now_ms + self.interval.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if passes {
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Counts the open connections per peer address and in all; shared by every accept loop
/// (all HTTP workers) of one server.
#[derive(Debug)]
pub(crate) struct ConnectionLimiter {
    max_per_ip: usize,
    max_total: usize,
    open: Mutex<OpenConnections>,
    refusals: LogThrottle,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The peer address has `max_connections_per_ip` open.
    PerIp,
    /// The server has `max_connections` open.
    Total,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::PerIp => "per_ip",
            Refusal::Total => "total",
        }
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.limiter.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
        metrics::gauge!("tsgate_connections_open").set(open.total as f64);
    }
}

impl ConnectionLimiter {
    pub(crate) fn new(max_per_ip: usize, max_total: usize) -> Arc<Self> {
        Arc::new(Self {
            max_per_ip,
            max_total,
            open: Mutex::new(OpenConnections::default()),
            refusals: LogThrottle::new(LOG_INTERVAL),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenConnections> {
        // The counts stay consistent even if a holder panicked: nothing runs under the lock.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a connection from `ip`, or why not (counted, and logged at most once
    /// per [`LOG_INTERVAL`]).
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionGuard, Refusal> {
        let refused = {
            let mut open = self.lock();
            let of_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
            if open.total >= self.max_total {
                Refusal::Total
            } else if of_ip >= self.max_per_ip {
                Refusal::PerIp
            } else {
                open.total += 1;
                *open.per_ip.entry(ip).or_insert(0) += 1;
                metrics::gauge!("tsgate_connections_open").set(open.total as f64);
                return Ok(ConnectionGuard {
                    limiter: self.clone(),
                    ip,
                });
            }
        };
        metrics::counter!("tsgate_connections_refused_total", "reason" => refused.label())
            .increment(1);
        if let Some(held_back) = self.refusals.allow(Instant::now()) {
            match refused {
                Refusal::PerIp => tracing::warn!(
                    %ip,
                    limit = self.max_per_ip,
                    more_refused = held_back,
                    "connection closed: too many open connections from this address (limits.max_connections_per_ip)"
                ),
                Refusal::Total => tracing::warn!(
                    %ip,
                    limit = self.max_total,
                    more_refused = held_back,
                    "connection closed: too many open connections (limits.max_connections)"
                ),
            }
        }
        Err(refused)
    }
}

/// What the accept loop does after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterAcceptError {
    /// The connection was gone before it was accepted: go on at once.
    Continue,
    /// Wait this long before accepting again.
    Wait(Duration),
}

/// Backs off when accepting fails (out of file descriptors: `EMFILE`, `ENFILE`), from
/// [`AcceptBackoff::FIRST`] doubling up to [`AcceptBackoff::LONGEST`], and logs at most
/// once per [`LOG_INTERVAL`]. One per accept loop.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    delay: Duration,
    log: LogThrottle,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }
}

impl AcceptBackoff {
    pub(crate) const FIRST: Duration = Duration::from_millis(50);
    pub(crate) const LONGEST: Duration = Duration::from_secs(1);

    /// A connection was accepted: the next error starts from the shortest wait again.
    pub(crate) fn accepted(&mut self) {
        self.delay = Duration::ZERO;
    }

    /// Decides what to do after `error` at `now`, logging it unless logged recently.
    pub(crate) fn failed(&mut self, error: &io::Error, now: Instant) -> AfterAcceptError {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
        ) {
            return AfterAcceptError::Continue;
        }
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::LONGEST);
        metrics::counter!("tsgate_accept_errors_total").increment(1);
        if let Some(held_back) = self.log.allow(now) {
            if is_out_of_descriptors(error) {
                tracing::error!(
                    error = %error,
                    more_errors = held_back,
                    "cannot accept connections: out of file descriptors (raise the process limit, LimitNOFILE, or lower limits.max_connections); retrying"
                );
            } else {
                tracing::error!(error = %error, more_errors = held_back, "cannot accept connections; retrying");
            }
        }
        AfterAcceptError::Wait(self.delay)
    }
}

/// `EMFILE` (the process) or `ENFILE` (the system) is out of file descriptors.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(error.raw_os_error(), Some(EMFILE | ENFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_lets_one_line_through_per_interval_and_counts_the_rest() {
        let throttle = LogThrottle::new(Duration::from_secs(10));
        let t0 = throttle.origin;
        assert_eq!(throttle.allow(t0), Some(0));
        for ms in [1, 500, 9_999] {
            assert_eq!(throttle.allow(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(throttle.allow(t0 + Duration::from_secs(10)), Some(3));
        assert_eq!(throttle.allow(t0 + Duration::from_secs(11)), None);
        assert_eq!(throttle.allow(t0 + Duration::from_secs(25)), Some(1));
    }

    #[test]
    fn out_of_descriptors_backs_off_growing_and_logs_once_per_interval() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        assert!(is_out_of_descriptors(&emfile));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(23)));
        let t0 = backoff.log.origin;
        let waits: Vec<_> = (0..8)
            .map(|i| backoff.failed(&emfile, t0 + Duration::from_millis(i * 10)))
            .collect();
        let ms = |n| AfterAcceptError::Wait(Duration::from_millis(n));
        assert_eq!(
            waits,
            [
                ms(50),
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000),
                ms(1000)
            ]
        );
        // One line logged for the eight errors; the next one only after the interval.
        assert_eq!(backoff.log.held_back.load(Ordering::Relaxed), 7);
        assert_eq!(backoff.log.allow(t0 + LOG_INTERVAL), Some(7));

        backoff.accepted();
        assert_eq!(backoff.failed(&emfile, t0), ms(50));
        // A peer that left before its connection was accepted is no reason to wait.
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.failed(&reset, t0), AfterAcceptError::Continue);
    }

    #[test]
    fn limiter_caps_per_address_and_in_all_and_frees_on_drop() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let c: IpAddr = [10, 0, 0, 3].into();
        let limiter = ConnectionLimiter::new(2, 3);
        let a1 = limiter.admit(a).unwrap();
        let _a2 = limiter.admit(a).unwrap();
        assert_eq!(limiter.admit(a).unwrap_err(), Refusal::PerIp);
        let _b1 = limiter.admit(b).unwrap();
        assert_eq!(limiter.admit(c).unwrap_err(), Refusal::Total);
        drop(a1);
        let _c1 = limiter.admit(c).unwrap();
        assert_eq!(limiter.admit(a).unwrap_err(), Refusal::Total);
        assert_eq!(limiter.lock().per_ip.len(), 3);
    }
}
