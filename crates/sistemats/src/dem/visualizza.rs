//! VisualizzaPrescritto: read a prescription back (PROTOCOL §5.4).

use crate::xml::Element;

use super::codec::{DemError, Emitter, Ns, expect_root, opt, req};
use super::dettaglio::DettaglioPrescrizione;
use super::errore::ErroreRicetta;
use super::invio::InvioPrescrittoRequest;
use super::receipt::{self, Comunicazione, DemReceipt, Nota, ReceiptWriter, receipt_accessors};
use super::service::{DemRequest, Service};
use super::types::{EncryptedValue, Nre, Sensitive, StatoProcesso};
use super::validate::{Checker, Problem, ValidationError};

const SERVICE: Service = Service::VisualizzaPrescritto;
const P: &str = "vis";

/// `VisualizzaPrescrittoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisualizzaPrescrittoRequest {
    /// `pinCode`, encrypted.
    pub pin_code: EncryptedValue,
    /// `nre`: 15 characters.
    pub nre: String,
    /// `cfMedico`: the titolare or the substitute of that prescription.
    pub cf_medico: String,
}

impl VisualizzaPrescrittoRequest {
    /// A request for this NRE.
    pub fn new(pin_code: EncryptedValue, nre: &Nre, cf_medico: impl Into<String>) -> Self {
        Self {
            pin_code,
            nre: nre.as_str().to_owned(),
            cf_medico: cf_medico.into(),
        }
    }
}

/// The three fields shared by VisualizzaPrescritto and AnnullaPrescritto requests.
pub(crate) fn check_pin_nre_cf(pin: &str, nre: &str, cf: &str) -> Vec<ValidationError> {
    let mut c = Checker::new();
    c.required("pinCode", pin);
    if c.required("nre", nre) && Nre::parse(nre).is_err() {
        c.report("nre", Problem::Format("un NRE di 15 caratteri"));
    }
    if c.required("cfMedico", cf) {
        c.fiscal_code("cfMedico", cf);
    }
    c.finish()
}

pub(crate) fn write_pin_nre_cf(
    service: Service,
    prefix: &str,
    pin: &str,
    nre: &str,
    cf: &str,
) -> String {
    let mut e = Emitter::with_capacity(700);
    e.open_with(
        prefix,
        service.request_root(),
        &[(&format!("xmlns:{prefix}"), service.request_namespace())],
    );
    e.leaf(prefix, "pinCode", pin);
    e.leaf(prefix, "nre", nre);
    e.leaf(prefix, "cfMedico", cf);
    e.close(prefix, service.request_root());
    e.finish()
}

pub(crate) fn read_pin_nre_cf(
    service: Service,
    el: &Element,
) -> Result<(String, String, String), DemError> {
    let ns = Ns::Strict(service.request_namespace());
    expect_root(el, ns, service.request_root())?;
    Ok((
        req(el, ns, "pinCode")?,
        req(el, ns, "nre")?,
        req(el, ns, "cfMedico")?,
    ))
}

impl DemRequest for VisualizzaPrescrittoRequest {
    const SERVICE: Service = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        check_pin_nre_cf(self.pin_code.as_str(), &self.nre, &self.cf_medico)
    }

    fn to_xml(&self) -> String {
        write_pin_nre_cf(
            SERVICE,
            P,
            self.pin_code.as_str(),
            &self.nre,
            &self.cf_medico,
        )
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let (pin, nre, cf_medico) = read_pin_nre_cf(SERVICE, el)?;
        Ok(Self {
            pin_code: EncryptedValue::new(pin),
            nre,
            cf_medico,
        })
    }
}

