//! InvioPrescritto: send a new prescription (PROTOCOL §5.2–5.3).

use base64::Engine as _;

use crate::xml::Element;

use super::codec::{DemError, Emitter, Ns, child, children, expect_root, opt, req};
use super::dettaglio::DettaglioPrescrizione;
use super::errore::ErroreRicetta;
use super::receipt::{self, Comunicazione, DemReceipt, Nota, ReceiptWriter, receipt_accessors};
use super::service::{DemRequest, Service, TIPODATI_NS};
use super::types::{CodAutenticazione, EncryptedValue, Nre, Promemoria, Sensitive};
use super::validate::{Checker, Problem, ValidationError};

const SERVICE: Service = Service::InvioPrescritto;
const P: &str = "inv";
const T: &str = "tip";

/// `InvioPrescrittoRichiesta`: every element of the XSD, in XSD order.
///
/// Build it with struct syntax and `..Default::default()`. On the wire, header tags 1–32
/// are always written (empty when `None`), as a working client does; 33–38 (foreign
/// insured persons) only when set. Values are trimmed when parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvioPrescrittoRequest {
    /// 1 `pinCode`: the sender's PIN encrypted with SanitelCF (the substitute's in case 2).
    pub pin_code: EncryptedValue,
    /// 2 `cfMedico1`: fiscal code of the titolare, owner of the NRE.
    pub cf_medico1: String,
    /// 3 `cfMedico2`: fiscal code of the substitute who compiles it, `None` otherwise.
    pub cf_medico2: Option<String>,
    /// 4 `codRegione`: 3 characters, the titolare's region.
    pub cod_regione: String,
    /// 5 `codASLAo`: the titolare's ASL.
    pub cod_asl_ao: String,
    /// 6 `codStruttura`: the titolare's facility, only if the region defines it.
    pub cod_struttura: Option<String>,
    /// 7 `codSpecializzazione`: 1 character (`F` in the test kit).
    pub cod_specializzazione: String,
    /// 8 `testata1`.
    pub testata1: Option<String>,
    /// 9 `testata2` (regional).
    pub testata2: Option<String>,
    /// 10 `nre`: empty to let the SAC assign one.
    pub nre: Option<String>,
    /// 11 `tipoRic` (≤2): EE, UE, NA, ND, NE, NX, ST.
    pub tipo_ric: Option<String>,
    /// 12 `codiceAss`: the patient's fiscal code, encrypted with SanitelCF.
    pub codice_ass: Option<EncryptedValue>,
    /// 13 `cognNome`.
    pub cogn_nome: Option<Sensitive>,
    /// 14 `indirizzo`.
    pub indirizzo: Option<Sensitive>,
    /// 15 `oscuramDati`: `1` hides name and address from the pharmacist.
    pub oscuram_dati: Option<String>,
    /// 16 `numTessSasn`.
    pub num_tess_sasn: Option<Sensitive>,
    /// 17 `socNavigaz`.
    pub soc_navigaz: Option<String>,
    /// 18 `tipoPrescrizione`: `F` pharmaceutical, `P` specialist.
    pub tipo_prescrizione: String,
    /// 19 `ricettaInterna`: `1` or none.
    pub ricetta_interna: Option<String>,
    /// 20 `codEsenzione`.
    pub cod_esenzione: Option<String>,
    /// 21 `nonEsente`: `1` = not exempt.
    pub non_esente: Option<String>,
    /// 22 `reddito`: `1` = income exemption.
    pub reddito: Option<String>,
    /// 23 `codDiagnosi` (ICD9-CM).
    pub cod_diagnosi: Option<String>,
    /// 24 `descrizioneDiagnosi`.
    pub descrizione_diagnosi: Option<String>,
    /// 25 `dataCompilazione`: `yyyy-MM-dd HH:mm:ss` (see [`super::types::format_data_ora`]).
    pub data_compilazione: String,
    /// 26 `tipoVisita`: `A` ambulatory, `D` home.
    pub tipo_visita: String,
    /// 27 `dispReg`.
    pub disp_reg: Option<String>,
    /// 28 `provAssistito`.
    pub prov_assistito: Option<String>,
    /// 29 `aslAssistito`.
    pub asl_assistito: Option<String>,
    /// 30 `indicazionePrescr`: `S` suggested, `H` hospitalisation.
    pub indicazione_prescr: Option<String>,
    /// 31 `altro`: `A`.
    pub altro: Option<String>,
    /// 32 `classePriorita`: `U`, `B`, `D`, `P`.
    pub classe_priorita: Option<String>,
    /// 33 `statoEstero`.
    pub stato_estero: Option<String>,
    /// 34 `istituzCompetente`.
    pub istituz_competente: Option<String>,
    /// 35 `numIdentPers`.
    pub num_ident_pers: Option<Sensitive>,
    /// 36 `numIdentTess`.
    pub num_ident_tess: Option<Sensitive>,
    /// 37 `dataNascitaEstero`: `yyyy-MM-dd`.
    pub data_nascita_estero: Option<String>,
    /// 38 `dataScadTessera`: `yyyy-MM-dd`.
    pub data_scad_tessera: Option<String>,
    /// 39 `ElencoDettagliPrescrizioni`: at least one line.
    pub dettagli: Vec<DettaglioPrescrizione>,
}

