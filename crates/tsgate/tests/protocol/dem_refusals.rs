//! DEM refusals that do not depend on the second factor: credentials, PIN, doctor and
//! region checks, NRE reuse, and a doctor reading another doctor's prescription.

use sistemats::Password;
use sistemats::client::Credentials;
use sistemats::dem::{
    DemOutcome, DemReceipt, InvioPrescrittoReceipt, InvioPrescrittoRequest, KnownCode,
    VisualizzaPrescrittoReceipt, VisualizzaPrescrittoRequest,
};
use sistemats::error::Error;
use tsgate_sim::{Enforcement, Mode};

use crate::support::Harness;

/// The codes of a rejected outcome.
fn rejected_codes(outcome: &DemOutcome) -> Vec<String> {
    assert!(!outcome.is_accepted(), "expected a rejection: {outcome:?}");
    outcome
        .diagnostics()
        .iter()
        .map(|d| d.code.clone())
        .collect()
}

#[tokio::test]
async fn dem_refusals_are_typed() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let titolare = h.titolare().clone();
    let sostituto = h.sostituto().clone();
    let code = h.new_code(&titolare).await;

    // Wrong password and unknown user on a DEM service: the same front-end answers as A2F.
    let request = h.invio_request(&titolare, &titolare);
    let service = sistemats::dem::Service::InvioPrescritto;
    let wrong_password = Credentials::new(
        &titolare.user_id,
        Password::new("Sbagliata.2026"),
        titolare.pin.clone(),
    );
    h.secret("Sbagliata.2026");
    let unknown = Credentials::new(
        "PROVAX00X00X999Q",
        titolare.password.clone(),
        titolare.pin.clone(),
    );
    for (credentials, expected) in [
        (&wrong_password, "PasswordRefused"),
        (&unknown, "UnknownUser"),
    ] {
        let result = h
            .client
            .call_dem(
                credentials,
                service.path(),
                service.soap_action(),
                sistemats::dem::DemRequest::to_envelope(&request),
                Some(&code),
            )
            .await;
        h.record_result(&result);
        let ok = match &result {
            Err(Error::PasswordRefused) => expected == "PasswordRefused",
            Err(Error::UnknownUser) => expected == "UnknownUser",
            _ => false,
        };
        assert!(ok, "expected {expected}, got {result:?}");
    }

    // Wrong PIN (encrypted correctly, but not the user's).
    let mut wrong_pin = h.invio_request(&titolare, &titolare);
    wrong_pin.pin_code = h.encrypt("0000000000");
    let receipt: InvioPrescrittoReceipt = h.dem(&titolare, &wrong_pin, Some(&code)).await;
    assert_eq!(rejected_codes(&receipt.outcome()), ["1001"]);
    let message = receipt.outcome().message();
    assert!(message.starts_with("Operazione rifiutata"), "{message}");

    // cfMedico1 that is not the sender.
    let not_mine = InvioPrescrittoRequest {
        cf_medico1: sostituto.cf.clone(),
        ..h.invio_request(&titolare, &titolare)
    };
    let receipt: InvioPrescrittoReceipt = h.dem(&titolare, &not_mine, Some(&code)).await;
    assert_eq!(rejected_codes(&receipt.outcome()), ["1004"]);

    // Region that is not the titolare's.
    let elsewhere = InvioPrescrittoRequest {
        cod_regione: "120".into(),
        ..h.invio_request(&titolare, &titolare)
    };
    let receipt: InvioPrescrittoReceipt = h.dem(&titolare, &elsewhere, Some(&code)).await;
    assert_eq!(rejected_codes(&receipt.outcome()), ["1005"]);

    // An NRE chosen by the client that is already used.
    let first: InvioPrescrittoReceipt = h
        .dem(
            &titolare,
            &h.invio_request(&titolare, &titolare),
            Some(&code),
        )
        .await;
    let nre = first.nre().expect("an NRE");
    let reuse = InvioPrescrittoRequest {
        nre: Some(nre.as_str().to_owned()),
        ..h.invio_request(&titolare, &titolare)
    };
    let receipt: InvioPrescrittoReceipt = h.dem(&titolare, &reuse, Some(&code)).await;
    assert_eq!(rejected_codes(&receipt.outcome()), ["1006"]);

    // Another doctor (not titolare nor substitute of that prescription) cannot read it.
    let sostituto_code = h.new_code(&sostituto).await;
    let request = VisualizzaPrescrittoRequest::new(
        h.encrypt(sostituto.pin.expose_secret()),
        &nre,
        &sostituto.cf,
    );
    let receipt: VisualizzaPrescrittoReceipt =
        h.dem(&sostituto, &request, Some(&sostituto_code)).await;
    let outcome = receipt.outcome();
    assert!(
        outcome
            .diagnostics()
            .iter()
            .any(|d| d.known == Some(KnownCode::MedicoNonAssociato)),
        "{outcome:?}"
    );
    assert!(!receipt.has_prescription());
    h.finish().await;
}
