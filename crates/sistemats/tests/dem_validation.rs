//! Validation errors name the field; routing constants match the WSDLs; requests parse
//! back on the simulator side.

mod dem_support;

use dem_support::*;
use sistemats::dem::*;

fn fields<R: DemRequest>(r: &R) -> Vec<String> {
    r.problems().into_iter().map(|p| p.field).collect()
}

#[test]
fn fixtures_are_valid() {
    assert_eq!(invio_minimo().validate(), Ok(()));
    assert_eq!(invio_completo_sostituto().validate(), Ok(()));
    assert_eq!(visualizza().validate(), Ok(()));
    assert_eq!(annulla().validate(), Ok(()));
    assert_eq!(interroga_nre().validate(), Ok(()));
    assert_eq!(interroga_intervallo().validate(), Ok(()));
    assert_eq!(sostituzione_completa().validate(), Ok(()));
    assert!(invio_completo_sostituto().is_substitute());
}

#[test]
fn errors_name_the_field_in_italian() {
    let mut r = invio_minimo();
    r.cf_medico1 = "PROVAX00X00X000YY".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "campo cfMedico1: deve avere al massimo 16 caratteri"
    );

    let mut r = invio_minimo();
    r.dettagli[0].quantita = "10".into();
    let e = r.validate().unwrap_err();
    assert_eq!(e.field, "DettaglioPrescrizione[1].quantita");
    assert_eq!(
        e.to_string(),
        "campo DettaglioPrescrizione[1].quantita: deve essere una sola cifra (0-9)"
    );

    let mut r = invio_minimo();
    r.data_compilazione = "2026-09-30T16:44:16".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "campo dataCompilazione: deve essere una data e ora nel formato aaaa-mm-gg hh:mm:ss"
    );

    let mut r = invio_minimo();
    r.tipo_prescrizione = "X".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "campo tipoPrescrizione: valore non ammesso: usa uno tra F, P"
    );

    let mut r = invio_minimo();
    r.cod_regione = "13".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "campo codRegione: deve avere esattamente 3 caratteri"
    );

    let mut r = invio_minimo();
    r.pin_code = EncryptedValue::default();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "campo pinCode: è obbligatorio: compilalo"
    );
}

#[test]
fn specification_rules() {
    // Specialist prescription without a diagnosis.
    let mut r = invio_minimo();
    r.tipo_prescrizione = "P".into();
    assert_eq!(fields(&r), ["codDiagnosi"]);
    r.descrizione_diagnosi = Some("controllo".into());
    assert_eq!(r.validate(), Ok(()));

    // nonSost=1 needs codMotivazione.
    let mut r = invio_minimo();
    r.dettagli[0].non_sost = Some("1".into());
    assert_eq!(fields(&r), ["DettaglioPrescrizione[1].codMotivazione"]);

    // The substitute must differ from the titolare.
    let mut r = invio_minimo();
    r.cf_medico2 = Some(CF_TITOLARE.into());
    assert_eq!(fields(&r), ["cfMedico2"]);

    // At least one line; testoLibero only null; enums.
    let mut r = invio_minimo();
    r.dettagli.clear();
    r.tipo_visita = "B".into();
    r.classe_priorita = Some("Z".into());
    assert_eq!(
        fields(&r),
        ["tipoVisita", "classePriorita", "ElencoDettagliPrescrizioni"]
    );
    let mut r = invio_minimo();
    r.dettagli[0].testo_libero = Some("1".into());
    r.dettagli.push(DettaglioPrescrizione {
        numsedute: Some("x".into()),
        ..dettaglio_minimo()
    });
    assert_eq!(
        fields(&r),
        [
            "DettaglioPrescrizione[1].testoLibero",
            "DettaglioPrescrizione[2].numsedute"
        ]
    );

    // A malformed NRE is refused before sending.
    let mut r = visualizza();
    r.nre = "1300A40192948".into();
    assert_eq!(fields(&r), ["nre"]);

    // Interroga needs an NRE or a full date range, 19-character dates.
    let mut r = interroga_intervallo();
    r.data_compilazione_ricetta_al = None;
    assert_eq!(fields(&r), ["dataCompilazioneRicettaAl"]);
    let mut r = interroga_intervallo();
    r.data_compilazione_ricetta_dal = Some("2026-09-30".into());
    assert_eq!(fields(&r), ["dataCompilazioneRicettaDal"]);
    let mut r = interroga_intervallo();
    r.data_compilazione_ricetta_dal = Some("2026-10-30 00:00:00".into());
    assert_eq!(fields(&r), ["dataCompilazioneRicettaAl"]);
    let mut r = interroga_intervallo();
    r.cod_lotto = Some("12345678901234".into());
    assert_eq!(fields(&r), ["codLotto"]);

    // Sostituzione facets.
    let mut r = sostituzione_minima();
    r.data_fine_sostituzione = "2026-10-15".into();
    r.comunicazione_asl = Some("S".into());
    r.pwd = sistemats::Password::new("12345678901234567");
    assert_eq!(
        fields(&r),
        ["pwd", "comunicazioneAsl", "dataFineSostituzione"]
    );
}

