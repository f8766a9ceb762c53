//! DEM dispenser services (pharmacies, `applicazione` EROGATORE) on the prescriptions the
//! doctor created: presa in carico, suspension, dispensing, cancellation of the dispensing,
//! every refusal the simulator models, and the second factor of a pharmacy (enforcement,
//! wildcard of another domain, two-code rule).

use sistemats::SessionCode;
use sistemats::a2f::{Application, TokenStatus};
use sistemats::dem::{
    AnnullaPrescrittoReceipt, AnnullaPrescrittoRequest, DemOutcome, DemReceipt,
    InvioPrescrittoReceipt, KnownCode, Nre, StatoProcesso, VisualizzaPrescrittoReceipt,
    VisualizzaPrescrittoRequest, format_data_ora,
};
use sistemats::env::test_wildcard;
use sistemats::erogatore::{
    AnnullaErogatoReceipt, AnnullaErogatoRequest, DettaglioPrescrizioneInvioErogato,
    ErogatoreReceipt, InvioErogatoReceipt, InvioErogatoRequest, SospendiErogatoReceipt,
    SospendiErogatoRequest, TipoOperazioneInvio, TipoOperazioneSospendi, TipoOperazioneVisualizza,
    VisualizzaErogatoReceipt, VisualizzaErogatoRequest,
};
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, SimUser, rome_now, set_enforcement};

/// The doctor prescribes; returns the NRE and the doctor's codAutenticazione.
async fn prescribe(h: &Harness, doctor: &SimUser, code: Option<&SessionCode>) -> (Nre, String) {
    let request = h.invio_request(doctor, doctor);
    let receipt: InvioPrescrittoReceipt = h.dem(doctor, &request, code).await;
    assert!(receipt.outcome().is_accepted(), "{receipt:?}");
    let cod = receipt
        .cod_autenticazione
        .clone()
        .expect("codAutenticazione");
    (receipt.nre().expect("an NRE"), cod)
}

async fn visualizza(
    h: &Harness,
    pharmacy: &SimUser,
    nre: &Nre,
    tipo: TipoOperazioneVisualizza,
    code: Option<&SessionCode>,
) -> VisualizzaErogatoReceipt {
    let request = VisualizzaErogatoRequest::new(h.testata(pharmacy, nre), tipo);
    h.erogatore(pharmacy, &request, code).await
}

fn line() -> DettaglioPrescrizioneInvioErogato {
    let now = format_data_ora(rome_now());
    DettaglioPrescrizioneInvioErogato {
        cod_prod_prest_erog: Some("012345678".into()),
        descr_prod_prest_erog: Some("LEVETIRACETAM 500MG 60 CPR".into()),
        prezzo: Some("12.50".into()),
        quantita_erogata: Some("1".into()),
        data_ini_erog: Some(now.clone()),
        data_fine_erog: Some(now),
        ..Default::default()
    }
}

async fn invio(
    h: &Harness,
    pharmacy: &SimUser,
    nre: &Nre,
    tipo: TipoOperazioneInvio,
    code: Option<&SessionCode>,
) -> InvioErogatoReceipt {
    let request =
        InvioErogatoRequest::new(h.testata(pharmacy, nre), tipo, rome_now(), vec![line()]);
    h.erogatore(pharmacy, &request, code).await
}

async fn sospendi(
    h: &Harness,
    pharmacy: &SimUser,
    nre: &Nre,
    tipo: TipoOperazioneSospendi,
    code: Option<&SessionCode>,
) -> SospendiErogatoReceipt {
    let request = SospendiErogatoRequest::new(h.testata(pharmacy, nre), tipo);
    h.erogatore(pharmacy, &request, code).await
}

async fn annulla(
    h: &Harness,
    pharmacy: &SimUser,
    nre: &Nre,
    code: Option<&SessionCode>,
) -> AnnullaErogatoReceipt {
    let request = AnnullaErogatoRequest::new(h.testata(pharmacy, nre), "1");
    h.erogatore(pharmacy, &request, code).await
}

/// The doctor's view of the state.
async fn doctor_sees(
    h: &Harness,
    doctor: &SimUser,
    nre: &Nre,
    code: &SessionCode,
) -> StatoProcesso {
    let request =
        VisualizzaPrescrittoRequest::new(h.encrypt(doctor.pin.expose_secret()), nre, &doctor.cf);
    let receipt: VisualizzaPrescrittoReceipt = h.dem(doctor, &request, Some(code)).await;
    receipt.stato().expect("a state")
}

