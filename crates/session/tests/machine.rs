//! Every transition of the pure state machine.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tsgate_session::*;

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const T0: OffsetDateTime = datetime!(2026-11-27 07:00 UTC); // 08:00 in Rome

fn ws(n: &str) -> Actor {
    Actor::Workstation(WorkstationId(n.into()))
}
fn code(s: &str) -> SessionCode {
    SessionCode::new(s)
}
fn key() -> SessionKey {
    SessionKey::new(
        UserId::new("PROVAX00X00X000Y").unwrap(),
        Application::Prescrittore,
    )
}
fn fresh() -> SessionRecord {
    SessionRecord::new(key())
}
fn policy() -> Policy {
    Policy::default()
}
fn valid(from: OffsetDateTime) -> TokenCheck {
    TokenCheck::Valid {
        valid_from: from,
        valid_until: from + Duration::hours(16),
    }
}
fn step(r: &SessionRecord, e: Event, now: OffsetDateTime) -> Decision {
    decide(r, e, now, &policy())
}
fn calls(d: &Decision) -> Vec<Effect> {
    d.effects
        .iter()
        .filter(|e| !matches!(e, Effect::Audit(_) | Effect::Notify))
        .cloned()
        .collect()
}
fn notifies(d: &Decision) -> usize {
    d.effects
        .iter()
        .filter(|e| matches!(e, Effect::Notify))
        .count()
}
fn audits(d: &Decision) -> Vec<(AuditKind, String)> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(a) => Some((a.kind, a.outcome.clone())),
            _ => None,
        })
        .collect()
}
fn state(r: &SessionRecord, now: OffsetDateTime) -> SessionView {
    SessionView::build(r, now, &policy(), None)
}
fn checked(
    r: &SessionRecord,
    c: &str,
    result: Result<TokenCheck, UpstreamError>,
    now: OffsetDateTime,
) -> Decision {
    step(
        r,
        Event::CheckResult {
            code: code(c),
            by: ws("1"),
            revision: 1,
            result,
        },
        now,
    )
}

/// A record with A active (verified at T0, valid 16 h from T0).
fn active_a() -> SessionRecord {
    let d = step(
        &fresh(),
        Event::CodeSubmitted {
            code: code(A),
            by: ws("1"),
        },
        T0,
    );
    assert_eq!(calls(&d), vec![Effect::CallCheckToken(code(A))]);
    let d = checked(&d.next, A, Ok(valid(T0)), T0);
    d.outcome.clone().unwrap();
    d.next
}

#[test]
fn request_from_none_sends_one_create_and_awaits() {
    let d = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    d.outcome.clone().unwrap();
    assert_eq!(calls(&d), vec![Effect::CallCreate]);
    assert_eq!(notifies(&d), 1);
    let v = state(&d.next, T0);
    assert_eq!(v.state, StateName::AwaitingCode);
    assert_eq!(v.requested_at, Some(T0));
    assert_eq!(v.level, Level::Red);
    assert_eq!(audits(&d), vec![(AuditKind::Requested, "sent".into())]);
}

#[test]
fn second_request_while_create_in_flight_joins() {
    let d1 = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    let d2 = step(
        &d1.next,
        Event::RequestCode {
            replace: true,
            by: ws("2"),
        },
        T0 + Duration::seconds(1),
    );
    d2.outcome.clone().unwrap();
    assert!(calls(&d2).is_empty());
    assert_eq!(notifies(&d2), 0);
    assert_eq!(audits(&d2), vec![(AuditKind::Requested, "joined".into())]);
}

#[test]
fn lost_create_releases_the_lease_after_the_timeout() {
    let d1 = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    let later = T0 + policy().create_timeout;
    let d2 = step(
        &d1.next,
        Event::RequestCode {
            replace: false,
            by: ws("2"),
        },
        later,
    );
    d2.outcome.clone().unwrap();
    assert_eq!(calls(&d2), vec![Effect::CallCreate]);
}

