//! RBE (ricetta bianca elettronica, class C) prescriber services against the simulator:
//! an NRBE issued, visualised and cancelled, the refusals, and `Authorization2F`
//! enforcement. No RBE XSD is public, so these messages are not checked with `xmllint`:
//! the simulator parses them strictly (namespaces, required elements) instead.

use std::fmt::Debug;

use sistemats::SessionCode;
use sistemats::dem::{DemOutcome, KnownCode, Sensitive};
use sistemats::error::Error;
use sistemats::rbe::{
    AnnullaRbeRequest, DettaglioRbe, InvioRbeRequest, Nrbe, NrbeQuery, RbeReceipt, RbeRequest,
    RbeService, VisualizzaRbeRequest,
};
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, PATIENT_CF, PATIENT_NAME, SimUser, rome_now};

/// A class-C prescription of one medicine by `doctor` for the test patient.
fn invio_request(h: &Harness, doctor: &SimUser) -> InvioRbeRequest {
    InvioRbeRequest {
        pin_code: h.encrypt(doctor.pin.expose_secret()),
        cf_medico: doctor.cf.clone(),
        cod_regione: Some(doctor.region.clone()),
        cod_asl_ao: Some(doctor.asl.clone()),
        cod_specializzazione: Some("F".into()),
        special_clinica: Some("Medicina generale".into()),
        num_iscriz_albo: Some("4242".into()),
        indir_medico: Some("Via Roma 1|65100|Pescara|PE".into()),
        telef_medico: Some("+39|0851234567".into()),
        codice_paziente: h.encrypt(PATIENT_CF),
        cogn_nome: Some(Sensitive::new(PATIENT_NAME)),
        tipo_prescrizione: Some("F".into()),
        data_compilazione: sistemats::dem::format_data_ora(rome_now()),
        dettagli: vec![DettaglioRbe {
            posologia: Some("1 bustina al giorno per 5 giorni".into()),
            tdl: Some("0".into()),
            ..DettaglioRbe::product("033052034", "NIMESULIDE 100MG 30 BUSTINE", 1)
        }],
        ..InvioRbeRequest::default()
    }
}

fn query(h: &Harness, doctor: &SimUser, nrbe: &Nrbe) -> NrbeQuery {
    NrbeQuery::new(
        h.encrypt(doctor.pin.expose_secret()),
        nrbe,
        Some(h.encrypt(PATIENT_CF)),
        &doctor.cf,
    )
}

async fn call<Q: RbeRequest + Debug>(
    h: &Harness,
    user: &SimUser,
    request: &Q,
    code: Option<&SessionCode>,
) -> Result<RbeReceipt, Error> {
    h.record_debug(request);
    if let Err(problem) = request.validate() {
        panic!("test request not valid: {problem:?}");
    }
    let result = h
        .client
        .call_rbe(
            &user.credentials(),
            Q::SERVICE.path(),
            Q::SERVICE.soap_action(),
            request.to_envelope(),
            code,
        )
        .await
        .map(|payload| {
            RbeReceipt::from_payload(Q::SERVICE, &payload)
                .unwrap_or_else(|e| panic!("{} receipt unreadable: {e:?}", Q::SERVICE))
        });
    h.record_result(&result);
    if let Ok(receipt) = &result {
        h.record(&receipt.outcome());
        if let Some(pin) = &receipt.pin_nrbe {
            h.secret(pin.expose());
        }
    }
    result
}

async fn rbe<Q: RbeRequest + Debug>(
    h: &Harness,
    user: &SimUser,
    request: &Q,
    code: Option<&SessionCode>,
) -> RbeReceipt {
    call(h, user, request, code)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e:?}", Q::SERVICE))
}

fn rejected_with(receipt: &RbeReceipt, known: KnownCode) {
    match receipt.outcome() {
        DemOutcome::Rejected { errors } => assert!(
            errors.iter().any(|d| d.known == Some(known)),
            "expected {} in {errors:?}",
            known.code()
        ),
        other => panic!("expected a rejection with {}, got {other:?}", known.code()),
    }
}