/// The receipt was refused with exactly this code (one of the blocking diagnostics).
fn refused_with<R: ErogatoreReceipt + std::fmt::Debug>(receipt: &R, code: &str) {
    match receipt.outcome() {
        DemOutcome::Rejected { errors } => assert!(
            errors.iter().any(|d| d.code == code),
            "expected {code} in {errors:?}"
        ),
        other => panic!("expected a rejection with {code}, got {other:?}"),
    }
    assert_eq!(receipt.operation_code(), "9999");
}

fn accepted<R: ErogatoreReceipt + std::fmt::Debug>(receipt: &R) {
    assert_eq!(receipt.outcome(), DemOutcome::Accepted, "{receipt:?}");
    assert!(!receipt.second_factor_problem());
}

#[tokio::test]
async fn dispensing_lifecycle_on_the_doctors_prescription() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let pharmacy = h.farmacia().clone();
    let doctor_code = h.new_code(&doctor).await;
    // The pharmacy's own ID-SESSIONE, requested with applicazione EROGATORE and read from
    // the mail (production mode), then checked.
    let code = h.new_code(&pharmacy).await;
    assert!(h.check(&pharmacy, &code).await.is_usable());
    let code = Some(&code);

    let (nre, cod_medico) = prescribe(&h, &doctor, Some(&doctor_code)).await;

    // Presa in carico with data: the prescription as the doctor sent it, now state 5.
    let seen = visualizza(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneVisualizza::PresaInCarico,
        code,
    )
    .await;
    accepted(&seen);
    assert!(seen.has_prescription());
    assert_eq!(seen.stato(), Some(StatoProcesso::InErogazione));
    assert_eq!(seen.ricetta.nre.as_deref(), Some(nre.as_str()));
    assert_eq!(seen.ricetta.cf_medico1.as_deref(), Some(doctor.cf.as_str()));
    assert_eq!(
        seen.cod_autenticazione_medico.as_deref(),
        Some(cod_medico.as_str())
    );
    assert_eq!(seen.dettagli.len(), 1);
    assert_eq!(seen.dettagli[0].cod_gruppo_equival.as_deref(), Some("G3B"));
    assert_eq!(seen.dettagli[0].quantita.as_deref(), Some("1"));
    // Like the prescriber view, the patient's code is not echoed.
    assert!(seen.ricetta.codice_ass.is_none());

    // The doctor sees it taken in charge and can no longer cancel it.
    assert_eq!(
        doctor_sees(&h, &doctor, &nre, &doctor_code).await,
        StatoProcesso::InErogazione
    );
    let cancel =
        AnnullaPrescrittoRequest::new(h.encrypt(doctor.pin.expose_secret()), &nre, &doctor.cf);
    let refused: AnnullaPrescrittoReceipt = h.dem(&doctor, &cancel, Some(&doctor_code)).await;
    match refused.outcome() {
        DemOutcome::Rejected { errors } => {
            assert!(
                errors
                    .iter()
                    .any(|d| d.known == Some(KnownCode::StatoNonValido))
            )
        }
        other => panic!("{other:?}"),
    }

    // Suspended: no dispensing until the suspension is revoked.
    accepted(
        &sospendi(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneSospendi::InizioSospensione,
            code,
        )
        .await,
    );
    let view = visualizza(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneVisualizza::VisualizzaDatiOscurati,
        code,
    )
    .await;
    accepted(&view);
    assert_eq!(view.stato(), Some(StatoProcesso::Sospesa));
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            code,
        )
        .await,
        "1011",
    );
    refused_with(
        &sospendi(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneSospendi::InizioSospensione,
            code,
        )
        .await,
        "1011",
    );
    accepted(
        &sospendi(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneSospendi::RevocaSospensione,
            code,
        )
        .await,
    );
    refused_with(
        &sospendi(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneSospendi::RevocaSospensione,
            code,
        )
        .await,
        "1011",
    );

    // Partial, then total dispensing: each with its own 30-digit authentication code.
    let partial = invio(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneInvio::ErogazioneParziale,
        code,
    )
    .await;
    accepted(&partial);
    let first = partial
        .cod_autenticazione
        .clone()
        .expect("codAutenticazione");
    assert_eq!(first.len(), 30);
    assert!(first.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(partial.nre.as_deref(), Some(nre.as_str()));
    assert_eq!(partial.data_ricezione.as_ref().map(String::len), Some(19));
    assert_eq!(
        doctor_sees(&h, &doctor, &nre, &doctor_code).await,
        StatoProcesso::ErogataParzialmente
    );
    let total = invio(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneInvio::ErogazioneTotale,
        code,
    )
    .await;
    accepted(&total);
    let second = total.cod_autenticazione.clone().expect("codAutenticazione");
    assert_ne!(first, second);
    assert_eq!(
        doctor_sees(&h, &doctor, &nre, &doctor_code).await,
        StatoProcesso::Erogata
    );
    // The dispensing pharmacy sees what it dispensed.
    let view = visualizza(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneVisualizza::VisualizzaDatiOscurati,
        code,
    )
    .await;
    assert_eq!(view.stato(), Some(StatoProcesso::Erogata));
    assert_eq!(
        view.cod_autenticazione_erogatore.as_deref(),
        Some(second.as_str())
    );
    assert_eq!(
        view.dettagli[0].cod_prod_prest_erog.as_deref(),
        Some("012345678")
    );
    assert!(view.ricetta.data_spedizione.is_some());
    // Dispensed: no second presa in carico, no further dispensing.
    refused_with(
        &visualizza(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneVisualizza::PresaInCarico,
            code,
        )
        .await,
        "1010",
    );
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            code,
        )
        .await,
        "1011",
    );

    // The dispensing is cancelled: state 9, once.
    let cancelled = annulla(&h, &pharmacy, &nre, code).await;
    accepted(&cancelled);
    assert_eq!(
        cancelled.cod_autenticazione.as_ref().map(String::len),
        Some(30)
    );
    assert_eq!(
        doctor_sees(&h, &doctor, &nre, &doctor_code).await,
        StatoProcesso::ErogazioneAnnullata
    );
    refused_with(&annulla(&h, &pharmacy, &nre, code).await, "1011");
    h.finish().await;
}