#[test]
fn min_interval_between_creates() {
    let d = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    let d = step(
        &d.next,
        Event::CreateSucceeded {
            result: CreateResult::Mailed,
            by: ws("1"),
        },
        T0,
    );
    assert_eq!(state(&d.next, T0).state, StateName::AwaitingCode);
    // A plain click while the mail is on its way joins the request made moments ago.
    let joined = step(
        &d.next,
        Event::RequestCode {
            replace: false,
            by: ws("2"),
        },
        T0 + Duration::seconds(30),
    );
    assert!(joined.outcome.is_ok());
    assert!(calls(&joined).is_empty());
    assert_eq!(state(&joined.next, T0).state, StateName::AwaitingCode);
    // Asking explicitly for another one so soon is refused, with the time it becomes possible.
    let d2 = step(
        &d.next,
        Event::RequestCode {
            replace: true,
            by: ws("2"),
        },
        T0 + Duration::seconds(30),
    );
    let err = d2.outcome.clone().unwrap_err();
    assert_eq!(err.code(), "too_soon");
    assert_eq!(
        err.to_string(),
        "Un codice è stato richiesto da poco: controlla la casella di posta certificata. Potrai richiederne un altro alle 08:01:00."
    );
    assert!(calls(&d2).is_empty());
    let d3 = step(
        &d.next,
        Event::RequestCode {
            replace: false,
            by: ws("2"),
        },
        T0 + Duration::seconds(60),
    );
    assert_eq!(calls(&d3), vec![Effect::CallCreate]);
}

#[test]
fn issued_code_is_verified_before_use() {
    let d = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    let d = step(
        &d.next,
        Event::CreateSucceeded {
            result: CreateResult::Issued(code(A)),
            by: ws("1"),
        },
        T0,
    );
    assert_eq!(calls(&d), vec![Effect::CallCheckToken(code(A))]);
    assert!(
        d.next.usable_code().is_none(),
        "not usable before checkToken"
    );
    let d = checked(&d.next, A, Ok(valid(T0)), T0);
    let v = state(&d.next, T0);
    assert_eq!(v.state, StateName::Active);
    assert_eq!(v.level, Level::Green);
    assert!(!v.pending);
    assert_eq!(v.expires_at, Some(T0 + Duration::hours(16)));
    assert_eq!(v.remaining_seconds, Some(16 * 3600));
}

#[test]
fn request_while_active_needs_confirmation() {
    let r = active_a();
    let d = step(
        &r,
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0 + Duration::hours(1),
    );
    let e = d.outcome.clone().unwrap_err();
    assert_eq!(e.code(), "code_active");
    assert!(
        e.to_string().contains("valido fino al 28/11 alle 00:00"),
        "{e}"
    );
    assert!(calls(&d).is_empty());
    let d = step(
        &r,
        Event::RequestCode {
            replace: true,
            by: ws("1"),
        },
        T0 + Duration::hours(1),
    );
    assert_eq!(calls(&d), vec![Effect::CallCreate]);
    let v = state(&d.next, T0 + Duration::hours(1));
    assert_eq!((v.state, v.pending), (StateName::Active, true));
}

#[test]
fn verified_replacement_takes_over_in_one_step() {
    let r = active_a();
    let t1 = T0 + Duration::hours(14);
    let d = step(
        &r,
        Event::RequestCode {
            replace: true,
            by: ws("1"),
        },
        t1,
    );
    let d = step(
        &d.next,
        Event::CreateSucceeded {
            result: CreateResult::Mailed,
            by: ws("1"),
        },
        t1,
    );
    assert!(state(&d.next, t1).pending);
    let d = step(
        &d.next,
        Event::CodeSubmitted {
            code: code(B),
            by: Actor::Mailbox,
        },
        t1,
    );
    assert_eq!(calls(&d), vec![Effect::CallCheckToken(code(B))]);
    assert_eq!(
        notifies(&d),
        0,
        "nothing visible changes before verification"
    );
    assert_eq!(d.next.usable_code().unwrap().code, code(A));
    let d = checked(&d.next, B, Ok(valid(t1)), t1);
    d.outcome.clone().unwrap();
    assert_eq!(notifies(&d), 1);
    assert_eq!(d.next.usable_code().unwrap().code, code(B));
    let v = state(&d.next, t1);
    assert_eq!(
        (v.state, v.pending, v.expires_at),
        (StateName::Active, false, Some(t1 + Duration::hours(16)))
    );
}

