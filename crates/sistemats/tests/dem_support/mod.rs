//! Fixtures and the `xmllint` harness shared by the `dem_*` integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sistemats::Password;
use sistemats::dem::*;

pub const CF_TITOLARE: &str = "PROVAX00X00X000Y";
pub const CF_SOSTITUTO: &str = "PROVAX00X00X000Z";

/// A fake SanitelCF ciphertext (base64 of 256 bytes): its shape is all that matters here.
pub fn enc(seed: u8) -> EncryptedValue {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(seed | 1)).collect();
    EncryptedValue::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec")
}

pub fn real(name: &str) -> Vec<u8> {
    std::fs::read(spec_dir().join("real-responses").join(name)).expect("real response file")
}

/// The official schema set, copied to a temporary folder with two known defects fixed:
///
/// - `TipiDatiInterrogaNreUtilizzati.xsd` puts `minOccurs="0"` on the named complexType
///   `elencoNreUtilRecordType`, which XSD forbids (libxml2: "The attribute 'minOccurs' is
///   not allowed", PROTOCOL §5.6/§8): the attribute is stripped;
/// - the DichiarazioneSostituzioneMedico XSDs import `TipiDatiDichiarazioneSostituzioneMedico.xsd`
///   while the file is published as `TipiDatidichiarazioneSostituzioneMedico.xsd` (works only
///   on case-insensitive file systems): a copy with the imported name is added.
pub struct Schemas {
    dir: tempfile::TempDir,
}

