use crate::dem::{DemOutcome, EncryptedValue, ErroreRicetta, Problem, Sensitive};

use super::*;

fn invio() -> InvioRbeRequest {
    InvioRbeRequest {
        pin_code: EncryptedValue::new("UElOQ0lGUkFUTw=="),
        cf_medico: "PROVAX00X00X000Y".into(),
        cod_regione: Some("130".into()),
        cod_asl_ao: Some("201".into()),
        cod_specializzazione: Some("F".into()),
        special_clinica: Some("Medicina generale".into()),
        num_iscriz_albo: Some("12345".into()),
        indir_medico: Some("Via Roma 1|65100|Pescara|PE".into()),
        telef_medico: Some("+39|0851234567".into()),
        codice_paziente: EncryptedValue::new("Q0ZDSUZSQVRP"),
        cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
        tipo_prescrizione: Some("F".into()),
        data_compilazione: "2026-12-08 09:30:00".into(),
        dettagli: vec![DettaglioRbe {
            posologia: Some("1 bustina al giorno".into()),
            tdl: Some("0".into()),
            ..DettaglioRbe::product("033052034", "NIMESULIDE 100MG 30 BUSTE", 1)
        }],
        ..InvioRbeRequest::default()
    }
}

#[test]
fn invio_request_round_trips_in_its_namespaces() {
    let request = invio();
    assert_eq!(request.problems(), vec![]);
    let envelope = request.to_envelope();
    let parsed = InvioRbeRequest::parse(envelope.as_bytes()).unwrap();
    assert_eq!(parsed, request);
    let xml = request.to_xml();
    assert!(xml.starts_with(
        "<inv:InvioPrescrittoRicettaBiancaRichiesta xmlns:inv=\"http://invioprescrittoricettabiancarichiesta.xsd.dem.sanita.finanze.it\""
    ));
    assert!(xml.contains("<tip:codProdPrest>033052034</tip:codProdPrest>"));
    // Strict: the same element in another namespace is not the request.
    let foreign = envelope.replace(
        "http://invioprescrittoricettabiancarichiesta.xsd",
        "http://invioprescrittorichiesta.xsd",
    );
    assert!(InvioRbeRequest::parse(foreign.as_bytes()).is_err());
    assert!(matches!(
        AnyRbeRequest::from_payload(
            &crate::dem::codec::parse_payload(envelope.as_bytes()).unwrap()
        ),
        Ok(AnyRbeRequest::Invio(_))
    ));
}

#[test]
fn invio_validation_names_the_field() {
    let mut request = invio();
    request.indir_medico = Some("Via Roma 1, Pescara".into());
    request.telef_medico = Some("0851234567".into());
    request.cf_medico = "PROVAX00X00X".into();
    request.dettagli.clear();
    let fields: Vec<String> = request.problems().into_iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        [
            "cfMedico",
            "indirMedico",
            "telefMedico",
            "dettaglioPrescrizioneRicettaBianca"
        ]
    );
    let mut request = invio();
    request.dettagli[0].quantita = "due".into();
    let problem = request.validate().unwrap_err();
    assert_eq!(
        problem.field,
        "dettaglioPrescrizioneRicettaBianca[1].quantita"
    );
    assert_eq!(problem.problem, Problem::Format("un numero intero"));
}

#[test]
fn query_requests_need_an_nrbe_of_twelve() {
    let nrbe = Nrbe::parse("123456789012").unwrap();
    let query = NrbeQuery::new(
        EncryptedValue::new("UElO"),
        &nrbe,
        Some(EncryptedValue::new("Q0Y=")),
        "PROVAX00X00X000Y",
    );
    let annulla = AnnullaRbeRequest(query.clone());
    assert_eq!(annulla.problems(), vec![]);
    let parsed = AnnullaRbeRequest::parse(annulla.to_envelope().as_bytes()).unwrap();
    assert_eq!(parsed, annulla);
    // An Annulla is not a Visualizza.
    assert!(VisualizzaRbeRequest::parse(annulla.to_envelope().as_bytes()).is_err());
    let mut short = query;
    short.nrbe = Some("12345".into());
    assert_eq!(
        VisualizzaRbeRequest(short.clone())
            .validate()
            .unwrap_err()
            .field,
        "nrbe"
    );
    short.nrbe = None;
    assert_eq!(
        VisualizzaRbeRequest(short).validate().unwrap_err().field,
        "nrbe"
    );
    assert!(Nrbe::parse("12345678901").is_err());
    assert!(Nrbe::parse("12345678901a").is_err());
}

