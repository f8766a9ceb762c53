//! Tunable rules.

use time::Duration;

/// The knobs of the session rules. `Policy::default()` is what production uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The card turns yellow when less than this is left (default 1 hour).
    pub yellow_before: Duration,
    /// Minimum time between two `create` for the same key (default 60 s): repeated requests
    /// from many places can make Sistema TS revoke the account.
    pub min_create_interval: Duration,
    /// A `create` without an answer after this long is considered lost (default 120 s),
    /// counted from when its process last said it is still waiting
    /// ([`Policy::create_renew_every`]): a slow call keeps its lease, a dead process loses it.
    pub create_timeout: Duration,
    /// How often the process waiting for a `create` renews its lease (default 30 s, well
    /// inside `create_timeout`).
    pub create_renew_every: Duration,
    /// How often a suspect code is re-verified while Sistema TS does not answer (default 30 s).
    pub recheck_interval: Duration,
    /// Sistema TS passwords last this long (90 days).
    pub password_max_age: Duration,
    /// Warn this long before the password expires (10 days).
    pub password_warn_before: Duration,
    /// Automatic requests: how long before a working range starts the code is requested,
    /// so that it is green before the first patient (default 10 min).
    pub auto_lead: Duration,
    /// Automatic requests: how long before expiry a code that ends within working hours is
    /// replaced (default 30 min: room for the mail, the verification and a retry).
    pub auto_renew_before: Duration,
    /// Automatic `create`s per user and Italian day, at most (default 4).
    pub auto_daily_cap: u32,
    /// Pause after the first failed automatic request; it doubles at each further failure
    /// (default 5 min).
    pub auto_backoff: Duration,
    /// Longest pause between automatic attempts (default 1 hour).
    pub auto_backoff_max: Duration,
    /// How long the mail of an automatic request may take before it counts as a failure and
    /// every workstation is told (default 3 min).
    pub auto_mail_wait: Duration,
}

impl Policy {
    /// The pause before the next automatic attempt after `failures` failures in a row.
    pub fn auto_backoff_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        (self.auto_backoff * 2_i32.pow(doublings)).min(self.auto_backoff_max)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            yellow_before: Duration::hours(1),
            min_create_interval: Duration::seconds(60),
            create_timeout: Duration::seconds(120),
            create_renew_every: Duration::seconds(30),
            recheck_interval: Duration::seconds(30),
            password_max_age: Duration::days(90),
            password_warn_before: Duration::days(10),
            auto_lead: Duration::minutes(10),
            auto_renew_before: Duration::minutes(30),
            auto_daily_cap: 4,
            auto_backoff: Duration::minutes(5),
            auto_backoff_max: Duration::hours(1),
            auto_mail_wait: Duration::minutes(3),
        }
    }
}
