//! The pure decision of automatic requests: given a session record, the user's working hours
//! and whether automatic requests are on, what is due now, when the next one is, or why
//! there is none.

use time::OffsetDateTime;

use super::{AutoReason, AutoView};
use crate::hours::WorkingHours;
use crate::italy;
use crate::policy::Policy;
use crate::record::{CodeRequest, CodeSlot, RequestStage, SessionRecord};

/// How many working ranges [`plan`] looks through for the one in which a code ends (a code
/// lasts 16 hours: a handful of ranges at most).
const MAX_RANGES: usize = 64;

/// What [`plan`] needs besides the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoInputs {
    /// Automatic requests are on (the user's mode, resolved against the mailbox).
    pub enabled: bool,
    /// Why they are off, in Italian with the next step (when `enabled` is false).
    pub off_reason: Option<String>,
    /// The user's working hours (own or the practice's).
    pub hours: WorkingHours,
}

/// What is due for one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing will be requested automatically, and why (Italian, with the next step).
    Off {
        /// The reason.
        reason: String,
        /// Automatic requests are on but cannot run now (cap, refused credentials).
        enabled: bool,
    },
    /// A request is in flight, its mail is on its way, or a suspect code is being verified.
    Waiting,
    /// The mail of the request sent at `sent_at` is late: record the failure, tell everyone.
    MailLate {
        /// When Sistema TS accepted the request.
        sent_at: OffsetDateTime,
    },
    /// Request now.
    Due(AutoReason),
    /// Request at `at`.
    At {
        /// When.
        at: OffsetDateTime,
        /// Why.
        reason: AutoReason,
    },
}

impl Plan {
    /// The automatic part of the session view.
    pub fn view(&self, now: OffsetDateTime) -> AutoView {
        match self {
            Plan::Off { reason, enabled } => AutoView {
                enabled: *enabled,
                next_at: None,
                next: None,
                reason: Some(reason.clone()),
            },
            Plan::Waiting | Plan::MailLate { .. } => AutoView {
                enabled: true,
                next_at: None,
                next: None,
                reason: None,
            },
            Plan::Due(_) => AutoView {
                enabled: true,
                next_at: Some(now),
                next: Some("Richiesta automatica in corso".into()),
                reason: None,
            },
            Plan::At { at, reason } => AutoView {
                enabled: true,
                next_at: Some(*at),
                next: Some(format!(
                    "{} {}",
                    match reason {
                        AutoReason::BeforeExpiry => "Rinnovo automatico",
                        AutoReason::StartOfHours | AutoReason::HeldCall => "Richiesta automatica",
                    },
                    italy::at_time(*at, now)
                )),
                reason: None,
            },
        }
    }
}

/// Italian reason for a cap reached today.
pub(crate) fn cap_reached(cap: u32) -> String {
    format!(
        "Oggi sono già state fatte {cap} richieste automatiche, il massimo: se serve un codice, \
         richiedilo dalla scheda. Domani si riprende da solo."
    )
}

/// Italian reason for a credentials block.
pub(crate) fn blocked() -> String {
    "Sistema TS ha rifiutato le credenziali: nessuna richiesta automatica finché password o PIN \
     non sono aggiornati."
        .into()
}

/// Decides what is due for `record` at `now`.
pub fn plan(
    record: &SessionRecord,
    inputs: &AutoInputs,
    now: OffsetDateTime,
    policy: &Policy,
) -> Plan {
    if !inputs.enabled {
        return Plan::Off {
            reason: inputs
                .off_reason
                .clone()
                .unwrap_or_else(|| "Richieste automatiche spente.".into()),
            enabled: false,
        };
    }
    if record.blocked.is_some() {
        return Plan::Off {
            reason: blocked(),
            enabled: true,
        };
    }
    if record.create_in_flight(now, policy.create_timeout)
        || matches!(record.code, CodeSlot::Suspect { .. })
    {
        return Plan::Waiting;
    }
    let retry_at = record.auto.retry_at;
    if let Some(CodeRequest {
        stage: RequestStage::Sent { sent_at },
        ..
    }) = &record.request
    {
        if now < *sent_at + policy.auto_mail_wait {
            return Plan::Waiting;
        }
        // Told once per request: a retry time later than the request marks it as told.
        if retry_at.is_none_or(|r| r <= *sent_at) {
            return Plan::MailLate { sent_at: *sent_at };
        }
    }
    let today = italy::to_rome(now).date();
    if record.auto.creates_on(today) >= policy.auto_daily_cap {
        return Plan::Off {
            reason: cap_reached(policy.auto_daily_cap),
            enabled: true,
        };
    }
    let valid_until = record.usable_code().map(|c| c.valid_until);
    let Some((need, reason)) = need_from(&inputs.hours, valid_until, now, policy) else {
        return Plan::Off {
            reason: "Nessun orario di lavoro impostato: imposta l'orario dello studio per le \
                     richieste automatiche."
                .into(),
            enabled: true,
        };
    };
    let mut at = need;
    if let Some(r) = retry_at {
        at = at.max(r);
    }
    if let Some(last) = record.last_create_at {
        at = at.max(last + policy.min_create_interval);
    }
    if at <= now {
        Plan::Due(reason)
    } else {
        Plan::At { at, reason }
    }
}

