//! Schema faults and injected transport/server faults: the right error class, then
//! recovery on the next call.

use std::time::Duration;

use serde_json::json;
use sistemats::client::classify;
use sistemats::dem::{
    DemOutcome, DemReceipt, DemRequest, InvioPrescrittoReceipt, InvioPrescrittoRequest, Service,
    VisualizzaPrescrittoReceipt, VisualizzaPrescrittoRequest,
};
use sistemats::error::Error;
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, SimUser};

/// The Invio envelope with `codRegione` made 4 characters long by editing the XML text.
fn broken_envelope(h: &Harness, user: &SimUser) -> String {
    let envelope = h.invio_request(user, user).to_envelope();
    let good = format!("<inv:codRegione>{}</inv:codRegione>", user.region);
    assert!(envelope.contains(&good), "the envelope has the element");
    envelope.replace(
        &good,
        &format!("<inv:codRegione>{}0</inv:codRegione>", user.region),
    )
}

#[tokio::test]
async fn schema_violation_is_a_schema_rejection() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;
    let service = Service::InvioPrescritto;

    // Through call_dem.
    let result = h
        .client
        .call_dem(
            &user.credentials(),
            service.path(),
            service.soap_action(),
            broken_envelope(&h, &user),
            Some(&code),
        )
        .await;
    h.record_result(&result);
    match &result {
        Err(Error::SchemaRejected(fault)) => {
            assert!(fault.string.starts_with("cvc-"), "{fault:?}");
            assert!(fault.is_schema_error());
        }
        other => panic!("expected SchemaRejected, got {other:?}"),
    }
    let error = result.unwrap_err();
    assert!(!error.is_transient(), "a request bug is not retried");

    // Through post + classify: the raw exchange is an HTTP 500 with the same fault.
    let raw = h
        .client
        .post(
            &h.client.environment().dem_url(service.path()),
            &user.credentials(),
            service.soap_action(),
            broken_envelope(&h, &user),
            Some(&code),
        )
        .await
        .expect("the HTTP exchange itself succeeds");
    assert_eq!(raw.status, 500);
    let classified = classify(&raw);
    h.record_result(&classified);
    assert!(
        matches!(&classified, Err(Error::SchemaRejected(f)) if f.string.starts_with("cvc-")),
        "{classified:?}"
    );

    // Nothing was stored: the same request, well formed, is accepted.
    let receipt: InvioPrescrittoReceipt = h
        .dem(&user, &h.invio_request(&user, &user), Some(&code))
        .await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted);
    h.finish().await;
}

/// Whether an error is of the expected class.
type ErrorClass = fn(&Error) -> bool;

