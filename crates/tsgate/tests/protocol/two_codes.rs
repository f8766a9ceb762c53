//! The official two-code rule (MOD-2F §5), observed through real DEM calls: a new code does
//! not kill the active one until it is first used, and a further request replaces a code
//! that was never used.

use sistemats::SessionCode;
use sistemats::a2f::TokenStatus;
use sistemats::dem::{DemOutcome, DemReceipt, InvioPrescrittoReceipt};
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, SimUser};

async fn invio_with(h: &Harness, user: &SimUser, code: &SessionCode) -> DemOutcome {
    let request = h.invio_request(user, user);
    let receipt: InvioPrescrittoReceipt = h.dem(user, &request, Some(code)).await;
    receipt.outcome()
}

fn assert_refused_9101(outcome: &DemOutcome) {
    assert!(!outcome.is_accepted(), "{outcome:?}");
    assert!(outcome.second_factor_problem(), "{outcome:?}");
}

#[tokio::test]
async fn two_code_rule_through_dem_calls() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();

    // A: requested and used once.
    let a = h.new_code(&user).await;
    assert_eq!(invio_with(&h, &user, &a).await, DemOutcome::Accepted);

    // B requested: A keeps working.
    let b = h.new_code(&user).await;
    assert_ne!(a, b);
    assert!(h.check(&user, &a).await.is_usable());
    assert!(h.check(&user, &b).await.is_usable());
    assert_eq!(invio_with(&h, &user, &a).await, DemOutcome::Accepted);

    // First use of B: A is revoked.
    assert_eq!(invio_with(&h, &user, &b).await, DemOutcome::Accepted);
    let status = h.check(&user, &a).await;
    assert!(matches!(status, TokenStatus::Revoked { .. }), "{status:?}");
    assert_refused_9101(&invio_with(&h, &user, &a).await);
    assert_eq!(invio_with(&h, &user, &b).await, DemOutcome::Accepted);

    // C requested and never used, then D requested: D replaces C, B (active) still works.
    let c = h.new_code(&user).await;
    assert!(h.check(&user, &c).await.is_usable());
    let d = h.new_code(&user).await;
    let status = h.check(&user, &c).await;
    assert!(matches!(status, TokenStatus::Revoked { .. }), "{status:?}");
    assert_refused_9101(&invio_with(&h, &user, &c).await);
    assert!(h.check(&user, &b).await.is_usable());
    assert_eq!(invio_with(&h, &user, &b).await, DemOutcome::Accepted);

    // First use of D revokes B.
    assert_eq!(invio_with(&h, &user, &d).await, DemOutcome::Accepted);
    let status = h.check(&user, &b).await;
    assert!(matches!(status, TokenStatus::Revoked { .. }), "{status:?}");
    assert!(h.check(&user, &d).await.is_usable());

    let stats = h.stats().await;
    assert_eq!(stats["creates_by_user"][&user.user_id], 4);
    assert_eq!(stats["warnings_9101"], 2);
    h.finish().await;
}