/// Sends a prescription and checks its NRBE and PIN NRBE.
async fn prescribe(h: &Harness, doctor: &SimUser, code: &SessionCode) -> Nrbe {
    let receipt = rbe(h, doctor, &invio_request(h, doctor), Some(code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted, "{receipt:?}");
    assert_eq!(receipt.cod_esito, "0000");
    assert!(!receipt.second_factor_problem());
    let pin = receipt.pin_nrbe.as_ref().expect("a PIN NRBE");
    assert_eq!(pin.expose().len(), 5);
    assert!(
        receipt
            .cognome_medico
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    );
    receipt.nrbe().expect("a 12-character NRBE")
}

#[tokio::test]
async fn rbe_prescription_issued_visualised_and_cancelled() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let code = h.new_code(&doctor).await;

    let nrbe = prescribe(&h, &doctor, &code).await;
    assert_eq!(nrbe.as_str().len(), 12);
    let stats = h.stats().await;
    assert_eq!(stats["rbe_prescriptions_stored"], 1, "{stats}");
    assert_eq!(
        stats["prescriptions_stored"], 0,
        "the SSN ones are apart: {stats}"
    );
    assert_eq!(
        stats["operations"]["InvioPrescrittoRicettaBianca"], 1,
        "{stats}"
    );
    assert_eq!(stats["warnings_9101"], 0);

    let seen = rbe(
        &h,
        &doctor,
        &VisualizzaRbeRequest(query(&h, &doctor, &nrbe)),
        Some(&code),
    )
    .await;
    assert_eq!(seen.outcome(), DemOutcome::Accepted, "{seen:?}");
    assert_eq!(seen.nrbe.as_deref(), Some(nrbe.as_str()));
    assert_eq!(seen.stato_processo.as_deref(), Some("3"));
    assert_eq!(seen.cf_medico.as_deref(), Some(doctor.cf.as_str()));
    assert_eq!(seen.dettagli, invio_request(&h, &doctor).dettagli);

    let cancelled = rbe(
        &h,
        &doctor,
        &AnnullaRbeRequest(query(&h, &doctor, &nrbe)),
        Some(&code),
    )
    .await;
    assert_eq!(cancelled.outcome(), DemOutcome::Accepted, "{cancelled:?}");
    let seen = rbe(
        &h,
        &doctor,
        &VisualizzaRbeRequest(query(&h, &doctor, &nrbe)),
        Some(&code),
    )
    .await;
    assert_eq!(seen.stato_processo.as_deref(), Some("4"));

    let again = rbe(
        &h,
        &doctor,
        &AnnullaRbeRequest(query(&h, &doctor, &nrbe)),
        Some(&code),
    )
    .await;
    rejected_with(&again, KnownCode::StatoNonValido);
    h.finish().await;
}

