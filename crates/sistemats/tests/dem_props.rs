//! Property tests: request → XML → request and receipt → XML → receipt are identities, and
//! no parser panics on arbitrary or mangled input.

mod dem_support;

use proptest::prelude::*;
use sistemats::Password;
use sistemats::dem::*;

/// Text as found in these messages, including characters that need escaping; trimmed and
/// non-empty, because parsers trim values and read empty elements as absent.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9àèéìòù'&<>\"%.;:|/=-]{1,12}( [A-Za-z0-9'&<>]{1,6})?"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn dettaglio() -> impl Strategy<Value = DettaglioPrescrizione> {
    (prop::collection::vec(opt_text(), 19), text()).prop_map(|(v, quantita)| {
        let mut v = v.into_iter();
        let mut n = || v.next().unwrap();
        DettaglioPrescrizione {
            cod_prod_prest: n(),
            descr_prod_prest: n(),
            cod_gruppo_equival: n(),
            descr_gruppo_equival: n(),
            testo_libero: n(),
            descr_testo_libero_note: n(),
            non_sost: n(),
            motivaz_note: n(),
            cod_motivazione: n(),
            nota_prod: n(),
            quantita,
            prescrizione1: n(),
            prescrizione2: n(),
            cod_catalogo_prescr: n(),
            tipo_accesso: n(),
            numero_nota: n(),
            cond_erogabilita: n(),
            appropr_prescrittiva: n(),
            patologia: n(),
            numsedute: n(),
        }
    })
}

fn invio_request() -> impl Strategy<Value = InvioPrescrittoRequest> {
    (
        prop::collection::vec(opt_text(), 31),
        prop::collection::vec(text(), 8),
        prop::collection::vec(dettaglio(), 1..4),
    )
        .prop_map(|(o, r, dettagli)| {
            let mut o = o.into_iter();
            let mut n = || o.next().unwrap();
            let mut r = r.into_iter();
            let mut q = || r.next().unwrap();
            InvioPrescrittoRequest {
                pin_code: EncryptedValue::new(q()),
                cf_medico1: q(),
                cf_medico2: n(),
                cod_regione: q(),
                cod_asl_ao: q(),
                cod_struttura: n(),
                cod_specializzazione: q(),
                testata1: n(),
                testata2: n(),
                nre: n(),
                tipo_ric: n(),
                codice_ass: n().map(EncryptedValue::new),
                cogn_nome: n().map(Sensitive::new),
                indirizzo: n().map(Sensitive::new),
                oscuram_dati: n(),
                num_tess_sasn: n().map(Sensitive::new),
                soc_navigaz: n(),
                tipo_prescrizione: q(),
                ricetta_interna: n(),
                cod_esenzione: n(),
                non_esente: n(),
                reddito: n(),
                cod_diagnosi: n(),
                descrizione_diagnosi: n(),
                data_compilazione: q(),
                tipo_visita: q(),
                disp_reg: n(),
                prov_assistito: n(),
                asl_assistito: n(),
                indicazione_prescr: n(),
                altro: n(),
                classe_priorita: n(),
                stato_estero: n(),
                istituz_competente: n(),
                num_ident_pers: n().map(Sensitive::new),
                num_ident_tess: n().map(Sensitive::new),
                data_nascita_estero: n(),
                data_scad_tessera: n(),
                dettagli,
            }
        })
}

fn raw_text() -> impl Strategy<Value = Option<String>> {
    // ErroreRicetta keeps "present but empty" apart from "absent".
    prop_oneof![Just(None), Just(Some(String::new())), text().prop_map(Some)]
}

fn errore() -> impl Strategy<Value = ErroreRicetta> {
    ("[0-9]{4}", raw_text(), raw_text(), raw_text()).prop_map(
        |(cod_esito, esito, prog_presc, tipo_errore)| ErroreRicetta {
            cod_esito,
            esito,
            prog_presc,
            tipo_errore,
        },
    )
}

fn comunicazione() -> impl Strategy<Value = Comunicazione> {
    ("[0-9]{4}", text()).prop_map(|(c, m)| Comunicazione::new(c, m))
}

fn nota() -> impl Strategy<Value = Nota> {
    (opt_text(), opt_text(), opt_text()).prop_map(|(a, b, c)| Nota {
        progr_presc: a,
        cod_prod_prest: b,
        tipo_ambulatorio: c,
    })
}

fn lists() -> impl Strategy<Value = (Vec<ErroreRicetta>, Vec<Comunicazione>, Vec<Nota>)> {
    (
        prop::collection::vec(errore(), 0..4),
        prop::collection::vec(comunicazione(), 0..4),
        prop::collection::vec(nota(), 0..3),
    )
}