async fn inject(h: &Harness, operation: &str, kind: &str, extra: serde_json::Value) {
    let mut fault = json!({ "operation": operation, "kind": kind, "count": 1 });
    if let (Some(fault), Some(extra)) = (fault.as_object_mut(), extra.as_object()) {
        fault.extend(extra.clone());
    }
    let settings = h.control(json!({ "fault": fault })).await;
    assert_eq!(settings["faults"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn injected_a2f_faults_and_recovery() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;

    // slow: the client gives up with Timeout; the next call succeeds.
    inject(&h, "checkToken", "slow", json!({ "delay_ms": 2500 })).await;
    let impatient = h.client_with_timeout(Duration::from_millis(300));
    let result = impatient
        .check_token(&user.credentials(), &h.token_request(&user, &code))
        .await;
    h.record_result(&result);
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert!(result.unwrap_err().is_transient());
    assert!(h.check(&user, &code).await.is_usable());

    // http500 (an HTML error page): HttpStatus(500).
    inject(&h, "create", "http500", json!({})).await;
    let result = h.create(&user).await;
    assert!(matches!(result, Err(Error::HttpStatus(500))), "{result:?}");
    assert!(result.unwrap_err().is_transient());
    let fresh = h.new_code(&user).await;

    // soap_fault: Fault with the HTTP status.
    inject(&h, "checkToken", "soap_fault", json!({})).await;
    let result = h
        .client
        .check_token(&user.credentials(), &h.token_request(&user, &fresh))
        .await;
    h.record_result(&result);
    match &result {
        Err(Error::Fault { status, fault }) => {
            assert_eq!(*status, 500);
            assert!(!fault.is_schema_error());
        }
        other => panic!("expected Fault, got {other:?}"),
    }
    assert!(result.unwrap_err().is_transient());
    assert!(h.check(&user, &fresh).await.is_usable());

    // malformed: Parse.
    inject(&h, "revoke", "malformed", json!({})).await;
    let result = h
        .client
        .revoke(&user.credentials(), &h.token_request(&user, &fresh))
        .await;
    h.record_result(&result);
    assert!(matches!(result, Err(Error::Parse(_))), "{result:?}");
    // The malformed answer revoked nothing visible: the code is still valid.
    assert!(h.check(&user, &fresh).await.is_usable());

    // reset: Transport.
    inject(&h, "checkToken", "reset", json!({})).await;
    let result = h
        .client
        .check_token(&user.credentials(), &h.token_request(&user, &fresh))
        .await;
    h.record_result(&result);
    assert!(matches!(result, Err(Error::Transport(_))), "{result:?}");
    assert!(result.unwrap_err().is_transient());
    assert!(h.check(&user, &fresh).await.is_usable());

    let stats = h.stats().await;
    assert_eq!(stats["faults_injected"], 5);
    let settings = h.control(json!({})).await;
    assert_eq!(settings["faults"].as_array().map(Vec::len), Some(0));
    h.finish().await;
}

#[tokio::test]
async fn injected_dem_faults_and_recovery() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let user = h.titolare().clone();
    let code = h.new_code(&user).await;
    let accepted = |r: InvioPrescrittoReceipt| r.outcome() == DemOutcome::Accepted;

    let cases: [(&str, serde_json::Value, ErrorClass); 5] = [
        ("slow", json!({ "delay_ms": 2500 }), |e| {
            matches!(e, Error::Timeout)
        }),
        ("http500", json!({}), |e| {
            matches!(e, Error::HttpStatus(500))
        }),
        ("soap_fault", json!({}), |e| {
            matches!(e, Error::Fault { status: 500, .. })
        }),
        ("malformed", json!({}), |e| matches!(e, Error::Parse(_))),
        ("reset", json!({}), |e| matches!(e, Error::Transport(_))),
    ];
    let impatient = h.client_with_timeout(Duration::from_millis(300));
    for (kind, extra, expected) in cases {
        inject(&h, "InvioPrescritto", kind, extra).await;
        let request = h.invio_request(&user, &user);
        let result = h
            .dem_with::<InvioPrescrittoRequest, InvioPrescrittoReceipt>(
                // Only the slow case needs a short timeout; the others answer at once.
                if kind == "slow" {
                    &impatient
                } else {
                    &h.client
                },
                &user,
                &request,
                Some(&code),
            )
            .await;
        match &result {
            Err(e) => assert!(expected(e), "{kind}: unexpected {e:?}"),
            Ok(r) => panic!("{kind}: expected an error, got {r:?}"),
        }
        // Recovery: the next call succeeds (the fault was for one request only).
        let request = h.invio_request(&user, &user);
        assert!(
            accepted(h.dem(&user, &request, Some(&code)).await),
            "{kind}"
        );
    }

    // A fault on one operation does not touch the others.
    inject(&h, "AnnullaPrescritto", "http500", json!({})).await;
    let nre = sistemats::dem::Nre::parse("130ZZ0999999997").unwrap();
    let seen: VisualizzaPrescrittoReceipt = h
        .dem(
            &user,
            &VisualizzaPrescrittoRequest::new(h.encrypt(user.pin.expose_secret()), &nre, &user.cf),
            Some(&code),
        )
        .await;
    assert!(!seen.second_factor_problem());

    let stats = h.stats().await;
    assert_eq!(stats["faults_injected"], 5);
    h.control(json!({ "clear_faults": true })).await;
    h.finish().await;
}