#[tokio::test]
async fn a_prescription_held_by_another_pharmacy() {
    let h = Harness::start(Mode::Test, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let first = h.farmacia().clone();
    let other = h.altra_farmacia().clone();
    let first_code = h.new_code(&first).await;
    let other_code = h.new_code(&other).await;
    let (a, b) = (Some(&first_code), Some(&other_code));
    let doctor_code = h.new_code(&doctor).await;
    let (nre, _) = prescribe(&h, &doctor, Some(&doctor_code)).await;

    // Without data: the lock only.
    let taken = visualizza(
        &h,
        &first,
        &nre,
        TipoOperazioneVisualizza::PresaInCaricoSenzaDati,
        a,
    )
    .await;
    accepted(&taken);
    assert!(!taken.has_prescription());
    assert_eq!(taken.stato(), Some(StatoProcesso::InErogazione));

    // The other pharmacy can do nothing with it: 5011, with the Italian next step.
    let refused = visualizza(&h, &other, &nre, TipoOperazioneVisualizza::PresaInCarico, b).await;
    refused_with(&refused, "5011");
    let diagnostic = &refused.outcome().diagnostics()[0].clone();
    assert_eq!(diagnostic.known, Some(KnownCode::PresaInCaricoAltroUtente));
    assert!(diagnostic.message().contains("altra farmacia"));
    assert!(!refused.has_prescription());
    refused_with(
        &invio(&h, &other, &nre, TipoOperazioneInvio::ErogazioneTotale, b).await,
        "5011",
    );
    refused_with(
        &sospendi(
            &h,
            &other,
            &nre,
            TipoOperazioneSospendi::InizioSospensione,
            b,
        )
        .await,
        "5011",
    );
    refused_with(
        &visualizza(&h, &other, &nre, TipoOperazioneVisualizza::Rilascio, b).await,
        "5011",
    );

    // Released by the first pharmacy, it is free again (state 3) for the other.
    let released = visualizza(&h, &first, &nre, TipoOperazioneVisualizza::Rilascio, a).await;
    accepted(&released);
    assert_eq!(released.stato(), Some(StatoProcesso::DaErogare));
    refused_with(
        &visualizza(&h, &first, &nre, TipoOperazioneVisualizza::Rilascio, a).await,
        "1011",
    );
    let taken = visualizza(&h, &other, &nre, TipoOperazioneVisualizza::PresaInCarico, b).await;
    accepted(&taken);
    accepted(&invio(&h, &other, &nre, TipoOperazioneInvio::ErogazioneTotale, b).await);
    // Dispensed by the other pharmacy: the first one is told it is closed, and cannot
    // cancel someone else's dispensing.
    refused_with(
        &visualizza(&h, &first, &nre, TipoOperazioneVisualizza::PresaInCarico, a).await,
        "1010",
    );
    refused_with(&annulla(&h, &first, &nre, a).await, "1010");
    h.finish().await;
}

#[tokio::test]
async fn refusals_unknown_cancelled_wrong_patient_not_a_pharmacy() {
    let h = Harness::start(Mode::Test, Enforcement::Off).await;
    let doctor = h.titolare().clone();
    let pharmacy = h.farmacia().clone();

    // Unknown NRE: 5005, known to the library.
    let unknown = Nre::parse("1300A4000000001").unwrap();
    let receipt = visualizza(
        &h,
        &pharmacy,
        &unknown,
        TipoOperazioneVisualizza::PresaInCarico,
        None,
    )
    .await;
    refused_with(&receipt, "5005");
    assert_eq!(
        receipt.outcome().diagnostics()[0].known,
        Some(KnownCode::NreInesistente)
    );
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &unknown,
            TipoOperazioneInvio::ErogazioneTotale,
            None,
        )
        .await,
        "5005",
    );
    refused_with(
        &sospendi(
            &h,
            &pharmacy,
            &unknown,
            TipoOperazioneSospendi::InizioSospensione,
            None,
        )
        .await,
        "5005",
    );
    refused_with(&annulla(&h, &pharmacy, &unknown, None).await, "5005");

    // Cancelled by the doctor before the pharmacy came.
    let (nre, _) = prescribe(&h, &doctor, None).await;
    let cancel =
        AnnullaPrescrittoRequest::new(h.encrypt(doctor.pin.expose_secret()), &nre, &doctor.cf);
    let done: AnnullaPrescrittoReceipt = h.dem(&doctor, &cancel, None).await;
    assert!(done.outcome().is_accepted());
    refused_with(
        &visualizza(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneVisualizza::PresaInCarico,
            None,
        )
        .await,
        "1009",
    );

    // Dispensing or suspending a prescription nobody took in charge.
    let (nre, _) = prescribe(&h, &doctor, None).await;
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            None,
        )
        .await,
        "1011",
    );
    refused_with(
        &sospendi(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneSospendi::InizioSospensione,
            None,
        )
        .await,
        "1011",
    );
    refused_with(&annulla(&h, &pharmacy, &nre, None).await, "1011");

    // The health card of another patient.
    let mut testata = h.testata(&pharmacy, &nre);
    testata.cf_assistito = Some(h.encrypt("VRDGPP70A01H501X"));
    let wrong = VisualizzaErogatoRequest::new(testata, TipoOperazioneVisualizza::PresaInCarico);
    let receipt: VisualizzaErogatoReceipt = h.erogatore(&pharmacy, &wrong, None).await;
    refused_with(&receipt, "1012");
    // Without the card (cfAssistito is optional) it goes through.
    let mut testata = h.testata(&pharmacy, &nre);
    testata.cf_assistito = None;
    let bare = VisualizzaErogatoRequest::new(testata, TipoOperazioneVisualizza::PresaInCarico);
    accepted(
        &h.erogatore::<_, VisualizzaErogatoReceipt>(&pharmacy, &bare, None)
            .await,
    );

    // Codes of another structure, and a doctor on the dispenser services.
    let mut testata = h.testata(&pharmacy, &nre);
    testata.erogatore.codice_ssa = "99999".into();
    let foreign = VisualizzaErogatoRequest::new(testata, TipoOperazioneVisualizza::PresaInCarico);
    refused_with(
        &h.erogatore::<_, VisualizzaErogatoReceipt>(&pharmacy, &foreign, None)
            .await,
        "1008",
    );
    let as_doctor = VisualizzaErogatoRequest::new(
        h.testata(&doctor, &nre),
        TipoOperazioneVisualizza::PresaInCarico,
    );
    refused_with(
        &h.erogatore::<_, VisualizzaErogatoReceipt>(&doctor, &as_doctor, None)
            .await,
        "1008",
    );
    // A wrong PIN is refused like on the prescriber side.
    let mut testata = h.testata(&pharmacy, &nre);
    testata.pin_code = h.encrypt("0000000000");
    let bad_pin = SospendiErogatoRequest::new(testata, TipoOperazioneSospendi::InizioSospensione);
    refused_with(
        &h.erogatore::<_, SospendiErogatoReceipt>(&pharmacy, &bad_pin, None)
            .await,
        "1001",
    );
    h.finish().await;
}

