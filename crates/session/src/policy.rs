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
    /// A `create` without an answer after this long is considered lost (default 120 s).
    pub create_timeout: Duration,
    /// How often a suspect code is re-verified while Sistema TS does not answer (default 30 s).
    pub recheck_interval: Duration,
    /// Sistema TS passwords last this long (90 days).
    pub password_max_age: Duration,
    /// Warn this long before the password expires (10 days).
    pub password_warn_before: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            yellow_before: Duration::hours(1),
            min_create_interval: Duration::seconds(60),
            create_timeout: Duration::seconds(120),
            recheck_interval: Duration::seconds(30),
            password_max_age: Duration::days(90),
            password_warn_before: Duration::days(10),
        }
    }
}
