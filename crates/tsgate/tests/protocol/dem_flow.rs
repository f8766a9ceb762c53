//! DEM prescriber services with a real ID-SESSIONE as `Authorization2F`: the lifecycle of
//! a prescription, the queries, the substitution declaration and the substitute's rights.

use sistemats::dem::{
    AnnullaPrescrittoReceipt, AnnullaPrescrittoRequest, DemOutcome, DemReceipt,
    DichiarazioneSostituzioneMedicoReceipt, DichiarazioneSostituzioneMedicoRequest,
    InterrogaNreUtilizzatiReceipt, InterrogaNreUtilizzatiRequest, InvioPrescrittoReceipt,
    KnownCode, Nre, Sensitive, StatoProcesso, VisualizzaPrescrittoReceipt,
    VisualizzaPrescrittoRequest, format_data_ora,
};
use sistemats::{SessionCode, dem::CodAutenticazione};
use tsgate_sim::{Enforcement, Mode};

use crate::support::{Harness, PATIENT_CF, SimUser, rome_now};

/// The single diagnostic code of a rejected receipt.
fn rejected_with(outcome: &DemOutcome, known: KnownCode) {
    match outcome {
        DemOutcome::Rejected { errors } => assert!(
            errors.iter().any(|d| d.known == Some(known)),
            "expected {} in {errors:?}",
            known.code()
        ),
        other => panic!("expected a rejection with {}, got {other:?}", known.code()),
    }
}

async fn invio(h: &Harness, sender: &SimUser, titolare: &SimUser, code: &SessionCode) -> Nre {
    let request = h.invio_request(sender, titolare);
    let receipt: InvioPrescrittoReceipt = h.dem(sender, &request, Some(code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted, "{receipt:?}");
    let nre = receipt.nre().expect("a well-formed NRE");
    assert_eq!(nre.as_str().len(), 15);
    assert_eq!(nre.region(), "130");
    let cod_aut: CodAutenticazione = receipt
        .cod_autenticazione()
        .expect("a 30-digit codAutenticazione");
    assert_eq!(cod_aut.as_str().len(), 30);
    assert!(cod_aut.as_str().bytes().all(|b| b.is_ascii_digit()));
    let pdf = receipt.pdf_promemoria.as_ref().expect("a promemoria");
    assert!(pdf.looks_like_pdf());
    assert!(pdf.as_bytes().starts_with(b"%PDF"));
    assert!(!receipt.second_factor_problem());
    nre
}

async fn visualizza(
    h: &Harness,
    user: &SimUser,
    nre: &Nre,
    code: &SessionCode,
) -> VisualizzaPrescrittoReceipt {
    let request =
        VisualizzaPrescrittoRequest::new(h.encrypt(user.pin.expose_secret()), nre, &user.cf);
    h.dem(user, &request, Some(code)).await
}

async fn annulla(
    h: &Harness,
    user: &SimUser,
    nre: &Nre,
    code: &SessionCode,
) -> AnnullaPrescrittoReceipt {
    let request = AnnullaPrescrittoRequest::new(h.encrypt(user.pin.expose_secret()), nre, &user.cf);
    h.dem(user, &request, Some(code)).await
}

#[tokio::test]
async fn prescription_lifecycle() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let code = h.new_code(&doctor).await;

    let nre = invio(&h, &doctor, &doctor, &code).await;

    let seen = visualizza(&h, &doctor, &nre, &code).await;
    assert_eq!(seen.outcome(), DemOutcome::Accepted);
    assert!(seen.has_prescription());
    assert_eq!(seen.stato(), Some(StatoProcesso::DaErogare));
    assert_eq!(seen.nre.as_deref(), Some(nre.as_str()));
    assert_eq!(seen.cf_medico1.as_deref(), Some(doctor.cf.as_str()));
    assert_eq!(seen.dettagli.len(), 1);
    assert_eq!(seen.dettagli[0].cod_gruppo_equival.as_deref(), Some("G3B"));
    assert_eq!(seen.dettagli[0].quantita, "1");
    assert_eq!(
        seen.cogn_nome.as_ref().map(Sensitive::expose),
        Some(crate::support::PATIENT_NAME)
    );
    // The SAC never sends the patient's fiscal code back.
    assert!(
        seen.codice_ass
            .as_ref()
            .is_none_or(|c| c.expose().is_empty())
    );

    let cancelled = annulla(&h, &doctor, &nre, &code).await;
    assert_eq!(cancelled.outcome(), DemOutcome::Accepted);
    assert_eq!(cancelled.nre, nre.as_str());

    let seen = visualizza(&h, &doctor, &nre, &code).await;
    assert_eq!(seen.stato(), Some(StatoProcesso::Annullata));

    let again = annulla(&h, &doctor, &nre, &code).await;
    rejected_with(&again.outcome(), KnownCode::StatoNonValido);

    // A well-formed NRE that was never issued.
    let unknown = Nre::parse("130ZZ0999999999").unwrap();
    let missing = visualizza(&h, &doctor, &unknown, &code).await;
    rejected_with(&missing.outcome(), KnownCode::NreInesistente);
    assert!(!missing.has_prescription());
    let missing = annulla(&h, &doctor, &unknown, &code).await;
    rejected_with(&missing.outcome(), KnownCode::NreInesistente);

    let stats = h.stats().await;
    assert_eq!(stats["operations"]["InvioPrescritto"], 1);
    assert_eq!(stats["operations"]["VisualizzaPrescritto"], 3);
    assert_eq!(stats["operations"]["AnnullaPrescritto"], 3);
    assert_eq!(stats["warnings_9101"], 0);
    h.finish().await;
}