fn s(v: &Option<Sensitive>) -> Option<&str> {
    v.as_ref().map(Sensitive::expose)
}

impl InvioPrescrittoRequest {
    /// Whether a substitute compiles it (`cfMedico2` set, PROTOCOL §5.9 case 2): then the
    /// PIN and the sending credentials (and the ID-SESSIONE) must be the substitute's, while
    /// region, ASL, facility and specialisation stay the titolare's.
    pub fn is_substitute(&self) -> bool {
        self.cf_medico2.is_some()
    }
}

impl DemRequest for InvioPrescrittoRequest {
    const SERVICE: Service = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        c.required("pinCode", self.pin_code.as_str());
        if c.required("cfMedico1", &self.cf_medico1) {
            c.fiscal_code("cfMedico1", &self.cf_medico1);
        }
        if let Some(cf2) = &self.cf_medico2 {
            c.fiscal_code("cfMedico2", cf2);
            if cf2.eq_ignore_ascii_case(&self.cf_medico1) {
                c.report(
                    "cfMedico2",
                    Problem::Rule(
                        "deve essere il codice fiscale del sostituto, diverso da cfMedico1 (il titolare): lascialo vuoto se prescrive il titolare",
                    ),
                );
            }
        }
        if c.required("codRegione", &self.cod_regione) {
            c.len_between("codRegione", &self.cod_regione, 3, 3);
        }
        c.required("codASLAo", &self.cod_asl_ao);
        if c.required("codSpecializzazione", &self.cod_specializzazione) {
            c.len_between("codSpecializzazione", &self.cod_specializzazione, 1, 1);
        }
        if let Some(nre) = &self.nre
            && Nre::parse(nre).is_err()
        {
            c.report(
                "nre",
                Problem::Format("un NRE di 15 caratteri (oppure vuoto per farlo assegnare)"),
            );
        }
        c.opt_max_len("tipoRic", self.tipo_ric.as_deref(), 2);
        c.opt_one_of("oscuramDati", self.oscuram_dati.as_deref(), &["1"]);
        if c.required("tipoPrescrizione", &self.tipo_prescrizione) {
            c.one_of("tipoPrescrizione", &self.tipo_prescrizione, &["F", "P"]);
        }
        c.opt_one_of("ricettaInterna", self.ricetta_interna.as_deref(), &["1"]);
        c.opt_one_of("nonEsente", self.non_esente.as_deref(), &["1"]);
        c.opt_one_of("reddito", self.reddito.as_deref(), &["1"]);
        if self.tipo_prescrizione == "P"
            && self.cod_diagnosi.is_none()
            && self.descrizione_diagnosi.is_none()
        {
            c.report(
                "codDiagnosi",
                Problem::Rule(
                    "per una prescrizione specialistica (P) indica codDiagnosi o descrizioneDiagnosi",
                ),
            );
        }
        if c.required("dataCompilazione", &self.data_compilazione) {
            c.data_ora("dataCompilazione", &self.data_compilazione);
        }
        if c.required("tipoVisita", &self.tipo_visita) {
            c.one_of("tipoVisita", &self.tipo_visita, &["A", "D"]);
        }
        c.opt_one_of(
            "indicazionePrescr",
            self.indicazione_prescr.as_deref(),
            &["S", "H"],
        );
        c.opt_one_of("altro", self.altro.as_deref(), &["A"]);
        c.opt_one_of(
            "classePriorita",
            self.classe_priorita.as_deref(),
            &["U", "B", "D", "P"],
        );
        if let Some(d) = &self.data_nascita_estero {
            c.data("dataNascitaEstero", d);
        }
        if let Some(d) = &self.data_scad_tessera {
            c.data("dataScadTessera", d);
        }
        if self.dettagli.is_empty() {
            c.report("ElencoDettagliPrescrizioni", Problem::Missing);
        }
        for (i, d) in self.dettagli.iter().enumerate() {
            c.scope(Some(format!("DettaglioPrescrizione[{}]", i + 1)));
            d.check(&mut c);
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = Emitter::with_capacity(2048 + 512 * self.dettagli.len());
        e.open_with(
            P,
            SERVICE.request_root(),
            &[
                ("xmlns:inv", SERVICE.request_namespace()),
                ("xmlns:tip", TIPODATI_NS),
            ],
        );
        e.leaf(P, "pinCode", self.pin_code.as_str());
        e.leaf(P, "cfMedico1", &self.cf_medico1);
        e.always(P, "cfMedico2", self.cf_medico2.as_deref());
        e.leaf(P, "codRegione", &self.cod_regione);
        e.leaf(P, "codASLAo", &self.cod_asl_ao);
        e.always(P, "codStruttura", self.cod_struttura.as_deref());
        e.leaf(P, "codSpecializzazione", &self.cod_specializzazione);
        e.always(P, "testata1", self.testata1.as_deref());
        e.always(P, "testata2", self.testata2.as_deref());
        e.always(P, "nre", self.nre.as_deref());
        e.always(P, "tipoRic", self.tipo_ric.as_deref());
        e.always(
            P,
            "codiceAss",
            self.codice_ass.as_ref().map(EncryptedValue::as_str),
        );
        e.always(P, "cognNome", s(&self.cogn_nome));
        e.always(P, "indirizzo", s(&self.indirizzo));
        e.always(P, "oscuramDati", self.oscuram_dati.as_deref());
        e.always(P, "numTessSasn", s(&self.num_tess_sasn));
        e.always(P, "socNavigaz", self.soc_navigaz.as_deref());
        e.leaf(P, "tipoPrescrizione", &self.tipo_prescrizione);
        e.always(P, "ricettaInterna", self.ricetta_interna.as_deref());
        e.always(P, "codEsenzione", self.cod_esenzione.as_deref());
        e.always(P, "nonEsente", self.non_esente.as_deref());
        e.always(P, "reddito", self.reddito.as_deref());
        e.always(P, "codDiagnosi", self.cod_diagnosi.as_deref());
        e.always(
            P,
            "descrizioneDiagnosi",
            self.descrizione_diagnosi.as_deref(),
        );
        e.leaf(P, "dataCompilazione", &self.data_compilazione);
        e.leaf(P, "tipoVisita", &self.tipo_visita);
        e.always(P, "dispReg", self.disp_reg.as_deref());
        e.always(P, "provAssistito", self.prov_assistito.as_deref());
        e.always(P, "aslAssistito", self.asl_assistito.as_deref());
        e.always(P, "indicazionePrescr", self.indicazione_prescr.as_deref());
        e.always(P, "altro", self.altro.as_deref());
        e.always(P, "classePriorita", self.classe_priorita.as_deref());
        e.opt(P, "statoEstero", self.stato_estero.as_deref());
        e.opt(P, "istituzCompetente", self.istituz_competente.as_deref());
        e.opt(P, "numIdentPers", s(&self.num_ident_pers));
        e.opt(P, "numIdentTess", s(&self.num_ident_tess));
        e.opt(P, "dataNascitaEstero", self.data_nascita_estero.as_deref());
        e.opt(P, "dataScadTessera", self.data_scad_tessera.as_deref());
        e.open(P, "ElencoDettagliPrescrizioni");
        for d in &self.dettagli {
            d.write(&mut e, T);
        }
        e.close(P, "ElencoDettagliPrescrizioni");
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        let sens = |name| opt(el, ns, name).map(Sensitive::new);
        let elenco = child(el, ns, "ElencoDettagliPrescrizioni")
            .ok_or(DemError::MissingElement("ElencoDettagliPrescrizioni"))?;
        let dettagli = children(elenco, Ns::Strict(TIPODATI_NS), "DettaglioPrescrizione")
            .map(|d| DettaglioPrescrizione::read(d, Ns::Strict(TIPODATI_NS)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            cf_medico1: req(el, ns, "cfMedico1")?,
            cf_medico2: opt(el, ns, "cfMedico2"),
            cod_regione: req(el, ns, "codRegione")?,
            cod_asl_ao: req(el, ns, "codASLAo")?,
            cod_struttura: opt(el, ns, "codStruttura"),
            cod_specializzazione: req(el, ns, "codSpecializzazione")?,
            testata1: opt(el, ns, "testata1"),
            testata2: opt(el, ns, "testata2"),
            nre: opt(el, ns, "nre"),
            tipo_ric: opt(el, ns, "tipoRic"),
            codice_ass: opt(el, ns, "codiceAss").map(EncryptedValue::new),
            cogn_nome: sens("cognNome"),
            indirizzo: sens("indirizzo"),
            oscuram_dati: opt(el, ns, "oscuramDati"),
            num_tess_sasn: sens("numTessSasn"),
            soc_navigaz: opt(el, ns, "socNavigaz"),
            tipo_prescrizione: req(el, ns, "tipoPrescrizione")?,
            ricetta_interna: opt(el, ns, "ricettaInterna"),
            cod_esenzione: opt(el, ns, "codEsenzione"),
            non_esente: opt(el, ns, "nonEsente"),
            reddito: opt(el, ns, "reddito"),
            cod_diagnosi: opt(el, ns, "codDiagnosi"),
            descrizione_diagnosi: opt(el, ns, "descrizioneDiagnosi"),
            data_compilazione: req(el, ns, "dataCompilazione")?,
            tipo_visita: req(el, ns, "tipoVisita")?,
            disp_reg: opt(el, ns, "dispReg"),
            prov_assistito: opt(el, ns, "provAssistito"),
            asl_assistito: opt(el, ns, "aslAssistito"),
            indicazione_prescr: opt(el, ns, "indicazionePrescr"),
            altro: opt(el, ns, "altro"),
            classe_priorita: opt(el, ns, "classePriorita"),
            stato_estero: opt(el, ns, "statoEstero"),
            istituz_competente: opt(el, ns, "istituzCompetente"),
            num_ident_pers: sens("numIdentPers"),
            num_ident_tess: sens("numIdentTess"),
            data_nascita_estero: opt(el, ns, "dataNascitaEstero"),
            data_scad_tessera: opt(el, ns, "dataScadTessera"),
            dettagli,
        })
    }
}