#[test]
fn validation_errors_never_contain_values() {
    let mut r = interroga_intervallo();
    r.cf_assistito = Some(Sensitive::new("RSSMRA80A01H501UXYZ"));
    let text = r.validate().unwrap_err().to_string();
    assert!(text.starts_with("campo cfAssistito"));
    assert!(!text.contains("RSSMRA"));
    assert!(!format!("{r:?}").contains("RSSMRA"));
    let s = sostituzione_minima();
    assert!(!format!("{s:?}").contains("Salve123"));
    assert!(!s.to_xml().is_empty());
}

#[test]
fn service_routing() {
    assert_eq!(
        Service::InvioPrescritto.path(),
        "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto"
    );
    assert_eq!(
        Service::InterrogaNreUtilizzati.soap_action(),
        "http://interroganreassociati.wsdl.dem.sanita.finanze.it/InterrogaNreUtilizzati"
    );
    assert_eq!(
        Service::from_soap_action(
            "\"http://visualizzaprescritto.wsdl.dem.sanita.finanze.it/VisualizzaPrescritto\""
        ),
        Some(Service::VisualizzaPrescritto)
    );
    assert_eq!(
        Service::from_soap_action(
            "http://interroganreutilizzati.wsdl.dem.sanita.finanze.it/InterrogaNreUtilizzati"
        ),
        None,
        "only the WSDL's own (quirky) action is accepted"
    );
    assert_eq!(
        Service::from_path("/DemRicettaPrescrittoServicesWeb/services/demAnnullaPrescritto?x=1"),
        Some(Service::AnnullaPrescritto)
    );
    assert_eq!(
        Service::from_path("/DemRicettaPrescrittoServicesWeb/services/other"),
        None
    );
    for s in Service::ALL {
        assert_eq!(Service::from_path(s.path()), Some(s));
        assert_eq!(Service::from_soap_action(s.soap_action()), Some(s));
        assert_eq!(Service::from_root(s.request_root()), Some(s));
        assert_eq!(Service::from_root(s.receipt_root()), Some(s));
    }
    // The constants agree with the WSDL files.
    for (wsdl, s) in [
        ("demInvioPrescritto.wsdl", Service::InvioPrescritto),
        (
            "demVisualizzaPrescritto.wsdl",
            Service::VisualizzaPrescritto,
        ),
        ("demAnnullaPrescritto.wsdl", Service::AnnullaPrescritto),
        (
            "demInterrogaNreUtilizzati.wsdl",
            Service::InterrogaNreUtilizzati,
        ),
        (
            "dichiarazioneSostituzioneMedico.wsdl",
            Service::DichiarazioneSostituzioneMedico,
        ),
    ] {
        let text = std::fs::read_to_string(spec_dir().join(wsdl)).unwrap();
        assert!(
            text.contains(&format!("soapAction=\"{}\"", s.soap_action())),
            "{wsdl}"
        );
        assert!(
            text.contains(&format!("localhost:9080{}\"", s.path())),
            "{wsdl}"
        );
        assert!(text.contains(s.request_namespace()) && text.contains(s.receipt_namespace()));
    }
}