#[tokio::test]
async fn interroga_nre_utilizzati_by_nre_and_by_dates() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let doctor = h.titolare().clone();
    let code = h.new_code(&doctor).await;
    let first = invio(&h, &doctor, &doctor, &code).await;
    let second = invio(&h, &doctor, &doctor, &code).await;
    assert_ne!(first, second);

    let by_nre = InterrogaNreUtilizzatiRequest {
        pin_code: h.encrypt(doctor.pin.expose_secret()),
        cod_regione: doctor.region.clone(),
        nre: Some(first.as_str().to_owned()),
        cf_medico: doctor.cf.clone(),
        ..Default::default()
    };
    let receipt: InterrogaNreUtilizzatiReceipt = h.dem(&doctor, &by_nre, Some(&code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted);
    let nres: Vec<_> = receipt
        .records
        .iter()
        .filter_map(|r| r.nre.clone())
        .collect();
    assert_eq!(nres, vec![first.as_str().to_owned()]);
    assert!(receipt.records[0].cod_autenticazione.is_some());

    let today = rome_now();
    let range = InterrogaNreUtilizzatiRequest {
        pin_code: h.encrypt(doctor.pin.expose_secret()),
        cod_regione: doctor.region.clone(),
        cf_medico: doctor.cf.clone(),
        cf_assistito: Some(Sensitive::new(PATIENT_CF)),
        tipo_prescr: Some("F".into()),
        data_compilazione_ricetta_dal: Some(format_data_ora(today - time::Duration::days(1))),
        data_compilazione_ricetta_al: Some(format_data_ora(today + time::Duration::days(1))),
        ..Default::default()
    };
    let receipt: InterrogaNreUtilizzatiReceipt = h.dem(&doctor, &range, Some(&code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted);
    let mut nres: Vec<_> = receipt
        .records
        .iter()
        .filter_map(|r| r.nre.clone())
        .collect();
    nres.sort();
    let mut expected = vec![first.as_str().to_owned(), second.as_str().to_owned()];
    expected.sort();
    assert_eq!(nres, expected);

    // A range before the prescriptions finds nothing, and says so without error.
    let empty = InterrogaNreUtilizzatiRequest {
        cf_assistito: None,
        data_compilazione_ricetta_dal: Some("2020-01-01 00:00:00".into()),
        data_compilazione_ricetta_al: Some("2020-01-31 23:59:59".into()),
        pin_code: h.encrypt(doctor.pin.expose_secret()),
        ..range
    };
    let receipt: InterrogaNreUtilizzatiReceipt = h.dem(&doctor, &empty, Some(&code)).await;
    assert!(receipt.outcome().is_accepted());
    assert!(receipt.records.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn substitution_declaration_and_substitute_prescription() {
    let h = Harness::start(Mode::Production, Enforcement::Block).await;
    let titolare = h.titolare().clone();
    let sostituto = h.sostituto().clone();
    let titolare_code = h.new_code(&titolare).await;
    let sostituto_code = h.new_code(&sostituto).await;

    let start = rome_now().date();
    let end = start + time::Duration::days(14);
    let ymd = time::macros::format_description!("[year][month][day]");
    let declaration = DichiarazioneSostituzioneMedicoRequest {
        pin_code: h.encrypt(titolare.pin.expose_secret()),
        pwd: titolare.password.clone(),
        cf_medico_titolare: titolare.cf.clone(),
        cod_regione: titolare.region.clone(),
        cod_asl_ao: titolare.asl.clone(),
        cod_struttura: None,
        cod_specializzazione: titolare.specialization.clone(),
        cf_medico_sostituto: sostituto.cf.clone(),
        comunicazione_asl: None,
        data_inizio_sostituzione: start.format(&ymd).unwrap(),
        data_fine_sostituzione: end.format(&ymd).unwrap(),
        nota: Some("ferie".into()),
        opzioni: Vec::new(),
    };
    let receipt: DichiarazioneSostituzioneMedicoReceipt =
        h.dem(&titolare, &declaration, Some(&titolare_code)).await;
    assert_eq!(receipt.outcome(), DemOutcome::Accepted, "{receipt:?}");
    assert!(receipt.data_inserimento.is_some());

    // The substitute compiles for the titolare: his own credentials, PIN and code.
    let request = h.invio_request(&sostituto, &titolare);
    assert!(request.is_substitute());
    let nre = invio(&h, &sostituto, &titolare, &sostituto_code).await;

    // Both can see it.
    let seen = visualizza(&h, &titolare, &nre, &titolare_code).await;
    assert_eq!(seen.stato(), Some(StatoProcesso::DaErogare));
    assert_eq!(seen.cf_medico2.as_deref(), Some(sostituto.cf.as_str()));
    let seen = visualizza(&h, &sostituto, &nre, &sostituto_code).await;
    assert_eq!(seen.stato(), Some(StatoProcesso::DaErogare));

    // Only the substitute who compiled it may cancel it.
    let by_titolare = annulla(&h, &titolare, &nre, &titolare_code).await;
    rejected_with(&by_titolare.outcome(), KnownCode::MedicoNonAssociato);
    let by_sostituto = annulla(&h, &sostituto, &nre, &sostituto_code).await;
    assert_eq!(by_sostituto.outcome(), DemOutcome::Accepted);
    let seen = visualizza(&h, &titolare, &nre, &titolare_code).await;
    assert_eq!(seen.stato(), Some(StatoProcesso::Annullata));
    h.finish().await;
}