#[test]
fn rejected_codes_never_replace_a_good_one() {
    let r = active_a();
    let t = T0 + Duration::hours(2);
    for (result, reason) in [
        (TokenCheck::Revoked, "revoked"),
        (
            TokenCheck::Expired {
                valid_until: Some(T0 - Duration::hours(8)),
            },
            "expired",
        ),
        (TokenCheck::NotFound, "rejected"),
        (TokenCheck::WrongUser, "wrong_user"),
        (
            TokenCheck::Valid {
                valid_from: T0 - Duration::hours(20),
                valid_until: T0 - Duration::hours(4),
            },
            "expired",
        ),
        (
            TokenCheck::Valid {
                valid_from: T0 - Duration::hours(1),
                valid_until: T0 + Duration::hours(15),
            },
            "rejected",
        ),
    ] {
        let d = checked(&r, B, Ok(result), t);
        let e = d.outcome.clone().unwrap_err();
        assert_eq!(e.code(), reason);
        assert_eq!(d.next.code, r.code, "{reason}");
        assert_eq!(
            d.next.last_error, None,
            "other workstations are not alarmed"
        );
        assert_eq!(notifies(&d), 0);
        assert_eq!(audits(&d).last().unwrap().0, AuditKind::Rejected);
    }
}

#[test]
fn yesterdays_code_message_has_the_time() {
    let now = datetime!(2026-11-27 07:00 UTC);
    let d = checked(
        &fresh(),
        A,
        Ok(TokenCheck::Expired {
            valid_until: Some(datetime!(2026-11-26 23:05 UTC)),
        }),
        now,
    );
    let e = d.outcome.clone().unwrap_err();
    assert_eq!(
        e.to_string(),
        "Il codice è scaduto alle 00:05: richiedine uno nuovo."
    );
    assert_eq!(state(&d.next, now).state, StateName::Rejected);
    assert_eq!(state(&d.next, now).last_error.unwrap().code, "expired");
}

#[test]
fn wrong_user_code_is_refused() {
    let d = checked(&fresh(), A, Ok(TokenCheck::WrongUser), T0);
    assert_eq!(d.outcome.unwrap_err().code(), "wrong_user");
    assert!(d.next.usable_code().is_none());
}

#[test]
fn expiry_only_from_check_token_and_at_that_time() {
    let r = active_a();
    let until = T0 + Duration::hours(16);
    let d = step(&r, Event::Tick, until - Duration::seconds(1));
    assert_eq!(
        state(&d.next, until - Duration::seconds(1)).state,
        StateName::Active
    );
    let d = step(&r, Event::Tick, until);
    assert_eq!(notifies(&d), 1);
    assert_eq!(audits(&d), vec![(AuditKind::Expired, "ok".into())]);
    let v = state(&d.next, until);
    assert_eq!((v.state, v.level), (StateName::Expired, Level::Red));
    assert!(
        v.last_error
            .unwrap()
            .message
            .starts_with("Il codice è scaduto")
    );

    // A different validity from checkToken (8 h) is honoured.
    let d = step(
        &fresh(),
        Event::CodeSubmitted {
            code: code(A),
            by: ws("1"),
        },
        T0,
    );
    let d = checked(
        &d.next,
        A,
        Ok(TokenCheck::Valid {
            valid_from: T0,
            valid_until: T0 + Duration::hours(8),
        }),
        T0,
    );
    let d = step(&d.next, Event::Tick, T0 + Duration::hours(8));
    assert_eq!(
        state(&d.next, T0 + Duration::hours(8)).state,
        StateName::Expired
    );
}

#[test]
fn yellow_in_the_last_hour() {
    let r = active_a();
    let until = T0 + Duration::hours(16);
    assert_eq!(state(&r, until - Duration::minutes(61)).level, Level::Green);
    assert_eq!(
        state(&r, until - Duration::minutes(60)).level,
        Level::Yellow
    );
    let d = step(&r, Event::Tick, until - Duration::minutes(59));
    assert_eq!(notifies(&d), 1, "green to yellow is a visible change");
    let mut p = policy();
    p.yellow_before = Duration::minutes(10);
    assert_eq!(
        SessionView::build(&r, until - Duration::minutes(30), &p, None).level,
        Level::Green
    );
}

