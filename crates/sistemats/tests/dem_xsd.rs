//! Every request the library builds, and every receipt it serializes, is valid against the
//! official XSDs (checked with `xmllint --schema`; the test fails if xmllint is missing).

mod dem_support;

use dem_support::*;
use sistemats::dem::*;
use sistemats::soap::{self, Body};

fn payload_of_envelope(envelope: &str) -> String {
    // The envelope must be a well-formed SOAP message whose payload is the request.
    match soap::parse(envelope.as_bytes()).unwrap() {
        Body::Payload(_) => {}
        Body::Fault(f) => panic!("unexpected fault {f:?}"),
    }
    let start = envelope.find("<soapenv:Body>").unwrap() + "<soapenv:Body>".len();
    let end = envelope.rfind("</soapenv:Body>").unwrap();
    envelope[start..end].to_owned()
}

fn check_request<R: DemRequest>(schemas: &Schemas, xsd: &str, request: &R) {
    assert_eq!(request.problems(), vec![], "fixture should be valid");
    let xml = request.to_xml();
    schemas.assert_valid(xsd, &xml);
    // The payload inside the envelope is the same self-contained element.
    assert_eq!(payload_of_envelope(&request.to_envelope()), xml);
}

#[test]
fn requests_are_schema_valid() {
    let schemas = Schemas::new();
    let invio = "InvioPrescrittoRichiesta.xsd";
    check_request(&schemas, invio, &invio_minimo());
    check_request(&schemas, invio, &invio_completo_sostituto());
    // Without patient code (foreigner) and with an empty optional header.
    let mut straniero = invio_minimo();
    straniero.codice_ass = None;
    straniero.stato_estero = Some("FR".into());
    check_request(&schemas, invio, &straniero);

    check_request(&schemas, "VisualizzaPrescrittoRichiesta.xsd", &visualizza());
    check_request(&schemas, "AnnullaPrescrittoRichiesta.xsd", &annulla());
    check_request(&schemas, "InterrogaNreUtilRichiesta.xsd", &interroga_nre());
    check_request(
        &schemas,
        "InterrogaNreUtilRichiesta.xsd",
        &interroga_intervallo(),
    );
    let sost = "DichiarazioneSostituzioneMedicoRichiesta.xsd";
    check_request(&schemas, sost, &sostituzione_minima());
    check_request(&schemas, sost, &sostituzione_completa());
}

#[test]
fn every_detail_element_is_schema_valid() {
    // testoLibero is refused by our rules (the specification allows only null) but is an
    // XSD element: with it every element of DettaglioPrescrizione is on the wire.
    let schemas = Schemas::new();
    let mut request = invio_completo_sostituto();
    request.dettagli[0].testo_libero = Some("1".into());
    let xml = request.to_xml();
    assert!(xml.contains("<tip:testoLibero>1</tip:testoLibero>"));
    schemas.assert_valid("InvioPrescrittoRichiesta.xsd", &xml);
}

#[test]
fn header_tags_1_to_32_always_present() {
    let xml = invio_minimo().to_xml();
    for tag in [
        "cfMedico2",
        "codStruttura",
        "testata1",
        "testata2",
        "nre",
        "tipoRic",
        "cognNome",
        "indirizzo",
        "oscuramDati",
        "numTessSasn",
        "socNavigaz",
        "ricettaInterna",
        "codEsenzione",
        "nonEsente",
        "reddito",
        "codDiagnosi",
        "descrizioneDiagnosi",
        "dispReg",
        "provAssistito",
        "aslAssistito",
        "indicazionePrescr",
        "altro",
        "classePriorita",
    ] {
        assert!(xml.contains(&format!("<inv:{tag}/>")), "{tag} missing");
    }
    for tag in ["statoEstero", "dataNascitaEstero", "dataScadTessera"] {
        assert!(!xml.contains(tag), "{tag} should be omitted");
    }
}

