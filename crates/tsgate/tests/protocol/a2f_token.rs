//! A2F `checkToken` and `revoke`: valid, revoked, expired, unknown, another user's code.

use serde_json::json;
use sistemats::SessionCode;
use sistemats::a2f::{A2fErrorKind, RevokeOutcome, TokenStatus};
use sistemats::dem::{DemReceipt, InvioPrescrittoReceipt};
use tsgate_sim::{Enforcement, Mode};

use crate::support::Harness;

fn validity_seconds(status: &TokenStatus) -> i64 {
    match status {
        TokenStatus::Valid {
            valid_from,
            valid_until,
        } => (*valid_until - *valid_from).whole_seconds(),
        other => panic!("expected a valid code, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_code_lasts_16_hours_and_validity_is_configurable() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;
    let status = h.check(&user, &code).await;
    assert!(status.is_usable());
    assert_eq!(validity_seconds(&status), 16 * 3600);

    // `--validity` at run time: new codes get the new validity.
    let settings = h.control(json!({ "validity_seconds": 3600 })).await;
    assert_eq!(settings["validity_seconds"], 3600);
    let short = h.new_code(&user).await;
    assert_eq!(validity_seconds(&h.check(&user, &short).await), 3600);
    h.finish().await;
}

#[tokio::test]
async fn revoke_then_revoke_again() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;

    assert_eq!(h.revoke(&user, &code).await, RevokeOutcome::Revoked);
    let status = h.check(&user, &code).await;
    assert!(
        matches!(status, TokenStatus::Revoked { validity: Some(_) }),
        "{status:?}"
    );
    assert!(!status.is_usable());

    let again = h.revoke(&user, &code).await;
    let RevokeOutcome::AlreadyRevoked { at: Some(at) } = again else {
        panic!("expected AlreadyRevoked with its date, got {again:?}");
    };
    // The revocation happened during this test (the clock was not moved).
    let now = time::OffsetDateTime::now_utc();
    assert!(at <= now + time::Duration::seconds(1), "{at} vs {now}");
    assert!(at >= now - time::Duration::minutes(5), "{at} vs {now}");
    h.finish().await;
}

#[tokio::test]
async fn code_expires_when_the_clock_passes_16_hours() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;
    assert!(h.check(&user, &code).await.is_usable());

    let settings = h.control(json!({ "advance_clock_seconds": 57_601 })).await;
    assert_eq!(settings["clock_offset_seconds"], 57_601);
    let status = h.check(&user, &code).await;
    assert!(
        matches!(status, TokenStatus::Expired { validity: Some(_) }),
        "{status:?}"
    );
    // A DEM call with the expired code is refused for the second factor.
    let request = h.invio_request(&user, &user);
    let receipt: InvioPrescrittoReceipt = h.dem(&user, &request, Some(&code)).await;
    assert!(!receipt.outcome().is_accepted());
    assert!(receipt.second_factor_problem());
    // Revoking an expired code: already no longer valid.
    let revoked = h.revoke(&user, &code).await;
    assert!(
        matches!(revoked, RevokeOutcome::AlreadyRevoked { .. }),
        "{revoked:?}"
    );
    h.finish().await;
}

#[tokio::test]
async fn unknown_code_and_another_users_code_are_refused() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let titolare = h.titolare().clone();
    let sostituto = h.sostituto().clone();

    let never_issued = SessionCode::new(uuid::Uuid::new_v4().to_string());
    h.secret(never_issued.expose_secret());
    match h.check(&titolare, &never_issued).await {
        TokenStatus::Refused(e) => {
            assert_eq!((e.kind, e.code.as_str()), (A2fErrorKind::NoCode, "603"));
        }
        other => panic!("expected 603, got {other:?}"),
    }
    match h.revoke(&titolare, &never_issued).await {
        RevokeOutcome::Refused(e) => assert_eq!(e.code, "603"),
        other => panic!("expected 603, got {other:?}"),
    }

    // The titolare's code, checked and revoked by the substitute: 04, and it stays valid.
    let code = h.new_code(&titolare).await;
    match h.check(&sostituto, &code).await {
        TokenStatus::Refused(e) => {
            assert_eq!((e.kind, e.code.as_str()), (A2fErrorKind::NoCode, "04"));
        }
        other => panic!("expected 04, got {other:?}"),
    }
    match h.revoke(&sostituto, &code).await {
        RevokeOutcome::Refused(e) => assert_eq!(e.code, "04"),
        other => panic!("expected 04, got {other:?}"),
    }
    assert!(h.check(&titolare, &code).await.is_usable());
    h.finish().await;
}