#[test]
fn dem_9101_makes_suspect_then_resolves() {
    let r = active_a();
    let t = T0 + Duration::hours(3);
    let d = step(
        &r,
        Event::DemCall9101 {
            code: code(A),
            by: ws("1"),
        },
        t,
    );
    assert_eq!(calls(&d), vec![Effect::CallCheckToken(code(A))]);
    let v = state(&d.next, t);
    assert_eq!((v.state, v.level), (StateName::Suspect, Level::Yellow));
    let suspect = d.next;

    let ok = checked(&suspect, A, Ok(valid(T0)), t);
    ok.outcome.clone().unwrap();
    assert_eq!(state(&ok.next, t).state, StateName::Active);

    let revoked = checked(&suspect, A, Ok(TokenCheck::Revoked), t);
    assert_eq!(state(&revoked.next, t).state, StateName::Revoked);
    let expired = checked(
        &suspect,
        A,
        Ok(TokenCheck::Expired { valid_until: None }),
        t,
    );
    assert_eq!(state(&expired.next, t).state, StateName::Expired);

    // Sistema TS does not answer: stays suspect, retried on tick after the interval.
    let down = checked(
        &suspect,
        A,
        Err(UpstreamError::Unavailable {
            detail: "timeout".into(),
        }),
        t,
    );
    assert_eq!(down.outcome.unwrap_err().code(), "upstream_unavailable");
    assert_eq!(state(&down.next, t).state, StateName::Suspect);
    assert!(calls(&step(&down.next, Event::Tick, t + Duration::seconds(10))).is_empty());
    assert_eq!(
        calls(&step(&down.next, Event::Tick, t + Duration::seconds(30))),
        vec![Effect::CallCheckToken(code(A))]
    );
}

#[test]
fn dem_9101_for_an_old_code_is_ignored() {
    let r = active_a();
    let d = step(
        &r,
        Event::DemCall9101 {
            code: code(B),
            by: ws("1"),
        },
        T0,
    );
    assert!(calls(&d).is_empty());
    assert_eq!(d.next.code, r.code);
}

#[test]
fn password_refused_blocks_every_automatic_call_until_changed() {
    let d = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    let d = step(
        &d.next,
        Event::CreateFailed {
            error: UpstreamError::PasswordRefused,
            by: ws("1"),
            revision: 7,
        },
        T0,
    );
    let e = d.outcome.clone().unwrap_err();
    assert_eq!(e.code(), "password_refused");
    let v = state(&d.next, T0);
    assert_eq!(v.state, StateName::CredentialsRefused);
    assert!(v.last_error.unwrap().message.contains("password"));
    let blocked = d.next;
    let later = T0 + Duration::hours(1);
    for ev in [
        Event::RequestCode {
            replace: true,
            by: ws("2"),
        },
        Event::CodeSubmitted {
            code: code(A),
            by: ws("2"),
        },
        Event::Tick,
        Event::CredentialsChanged { revision: 7 },
    ] {
        let d = step(&blocked, ev, later);
        assert!(calls(&d).is_empty());
        assert_eq!(state(&d.next, later).state, StateName::CredentialsRefused);
    }
    let d = step(&blocked, Event::CredentialsChanged { revision: 8 }, later);
    assert_eq!(notifies(&d), 1);
    assert_eq!(state(&d.next, later).state, StateName::None);
    assert!(state(&d.next, later).last_error.is_none());
    let d = step(
        &d.next,
        Event::RequestCode {
            replace: false,
            by: ws("2"),
        },
        later,
    );
    assert_eq!(calls(&d), vec![Effect::CallCreate]);
}

#[test]
fn pin_and_user_refusals_block_too() {
    for (error, code_) in [
        (
            UpstreamError::PinRefused { code: "302".into() },
            "pin_refused",
        ),
        (
            UpstreamError::UserRefused {
                code: "http-500".into(),
            },
            "user_refused",
        ),
    ] {
        let d = checked(&fresh(), A, Err(error), T0);
        assert_eq!(d.outcome.unwrap_err().code(), code_);
        assert_eq!(state(&d.next, T0).state, StateName::CredentialsRefused);
    }
}

#[test]
fn blocked_suspect_is_rechecked_when_credentials_change() {
    let r = active_a();
    let d = checked(&r, B, Err(UpstreamError::PasswordRefused), T0);
    let d = step(
        &d.next,
        Event::DemCall9101 {
            code: code(A),
            by: ws("1"),
        },
        T0,
    );
    assert!(calls(&d).is_empty());
    let d = step(
        &d.next,
        Event::CredentialsChanged { revision: 2 },
        T0 + Duration::minutes(5),
    );
    assert_eq!(calls(&d), vec![Effect::CallCheckToken(code(A))]);
}

