//! The dispenser codecs: every request and receipt the library builds is valid against the
//! official dispenser XSDs (`xmllint --schema`; the test fails if xmllint is missing), reads
//! back to the same value, and the validation names the field that breaks a facet.

use std::path::{Path, PathBuf};
use std::process::Command;

use sistemats::dem::{DemOutcome, EncryptedValue, ErroreRicetta, KnownCode, Nre, Sensitive};
use sistemats::erogatore::*;

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/erogatore")
}

/// Runs `xmllint --noout --schema` on a document; panics (never skips) without xmllint.
fn xmllint(xsd: &str, xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(spec_dir().join(xsd))
        .arg(&file)
        .output()
        .expect("xmllint must be installed (Debian package libxml2-utils)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn assert_valid(xsd: &str, xml: &str) {
    if let Err(e) = xmllint(xsd, xml) {
        panic!("{xsd}: not valid:\n{e}\n--- document ---\n{xml}");
    }
}

/// A fake SanitelCF ciphertext: only its shape matters here.
fn enc(seed: u8) -> EncryptedValue {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..128u8).map(|b| b.wrapping_mul(seed | 1)).collect();
    EncryptedValue::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn testata() -> Testata {
    let mut t = Testata::new(
        enc(3),
        Erogatore::new("130", "204", "78909"),
        &Nre::parse("1300A4019294836").unwrap(),
    );
    t.cf_assistito = Some(enc(5));
    t
}

fn dettaglio_invio() -> DettaglioPrescrizioneInvioErogato {
    DettaglioPrescrizioneInvioErogato {
        cod_prod_prest: Some("012345678".into()),
        cod_prod_prest_erog: Some("012345678".into()),
        descr_prod_prest_erog: Some("LEVETIRACETAM 500MG & <60> CPR".into()),
        targa: Some("ABCDEFGHIJ".into()),
        dich_targa_doppia: Some("0".into()),
        prezzo: Some("12.50".into()),
        ticket_confezione: Some("2.00".into()),
        quantita_erogata: Some("1".into()),
        data_ini_erog: Some("2026-12-08 10:00:00".into()),
        data_fine_erog: Some("2026-12-08 10:00:00".into()),
        disp_fust1: Some("x".repeat(256)),
        garanzia_tempi_max: Some("1".into()),
        data_prenotazione: Some("2026-12-07 09:00:00".into()),
        ..Default::default()
    }
}

fn invio() -> InvioErogatoRequest {
    let at = time::macros::datetime!(2026-12-08 10:00:00);
    let mut r = InvioErogatoRequest::new(
        testata(),
        TipoOperazioneInvio::ErogazioneTotale,
        at,
        vec![dettaglio_invio(), dettaglio_invio()],
    );
    r.dati.ticket = Some("4.00".into());
    r.dati.reddito = Some("1".into());
    r.dati.disp_ric1 = Some("libero".into());
    r
}

fn check_request<R: ErogatoreRequest + PartialEq + std::fmt::Debug>(xsd: &str, request: &R) {
    assert_eq!(request.problems(), vec![], "fixture should be valid");
    let xml = request.to_xml();
    assert_valid(xsd, &xml);
    let back = R::parse(request.to_envelope().as_bytes()).expect("request reads back");
    assert_eq!(&back, request);
}

#[test]
fn requests_are_schema_valid_and_read_back() {
    for tipo in [
        TipoOperazioneVisualizza::PresaInCarico,
        TipoOperazioneVisualizza::PresaInCaricoSenzaDati,
        TipoOperazioneVisualizza::Rilascio,
        TipoOperazioneVisualizza::VisualizzaDatiOscurati,
    ] {
        check_request(
            "VisualizzaErogatoRichiesta.xsd",
            &VisualizzaErogatoRequest::new(testata(), tipo),
        );
    }
    // Without the optional patient code, with the operator id.
    let mut t = testata();
    t.cf_assistito = None;
    t.pwd = Some(Sensitive::new("BANCO2"));
    check_request(
        "VisualizzaErogatoRichiesta.xsd",
        &VisualizzaErogatoRequest::new(t, TipoOperazioneVisualizza::PresaInCarico),
    );
    check_request("InvioErogatoRichiesta.xsd", &invio());
    let mut bare = invio();
    bare.dettagli.clear();
    check_request("InvioErogatoRichiesta.xsd", &bare);
    for tipo in [
        TipoOperazioneSospendi::InizioSospensione,
        TipoOperazioneSospendi::RevocaSospensione,
    ] {
        check_request(
            "SospendiErogatoRichiesta.xsd",
            &SospendiErogatoRequest::new(testata(), tipo),
        );
    }
    check_request(
        "AnnullaErogatoRichiesta.xsd",
        &AnnullaErogatoRequest::new(testata(), "1"),
    );
}

#[test]
fn every_request_detail_element_is_schema_valid() {
    // All the optional elements of the detail line at once: the order is the XSD's.
    let mut r = invio();
    let d = &mut r.dettagli[0];
    for (slot, v) in [
        (&mut d.cod_gruppo_equival, "G3B"),
        (&mut d.descr_testo_libero_note, "nota"),
        (&mut d.flag_erog, "1"),
        (&mut d.motivaz_sost_prod, "2"),
        (&mut d.cod_branca, "01"),
        (&mut d.tipo_erogazione_farm, "1"),
        (&mut d.diff_generico, "0.50"),
        (&mut d.prezzo_rimborso, "10.00"),
        (&mut d.onere_prod, "1"),
        (&mut d.sconto_ssn, "0.10"),
        (&mut d.extra_sconto_industria, "0.01"),
        (&mut d.extra_sconto_payback, "0.02"),
        (&mut d.extra_sconto_dl31052010, "0.03"),
        (&mut d.cod_presidio, "P1"),
        (&mut d.cod_reparto, "R1"),
        (&mut d.disp_fust2, "f2"),
        (&mut d.disp_fust3, "f3"),
        (&mut d.cod_catalogo_prescr, "C1"),
        (&mut d.cod_catalogo_erog, "C2"),
    ] {
        *slot = Some(v.into());
    }
    for (slot, v) in [
        (&mut r.dati.prescrizione_fruita, "1"),
        (&mut r.dati.tipo_erogazione_spec, "A"),
        (&mut r.dati.quota_fissa, "10"),
        (&mut r.dati.franchigia, "36.15"),
        (&mut r.dati.gal_dir_chiam_altro, "3.87"),
        (&mut r.dati.disp_ric2, "r2"),
        (&mut r.dati.disp_ric3, "r3"),
    ] {
        *slot = Some(v.into());
    }
    check_request("InvioErogatoRichiesta.xsd", &r);
}

fn field_of(problems: Vec<sistemats::dem::ValidationError>) -> Vec<String> {
    problems.into_iter().map(|p| p.field).collect()
}

#[test]
fn validation_names_the_field() {
    let mut v = VisualizzaErogatoRequest::new(testata(), TipoOperazioneVisualizza::PresaInCarico);
    v.tipo_operazione = "5".into();
    v.testata.erogatore.codice_ssa.clear();
    v.testata.pwd = Some(Sensitive::new("X".repeat(17)));
    v.testata.nre = "1300A40192948".into();
    let fields = field_of(v.problems());
    assert_eq!(
        fields,
        ["codiceSsaErogatore", "pwd", "nre", "tipoOperazione"],
        "{fields:?}"
    );
    // The XSD refuses what the validation refuses (tipoOperazione is one character).
    v.tipo_operazione = "12".into();
    assert!(xmllint("VisualizzaErogatoRichiesta.xsd", &v.to_xml()).is_err());

    let mut s = SospendiErogatoRequest::new(testata(), TipoOperazioneSospendi::InizioSospensione);
    s.tipo_operazione = "3".into();
    assert_eq!(field_of(s.problems()), ["tipoOperazione"]);

    let a = AnnullaErogatoRequest::new(testata(), "");
    assert_eq!(field_of(a.problems()), ["codAnnullamento"]);

    let mut i = invio();
    i.dati.data_spedizione = Some("2026-12-08".into());
    i.dettagli[1].prezzo = None;
    i.dettagli[1].data_fine_erog = Some("2026-12-08T10:00:00".into());
    i.dettagli[1].dich_targa_doppia = Some("10".into());
    let fields = field_of(i.problems());
    assert_eq!(
        fields,
        [
            "dataSpedizione",
            "DettaglioPrescrizioneInvioErogato[2].prezzo",
            "DettaglioPrescrizioneInvioErogato[2].dataFineErog",
            "DettaglioPrescrizioneInvioErogato[2].dichTargaDoppia",
        ],
        "{fields:?}"
    );
    // The short date is refused by the XSD too (dataOraType is exactly 19 characters).
    assert!(xmllint("InvioErogatoRichiesta.xsd", &i.to_xml()).is_err());
    let message = i.validate().unwrap_err().to_string();
    assert_eq!(
        message,
        "campo dataSpedizione: deve avere esattamente 19 caratteri"
    );
}

#[test]
fn secrets_are_masked_in_debug() {
    let mut t = testata();
    t.pwd = Some(Sensitive::new("BANCO2-SEGRETO"));
    let debug = format!(
        "{:?}",
        VisualizzaErogatoRequest::new(t, TipoOperazioneVisualizza::PresaInCarico)
    );
    assert!(!debug.contains("BANCO2"), "{debug}");
    assert!(!debug.contains(enc(3).as_str()), "{debug}");
    let receipt = VisualizzaErogatoReceipt::accepted(
        RicettaErogatore {
            cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
            codice_ass: Some(Sensitive::new("RSSMRA80A01H501U")),
            ..Default::default()
        },
        Vec::new(),
        Vec::new(),
    );
    let debug = format!("{receipt:?}");
    assert!(
        !debug.contains("ROSSI") && !debug.contains("RSSMRA"),
        "{debug}"
    );
}

fn visual_receipt() -> VisualizzaErogatoReceipt {
    let ricetta = RicettaErogatore {
        nre: Some("1300A4019294836".into()),
        cf_medico1: Some("PROVAX00X00X000Y".into()),
        cod_regione: Some("130".into()),
        cod_asl_ao: Some("202".into()),
        cod_specializzazione: Some("F".into()),
        testata1: Some("COGNOME_MEDICO=PRO;NOME_MEDICO=VA".into()),
        cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
        tipo_prescrizione: Some("F".into()),
        data_compilazione: Some("2026-12-08 09:00:00".into()),
        tipo_visita: Some("A".into()),
        indicazione_prescr: Some("S".into()),
        stato_processo: Some("5".into()),
        ..Default::default()
    };
    let dettaglio = DettaglioPrescrizioneVisualErogato {
        stato_presc: Some("5".into()),
        cod_gruppo_equival: Some("G3B".into()),
        descr_gruppo_equival: Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE".into()),
        quantita: Some("1".into()),
        ..Default::default()
    };
    let mut r = VisualizzaErogatoReceipt::accepted(ricetta, vec![dettaglio], vec![]);
    r.cod_autenticazione_medico = Some("300920261644168700000050622782".into());
    r
}

fn check_receipt<R: ErogatoreReceipt + PartialEq + std::fmt::Debug>(xsd: &str, receipt: &R) {
    let xml = receipt.to_xml();
    assert_valid(xsd, &xml);
    let back = R::parse(receipt.to_envelope().as_bytes()).expect("receipt reads back");
    assert_eq!(&back, receipt);
}

#[test]
fn receipts_are_schema_valid_and_read_back() {
    let mut visual = visual_receipt();
    check_receipt("VisualizzaErogatoRicevuta.xsd", &visual);
    visual.cod_ese_naz = Some("048".into());
    visual.cod_autenticazione_erogatore = Some("081220261000008700000050622782".into());
    visual.errori = vec![ErroreRicetta::ok(), ErroreRicetta::second_factor(false)];
    visual.cod_esito_visualizzazione = "0001".into();
    check_receipt("VisualizzaErogatoRicevuta.xsd", &visual);
    check_receipt(
        "VisualizzaErogatoRicevuta.xsd",
        &VisualizzaErogatoReceipt::rejected(
            "1300A4019294836",
            vec![ErroreRicetta::blocking(
                "5011",
                "presa in carico da altro utente",
            )],
        ),
    );

    let mut invio = InvioErogatoReceipt::accepted(
        "1300A4019294836",
        "2026-12-08 10:00:01",
        "081220261000018700000050622782",
        vec![],
    );
    check_receipt("InvioErogatoRicevuta.xsd", &invio);
    invio.calcolo_effettuato = Some("1".into());
    invio.ticket_totale = Some("2.00".into());
    invio.dettagli_ticket = vec![DettaglioTicket {
        cod_prod_prest_erog: "012345678".into(),
        progr_presc: "1".into(),
        ticket_confezione: "2.00".into(),
        diff_generico: "0.00".into(),
        prezzo: "12.50".into(),
    }];
    check_receipt("InvioErogatoRicevuta.xsd", &invio);
    check_receipt(
        "InvioErogatoRicevuta.xsd",
        &InvioErogatoReceipt::rejected("1300A4019294836", vec![ErroreRicetta::second_factor(true)]),
    );

    check_receipt(
        "SospendiErogatoRicevuta.xsd",
        &SospendiErogatoReceipt::accepted(vec![]),
    );
    check_receipt(
        "SospendiErogatoRicevuta.xsd",
        &SospendiErogatoReceipt::rejected(vec![ErroreRicetta::blocking("1120", "stato")]),
    );
    check_receipt(
        "AnnullaErogatoRicevuta.xsd",
        &AnnullaErogatoReceipt::accepted(
            "1300A4019294836",
            "2026-12-08 11:00:00",
            "081220261100008700000050622782",
            vec![],
        ),
    );
    check_receipt(
        "AnnullaErogatoRicevuta.xsd",
        &AnnullaErogatoReceipt::rejected(
            "1300A4019294836",
            vec![ErroreRicetta::blocking("5005", "x")],
        ),
    );
}

#[test]
fn receipts_are_read_tolerantly() {
    // Other prefixes, the real SAC's "Bloccante", no communications: still read by local name.
    let xml = r#"<?xml version="1.0"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<r:VisualizzaErogatoRicevuta xmlns:r="http://visualizzaerogatoricevuta.xsd.dem.sanita.finanze.it" xmlns:t="http://tipodati.xsd.dem.sanita.finanze.it">
<r:nre>1300A4019294836</r:nre><r:codEsitoVisualizzazione>9999</r:codEsitoVisualizzazione>
<r:ElencoErroriRicette><t:ErroreRicetta><t:codEsito>5011</t:codEsito>
<t:esito>Visualizzazione non consentita - ricetta presa in carico da altro utente</t:esito>
<t:progPresc>0</t:progPresc><t:tipoErrore>Bloccante</t:tipoErrore></t:ErroreRicetta></r:ElencoErroriRicette>
</r:VisualizzaErogatoRicevuta></S:Body></S:Envelope>"#;
    let r = VisualizzaErogatoReceipt::parse(xml.as_bytes()).unwrap();
    assert_eq!(r.ricetta.nre.as_deref(), Some("1300A4019294836"));
    assert!(!r.has_prescription());
    match r.outcome() {
        DemOutcome::Rejected { errors } => {
            assert_eq!(errors[0].known, Some(KnownCode::PresaInCaricoAltroUtente));
            assert!(errors[0].message().contains("altra farmacia"));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!r.second_factor_problem());

    // 9101 as a warning on an accepted dispensing.
    let warned = InvioErogatoReceipt::accepted(
        "1300A4019294836",
        "2026-12-08 10:00:01",
        "081220261000018700000050622782",
        vec![ErroreRicetta::second_factor(false)],
    );
    let read = InvioErogatoReceipt::parse(warned.to_envelope().as_bytes()).unwrap();
    assert_eq!(read.cod_esito_inserimento, "0001");
    assert!(read.outcome().is_accepted());
    assert!(read.second_factor_problem());

    // A SOAP Fault is an error, not a receipt.
    let fault = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>cvc-complex-type.2.4.a: x</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
    assert!(matches!(
        SospendiErogatoReceipt::parse(fault.as_bytes()),
        Err(sistemats::dem::DemError::Fault(_))
    ));
    // A receipt of another service is refused.
    assert!(AnnullaErogatoReceipt::parse(xml.as_bytes()).is_err());
}

#[test]
fn a2f_identity_of_a_pharmacy_is_schema_valid() {
    use sistemats::a2f::{Application, CreateRequest};
    let erogatore = Erogatore::new("130", "204", "78909");
    let identity = erogatore.identity("UV386Q5B", "BBTMRZ54L19H501T");
    assert_eq!(identity.ssa, "78909");
    let (cert_pem, _key) =
        sistemats::sanitel::generate_test_pair("SanitelCF test").expect("test key pair");
    let cert = sistemats::sanitel::SanitelCertificate::from_pem(&cert_pem).unwrap();
    let pin = sistemats::Pin::new("3456789012");
    let req = CreateRequest::new(&identity, &pin, Application::Dispenser, &cert).unwrap();
    assert_eq!(req.applicazione.as_deref(), Some("EROGATORE"));
    assert_eq!(req.cod_ssa.as_deref(), Some("78909"));
    let payload = req.to_payload();
    let a2f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/sts-a2f-service.v0.1.xsd");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("create.xml");
    std::fs::write(&file, &payload).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(a2f)
        .arg(&file)
        .output()
        .expect("xmllint must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
