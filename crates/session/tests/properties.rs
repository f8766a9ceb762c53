//! Random event sequences against the pure state machine, with a model of Sistema TS.
//!
//! Invariants checked after every event:
//! - never two `create` in flight (a `create` older than the policy timeout counts as lost);
//! - the current code changes only on a successful `checkToken` of exactly that code, with
//!   the expiry `checkToken` gave;
//! - codes never alternate (a replaced code never comes back);
//! - no upstream call while the credentials are refused;
//! - the level agrees with the expiry; at most one notification per event;
//! - audit lines never contain a code;
//! - the due moment is exact: a tick before it changes nothing, a tick at it changes
//!   something (the periodic pass visits a session only when it is due).

use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tsgate_session::*;

const T0: OffsetDateTime = datetime!(2026-11-27 07:00 UTC);
const CODES: [&str; 5] = [
    "00000000-0000-4000-8000-000000000000",
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
    "44444444-4444-4444-8444-444444444444", // another user's
];

#[derive(Clone, Debug)]
enum Action {
    Request(bool),
    Submit(usize),
    Deliver(usize, u8),
    Dem9101(usize),
    Revoke,
    Tick(i64),
    CredentialsChanged,
    ExternalRevoke(usize),
    Unavailable,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => any::<bool>().prop_map(Action::Request),
        3 => (0..CODES.len()).prop_map(Action::Submit),
        6 => (0..8usize, any::<u8>()).prop_map(|(i, r)| Action::Deliver(i, r)),
        2 => (0..CODES.len()).prop_map(Action::Dem9101),
        1 => Just(Action::Revoke),
        3 => (0..7200i64).prop_map(Action::Tick),
        1 => Just(Action::CredentialsChanged),
        1 => (0..CODES.len()).prop_map(Action::ExternalRevoke),
        1 => Just(Action::Unavailable),
    ]
}

#[derive(Clone, Debug)]
enum Call {
    Create { at: OffsetDateTime, revision: i64 },
    Check { code: SessionCode, revision: i64 },
    Revoke { code: SessionCode, revision: i64 },
}

struct Model {
    revoked: [bool; 5],
}

impl Model {
    fn valid_from(i: usize) -> OffsetDateTime {
        T0 + Duration::minutes(10 * i as i64)
    }
    fn check(&self, code: &SessionCode, now: OffsetDateTime) -> TokenCheck {
        let Some(i) = CODES.iter().position(|c| *c == code.expose_secret()) else {
            return TokenCheck::NotFound;
        };
        if i == 4 {
            return TokenCheck::WrongUser;
        }
        let from = Self::valid_from(i);
        let until = from + Duration::hours(16);
        if self.revoked[i] {
            TokenCheck::Revoked
        } else if until <= now {
            TokenCheck::Expired {
                valid_until: Some(until),
            }
        } else {
            TokenCheck::Valid {
                valid_from: from,
                valid_until: until,
            }
        }
    }
}

fn ws() -> Actor {
    Actor::Workstation(WorkstationId("w".into()))
}