#[test]
fn receipts_round_trip_and_read_other_layouts() {
    let mut receipt = RbeReceipt::accepted(RbeService::Invio, vec![]);
    receipt.nrbe = Some("130000000042".into());
    receipt.pin_nrbe = Some(PinNrbe::new("12345"));
    receipt.data_inserimento = Some("2026-12-08 09:30:01".into());
    let parsed = RbeReceipt::parse(RbeService::Invio, receipt.to_envelope().as_bytes()).unwrap();
    assert_eq!(parsed, receipt);
    assert_eq!(parsed.outcome(), DemOutcome::Accepted);
    assert_eq!(parsed.nrbe().unwrap().as_str(), "130000000042");
    assert!(
        !format!("{parsed:?}").contains("12345\""),
        "the PIN NRBE is masked"
    );

    // Prefixed root, errors in another list, capitalised items: still read.
    let other = r#"<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
        <ns3:InvioPrescrittoRicettaBiancaRicevuta xmlns:ns3="urn:x" xmlns:t="urn:y">
        <ns3:codEsitoInserimento>9999</ns3:codEsitoInserimento>
        <ns3:ElencoErrori><t:ErroreRicetta><t:codEsito>9101</t:codEsito><t:esito>id-sessione non presente</t:esito><t:tipoErrore>Bloccante</t:tipoErrore></t:ErroreRicetta></ns3:ElencoErrori>
        </ns3:InvioPrescrittoRicettaBiancaRicevuta></S:Body></S:Envelope>"#;
    let parsed = RbeReceipt::parse(RbeService::Invio, other.as_bytes()).unwrap();
    assert!(parsed.second_factor_problem());
    assert!(matches!(parsed.outcome(), DemOutcome::Rejected { .. }));
    assert_eq!(parsed.nrbe(), None);

    // The annulla operation code is UNKNOWN: any codEsito… child is taken.
    let annulla = other
        .replace(
            "InvioPrescrittoRicettaBiancaRicevuta",
            "AnnullaPrescrittoRicettaBiancaRicevuta",
        )
        .replace("codEsitoInserimento", "codEsitoOperazione");
    let parsed = RbeReceipt::parse(RbeService::Annulla, annulla.as_bytes()).unwrap();
    assert_eq!(parsed.cod_esito, "9999");
    // But not another service's receipt.
    assert!(RbeReceipt::parse(RbeService::Visualizza, other.as_bytes()).is_err());
}

#[test]
fn warnings_and_rejections() {
    let warned = RbeReceipt::accepted(
        RbeService::Visualizza,
        vec![ErroreRicetta::second_factor(false)],
    );
    assert_eq!(warned.cod_esito, "0001");
    let parsed =
        RbeReceipt::parse(RbeService::Visualizza, warned.to_envelope().as_bytes()).unwrap();
    assert!(parsed.second_factor_problem());
    assert!(matches!(
        parsed.outcome(),
        DemOutcome::AcceptedWithWarnings { .. }
    ));
    let refused = RbeReceipt::rejected(
        RbeService::Annulla,
        vec![ErroreRicetta::blocking("1120", "stato non valido")],
    );
    let parsed = RbeReceipt::parse(RbeService::Annulla, refused.to_envelope().as_bytes()).unwrap();
    assert!(!parsed.second_factor_problem());
    assert!(matches!(parsed.outcome(), DemOutcome::Rejected { .. }));
}

#[test]
fn services_by_path_and_action() {
    for s in RbeService::ALL {
        assert_eq!(RbeService::from_path(s.path()), Some(s));
        assert_eq!(
            RbeService::from_soap_action(&format!("\"{}\"", s.soap_action())),
            Some(s)
        );
    }
    assert_eq!(
        RbeService::Annulla.soap_action(),
        "http://annullaprescrittoricettabianca.wsdl.dem.sanita.finanze.it/AnnullaPrescrittoRicettaBianca"
    );
    assert!(
        RbeService::from_path("/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto")
            .is_none()
    );
}

#[test]
fn debug_hides_patient_and_pins() {
    let request = invio();
    let shown = format!("{request:?}");
    for secret in ["ROSSI MARIO", "UElOQ0lGUkFUTw==", "Q0ZDSUZSQVRP"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