proptest! {
    #[test]
    fn invio_request_round_trip(request in invio_request()) {
        let parsed = InvioPrescrittoRequest::parse(request.to_envelope().as_bytes()).unwrap();
        prop_assert_eq!(parsed, request);
    }

    #[test]
    fn small_requests_round_trip(
        pin in text(), nre in text(), cf in text(), o in prop::collection::vec(opt_text(), 6),
        reg in text(), sost in prop::collection::vec(text(), 8),
        opzioni in prop::collection::vec((text(), text()), 0..3),
    ) {
        let v = VisualizzaPrescrittoRequest { pin_code: EncryptedValue::new(pin.clone()), nre: nre.clone(), cf_medico: cf.clone() };
        prop_assert_eq!(VisualizzaPrescrittoRequest::parse(v.to_envelope().as_bytes()).unwrap(), v);
        let a = AnnullaPrescrittoRequest { pin_code: EncryptedValue::new(pin.clone()), nre: nre.clone(), cf_medico: cf.clone() };
        prop_assert_eq!(AnnullaPrescrittoRequest::parse(a.to_envelope().as_bytes()).unwrap(), a);
        let i = InterrogaNreUtilizzatiRequest {
            pin_code: EncryptedValue::new(pin.clone()),
            cod_regione: reg,
            nre: o[0].clone(),
            cod_lotto: o[1].clone(),
            cf_medico: cf.clone(),
            cf_assistito: o[2].clone().map(Sensitive::new),
            tipo_prescr: o[3].clone(),
            data_compilazione_ricetta_dal: o[4].clone(),
            data_compilazione_ricetta_al: o[5].clone(),
        };
        prop_assert_eq!(InterrogaNreUtilizzatiRequest::parse(i.to_envelope().as_bytes()).unwrap(), i);
        let s = DichiarazioneSostituzioneMedicoRequest {
            pin_code: EncryptedValue::new(pin),
            pwd: Password::new(sost[0].clone()),
            cf_medico_titolare: sost[1].clone(),
            cod_regione: sost[2].clone(),
            cod_asl_ao: sost[3].clone(),
            cod_struttura: o[0].clone(),
            cod_specializzazione: sost[4].clone(),
            cf_medico_sostituto: sost[5].clone(),
            comunicazione_asl: o[1].clone(),
            data_inizio_sostituzione: sost[6].clone(),
            data_fine_sostituzione: sost[7].clone(),
            nota: o[2].clone(),
            opzioni: opzioni.into_iter().map(|(chiave, valore)| Opzione { chiave, valore }).collect(),
        };
        prop_assert_eq!(DichiarazioneSostituzioneMedicoRequest::parse(s.to_envelope().as_bytes()).unwrap(), s);
    }

    #[test]
    fn invio_receipt_round_trip(
        o in prop::collection::vec(opt_text(), 4), code in "[0-9]{4}", (errori, comunicazioni, note) in lists(),
        pdf in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
    ) {
        let r = InvioPrescrittoReceipt {
            nre: o[0].clone(), cod_autenticazione: o[1].clone(), data_inserimento: o[2].clone(),
            cod_esito_inserimento: code, errori, comunicazioni, note, flag_promemoria: o[3].clone(),
            pdf_promemoria: pdf.map(Promemoria),
        };
        prop_assert_eq!(InvioPrescrittoReceipt::parse(r.to_envelope().as_bytes()).unwrap(), r);
    }

    #[test]
    fn visualizza_receipt_round_trip(
        o in prop::collection::vec(opt_text(), 40), code in "[0-9]{4}", (errori, comunicazioni, note) in lists(),
        dettagli in prop::collection::vec(dettaglio(), 0..3),
    ) {
        let mut o = o.into_iter();
        let mut n = || o.next().unwrap();
        let r = VisualizzaPrescrittoReceipt {
            nre: n(), cf_medico1: n(), cf_medico2: n(), cod_regione: n(), cod_asl_ao: n(),
            cod_struttura: n(), cod_specializzazione: n(), testata1: n(), testata2: n(), tipo_ric: n(),
            codice_ass: n().map(Sensitive::new), cogn_nome: n().map(Sensitive::new),
            indirizzo: n().map(Sensitive::new), oscuram_dati: n(), num_tess_sasn: n().map(Sensitive::new),
            soc_navigaz: n(), tipo_prescrizione: n(), ricetta_interna: n(), cod_esenzione: n(),
            non_esente: n(), reddito: n(), cod_diagnosi: n(), descrizione_diagnosi: n(),
            data_compilazione: n(), tipo_visita: n(), disp_reg: n(), prov_assistito: n(),
            asl_assistito: n(), indicazione_prescr: n(), altro: n(), classe_priorita: n(),
            stato_estero: n(), istituz_competente: n(), num_ident_pers: n().map(Sensitive::new),
            num_ident_tess: n().map(Sensitive::new), data_nascita_estero: n(), data_scad_tessera: n(),
            dettagli, stato_processo: n(), cod_autenticazione: n(), data_inserimento: n(),
            cod_esito_visualizzazione: code, errori, comunicazioni, note,
        };
        prop_assert_eq!(VisualizzaPrescrittoReceipt::parse(r.to_envelope().as_bytes()).unwrap(), r);
    }

    #[test]
    fn other_receipts_round_trip(
        nre in text(), code in "[0-9]{4}", (errori, comunicazioni, _) in lists(),
        records in prop::collection::vec(prop::collection::vec(opt_text(), 8), 0..4),
        data in opt_text(),
    ) {
        let a = AnnullaPrescrittoReceipt { nre, cod_esito_annullamento: code.clone(), errori: errori.clone(), comunicazioni: comunicazioni.clone() };
        prop_assert_eq!(AnnullaPrescrittoReceipt::parse(a.to_envelope().as_bytes()).unwrap(), a);
        let records: Vec<NreUtilRecord> = records.into_iter().map(|v| NreUtilRecord {
            nre: v[0].clone(), cf_medico: v[1].clone(), tipo_prescrizione: v[2].clone(),
            data_compilazione_ricetta: v[3].clone(), cf_assistito: v[4].clone().map(Sensitive::new),
            provenienza: v[5].clone(), lotto: v[6].clone(), cod_autenticazione: v[7].clone(),
        }).collect();
        let i = InterrogaNreUtilizzatiReceipt { cod_esito: code.clone(), records, errori: errori.clone(), comunicazioni: comunicazioni.clone() };
        prop_assert_eq!(InterrogaNreUtilizzatiReceipt::parse(i.to_envelope().as_bytes()).unwrap(), i);
        // ElencoErrori has no progPresc.
        let errori = errori.into_iter().map(|e| ErroreRicetta { prog_presc: None, ..e }).collect();
        let s = DichiarazioneSostituzioneMedicoReceipt { cod_esito_inserimento: code, data_inserimento: data, errori, comunicazioni };
        prop_assert_eq!(DichiarazioneSostituzioneMedicoReceipt::parse(s.to_envelope().as_bytes()).unwrap(), s);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        parse_everything(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_mangled_messages(which in 0usize..6, cut in any::<prop::sample::Index>(), byte in any::<u8>(), at in any::<prop::sample::Index>()) {
        let docs = [
            dem_support::invio_completo_sostituto().to_envelope(),
            dem_support::interroga_intervallo().to_envelope(),
            String::from_utf8(dem_support::real("visualizza_stato3.xml")).unwrap(),
            String::from_utf8(dem_support::real("annulla_rifiuto_1120.xml")).unwrap(),
            String::from_utf8(dem_support::real("interroga_nre_intervallo.xml")).unwrap(),
            dem_support::sostituzione_completa().to_envelope(),
        ];
        let mut bytes = docs[which].clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        parse_everything(&bytes);
        bytes.truncate(cut.index(bytes.len()));
        parse_everything(&bytes);
    }

    #[test]
    fn nre_parse_never_panics(s in "\\PC{0,20}") {
        let _ = Nre::parse(&s);
        let _ = CodAutenticazione::parse(&s);
    }
}

fn parse_everything(bytes: &[u8]) {
    let _ = Receipt::parse(bytes);
    let _ = Request::parse(bytes);
    let _ = InvioPrescrittoReceipt::parse(bytes);
    let _ = VisualizzaPrescrittoReceipt::parse(bytes);
    let _ = AnnullaPrescrittoReceipt::parse(bytes);
    let _ = InterrogaNreUtilizzatiReceipt::parse(bytes);
    let _ = DichiarazioneSostituzioneMedicoReceipt::parse(bytes);
    let _ = InvioPrescrittoRequest::parse(bytes);
    let _ = VisualizzaPrescrittoRequest::parse(bytes);
    let _ = InterrogaNreUtilizzatiRequest::parse(bytes);
    let _ = DichiarazioneSostituzioneMedicoRequest::parse(bytes);
    if let Ok(r) = Receipt::parse(bytes) {
        let _ = r.outcome().message();
    }
    if let Ok(r) = Request::parse(bytes) {
        let _ = r.problems();
    }
}