/// `VisualizzaPrescrittoRicevuta`: the prescription as stored, its state and the outcome.
///
/// Every header field is optional (the receipt of a refused request carries only `nre`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisualizzaPrescrittoReceipt {
    /// `nre`.
    pub nre: Option<String>,
    /// `cfMedico1`: the titolare.
    pub cf_medico1: Option<String>,
    /// `cfMedico2`: the substitute, if any.
    pub cf_medico2: Option<String>,
    /// `codRegione`.
    pub cod_regione: Option<String>,
    /// `codASLAo`.
    pub cod_asl_ao: Option<String>,
    /// `codStruttura`.
    pub cod_struttura: Option<String>,
    /// `codSpecializzazione`.
    pub cod_specializzazione: Option<String>,
    /// `testata1` (the real SAC returns `COGNOME_MEDICO=…;NOME_MEDICO=…`).
    pub testata1: Option<String>,
    /// `testata2`.
    pub testata2: Option<String>,
    /// `tipoRic`.
    pub tipo_ric: Option<String>,
    /// `codiceAss` (the real test SAC returns it empty).
    pub codice_ass: Option<Sensitive>,
    /// `cognNome`.
    pub cogn_nome: Option<Sensitive>,
    /// `indirizzo`.
    pub indirizzo: Option<Sensitive>,
    /// `oscuramDati`.
    pub oscuram_dati: Option<String>,
    /// `numTessSasn`.
    pub num_tess_sasn: Option<Sensitive>,
    /// `socNavigaz`.
    pub soc_navigaz: Option<String>,
    /// `tipoPrescrizione`.
    pub tipo_prescrizione: Option<String>,
    /// `ricettaInterna`.
    pub ricetta_interna: Option<String>,
    /// `codEsenzione`.
    pub cod_esenzione: Option<String>,
    /// `nonEsente`.
    pub non_esente: Option<String>,
    /// `reddito`.
    pub reddito: Option<String>,
    /// `codDiagnosi`.
    pub cod_diagnosi: Option<String>,
    /// `descrizioneDiagnosi`.
    pub descrizione_diagnosi: Option<String>,
    /// `dataCompilazione`.
    pub data_compilazione: Option<String>,
    /// `tipoVisita`.
    pub tipo_visita: Option<String>,
    /// `dispReg`.
    pub disp_reg: Option<String>,
    /// `provAssistito`.
    pub prov_assistito: Option<String>,
    /// `aslAssistito`.
    pub asl_assistito: Option<String>,
    /// `indicazionePrescr`.
    pub indicazione_prescr: Option<String>,
    /// `altro`.
    pub altro: Option<String>,
    /// `classePriorita`.
    pub classe_priorita: Option<String>,
    /// `statoEstero`.
    pub stato_estero: Option<String>,
    /// `istituzCompetente`.
    pub istituz_competente: Option<String>,
    /// `numIdentPers`.
    pub num_ident_pers: Option<Sensitive>,
    /// `numIdentTess`.
    pub num_ident_tess: Option<Sensitive>,
    /// `dataNascitaEstero`.
    pub data_nascita_estero: Option<String>,
    /// `dataScadTessera`.
    pub data_scad_tessera: Option<String>,
    /// `ElencoDettagliPrescrizioni`.
    pub dettagli: Vec<DettaglioPrescrizione>,
    /// `statoProcesso` as sent (see [`Self::stato`]).
    pub stato_processo: Option<String>,
    /// `codAutenticazione`.
    pub cod_autenticazione: Option<String>,
    /// `dataInserimento`.
    pub data_inserimento: Option<String>,
    /// `codEsitoVisualizzazione`.
    pub cod_esito_visualizzazione: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni` (`0200`).
    pub comunicazioni: Vec<Comunicazione>,
    /// `ElencoNota`.
    pub note: Vec<Nota>,
}

fn s(v: &Option<Sensitive>) -> Option<&str> {
    v.as_ref().map(Sensitive::expose)
}

impl VisualizzaPrescrittoReceipt {
    /// The receipt showing a stored prescription (for servers): every header field and
    /// detail line of the request that created it, with the NRE it got, its state,
    /// authentication code and insertion time; `0000`, or `0001` with the `warnings`.
    ///
    /// Like the real SAC it never returns the patient's fiscal code (`codiceAss` is written
    /// empty) and reports `cfMedico2` only when a substitute compiled the prescription.
    pub fn found(
        sent: InvioPrescrittoRequest,
        nre: impl Into<String>,
        stato: StatoProcesso,
        cod_autenticazione: impl Into<String>,
        data_inserimento: impl Into<String>,
        warnings: Vec<ErroreRicetta>,
    ) -> Self {
        let (cod_esito_visualizzazione, errori) =
            receipt::accepted_outcome(warnings, ErroreRicetta::ok());
        let r = sent;
        Self {
            nre: Some(nre.into()),
            cf_medico1: Some(r.cf_medico1),
            cf_medico2: r.cf_medico2,
            cod_regione: Some(r.cod_regione),
            cod_asl_ao: Some(r.cod_asl_ao),
            cod_struttura: r.cod_struttura,
            cod_specializzazione: Some(r.cod_specializzazione),
            testata1: r.testata1,
            testata2: r.testata2,
            tipo_ric: r.tipo_ric,
            codice_ass: None,
            cogn_nome: r.cogn_nome,
            indirizzo: r.indirizzo,
            oscuram_dati: r.oscuram_dati,
            num_tess_sasn: r.num_tess_sasn,
            soc_navigaz: r.soc_navigaz,
            tipo_prescrizione: Some(r.tipo_prescrizione),
            ricetta_interna: r.ricetta_interna,
            cod_esenzione: r.cod_esenzione,
            non_esente: r.non_esente,
            reddito: r.reddito,
            cod_diagnosi: r.cod_diagnosi,
            descrizione_diagnosi: r.descrizione_diagnosi,
            data_compilazione: Some(r.data_compilazione),
            tipo_visita: Some(r.tipo_visita),
            disp_reg: r.disp_reg,
            prov_assistito: r.prov_assistito,
            asl_assistito: r.asl_assistito,
            indicazione_prescr: r.indicazione_prescr,
            altro: r.altro,
            classe_priorita: r.classe_priorita,
            stato_estero: r.stato_estero,
            istituz_competente: r.istituz_competente,
            num_ident_pers: r.num_ident_pers,
            num_ident_tess: r.num_ident_tess,
            data_nascita_estero: r.data_nascita_estero,
            data_scad_tessera: r.data_scad_tessera,
            dettagli: r.dettagli,
            stato_processo: Some(stato.code().to_owned()),
            cod_autenticazione: Some(cod_autenticazione.into()),
            data_inserimento: Some(data_inserimento.into()),
            cod_esito_visualizzazione,
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
            note: Vec::new(),
        }
    }

    /// A `9999` receipt for this NRE carrying these errors (for servers).
    pub fn rejected(nre: impl Into<String>, errori: Vec<ErroreRicetta>) -> Self {
        Self {
            nre: Some(nre.into()),
            cod_esito_visualizzazione: receipt::REFUSED.into(),
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
            ..Self::default()
        }
    }

    /// The prescription state, if known.
    pub fn stato(&self) -> Option<StatoProcesso> {
        self.stato_processo
            .as_deref()
            .and_then(StatoProcesso::from_code)
    }

    /// Whether the receipt carries a prescription (not only an error).
    pub fn has_prescription(&self) -> bool {
        self.cf_medico1.is_some() || !self.dettagli.is_empty() || self.stato_processo.is_some()
    }
}

impl DemReceipt for VisualizzaPrescrittoReceipt {
    const SERVICE: Service = SERVICE;

    receipt_accessors!(cod_esito_visualizzazione);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        let sens = |name| opt(el, ns, name).map(Sensitive::new);
        let dettagli = receipt::read_list(
            el,
            "ElencoDettagliPrescrizioni",
            "DettaglioPrescrizione",
            DettaglioPrescrizione::read,
        )
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nre: opt(el, ns, "nre"),
            cf_medico1: opt(el, ns, "cfMedico1"),
            cf_medico2: opt(el, ns, "cfMedico2"),
            cod_regione: opt(el, ns, "codRegione"),
            cod_asl_ao: opt(el, ns, "codASLAo"),
            cod_struttura: opt(el, ns, "codStruttura"),
            cod_specializzazione: opt(el, ns, "codSpecializzazione"),
            testata1: opt(el, ns, "testata1"),
            testata2: opt(el, ns, "testata2"),
            tipo_ric: opt(el, ns, "tipoRic"),
            codice_ass: sens("codiceAss"),
            cogn_nome: sens("cognNome"),
            indirizzo: sens("indirizzo"),
            oscuram_dati: opt(el, ns, "oscuramDati"),
            num_tess_sasn: sens("numTessSasn"),
            soc_navigaz: opt(el, ns, "socNavigaz"),
            tipo_prescrizione: opt(el, ns, "tipoPrescrizione"),
            ricetta_interna: opt(el, ns, "ricettaInterna"),
            cod_esenzione: opt(el, ns, "codEsenzione"),
            non_esente: opt(el, ns, "nonEsente"),
            reddito: opt(el, ns, "reddito"),
            cod_diagnosi: opt(el, ns, "codDiagnosi"),
            descrizione_diagnosi: opt(el, ns, "descrizioneDiagnosi"),
            data_compilazione: opt(el, ns, "dataCompilazione"),
            tipo_visita: opt(el, ns, "tipoVisita"),
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
            stato_processo: opt(el, ns, "statoProcesso"),
            cod_autenticazione: opt(el, ns, "codAutenticazione"),
            data_inserimento: opt(el, ns, "dataInserimento"),
            cod_esito_visualizzazione: req(el, ns, "codEsitoVisualizzazione")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
            note: receipt::read_note(el),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 2048 + 400 * self.dettagli.len());
        w.opt("nre", self.nre.as_deref());
        w.opt("cfMedico1", self.cf_medico1.as_deref());
        w.opt("cfMedico2", self.cf_medico2.as_deref());
        w.opt("codRegione", self.cod_regione.as_deref());
        w.opt("codASLAo", self.cod_asl_ao.as_deref());
        w.opt("codStruttura", self.cod_struttura.as_deref());
        w.opt("codSpecializzazione", self.cod_specializzazione.as_deref());
        w.opt("testata1", self.testata1.as_deref());
        w.opt("testata2", self.testata2.as_deref());
        w.opt("tipoRic", self.tipo_ric.as_deref());
        // The real SAC writes an empty codiceAss whenever it returns a prescription.
        if self.has_prescription() {
            w.always("codiceAss", s(&self.codice_ass));
        } else {
            w.opt("codiceAss", s(&self.codice_ass));
        }
        w.opt("cognNome", s(&self.cogn_nome));
        w.opt("indirizzo", s(&self.indirizzo));
        w.opt("oscuramDati", self.oscuram_dati.as_deref());
        w.opt("numTessSasn", s(&self.num_tess_sasn));
        w.opt("socNavigaz", self.soc_navigaz.as_deref());
        w.opt("tipoPrescrizione", self.tipo_prescrizione.as_deref());
        w.opt("ricettaInterna", self.ricetta_interna.as_deref());
        w.opt("codEsenzione", self.cod_esenzione.as_deref());
        w.opt("nonEsente", self.non_esente.as_deref());
        w.opt("reddito", self.reddito.as_deref());
        w.opt("codDiagnosi", self.cod_diagnosi.as_deref());
        w.opt("descrizioneDiagnosi", self.descrizione_diagnosi.as_deref());
        w.opt("dataCompilazione", self.data_compilazione.as_deref());
        w.opt("tipoVisita", self.tipo_visita.as_deref());
        w.opt("dispReg", self.disp_reg.as_deref());
        w.opt("provAssistito", self.prov_assistito.as_deref());
        w.opt("aslAssistito", self.asl_assistito.as_deref());
        w.opt("indicazionePrescr", self.indicazione_prescr.as_deref());
        w.opt("altro", self.altro.as_deref());
        w.opt("classePriorita", self.classe_priorita.as_deref());
        w.opt("statoEstero", self.stato_estero.as_deref());
        w.opt("istituzCompetente", self.istituz_competente.as_deref());
        w.opt("numIdentPers", s(&self.num_ident_pers));
        w.opt("numIdentTess", s(&self.num_ident_tess));
        w.opt("dataNascitaEstero", self.data_nascita_estero.as_deref());
        w.opt("dataScadTessera", self.data_scad_tessera.as_deref());
        w.list(
            "ElencoDettagliPrescrizioni",
            &self.dettagli,
            DettaglioPrescrizione::write,
        );
        w.opt("statoProcesso", self.stato_processo.as_deref());
        w.opt("codAutenticazione", self.cod_autenticazione.as_deref());
        w.opt("dataInserimento", self.data_inserimento.as_deref());
        w.leaf("codEsitoVisualizzazione", &self.cod_esito_visualizzazione);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.note(&self.note);
        w.finish()
    }
}