#[tokio::test]
async fn rbe_refusals() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let other = h.sostituto().clone();
    let code = h.new_code(&doctor).await;
    let other_code = h.new_code(&other).await;
    let nrbe = prescribe(&h, &doctor, &code).await;

    // An NRBE never issued.
    let unknown = Nrbe::parse("000000000001").unwrap();
    let r = rbe(
        &h,
        &doctor,
        &VisualizzaRbeRequest(query(&h, &doctor, &unknown)),
        Some(&code),
    )
    .await;
    rejected_with(&r, KnownCode::NreInesistente);

    // Another doctor may neither see nor cancel it.
    let r = rbe(
        &h,
        &other,
        &VisualizzaRbeRequest(query(&h, &other, &nrbe)),
        Some(&other_code),
    )
    .await;
    rejected_with(&r, KnownCode::MedicoNonAssociato);
    let r = rbe(
        &h,
        &other,
        &AnnullaRbeRequest(query(&h, &other, &nrbe)),
        Some(&other_code),
    )
    .await;
    rejected_with(&r, KnownCode::MedicoNonAssociato);

    // A prescription in another doctor's name, a wrong PIN, an unreadable patient code.
    let mut foreign = invio_request(&h, &other);
    foreign.pin_code = h.encrypt(doctor.pin.expose_secret());
    let r = rbe(&h, &doctor, &foreign, Some(&code)).await;
    assert!(matches!(r.outcome(), DemOutcome::Rejected { .. }), "{r:?}");
    assert!(r.errori.iter().any(|e| e.cod_esito == "1004"), "{r:?}");
    let mut wrong_pin = invio_request(&h, &doctor);
    wrong_pin.pin_code = h.encrypt("00000000");
    let r = rbe(&h, &doctor, &wrong_pin, Some(&code)).await;
    assert!(r.errori.iter().any(|e| e.cod_esito == "1001"), "{r:?}");
    let mut clear_patient = invio_request(&h, &doctor);
    clear_patient.codice_paziente = "bm90IGVuY3J5cHRlZA==".into();
    let r = rbe(&h, &doctor, &clear_patient, Some(&code)).await;
    assert!(r.errori.iter().any(|e| e.cod_esito == "1003"), "{r:?}");
    assert!(r.nrbe.is_none());

    // A DEM body on the RBE path is no RBE request: a `cvc-` SOAP Fault, like an invalid body.
    let dem = h.invio_request(&doctor, &doctor);
    let result = h
        .client
        .call_rbe(
            &doctor.credentials(),
            RbeService::Invio.path(),
            RbeService::Invio.soap_action(),
            sistemats::dem::DemRequest::to_envelope(&dem),
            Some(&code),
        )
        .await;
    h.record_result(&result);
    assert!(
        matches!(result, Err(Error::SchemaRejected(_))),
        "{result:?}"
    );

    assert_eq!(h.stats().await["rbe_prescriptions_stored"], 1);
    h.finish().await;
}

#[tokio::test]
async fn rbe_second_factor_enforcement() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();

    // Block: no code, no NRBE, and the receipt says 9101.
    let r = rbe(&h, &doctor, &invio_request(&h, &doctor), None).await;
    rejected_with(&r, KnownCode::SecondoFattore);
    assert!(r.second_factor_problem());
    assert!(r.nrbe.is_none());
    let r = rbe(
        &h,
        &doctor,
        &invio_request(&h, &doctor),
        Some(&SessionCode::new("00000000-0000-4000-8000-000000000000")),
    )
    .await;
    rejected_with(&r, KnownCode::SecondoFattore);
    assert_eq!(h.stats().await["rbe_prescriptions_stored"], 0);

    // Warn: issued all the same, with the 9101 remark.
    crate::support::set_enforcement(&h, "warn").await;
    let r = rbe(&h, &doctor, &invio_request(&h, &doctor), None).await;
    assert!(
        matches!(r.outcome(), DemOutcome::AcceptedWithWarnings { .. }),
        "{r:?}"
    );
    assert!(r.second_factor_problem());
    assert_eq!(r.cod_esito, "0001");
    assert!(r.nrbe().is_some());

    // Off: issued, nothing said.
    crate::support::set_enforcement(&h, "off").await;
    let r = rbe(&h, &doctor, &invio_request(&h, &doctor), None).await;
    assert_eq!(r.outcome(), DemOutcome::Accepted);
    assert!(!r.second_factor_problem());

    // A valid code: no remark in any mode.
    crate::support::set_enforcement(&h, "block").await;
    let code = h.new_code(&doctor).await;
    prescribe(&h, &doctor, &code).await;
    let stats = h.stats().await;
    assert_eq!(stats["warnings_9101"], 3, "{stats}");
    assert_eq!(stats["rbe_prescriptions_stored"], 3, "{stats}");
    h.finish().await;
}

#[tokio::test]
async fn rbe_test_wildcard_is_accepted_in_test_mode() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let month = rome_now().date();
    let wildcard = sistemats::env::test_wildcard(
        &doctor.user_id,
        month,
        sistemats::a2f::Application::Prescriber,
    );
    h.secret(wildcard.expose_secret());
    let r = rbe(&h, &doctor, &invio_request(&h, &doctor), Some(&wildcard)).await;
    assert_eq!(r.outcome(), DemOutcome::Accepted, "{r:?}");
    h.finish().await;
}