fn run(actions: Vec<Action>) -> Result<(), TestCaseError> {
    let policy = Policy::default();
    let key = SessionKey::new(
        UserId::new("PROVAX00X00X000Y").unwrap(),
        Application::Prescrittore,
    );
    let mut record = SessionRecord::new(key);
    let mut now = T0;
    let mut revision = 1i64;
    let mut pending: Vec<Call> = Vec::new();
    let mut model = Model {
        revoked: [false; 5],
    };
    let mut replaced: Vec<String> = Vec::new();

    for action in actions {
        let event = match action {
            Action::Request(replace) => Event::RequestCode { replace, by: ws() },
            Action::Submit(i) => Event::CodeSubmitted {
                code: SessionCode::new(CODES[i]),
                by: ws(),
            },
            Action::Dem9101(i) => {
                let code = record
                    .usable_code()
                    .map(|c| c.code.clone())
                    .filter(|_| i % 2 == 0)
                    .unwrap_or_else(|| SessionCode::new(CODES[i]));
                Event::DemCall9101 { code, by: ws() }
            }
            Action::Revoke => Event::Revoke { by: ws() },
            Action::Tick(s) => {
                now += Duration::seconds(s);
                Event::Tick
            }
            Action::CredentialsChanged => {
                revision += 1;
                Event::CredentialsChanged { revision }
            }
            Action::ExternalRevoke(i) => {
                model.revoked[i] = true;
                continue;
            }
            Action::Unavailable => Event::UpstreamUnavailable,
            Action::Deliver(i, r) => {
                if pending.is_empty() {
                    continue;
                }
                match pending.remove(i % pending.len()) {
                    Call::Create { revision, .. } => match r % 6 {
                        0 => Event::CreateSucceeded {
                            result: CreateResult::Mailed,
                            by: ws(),
                        },
                        1 => Event::CreateFailed {
                            error: UpstreamError::PasswordRefused,
                            by: ws(),
                            revision,
                        },
                        2 => Event::CreateFailed {
                            error: UpstreamError::Unavailable {
                                detail: String::new(),
                            },
                            by: ws(),
                            revision,
                        },
                        n => Event::CreateSucceeded {
                            result: CreateResult::Issued(SessionCode::new(CODES[n as usize % 5])),
                            by: ws(),
                        },
                    },
                    Call::Check { code, revision } => {
                        let result = if r % 7 == 0 {
                            Err(UpstreamError::Unavailable {
                                detail: String::new(),
                            })
                        } else {
                            Ok(model.check(&code, now))
                        };
                        Event::CheckResult {
                            code,
                            by: ws(),
                            revision,
                            result,
                        }
                    }
                    Call::Revoke { code, revision } => {
                        if let Some(i) = CODES.iter().position(|c| *c == code.expose_secret()) {
                            model.revoked[i] = true;
                        }
                        Event::RevokeResult {
                            code,
                            by: ws(),
                            revision,
                            result: Ok(RevokeOutcome::Revoked),
                        }
                    }
                }
            }
        };
        let before = record.clone();
        let d = decide(&record, event.clone(), now, &policy);
        let after = &d.next;

        // Never two creates in flight.
        let creates = d
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::CallCreate))
            .count();
        prop_assert!(creates <= 1);
        if creates == 1 {
            let live = pending
                .iter()
                .any(|c| matches!(c, Call::Create { at, .. } if now - *at < policy.create_timeout));
            prop_assert!(!live, "second create while one is in flight");
            // Lost creates are forgotten, as the timeout says.
            pending.retain(|c| !matches!(c, Call::Create { .. }));
        }

        // The current code changes only through a valid checkToken of that very code.
        let old = before
            .usable_code()
            .map(|c| c.code.expose_secret().to_owned());
        let new = after.usable_code().cloned();
        if let Some(new) = &new
            && old.as_deref() != Some(new.code.expose_secret())
        {
            match &event {
                Event::CheckResult {
                    code,
                    result:
                        Ok(TokenCheck::Valid {
                            valid_from,
                            valid_until,
                        }),
                    ..
                } => {
                    prop_assert_eq!(code, &new.code);
                    prop_assert_eq!(*valid_until, new.valid_until);
                    prop_assert_eq!(*valid_from, new.valid_from);
                }
                other => prop_assert!(false, "code replaced by {other:?}"),
            }
            prop_assert!(
                !replaced.contains(&new.code.expose_secret().to_owned()),
                "codes alternated"
            );
            if let Some(old) = old {
                replaced.push(old);
            }
        }

        // No upstream call with refused credentials.
        let lifted = matches!(event, Event::CredentialsChanged { revision: r } if before.blocked.as_ref().is_some_and(|b| b.revision != r));
        if before.blocked.is_some() && !lifted {
            prop_assert!(
                !d.effects.iter().any(|e| matches!(
                    e,
                    Effect::CallCreate | Effect::CallCheckToken(_) | Effect::CallRevoke(_)
                )),
                "upstream call while blocked: {:?}",
                d.effects
            );
        }

        // Level agrees with expiry; one notification at most; no code in the audit.
        let view = SessionView::build(after, now, &policy, None);
        let usable = after.usable_code().filter(|c| c.valid_until > now);
        match view.level {
            Level::Green | Level::Yellow => {
                let c = usable.expect("green/yellow needs a live code");
                prop_assert!(after.blocked.is_none());
                let near = c.valid_until - now <= policy.yellow_before;
                let suspect = matches!(after.code, CodeSlot::Suspect { .. });
                prop_assert_eq!(view.level == Level::Yellow, near || suspect);
            }
            Level::Red => prop_assert!(usable.is_none() || after.blocked.is_some()),
        }
        if let Some(until) = view.expires_at {
            prop_assert_eq!(Some(until), after.usable_code().map(|c| c.valid_until));
        }
        prop_assert!(
            d.effects
                .iter()
                .filter(|e| matches!(e, Effect::Notify))
                .count()
                <= 1
        );
        for e in &d.effects {
            if let Effect::Audit(a) = e {
                let text = format!("{a:?}");
                prop_assert!(CODES.iter().all(|c| !text.contains(c)));
            }
        }

        check_due(after, now, &policy)?;

        for e in &d.effects {
            match e {
                Effect::CallCreate => pending.push(Call::Create { at: now, revision }),
                Effect::CallCheckToken(code) => pending.push(Call::Check {
                    code: code.clone(),
                    revision,
                }),
                Effect::CallRevoke(code) => pending.push(Call::Revoke {
                    code: code.clone(),
                    revision,
                }),
                Effect::Notify | Effect::Audit(_) => {}
            }
        }
        record = d.next;
    }
    Ok(())
}

/// `record.due_at` is [`next_due`], and exact: ticks before it leave the record as it is
/// (so the periodic pass may skip it), a tick at it changes the record or calls Sistema TS.
fn check_due(
    record: &SessionRecord,
    now: OffsetDateTime,
    policy: &Policy,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(record.due_at, next_due(record, policy));
    let quiet_until = match record.due_at {
        Some(due) => {
            let d = decide(record, Event::Tick, due.max(now), policy);
            prop_assert!(
                d.next != *record || !d.effects.is_empty(),
                "nothing happens at the due moment {due} (now {now}): {record:?}"
            );
            due - Duration::milliseconds(1)
        }
        None => now + Duration::days(30),
    };
    if quiet_until < now {
        return Ok(());
    }
    for t in [now, now + (quiet_until - now) / 2, quiet_until] {
        let d = decide(record, Event::Tick, t, policy);
        prop_assert_eq!(
            &d.next,
            record,
            "a tick at {} before the due moment changed it",
            t
        );
        prop_assert!(
            d.effects.is_empty(),
            "a tick at {t} before the due moment: {:?}",
            d.effects
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_keep_the_rules(actions in prop::collection::vec(action(), 1..80)) {
        run(actions)?;
    }
}