#[tokio::test]
async fn second_factor_of_a_pharmacy_off_warn_block_and_domain() {
    let h = Harness::start(Mode::Test, Enforcement::Warn).await;
    let doctor = h.titolare().clone();
    let pharmacy = h.farmacia().clone();
    let (nre, _) = prescribe(&h, &doctor, None).await;

    // warn: taken in charge all the same, with 9101 and 0001.
    let warned = visualizza(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneVisualizza::PresaInCarico,
        None,
    )
    .await;
    assert!(warned.outcome().is_accepted(), "{warned:?}");
    assert!(warned.second_factor_problem());
    assert!(warned.outcome().second_factor_problem());
    assert_eq!(warned.operation_code(), "0001");
    assert_eq!(warned.stato(), Some(StatoProcesso::InErogazione));

    // block: refused with 9101, the state does not move.
    set_enforcement(&h, "block").await;
    let blocked = invio(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneInvio::ErogazioneTotale,
        None,
    )
    .await;
    refused_with(&blocked, "9101");
    assert!(blocked.second_factor_problem());
    let blocked = sospendi(
        &h,
        &pharmacy,
        &nre,
        TipoOperazioneSospendi::InizioSospensione,
        None,
    )
    .await;
    refused_with(&blocked, "9101");

    // The monthly wildcard of the test environment works for the EROGATORE domain only.
    let month = rome_now().date();
    let prescriber = test_wildcard(&pharmacy.user_id, month, Application::Prescriber);
    h.secret(prescriber.expose_secret());
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            Some(&prescriber),
        )
        .await,
        "9101",
    );
    // A doctor's real code is not a pharmacy's.
    let doctor_code = h.new_code(&doctor).await;
    refused_with(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            Some(&doctor_code),
        )
        .await,
        "9101",
    );
    let dispenser = test_wildcard(&pharmacy.user_id, month, Application::Dispenser);
    h.secret(dispenser.expose_secret());
    accepted(
        &invio(
            &h,
            &pharmacy,
            &nre,
            TipoOperazioneInvio::ErogazioneTotale,
            Some(&dispenser),
        )
        .await,
    );

    // off: no code needed.
    set_enforcement(&h, "off").await;
    accepted(&annulla(&h, &pharmacy, &nre, None).await);
    h.finish().await;
}