#[test]
fn create_errors_map_to_codes_and_release_the_lease() {
    for (error, c) in [
        (UpstreamError::NoCertifiedMail, "no_certified_mail"),
        (UpstreamError::MailSendFailed, "mail_send_failed"),
        (
            UpstreamError::Unavailable {
                detail: "503".into(),
            },
            "upstream_unavailable",
        ),
        (
            UpstreamError::A2f {
                code: "9999".into(),
                message: "Errore di sistema".into(),
            },
            "upstream_error",
        ),
    ] {
        let d = step(
            &fresh(),
            Event::RequestCode {
                replace: false,
                by: ws("1"),
            },
            T0,
        );
        let d = step(
            &d.next,
            Event::CreateFailed {
                error,
                by: ws("1"),
                revision: 1,
            },
            T0,
        );
        let e = d.outcome.clone().unwrap_err();
        assert_eq!(e.code(), c);
        assert!(d.next.request.is_none());
        assert_eq!(state(&d.next, T0).state, StateName::None);
        assert_eq!(state(&d.next, T0).last_error.unwrap().code, c);
    }
}

#[test]
fn unavailable_message_names_the_last_success() {
    let r = active_a(); // the check at T0 was a success
    let d = step(&r, Event::UpstreamUnavailable, T0 + Duration::minutes(30));
    let v = state(&d.next, T0 + Duration::minutes(30));
    let e = v.last_error.unwrap();
    assert_eq!(e.code, "upstream_unavailable");
    assert!(
        e.message.contains("ultimo contatto riuscito alle 08:00"),
        "{}",
        e.message
    );
    let d = step(
        &d.next,
        Event::UpstreamRecovered,
        T0 + Duration::minutes(31),
    );
    assert!(d.next.last_error.is_none());
}

#[test]
fn revoke_is_local_at_once_then_upstream() {
    let r = active_a();
    let d = step(&r, Event::Revoke { by: ws("1") }, T0);
    assert_eq!(calls(&d), vec![Effect::CallRevoke(code(A))]);
    assert_eq!(state(&d.next, T0).state, StateName::Revoked);
    let ok = step(
        &d.next,
        Event::RevokeResult {
            code: code(A),
            by: ws("1"),
            revision: 1,
            result: Ok(RevokeOutcome::Revoked),
        },
        T0,
    );
    ok.outcome.clone().unwrap();
    let nothing = step(&fresh(), Event::Revoke { by: ws("1") }, T0);
    nothing.outcome.clone().unwrap();
    assert!(calls(&nothing).is_empty());
}

#[test]
fn copy_is_audited_and_needs_a_code() {
    let d = step(&active_a(), Event::CodeCopied { by: ws("1") }, T0);
    assert_eq!(audits(&d), vec![(AuditKind::Copied, "ok".into())]);
    let d = step(&fresh(), Event::CodeCopied { by: ws("1") }, T0);
    assert_eq!(d.outcome.unwrap_err().code(), "no_code");
}

#[test]
fn audit_never_contains_the_code() {
    let r = active_a();
    let d = step(
        &r,
        Event::DemCall9101 {
            code: code(A),
            by: ws("1"),
        },
        T0,
    );
    for e in &d.effects {
        if let Effect::Audit(a) = e {
            assert_eq!(a.code_hint.as_deref(), Some("…0001"));
        }
    }
    assert!(!format!("{:?}", d.effects).contains(A));
    assert!(!format!("{:?}", d.next).contains(A));
}

#[test]
fn a_retry_after_a_failed_create_is_not_too_soon() {
    let d = step(
        &fresh(),
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0,
    );
    assert_eq!(calls(&d), vec![Effect::CallCreate]);
    let failed = step(
        &d.next,
        Event::CreateFailed {
            error: UpstreamError::Unavailable {
                detail: "HTTP 503".into(),
            },
            by: ws("1"),
            revision: 1,
        },
        T0 + Duration::seconds(2),
    );
    assert!(failed.outcome.is_err());
    // The doctor clicks again at once: Sistema TS sent nothing, so nothing is "too soon".
    let retry = step(
        &failed.next,
        Event::RequestCode {
            replace: false,
            by: ws("1"),
        },
        T0 + Duration::seconds(5),
    );
    assert!(retry.outcome.is_ok(), "{:?}", retry.outcome);
    assert_eq!(calls(&retry), vec![Effect::CallCreate]);
}