#[test]
fn simulator_side_parses_requests() {
    let envelope = invio_completo_sostituto().to_envelope();
    match Request::parse(envelope.as_bytes()).unwrap() {
        Request::Invio(r) => assert_eq!(*r, invio_completo_sostituto()),
        other => panic!("unexpected {other:?}"),
    }
    let r = Request::parse(annulla().to_envelope().as_bytes()).unwrap();
    assert_eq!(r.service(), Service::AnnullaPrescritto);
    assert_eq!(r.pin_code(), &annulla().pin_code);
    assert_eq!(
        Request::parse(sostituzione_completa().to_envelope().as_bytes()).unwrap(),
        Request::Sostituzione(sostituzione_completa())
    );
    // A request in the wrong namespace is refused (the real service answers with a Fault).
    let wrong = annulla()
        .to_envelope()
        .replace("annullaprescrittorichiesta", "altro");
    assert!(matches!(
        Request::parse(wrong.as_bytes()),
        Err(DemError::UnexpectedRoot { .. })
    ));
    // A missing required element is named.
    let missing = visualizza()
        .to_envelope()
        .replace("<vis:cfMedico>PROVAX00X00X000Y</vis:cfMedico>", "");
    assert_eq!(
        VisualizzaPrescrittoRequest::parse(missing.as_bytes()),
        Err(DemError::MissingElement("cfMedico"))
    );
}

#[test]
fn faults_and_second_factor() {
    let fault = sistemats::soap::Fault::client("cvc-maxLength-valid: Value with length = '17'");
    match InvioPrescrittoReceipt::parse(fault.to_envelope().as_bytes()) {
        Err(DemError::Fault(f)) => assert!(f.is_schema_error()),
        other => panic!("unexpected {other:?}"),
    }
    // 9101 as a warning: accepted, but the doctor needs a new code.
    let warned = InvioPrescrittoReceipt {
        nre: Some("1300A4019294836".into()),
        cod_autenticazione: Some("300920261647159170000050622805".into()),
        cod_esito_inserimento: "0001".into(),
        errori: vec![ErroreRicetta::ok(), ErroreRicetta::second_factor(false)],
        ..Default::default()
    };
    let parsed = Receipt::parse(warned.to_envelope().as_bytes()).unwrap();
    assert!(parsed.second_factor_problem());
    let outcome = parsed.outcome();
    assert!(outcome.is_accepted());
    assert!(outcome.second_factor_problem());
    assert!(
        outcome
            .message()
            .contains("ID-SESSIONE mancante o non valido")
    );
    // 9101 blocking: rejected.
    let blocked = InvioPrescrittoReceipt {
        cod_esito_inserimento: "9999".into(),
        errori: vec![ErroreRicetta::second_factor(true)],
        ..Default::default()
    };
    assert!(blocked.second_factor_problem());
    assert!(!blocked.outcome().is_accepted());
    // Unprefixed tipodati and a prefixed root in other namespaces still parse.
    let odd = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r:AnnullaPrescrittoRicevuta xmlns:r="urn:other"><r:nre>1300A4019294833</r:nre><r:codEsitoAnnullamento>9999</r:codEsitoAnnullamento><r:ElencoErroriRicette><ErroreRicetta><codEsito>9101</codEsito><tipoErrore>E</tipoErrore></ErroreRicetta></r:ElencoErroriRicette></r:AnnullaPrescrittoRicevuta></s:Body></s:Envelope>"#;
    let r = AnnullaPrescrittoReceipt::parse(odd.as_bytes()).unwrap();
    assert!(r.second_factor_problem());
    assert_eq!(r.errori[0].severity_in("9999"), Severity::Blocking);
}