impl Schemas {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(spec_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xsd") {
                let mut text = std::fs::read_to_string(&path).unwrap();
                if path.file_name().unwrap() == "TipiDatiInterrogaNreUtilizzati.xsd" {
                    let defect = r#"<xs:complexType name="elencoNreUtilRecordType" minOccurs="0">"#;
                    assert!(text.contains(defect), "the known XSD defect moved");
                    text =
                        text.replace(defect, r#"<xs:complexType name="elencoNreUtilRecordType">"#);
                }
                std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
            }
        }
        std::fs::copy(
            dir.path()
                .join("TipiDatidichiarazioneSostituzioneMedico.xsd"),
            dir.path()
                .join("TipiDatiDichiarazioneSostituzioneMedico.xsd"),
        )
        .unwrap();
        Self { dir }
    }

    /// Runs `xmllint --noout --schema`; panics (never skips) if xmllint is missing.
    pub fn check(&self, xsd: &str, xml: &str) -> Result<(), String> {
        let file = self.dir.path().join(format!(
            "doc-{}.xml",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&file, xml).unwrap();
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(self.dir.path().join(xsd))
            .arg(&file)
            .output()
            .expect("xmllint must be installed (Debian package libxml2-utils)");
        let _ = std::fs::remove_file(&file);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn assert_valid(&self, xsd: &str, xml: &str) {
        if let Err(e) = self.check(xsd, xml) {
            panic!("{xsd}: not valid:\n{e}\n--- document ---\n{xml}");
        }
    }
}

pub fn dettaglio_minimo() -> DettaglioPrescrizione {
    DettaglioPrescrizione {
        cod_gruppo_equival: Some("G3B".into()),
        descr_gruppo_equival: Some("LEVETIRACETAM 500MG 60 UNITA' USO ORALE".into()),
        quantita: "1".into(),
        ..Default::default()
    }
}

pub fn dettaglio_completo() -> DettaglioPrescrizione {
    DettaglioPrescrizione {
        cod_prod_prest: Some("012345678".into()),
        descr_prod_prest: Some("Farmaco & <prova>".into()),
        cod_gruppo_equival: Some("G3B".into()),
        descr_gruppo_equival: Some("LEVETIRACETAM".into()),
        testo_libero: None,
        descr_testo_libero_note: Some("nota libera".into()),
        non_sost: Some("1".into()),
        motivaz_note: Some("allergia eccipiente".into()),
        cod_motivazione: Some("2".into()),
        nota_prod: Some("13".into()),
        quantita: "2".into(),
        prescrizione1: Some("TV;".into()),
        prescrizione2: Some("REG".into()),
        cod_catalogo_prescr: Some("CAT01".into()),
        tipo_accesso: Some("1".into()),
        numero_nota: Some("1234567890".into()),
        cond_erogabilita: Some("CE".into()),
        appropr_prescrittiva: Some("AP".into()),
        patologia: Some("PAT".into()),
        numsedute: Some("3".into()),
    }
}

pub fn invio_minimo() -> InvioPrescrittoRequest {
    InvioPrescrittoRequest {
        pin_code: enc(3),
        cf_medico1: CF_TITOLARE.into(),
        cod_regione: "130".into(),
        cod_asl_ao: "201".into(),
        cod_specializzazione: "F".into(),
        codice_ass: Some(enc(5)),
        tipo_prescrizione: "F".into(),
        data_compilazione: "2026-09-30 16:44:16".into(),
        tipo_visita: "A".into(),
        dettagli: vec![dettaglio_minimo()],
        ..Default::default()
    }
}

/// Every optional field set, compiled by the substitute (case 2 of §5.9).
pub fn invio_completo_sostituto() -> InvioPrescrittoRequest {
    InvioPrescrittoRequest {
        pin_code: enc(7),
        cf_medico1: CF_TITOLARE.into(),
        cf_medico2: Some(CF_SOSTITUTO.into()),
        cod_regione: "130".into(),
        cod_asl_ao: "201".into(),
        cod_struttura: Some("000123".into()),
        cod_specializzazione: "F".into(),
        testata1: Some("info".into()),
        testata2: Some("EROGDPC;".into()),
        nre: Some("1300A4019294836".into()),
        tipo_ric: Some("NA".into()),
        codice_ass: Some(enc(9)),
        cogn_nome: Some(Sensitive::new("ROSSI MARIO")),
        indirizzo: Some(Sensitive::new("VIA ROMA 1|67100|L'AQUILA|AQ")),
        oscuram_dati: Some("1".into()),
        num_tess_sasn: Some(Sensitive::new("SASN123")),
        soc_navigaz: Some("NAVI SPA".into()),
        tipo_prescrizione: "P".into(),
        ricetta_interna: Some("1".into()),
        cod_esenzione: Some("048".into()),
        non_esente: Some("1".into()),
        reddito: Some("1".into()),
        cod_diagnosi: Some("401.9".into()),
        descrizione_diagnosi: Some("Ipertensione essenziale".into()),
        data_compilazione: "2026-09-30 16:44:16".into(),
        tipo_visita: "D".into(),
        disp_reg: Some("DR".into()),
        prov_assistito: Some("AQ".into()),
        asl_assistito: Some("201".into()),
        indicazione_prescr: Some("S".into()),
        altro: Some("A".into()),
        classe_priorita: Some("B".into()),
        stato_estero: Some("DE".into()),
        istituz_competente: Some("AOK".into()),
        num_ident_pers: Some(Sensitive::new("PID-1")),
        num_ident_tess: Some(Sensitive::new("TESS-1")),
        data_nascita_estero: Some("1980-01-01".into()),
        data_scad_tessera: Some("2030-12-31".into()),
        dettagli: vec![dettaglio_completo(), dettaglio_minimo()],
    }
}

pub fn visualizza() -> VisualizzaPrescrittoRequest {
    VisualizzaPrescrittoRequest::new(
        enc(11),
        &Nre::parse("1300A4019294833").unwrap(),
        CF_TITOLARE,
    )
}

pub fn annulla() -> AnnullaPrescrittoRequest {
    AnnullaPrescrittoRequest::new(
        enc(13),
        &Nre::parse("1300A4019294846").unwrap(),
        CF_SOSTITUTO,
    )
}

pub fn interroga_intervallo() -> InterrogaNreUtilizzatiRequest {
    InterrogaNreUtilizzatiRequest {
        pin_code: enc(15),
        cod_regione: "130".into(),
        cod_lotto: Some("1300A40".into()),
        cf_medico: CF_TITOLARE.into(),
        cf_assistito: Some(Sensitive::new("RSSMRA80A01H501U")),
        tipo_prescr: Some("F".into()),
        data_compilazione_ricetta_dal: Some("2026-09-30 00:00:00".into()),
        data_compilazione_ricetta_al: Some("2026-09-30 23:59:59".into()),
        ..Default::default()
    }
}

pub fn interroga_nre() -> InterrogaNreUtilizzatiRequest {
    InterrogaNreUtilizzatiRequest {
        pin_code: enc(17),
        cod_regione: "130".into(),
        nre: Some("1300A4019294833".into()),
        cf_medico: CF_TITOLARE.into(),
        ..Default::default()
    }
}

pub fn sostituzione_minima() -> DichiarazioneSostituzioneMedicoRequest {
    DichiarazioneSostituzioneMedicoRequest {
        pin_code: enc(19),
        pwd: Password::new("Salve123"),
        cf_medico_titolare: CF_TITOLARE.into(),
        cod_regione: "130".into(),
        cod_asl_ao: "201".into(),
        cod_struttura: None,
        cod_specializzazione: "F".into(),
        cf_medico_sostituto: CF_SOSTITUTO.into(),
        comunicazione_asl: None,
        data_inizio_sostituzione: "20261001".into(),
        data_fine_sostituzione: "20261015".into(),
        nota: None,
        opzioni: Vec::new(),
    }
}

pub fn sostituzione_completa() -> DichiarazioneSostituzioneMedicoRequest {
    DichiarazioneSostituzioneMedicoRequest {
        cod_struttura: Some("000123".into()),
        comunicazione_asl: Some("SI".into()),
        nota: Some("ferie".into()),
        opzioni: vec![
            Opzione {
                chiave: "k1".into(),
                valore: "v1".into(),
            },
            Opzione {
                chiave: "k2".into(),
                valore: "v & 2".into(),
            },
        ],
        ..sostituzione_minima()
    }
}

pub fn comunicazioni_invio() -> Vec<Comunicazione> {
    vec![
        Comunicazione::new("0199", "COGNOME_MEDICO=PRO"),
        Comunicazione::new("0198", "NOME_MEDICO=VA"),
        Comunicazione::nessuna(Service::InvioPrescritto),
    ]
}
