//! The responses captured on the real test SAC parse to the values they contain, and the
//! receipt serializers reproduce them byte for byte.

mod dem_support;

use dem_support::*;
use sistemats::dem::*;

/// Serializing the parsed values gives back the captured bytes (up to the final newline).
fn assert_reproduced(file: &str) {
    let bytes = real(file);
    let original = String::from_utf8(bytes.clone()).unwrap();
    let receipt = Receipt::parse(&bytes).unwrap();
    let again = receipt.to_envelope();
    assert_eq!(again, original.trim_end(), "{file}: serialization differs");
    assert_eq!(Receipt::parse(again.as_bytes()).unwrap(), receipt);
}

#[test]
fn every_real_response_is_reproduced_byte_for_byte() {
    let mut files: Vec<_> = std::fs::read_dir(spec_dir().join("real-responses"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 8);
    for file in files {
        assert_reproduced(&file);
    }
}

#[test]
fn invio_ok() {
    let r = InvioPrescrittoReceipt::parse(&real("invio_ok.xml")).unwrap();
    assert_eq!(r.nre.as_deref(), Some("1300A4019294833"));
    assert_eq!(r.nre().unwrap().region(), "130");
    assert_eq!(
        r.cod_autenticazione().unwrap().as_str(),
        "300920261644168700000050622782"
    );
    assert_eq!(r.data_inserimento.as_deref(), Some("2026-09-30 16:44:16"));
    assert_eq!(r.cod_esito_inserimento, "0000");
    assert_eq!(r.errori.len(), 1);
    assert_eq!(r.errori[0].cod_esito, "0000");
    assert_eq!(
        r.errori[0].esito.as_deref(),
        Some("Operazione eseguita correttamente")
    );
    assert_eq!(r.errori[0].prog_presc.as_deref(), Some("0"));
    assert_eq!(r.errori[0].tipo_errore, None);
    let codes: Vec<_> = r.comunicazioni.iter().map(|c| c.codice.as_str()).collect();
    assert_eq!(codes, ["0199", "0198", "0197", "0100"]);
    assert_eq!(r.comunicazioni[0].messaggio, "COGNOME_MEDICO=PRO");
    assert_eq!(r.comunicazioni[1].messaggio, "NOME_MEDICO=VA");
    assert!(r.comunicazioni[2].messaggio.starts_with("REGIONE ABRUZZO:"));
    assert_eq!(r.comunicazioni[3].messaggio, "Nessuna comunicazione.");
    assert_eq!(r.flag_promemoria.as_deref(), Some("0"));
    let pdf = r.pdf_promemoria.as_ref().unwrap();
    assert!(pdf.looks_like_pdf());
    assert!(pdf.as_bytes().starts_with(b"%PDF-1.4"));
    assert!(pdf.as_bytes().ends_with(b"%%EOF\n"));
    assert!(r.note.is_empty());
    assert_eq!(r.outcome(), DemOutcome::Accepted);
    assert!(!r.second_factor_problem());
    // The PDF holds patient data: Debug shows only its size.
    assert!(format!("{r:?}").contains("Promemoria("));
    assert!(!format!("{r:?}").contains("37, 80, 68, 70"));
}

#[test]
fn visualizza_stato3_and_stato4() {
    for (file, stato) in [
        ("visualizza_stato3.xml", StatoProcesso::DaErogare),
        ("visualizza_stato4.xml", StatoProcesso::Annullata),
    ] {
        let r = VisualizzaPrescrittoReceipt::parse(&real(file)).unwrap();
        assert_eq!(r.nre.as_deref(), Some("1300A4019294833"));
        assert_eq!(r.cf_medico1.as_deref(), Some(CF_TITOLARE));
        assert_eq!(r.cf_medico2, None);
        assert_eq!(r.cod_regione.as_deref(), Some("130"));
        assert_eq!(r.cod_asl_ao.as_deref(), Some("201"));
        assert_eq!(r.cod_specializzazione.as_deref(), Some("F"));
        assert_eq!(
            r.testata1.as_deref(),
            Some("COGNOME_MEDICO=PRO;NOME_MEDICO=VA")
        );
        assert_eq!(r.codice_ass, None);
        assert_eq!(r.indirizzo.as_ref().map(Sensitive::expose), Some("|||"));
        assert_eq!(r.tipo_prescrizione.as_deref(), Some("F"));
        assert_eq!(r.non_esente.as_deref(), Some("1"));
        assert_eq!(r.data_compilazione.as_deref(), Some("2026-09-30 16:44:16"));
        assert_eq!(r.tipo_visita.as_deref(), Some("A"));
        assert_eq!(r.prov_assistito.as_deref(), Some("AQ"));
        assert_eq!(r.asl_assistito.as_deref(), Some("201"));
        assert_eq!(r.dettagli.len(), 1);
        let d = &r.dettagli[0];
        assert_eq!(d.cod_gruppo_equival.as_deref(), Some("G3B"));
        assert_eq!(
            d.descr_gruppo_equival.as_deref(),
            Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE")
        );
        assert_eq!(d.quantita, "1");
        assert_eq!(d.numsedute.as_deref(), Some("0"));
        assert_eq!(r.stato(), Some(stato));
        assert_eq!(r.stato_processo.as_deref(), Some(stato.code()));
        assert_eq!(
            r.cod_autenticazione.as_deref(),
            Some("300920261644168700000050622782")
        );
        assert_eq!(r.cod_esito_visualizzazione, "0000");
        assert_eq!(r.errori[0].tipo_errore.as_deref(), Some(""));
        assert_eq!(r.comunicazioni[0].codice, "0200");
        assert_eq!(r.outcome(), DemOutcome::Accepted);
    }
}

#[test]
fn visualizza_nre_inesistente() {
    let r =
        VisualizzaPrescrittoReceipt::parse(&real("visualizza_nre_inesistente_5005.xml")).unwrap();
    assert_eq!(r.nre.as_deref(), Some("1300A4099999999"));
    assert!(!r.has_prescription());
    assert_eq!(r.cod_esito_visualizzazione, "9999");
    assert_eq!(r.errori[0].cod_esito, "5005");
    assert_eq!(r.errori[0].tipo_errore.as_deref(), Some("Bloccante"));
    assert_eq!(r.errori[0].severity_in("9999"), Severity::Blocking);
    match r.outcome() {
        DemOutcome::Rejected { errors } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].known, Some(KnownCode::NreInesistente));
            assert_eq!(
                errors[0].server_text,
                "Numero Ricetta Elettronica non presente sul sistema"
            );
            assert!(errors[0].message().starts_with("NRE inesistente"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn annulla_receipts() {
    let ok = AnnullaPrescrittoReceipt::parse(&real("annulla_ok.xml")).unwrap();
    assert_eq!(ok.nre, "1300A4019294833");
    assert_eq!(ok.cod_esito_annullamento, "0000");
    assert_eq!(ok.comunicazioni[0].codice, "0300");
    assert_eq!(ok.outcome(), DemOutcome::Accepted);

    let stato = AnnullaPrescrittoReceipt::parse(&real("annulla_rifiuto_1120.xml")).unwrap();
    assert_eq!(stato.cod_esito_annullamento, "9999");
    assert_eq!(stato.errori[0].cod_esito, "1120");
    assert_eq!(
        stato.errori[0].esito.as_deref(),
        Some("Operazione non consentita - Annullamento ricetta, stato non valido")
    );
    assert_eq!(
        stato.outcome().diagnostics()[0].known,
        Some(KnownCode::StatoNonValido)
    );

    let sost =
        AnnullaPrescrittoReceipt::parse(&real("annulla_titolare_ricetta_sostituto_1125.xml"))
            .unwrap();
    assert_eq!(sost.nre, "1300A4019294846");
    assert_eq!(sost.errori[0].cod_esito, "1125");
    let outcome = sost.outcome();
    assert!(!outcome.is_accepted());
    assert_eq!(
        outcome.diagnostics()[0].known,
        Some(KnownCode::MedicoNonAssociato)
    );
    assert!(outcome.message().contains("sostituto"));
}

#[test]
fn interroga_intervallo() {
    let r = InterrogaNreUtilizzatiReceipt::parse(&real("interroga_nre_intervallo.xml")).unwrap();
    assert_eq!(r.cod_esito, "0000");
    assert_eq!(r.records.len(), 20);
    let first = &r.records[0];
    assert_eq!(first.nre.as_deref(), Some("1300A4019294835"));
    assert_eq!(first.cf_medico.as_deref(), Some(CF_TITOLARE));
    assert_eq!(first.tipo_prescrizione.as_deref(), Some("F"));
    assert_eq!(
        first.data_compilazione_ricetta.as_deref(),
        Some("2026-09-30 04:46:34")
    );
    assert_eq!(first.cf_assistito, None);
    assert_eq!(first.provenienza.as_deref(), Some("0"));
    assert_eq!(first.lotto.as_deref(), Some("1300A40"));
    assert_eq!(
        first.cod_autenticazione.as_deref(),
        Some("300920261647054800000050622804")
    );
    let last = r.records.last().unwrap();
    assert_eq!(last.nre.as_deref(), Some("1300A4019294847"));
    for record in &r.records {
        assert!(Nre::parse(record.nre.as_deref().unwrap()).is_ok());
        assert!(CodAutenticazione::parse(record.cod_autenticazione.as_deref().unwrap()).is_some());
    }
    assert_eq!(r.comunicazioni[0].codice, "0400");
    assert_eq!(r.outcome(), DemOutcome::Accepted);
}

#[test]
fn any_receipt_routes_by_root() {
    let services: Vec<_> = [
        "invio_ok.xml",
        "visualizza_stato3.xml",
        "annulla_ok.xml",
        "interroga_nre_intervallo.xml",
    ]
    .iter()
    .map(|f| Receipt::parse(&real(f)).unwrap().service())
    .collect();
    assert_eq!(
        services,
        [
            Service::InvioPrescritto,
            Service::VisualizzaPrescritto,
            Service::AnnullaPrescritto,
            Service::InterrogaNreUtilizzati
        ]
    );
    // A receipt of another service is refused by a typed parser.
    assert!(matches!(
        InvioPrescrittoReceipt::parse(&real("annulla_ok.xml")),
        Err(DemError::UnexpectedRoot { .. })
    ));
}

#[test]
fn simulator_builder_matches_the_real_invio_receipt() {
    let real_receipt = InvioPrescrittoReceipt::parse(&real("invio_ok.xml")).unwrap();
    let built = InvioPrescrittoReceipt::accepted(
        &real_receipt.nre().unwrap(),
        &real_receipt.cod_autenticazione().unwrap(),
        "2026-09-30 16:44:16",
        real_receipt.comunicazioni.clone(),
        real_receipt.pdf_promemoria.clone(),
        Vec::new(),
    );
    assert_eq!(built, real_receipt);
    let original = String::from_utf8(real("invio_ok.xml")).unwrap();
    assert_eq!(built.to_envelope(), original.trim_end());
}

/// The envelope a builder made is the captured one, byte for byte.
fn assert_builds(file: &str, built: &Receipt) {
    let original = String::from_utf8(real(file)).unwrap();
    assert_eq!(built.to_envelope(), original.trim_end(), "{file}");
}

#[test]
fn server_builders_match_the_real_receipts() {
    let nre = "1300A4019294833";
    let sent = InvioPrescrittoRequest {
        cf_medico1: CF_TITOLARE.into(),
        cod_regione: "130".into(),
        cod_asl_ao: "201".into(),
        cod_specializzazione: "F".into(),
        testata1: Some("COGNOME_MEDICO=PRO;NOME_MEDICO=VA".into()),
        indirizzo: Some(Sensitive::new("|||")),
        tipo_prescrizione: "F".into(),
        non_esente: Some("1".into()),
        data_compilazione: "2026-09-30 16:44:16".into(),
        tipo_visita: "A".into(),
        prov_assistito: Some("AQ".into()),
        asl_assistito: Some("201".into()),
        dettagli: vec![DettaglioPrescrizione {
            cod_gruppo_equival: Some("G3B".into()),
            descr_gruppo_equival: Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE".into()),
            quantita: "1".into(),
            numsedute: Some("0".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let found = VisualizzaPrescrittoReceipt::found(
        sent,
        nre,
        StatoProcesso::DaErogare,
        "300920261644168700000050622782",
        "2026-09-30 16:44:16",
        Vec::new(),
    );
    assert_builds(
        "visualizza_stato3.xml",
        &Receipt::Visualizza(Box::new(found)),
    );
    let unknown = VisualizzaPrescrittoReceipt::rejected(
        "1300A4099999999",
        vec![ErroreRicetta::blocking(
            "5005",
            "Numero Ricetta Elettronica non presente sul sistema",
        )],
    );
    assert_builds(
        "visualizza_nre_inesistente_5005.xml",
        &Receipt::Visualizza(Box::new(unknown)),
    );

    let cancelled = AnnullaPrescrittoReceipt::accepted(nre, Vec::new());
    assert_builds("annulla_ok.xml", &Receipt::Annulla(cancelled));
    let refused = AnnullaPrescrittoReceipt::rejected(
        nre,
        vec![ErroreRicetta::blocking(
            "1120",
            "Operazione non consentita - Annullamento ricetta, stato non valido",
        )],
    );
    assert_builds("annulla_rifiuto_1120.xml", &Receipt::Annulla(refused));

    let real_list = InterrogaNreUtilizzatiReceipt::parse(&real("interroga_nre_intervallo.xml"))
        .unwrap()
        .records;
    let records = real_list
        .iter()
        .map(|r| {
            NreUtilRecord::sent(
                r.nre.as_deref().unwrap(),
                r.cf_medico.clone().unwrap(),
                r.tipo_prescrizione.clone().unwrap(),
                r.data_compilazione_ricetta.clone().unwrap(),
                r.cod_autenticazione.clone().unwrap(),
            )
        })
        .collect();
    let listed = InterrogaNreUtilizzatiReceipt::found(records, Vec::new());
    assert_builds("interroga_nre_intervallo.xml", &Receipt::Interroga(listed));
}

#[test]
fn server_builders_report_warnings_with_0001() {
    let warned = AnnullaPrescrittoReceipt::accepted(
        "1300A4019294833",
        vec![ErroreRicetta::second_factor(false)],
    );
    assert_eq!(warned.cod_esito_annullamento, "0001");
    assert_eq!(warned.errori, [ErroreRicetta::second_factor(false)]);
    assert!(warned.outcome().is_accepted());
    assert!(warned.second_factor_problem());
    let declared = DichiarazioneSostituzioneMedicoReceipt::accepted("2026-09-30 16:44:16", vec![]);
    assert_eq!(declared.cod_esito_inserimento, "0000");
    assert_eq!(declared.errori, [ErroreRicetta::ok()]);
    let refused =
        DichiarazioneSostituzioneMedicoReceipt::rejected(vec![ErroreRicetta::second_factor(true)]);
    assert!(!refused.outcome().is_accepted());
    assert!(refused.data_inserimento.is_none());
    assert!(!refused.to_xml().contains("progPresc"));
}