/// The moment from which a new code is needed, and why: the start (less the lead time) of
/// the first working range the current code does not cover to its end, or the code's expiry
/// less the renewal margin when it ends within a range.
fn need_from(
    hours: &WorkingHours,
    valid_until: Option<OffsetDateTime>,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<(OffsetDateTime, AutoReason)> {
    let mut t = now;
    for _ in 0..MAX_RANGES {
        let (start, end) = hours.next_range(t)?;
        let window = start - policy.auto_lead;
        match valid_until {
            // Covers this whole range: look at the next one.
            Some(until) if until >= end => t = end,
            // Ends within this range (or before it opens).
            Some(until) if until - policy.auto_renew_before > window => {
                return Some((until - policy.auto_renew_before, AutoReason::BeforeExpiry));
            }
            Some(until) if until > window => return Some((window, AutoReason::BeforeExpiry)),
            _ => return Some((window, AutoReason::StartOfHours)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auto::AutoState;
    use crate::hours::{TimeRange, Week};
    use crate::ids::{Actor, Application, SessionKey, UserId};
    use crate::record::{BlockKind, CredentialsBlock, CurrentCode};
    use sistemats::secret::SessionCode;
    use time::macros::datetime;
    use time::{Duration, Weekday};

    fn hours() -> WorkingHours {
        let mut h = WorkingHours {
            week: Week::default(),
            closures: Vec::new(),
            public_holidays: true,
        };
        for d in [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ] {
            *h.week.on_mut(d) = vec![
                "08:00-13:00".parse::<TimeRange>().unwrap(),
                "15:00-19:30".parse().unwrap(),
            ];
        }
        h
    }

    fn inputs() -> AutoInputs {
        AutoInputs {
            enabled: true,
            off_reason: None,
            hours: hours(),
        }
    }

    fn record() -> SessionRecord {
        SessionRecord::new(SessionKey::new(
            UserId::new("PROVAX00X00X000Y").unwrap(),
            Application::Prescrittore,
        ))
    }

    fn with_code(until: OffsetDateTime) -> SessionRecord {
        let mut r = record();
        r.code = CodeSlot::Active(CurrentCode {
            code: SessionCode::new("1f6a0702-2cfc-4903-8cfc-609a7e232920".to_owned()),
            valid_from: until - Duration::hours(16),
            valid_until: until,
            verified_at: until - Duration::hours(16),
        });
        r
    }

    // Winter: Rome = UTC+1. Thursday 3 December 2026.
    const MORNING: OffsetDateTime = datetime!(2026-12-03 05:00 UTC); // 06:00 in Rome

    #[test]
    fn before_the_day_starts_the_request_is_planned_with_the_lead() {
        let p = plan(&record(), &inputs(), MORNING, &Policy::default());
        assert_eq!(
            p,
            Plan::At {
                at: datetime!(2026-12-03 06:50 UTC),
                reason: AutoReason::StartOfHours
            }
        );
        assert_eq!(
            p.view(MORNING).next.as_deref(),
            Some("Richiesta automatica alle 07:50")
        );
        let due = plan(
            &record(),
            &inputs(),
            datetime!(2026-12-03 06:50 UTC),
            &Policy::default(),
        );
        assert_eq!(due, Plan::Due(AutoReason::StartOfHours));
    }

    #[test]
    fn a_code_that_covers_the_day_plans_tomorrow() {
        // Requested 07:50, valid 16 h: until 23:50 in Rome.
        let r = with_code(datetime!(2026-12-03 22:50 UTC));
        let p = plan(
            &r,
            &inputs(),
            datetime!(2026-12-03 09:00 UTC),
            &Policy::default(),
        );
        assert_eq!(
            p,
            Plan::At {
                at: datetime!(2026-12-04 06:50 UTC),
                reason: AutoReason::StartOfHours
            }
        );
    }

    #[test]
    fn a_code_ending_within_hours_is_renewed_before_it_ends() {
        // Ends at 16:10 in Rome: renewed at 15:40, in the afternoon range.
        let r = with_code(datetime!(2026-12-03 15:10 UTC));
        let now = datetime!(2026-12-03 09:00 UTC);
        let p = plan(&r, &inputs(), now, &Policy::default());
        assert_eq!(
            p,
            Plan::At {
                at: datetime!(2026-12-03 14:40 UTC),
                reason: AutoReason::BeforeExpiry
            }
        );
        assert_eq!(
            p.view(now).next.as_deref(),
            Some("Rinnovo automatico alle 15:40")
        );
        // Ends at 15:05: renewed when the afternoon window opens (14:50), not in the break.
        let r = with_code(datetime!(2026-12-03 14:05 UTC));
        assert_eq!(
            plan(&r, &inputs(), now, &Policy::default()),
            Plan::At {
                at: datetime!(2026-12-03 13:50 UTC),
                reason: AutoReason::BeforeExpiry
            }
        );
        // Ends at 14:00, in the lunch break: a new one for the afternoon.
        let r = with_code(datetime!(2026-12-03 13:00 UTC));
        assert_eq!(
            plan(&r, &inputs(), now, &Policy::default()),
            Plan::At {
                at: datetime!(2026-12-03 13:50 UTC),
                reason: AutoReason::StartOfHours
            }
        );
    }

    #[test]
    fn friday_evening_plans_monday_and_holidays_are_skipped() {
        // Friday 4 December, 20:00 in Rome; Monday 7 is open; Tuesday 8 is a holiday.
        let p = plan(
            &record(),
            &inputs(),
            datetime!(2026-12-04 19:00 UTC),
            &Policy::default(),
        );
        assert_eq!(
            p,
            Plan::At {
                at: datetime!(2026-12-07 06:50 UTC),
                reason: AutoReason::StartOfHours
            }
        );
        let p = plan(
            &record(),
            &inputs(),
            datetime!(2026-12-07 19:00 UTC),
            &Policy::default(),
        );
        assert!(matches!(p, Plan::At { at, .. } if at == datetime!(2026-12-09 06:50 UTC)));
    }

    #[test]
    fn off_blocked_cap_and_backoff() {
        let now = datetime!(2026-12-03 09:00 UTC);
        let policy = Policy::default();
        let off = AutoInputs {
            enabled: false,
            off_reason: Some("casella non configurata".into()),
            hours: hours(),
        };
        assert!(matches!(
            plan(&record(), &off, now, &policy),
            Plan::Off { enabled: false, .. }
        ));
        let mut r = record();
        r.blocked = Some(CredentialsBlock {
            kind: BlockKind::Password,
            at: now,
            revision: 1,
        });
        assert!(matches!(
            plan(&r, &inputs(), now, &policy),
            Plan::Off { enabled: true, .. }
        ));
        let mut r = record();
        r.auto = AutoState {
            day: Some(time::macros::date!(2026 - 12 - 03)),
            creates: 4,
            failures: 0,
            retry_at: None,
        };
        let p = plan(&r, &inputs(), now, &policy);
        assert!(
            matches!(&p, Plan::Off { reason, .. } if reason.contains("4 richieste")),
            "{p:?}"
        );
        // The next day the count starts again.
        assert!(matches!(
            plan(&r, &inputs(), datetime!(2026-12-04 07:00 UTC), &policy),
            Plan::Due(_)
        ));
        let mut r = record();
        r.auto.retry_at = Some(now + Duration::minutes(5));
        assert_eq!(
            plan(&r, &inputs(), now, &policy),
            Plan::At {
                at: now + Duration::minutes(5),
                reason: AutoReason::StartOfHours
            }
        );
    }

    #[test]
    fn mail_on_its_way_then_late_then_retried() {
        let policy = Policy::default();
        let sent_at = datetime!(2026-12-03 07:00 UTC);
        let mut r = record();
        r.request = Some(CodeRequest {
            requested_at: sent_at,
            by: Actor::Auto,
            stage: RequestStage::Sent { sent_at },
        });
        r.last_create_at = Some(sent_at);
        assert_eq!(
            plan(&r, &inputs(), sent_at + Duration::minutes(2), &policy),
            Plan::Waiting
        );
        let late = sent_at + Duration::minutes(3);
        assert_eq!(
            plan(&r, &inputs(), late, &policy),
            Plan::MailLate { sent_at }
        );
        // Once told (retry time set after the request), the retry waits for the backoff.
        r.auto.failures = 1;
        r.auto.retry_at = Some(late + policy.auto_backoff_after(1));
        assert_eq!(
            plan(&r, &inputs(), late, &policy),
            Plan::At {
                at: late + Duration::minutes(5),
                reason: AutoReason::StartOfHours
            }
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let p = Policy::default();
        assert_eq!(p.auto_backoff_after(1), Duration::minutes(5));
        assert_eq!(p.auto_backoff_after(2), Duration::minutes(10));
        assert_eq!(p.auto_backoff_after(4), Duration::minutes(40));
        assert_eq!(p.auto_backoff_after(9), Duration::hours(1));
    }

    #[test]
    fn summer_time_lead() {
        // Monday 13 July 2026, Rome = UTC+2: 07:50 in Rome is 05:50 UTC.
        let p = plan(
            &record(),
            &inputs(),
            datetime!(2026-07-13 03:00 UTC),
            &Policy::default(),
        );
        assert!(matches!(p, Plan::At { at, .. } if at == datetime!(2026-07-13 05:50 UTC)));
    }
}