/// `InvioPrescrittoRicevuta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvioPrescrittoReceipt {
    /// `nre` assigned (or confirmed) by the SAC.
    pub nre: Option<String>,
    /// `codAutenticazione`: 30 digits; the promemoria may be handed over only once received.
    pub cod_autenticazione: Option<String>,
    /// `dataInserimento`: `yyyy-MM-dd HH:mm:ss`.
    pub data_inserimento: Option<String>,
    /// `codEsitoInserimento`: `0000` inserted, `0001` inserted with warnings, `9999` refused.
    pub cod_esito_inserimento: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni` (`0199 COGNOME_MEDICO=…`, `0198 NOME_MEDICO=…`, `0197`, `0100`).
    pub comunicazioni: Vec<Comunicazione>,
    /// `ElencoNota`.
    pub note: Vec<Nota>,
    /// `flagPromemoria`: `0` PDF produced, `1` not produced.
    pub flag_promemoria: Option<String>,
    /// `pdfPromemoria`, decoded.
    pub pdf_promemoria: Option<Promemoria>,
}

impl InvioPrescrittoReceipt {
    /// The receipt of an inserted prescription as the real SAC writes it (for servers):
    /// `0000` with the "operation done" entry without `tipoErrore`, or `0001` with the
    /// `warnings`; `flagPromemoria` `0` with a PDF and `1` without.
    pub fn accepted(
        nre: &Nre,
        cod_autenticazione: &CodAutenticazione,
        data_inserimento: impl Into<String>,
        comunicazioni: Vec<Comunicazione>,
        promemoria: Option<Promemoria>,
        warnings: Vec<ErroreRicetta>,
    ) -> Self {
        let ok = ErroreRicetta {
            tipo_errore: None,
            ..ErroreRicetta::ok()
        };
        let (cod_esito_inserimento, errori) = receipt::accepted_outcome(warnings, ok);
        Self {
            nre: Some(nre.as_str().to_owned()),
            cod_autenticazione: Some(cod_autenticazione.as_str().to_owned()),
            data_inserimento: Some(data_inserimento.into()),
            cod_esito_inserimento,
            errori,
            comunicazioni,
            note: Vec::new(),
            flag_promemoria: Some(if promemoria.is_some() { "0" } else { "1" }.into()),
            pdf_promemoria: promemoria,
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(errori: Vec<ErroreRicetta>, comunicazioni: Vec<Comunicazione>) -> Self {
        Self {
            cod_esito_inserimento: receipt::REFUSED.into(),
            errori,
            comunicazioni,
            ..Self::default()
        }
    }

    /// The NRE, if present and well formed.
    pub fn nre(&self) -> Option<Nre> {
        self.nre.as_deref().and_then(|n| Nre::parse(n).ok())
    }

    /// The authentication code, if present and well formed.
    pub fn cod_autenticazione(&self) -> Option<CodAutenticazione> {
        self.cod_autenticazione
            .as_deref()
            .and_then(CodAutenticazione::parse)
    }
}

impl DemReceipt for InvioPrescrittoReceipt {
    const SERVICE: Service = SERVICE;

    receipt_accessors!(cod_esito_inserimento);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        expect_root(el, Ns::Any, SERVICE.receipt_root())?;
        let ns = Ns::Any;
        let pdf_promemoria = match child(el, ns, "pdfPromemoria") {
            None => None,
            Some(pdf) => {
                // base64Binary may be wrapped on several lines.
                let text: String = pdf.text.split_ascii_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| DemError::InvalidElement {
                        field: "pdfPromemoria",
                        reason: e.to_string(),
                    })?;
                Some(Promemoria(bytes))
            }
        };
        Ok(Self {
            nre: opt(el, ns, "nre"),
            cod_autenticazione: opt(el, ns, "codAutenticazione"),
            data_inserimento: opt(el, ns, "dataInserimento"),
            cod_esito_inserimento: req(el, ns, "codEsitoInserimento")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
            note: receipt::read_note(el),
            flag_promemoria: opt(el, ns, "flagPromemoria"),
            pdf_promemoria,
        })
    }

    fn to_xml(&self) -> String {
        let pdf = self
            .pdf_promemoria
            .as_ref()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(&p.0));
        let mut w = ReceiptWriter::open(SERVICE, 1024 + pdf.as_ref().map_or(0, String::len));
        w.opt("nre", self.nre.as_deref());
        w.opt("codAutenticazione", self.cod_autenticazione.as_deref());
        w.opt("dataInserimento", self.data_inserimento.as_deref());
        w.leaf("codEsitoInserimento", &self.cod_esito_inserimento);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.note(&self.note);
        w.opt("flagPromemoria", self.flag_promemoria.as_deref());
        // base64 has no characters to escape.
        w.opt_unescaped("pdfPromemoria", pdf.as_deref());
        w.finish()
    }
}