/// Takes the prescription in charge (again) without data, with this code.
async fn take(
    h: &Harness,
    pharmacy: &SimUser,
    nre: &Nre,
    code: &SessionCode,
) -> VisualizzaErogatoReceipt {
    let tipo = TipoOperazioneVisualizza::PresaInCaricoSenzaDati;
    visualizza(h, pharmacy, nre, tipo, Some(code)).await
}

#[tokio::test]
async fn two_code_rule_for_a_pharmacy() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let pharmacy = h.farmacia().clone();
    let (nre, _) = prescribe(&h, &doctor, Some(&h.new_code(&doctor).await)).await;

    let a = h.new_code(&pharmacy).await;
    accepted(&take(&h, &pharmacy, &nre, &a).await);
    // B requested: A still works until B is first used.
    let b = h.new_code(&pharmacy).await;
    assert_ne!(a, b);
    accepted(&take(&h, &pharmacy, &nre, &a).await);
    accepted(&take(&h, &pharmacy, &nre, &b).await);
    let status = h.check(&pharmacy, &a).await;
    assert!(matches!(status, TokenStatus::Revoked { .. }), "{status:?}");
    refused_with(&take(&h, &pharmacy, &nre, &a).await, "9101");
    accepted(&take(&h, &pharmacy, &nre, &b).await);
    h.finish().await;
}