#[test]
fn a_broken_request_is_refused_by_the_schema_too() {
    // Guards the harness itself: xmllint must really reject invalid documents.
    let schemas = Schemas::new();
    let mut request = invio_minimo();
    request.dettagli[0].quantita = "12".into();
    assert!(
        schemas
            .check("InvioPrescrittoRichiesta.xsd", &request.to_xml())
            .is_err()
    );
    assert!(request.validate().is_err());
}

fn receipts() -> Vec<(&'static str, String)> {
    let invio = InvioPrescrittoReceipt {
        nre: Some("1300A4019294836".into()),
        cod_autenticazione: Some("300920261647159170000050622805".into()),
        data_inserimento: Some("2026-09-30 16:47:15".into()),
        cod_esito_inserimento: "0001".into(),
        errori: vec![ErroreRicetta::ok(), ErroreRicetta::second_factor(false)],
        comunicazioni: comunicazioni_invio(),
        note: vec![Nota {
            progr_presc: Some("1".into()),
            cod_prod_prest: Some("89.7".into()),
            tipo_ambulatorio: Some("A".into()),
        }],
        flag_promemoria: Some("0".into()),
        pdf_promemoria: Some(Promemoria(b"%PDF-1.4 fake".to_vec())),
    };
    let invio_rifiuto = InvioPrescrittoReceipt {
        cod_esito_inserimento: "9999".into(),
        errori: vec![ErroreRicetta::blocking("1020", "nota AIFA non valida")],
        ..Default::default()
    };
    let visualizza = VisualizzaPrescrittoReceipt {
        nre: Some("1300A4019294836".into()),
        cf_medico1: Some(CF_TITOLARE.into()),
        cf_medico2: Some(CF_SOSTITUTO.into()),
        cod_regione: Some("130".into()),
        cod_asl_ao: Some("201".into()),
        cod_struttura: Some("000123".into()),
        cod_specializzazione: Some("F".into()),
        testata1: Some("COGNOME_MEDICO=PRO;NOME_MEDICO=VA".into()),
        testata2: Some("X".into()),
        tipo_ric: Some("NA".into()),
        codice_ass: Some(Sensitive::new("RSSMRA80A01H501U")),
        cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
        indirizzo: Some(Sensitive::new("|||")),
        oscuram_dati: Some("1".into()),
        num_tess_sasn: Some(Sensitive::new("S1")),
        soc_navigaz: Some("N".into()),
        tipo_prescrizione: Some("P".into()),
        ricetta_interna: Some("1".into()),
        cod_esenzione: Some("048".into()),
        non_esente: Some("1".into()),
        reddito: Some("1".into()),
        cod_diagnosi: Some("401.9".into()),
        descrizione_diagnosi: Some("ipertensione".into()),
        data_compilazione: Some("2026-09-30 16:44:16".into()),
        tipo_visita: Some("A".into()),
        disp_reg: Some("D".into()),
        prov_assistito: Some("AQ".into()),
        asl_assistito: Some("201".into()),
        indicazione_prescr: Some("S".into()),
        altro: Some("A".into()),
        classe_priorita: Some("U".into()),
        stato_estero: Some("DE".into()),
        istituz_competente: Some("AOK".into()),
        num_ident_pers: Some(Sensitive::new("P")),
        num_ident_tess: Some(Sensitive::new("T")),
        data_nascita_estero: Some("1980-01-01".into()),
        data_scad_tessera: Some("2030-12-31".into()),
        dettagli: vec![dettaglio_completo(), dettaglio_minimo()],
        stato_processo: Some("3".into()),
        cod_autenticazione: Some("300920261644168700000050622782".into()),
        data_inserimento: Some("2026-09-30 16:44:16".into()),
        cod_esito_visualizzazione: "0000".into(),
        errori: vec![ErroreRicetta::ok()],
        comunicazioni: vec![Comunicazione::nessuna(Service::VisualizzaPrescritto)],
        note: vec![Nota::default()],
    };
    let annulla = AnnullaPrescrittoReceipt {
        nre: "1300A4019294846".into(),
        cod_esito_annullamento: "9999".into(),
        errori: vec![ErroreRicetta::blocking(
            "1125",
            "Visualizzazione non consentita - cf medico non valido, diverso da quello associato NRE",
        )],
        comunicazioni: vec![Comunicazione::nessuna(Service::AnnullaPrescritto)],
    };
    let interroga = InterrogaNreUtilizzatiReceipt {
        cod_esito: "0000".into(),
        records: vec![
            NreUtilRecord {
                nre: Some("1300A4019294835".into()),
                cf_medico: Some(CF_TITOLARE.into()),
                tipo_prescrizione: Some("F".into()),
                data_compilazione_ricetta: Some("2026-09-30 04:46:34".into()),
                cf_assistito: Some(Sensitive::new("RSSMRA80A01H501U")),
                provenienza: Some("0".into()),
                lotto: Some("1300A40".into()),
                cod_autenticazione: Some("300920261647054800000050622804".into()),
            },
            NreUtilRecord::default(),
        ],
        errori: vec![ErroreRicetta::ok()],
        comunicazioni: vec![Comunicazione::nessuna(Service::InterrogaNreUtilizzati)],
    };
    let interroga_vuota = InterrogaNreUtilizzatiReceipt {
        cod_esito: "0000".into(),
        ..Default::default()
    };
    let sostituzione = DichiarazioneSostituzioneMedicoReceipt {
        cod_esito_inserimento: "0000".into(),
        data_inserimento: Some("2026-09-30 16:44:16".into()),
        errori: vec![ErroreRicetta::ok(), ErroreRicetta::warning("9101", "x")],
        comunicazioni: vec![Comunicazione::new("0500", "Nessuna comunicazione.")],
    };
    vec![
        ("InvioPrescrittoRicevuta.xsd", invio.to_xml()),
        ("InvioPrescrittoRicevuta.xsd", invio_rifiuto.to_xml()),
        ("VisualizzaPrescrittoRicevuta.xsd", visualizza.to_xml()),
        ("AnnullaPrescrittoRicevuta.xsd", annulla.to_xml()),
        ("InterrogaNreUtilRicevuta.xsd", interroga.to_xml()),
        ("InterrogaNreUtilRicevuta.xsd", interroga_vuota.to_xml()),
        (
            "DichiarazioneSostituzioneMedicoRicevuta.xsd",
            sostituzione.to_xml(),
        ),
    ]
}

