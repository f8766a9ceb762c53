//! `Authorization2F` enforcement on the DEM services: off, warn, block, the test
//! environment's monthly wildcard, and another user's code.

use sistemats::a2f::Application;
use sistemats::dem::{
    DemOutcome, DemReceipt, InvioPrescrittoReceipt, KnownCode, VisualizzaPrescrittoReceipt,
    VisualizzaPrescrittoRequest,
};
use sistemats::env::test_wildcard;
use sistemats::{SessionCode, dem::Nre};
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, SimUser, rome_now, set_enforcement};

async fn invio(h: &Harness, user: &SimUser, code: Option<&SessionCode>) -> InvioPrescrittoReceipt {
    let request = h.invio_request(user, user);
    h.dem(user, &request, code).await
}

fn has_9101(outcome: &DemOutcome) -> bool {
    outcome
        .diagnostics()
        .iter()
        .any(|d| d.code == "9101" && d.known == Some(KnownCode::SecondoFattore))
}

#[tokio::test]
async fn enforcement_off_accepts_without_code() {
    let h = Harness::start(Mode::Production, Enforcement::Off).await;
    let user = h.titolare().clone();
    let receipt = invio(&h, &user, None).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted);
    assert!(!receipt.second_factor_problem());
    assert!(receipt.nre().is_some());
    assert_eq!(h.stats().await["warnings_9101"], 0);
    h.finish().await;
}

#[tokio::test]
async fn enforcement_warn_accepts_with_9101_warning() {
    let h = Harness::start(Mode::Production, Enforcement::Warn).await;
    let user = h.titolare().clone();
    let receipt = invio(&h, &user, None).await;
    let outcome = receipt.outcome();
    assert!(
        matches!(outcome, DemOutcome::AcceptedWithWarnings { .. }),
        "{outcome:?}"
    );
    assert!(has_9101(&outcome));
    assert!(outcome.second_factor_problem());
    assert!(receipt.second_factor_problem());
    assert_eq!(receipt.operation_code(), "0001");
    // The prescription went through all the same.
    let nre = receipt.nre().expect("an NRE");
    let seen: VisualizzaPrescrittoReceipt = h
        .dem(
            &user,
            &VisualizzaPrescrittoRequest::new(h.encrypt(user.pin.expose_secret()), &nre, &user.cf),
            None,
        )
        .await;
    assert!(seen.outcome().second_factor_problem());
    assert!(seen.has_prescription());
    assert_eq!(h.stats().await["warnings_9101"], 2);
    h.finish().await;
}

#[tokio::test]
async fn enforcement_block_rejects_without_code() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let receipt = invio(&h, &user, None).await;
    let outcome = receipt.outcome();
    assert!(
        matches!(outcome, DemOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert!(has_9101(&outcome));
    assert!(receipt.second_factor_problem());
    assert!(receipt.nre().is_none());
    assert!(receipt.pdf_promemoria.is_none());

    // A garbage code is as good as none.
    let garbage = SessionCode::new("not-a-code");
    h.secret("not-a-code");
    assert!(
        invio(&h, &user, Some(&garbage))
            .await
            .second_factor_problem()
    );

    // Switching at run time works both ways.
    set_enforcement(&h, "off").await;
    assert_eq!(invio(&h, &user, None).await.outcome(), DemOutcome::Accepted);
    set_enforcement(&h, "block").await;
    assert!(!invio(&h, &user, None).await.outcome().is_accepted());
    assert_eq!(h.stats().await["warnings_9101"], 3);
    h.finish().await;
}

#[tokio::test]
async fn test_mode_monthly_wildcard_is_accepted() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let user = h.titolare().clone();
    let month = rome_now().date();
    for application in [Application::Prescriber, Application::None] {
        let wildcard = test_wildcard(&user.user_id, month, application);
        h.secret(wildcard.expose_secret());
        let receipt = invio(&h, &user, Some(&wildcard)).await;
        assert_eq!(receipt.outcome(), DemOutcome::Accepted, "{application:?}");
    }
    // The wildcard is not a 36-character ID-SESSIONE: checkToken refuses it locally.
    let wildcard = test_wildcard(&user.user_id, month, Application::Prescriber);
    let request = sistemats::a2f::TokenRequest {
        token: wildcard,
        ..h.token_request(&user, &SessionCode::new(uuid::Uuid::new_v4().to_string()))
    };
    let result = h.client.check_token(&user.credentials(), &request).await;
    h.record_result(&result);
    match &result {
        Err(sistemats::error::Error::Field(f)) => assert_eq!(f.field, "token"),
        other => panic!("expected a field error on token, got {other:?}"),
    }
    assert_eq!(h.op_count("checkToken").await, 0);
    // Another user's wildcard is refused.
    let other = test_wildcard(&h.sostituto().user_id, month, Application::Prescriber);
    h.secret(other.expose_secret());
    assert!(invio(&h, &user, Some(&other)).await.second_factor_problem());
    h.finish().await;
}

#[tokio::test]
async fn wildcard_is_refused_in_production() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let wildcard = test_wildcard(&user.user_id, rome_now().date(), Application::Prescriber);
    h.secret(wildcard.expose_secret());
    let receipt = invio(&h, &user, Some(&wildcard)).await;
    assert!(!receipt.outcome().is_accepted());
    assert!(receipt.second_factor_problem());
    h.finish().await;
}

#[tokio::test]
async fn another_users_code_is_refused_with_9101() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let titolare = h.titolare().clone();
    let sostituto = h.sostituto().clone();
    let sostituto_code = h.new_code(&sostituto).await;
    let titolare_code = h.new_code(&titolare).await;

    let receipt = invio(&h, &titolare, Some(&sostituto_code)).await;
    assert!(!receipt.outcome().is_accepted());
    assert!(has_9101(&receipt.outcome()));

    // The refusal did not consume anything: both codes still work for their owners.
    assert_eq!(
        invio(&h, &titolare, Some(&titolare_code)).await.outcome(),
        DemOutcome::Accepted
    );
    let request = h.invio_request(&sostituto, &titolare);
    let receipt: InvioPrescrittoReceipt = h.dem(&sostituto, &request, Some(&sostituto_code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted);

    // An unknown NRE with a valid code still reaches the business rules (5005), proving the
    // 9101 above came from the code and not from the request.
    let unknown = Nre::parse("130ZZ0999999998").unwrap();
    let seen: VisualizzaPrescrittoReceipt = h
        .dem(
            &titolare,
            &VisualizzaPrescrittoRequest::new(
                h.encrypt(titolare.pin.expose_secret()),
                &unknown,
                &titolare.cf,
            ),
            Some(&titolare_code),
        )
        .await;
    assert!(!seen.second_factor_problem());
    assert!(
        seen.outcome()
            .diagnostics()
            .iter()
            .any(|d| d.known == Some(KnownCode::NreInesistente))
    );
    h.finish().await;
}