#[test]
fn receipts_are_schema_valid() {
    let schemas = Schemas::new();
    for (xsd, xml) in receipts() {
        schemas.assert_valid(xsd, &xml);
    }
}

#[test]
fn real_responses_reserialized_are_schema_valid() {
    let schemas = Schemas::new();
    for (file, xsd) in [
        ("invio_ok.xml", "InvioPrescrittoRicevuta.xsd"),
        ("visualizza_stato3.xml", "VisualizzaPrescrittoRicevuta.xsd"),
        ("visualizza_stato4.xml", "VisualizzaPrescrittoRicevuta.xsd"),
        (
            "visualizza_nre_inesistente_5005.xml",
            "VisualizzaPrescrittoRicevuta.xsd",
        ),
        ("annulla_ok.xml", "AnnullaPrescrittoRicevuta.xsd"),
        ("annulla_rifiuto_1120.xml", "AnnullaPrescrittoRicevuta.xsd"),
        (
            "annulla_titolare_ricetta_sostituto_1125.xml",
            "AnnullaPrescrittoRicevuta.xsd",
        ),
        (
            "interroga_nre_intervallo.xml",
            "InterrogaNreUtilRicevuta.xsd",
        ),
    ] {
        let receipt = Receipt::parse(&real(file)).unwrap();
        let envelope = receipt.to_envelope();
        let start = envelope.find("<soapenv:Body>").unwrap() + "<soapenv:Body>".len();
        let end = envelope.rfind("</soapenv:Body>").unwrap();
        schemas.assert_valid(xsd, &envelope[start..end]);
    }
}
