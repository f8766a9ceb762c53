//! InterrogaNreUtilizzati: list the NREs a doctor used (PROTOCOL §5.6).
//!
//! Its types schema (`TipiDatiInterrogaNreUtilizzati.xsd`) shares the tipodati namespace
//! with `TipiDati.xsd` but has different facets: dates are exactly 19 characters here.

use crate::xml::Element;

use super::codec::{DemError, Emitter, Ns, expect_root, opt, req};
use super::errore::ErroreRicetta;
use super::receipt::{self, Comunicazione, DemReceipt, ReceiptWriter, receipt_accessors};
use super::service::{DemRequest, Service};
use super::types::{EncryptedValue, Nre, Sensitive};
use super::validate::{Checker, Problem, ValidationError};

const SERVICE: Service = Service::InterrogaNreUtilizzati;
const P: &str = "int";

/// `InterrogaNreUtilRichiesta`: either an exact `nre`, or a date range with optional filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterrogaNreUtilizzatiRequest {
    /// `pinCode`, encrypted.
    pub pin_code: EncryptedValue,
    /// `codRegione`: 3 characters.
    pub cod_regione: String,
    /// `nre`: one prescription.
    pub nre: Option<String>,
    /// `codLotto`: 1–13 characters.
    pub cod_lotto: Option<String>,
    /// `cfMedico`: the titolare.
    pub cf_medico: String,
    /// `cfAssistito`: the patient's fiscal code, **in clear** (≤16 characters by the XSD).
    pub cf_assistito: Option<Sensitive>,
    /// `tipoPrescr`: `F` or `P`.
    pub tipo_prescr: Option<String>,
    /// `dataCompilazioneRicettaDal`: `yyyy-MM-dd HH:mm:ss`.
    pub data_compilazione_ricetta_dal: Option<String>,
    /// `dataCompilazioneRicettaAl`: `yyyy-MM-dd HH:mm:ss`.
    pub data_compilazione_ricetta_al: Option<String>,
}

impl DemRequest for InterrogaNreUtilizzatiRequest {
    const SERVICE: Service = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        c.required("pinCode", self.pin_code.as_str());
        if c.required("codRegione", &self.cod_regione) {
            c.len_between("codRegione", &self.cod_regione, 3, 3);
        }
        if let Some(nre) = &self.nre
            && Nre::parse(nre).is_err()
        {
            c.report("nre", Problem::Format("un NRE di 15 caratteri"));
        }
        if let Some(lotto) = &self.cod_lotto {
            c.len_between("codLotto", lotto, 1, 13);
        }
        if c.required("cfMedico", &self.cf_medico) {
            c.fiscal_code("cfMedico", &self.cf_medico);
        }
        if let Some(cf) = &self.cf_assistito {
            c.fiscal_code("cfAssistito", cf.expose());
        }
        c.opt_one_of("tipoPrescr", self.tipo_prescr.as_deref(), &["F", "P"]);
        let dal = self.data_compilazione_ricetta_dal.as_deref();
        let al = self.data_compilazione_ricetta_al.as_deref();
        if let Some(d) = dal {
            c.data_ora("dataCompilazioneRicettaDal", d);
        }
        if let Some(d) = al {
            c.data_ora("dataCompilazioneRicettaAl", d);
        }
        match (self.nre.is_some(), dal, al) {
            (true, _, _) | (false, Some(_), Some(_)) => {}
            (false, None, _) => c.report(
                "dataCompilazioneRicettaDal",
                Problem::Rule("indica un NRE oppure l'intervallo di date (Dal e Al)"),
            ),
            (false, Some(_), None) => c.report(
                "dataCompilazioneRicettaAl",
                Problem::Rule("indica anche la data finale dell'intervallo"),
            ),
        }
        // Same fixed-width format, so text order is time order.
        if let (Some(d), Some(a)) = (dal, al)
            && d > a
        {
            c.report(
                "dataCompilazioneRicettaAl",
                Problem::Rule("deve essere successiva a dataCompilazioneRicettaDal"),
            );
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = Emitter::with_capacity(900);
        e.open_with(
            P,
            SERVICE.request_root(),
            &[("xmlns:int", SERVICE.request_namespace())],
        );
        e.leaf(P, "pinCode", self.pin_code.as_str());
        e.leaf(P, "codRegione", &self.cod_regione);
        e.opt(P, "nre", self.nre.as_deref());
        e.opt(P, "codLotto", self.cod_lotto.as_deref());
        e.leaf(P, "cfMedico", &self.cf_medico);
        e.opt(
            P,
            "cfAssistito",
            self.cf_assistito.as_ref().map(Sensitive::expose),
        );
        e.opt(P, "tipoPrescr", self.tipo_prescr.as_deref());
        e.opt(
            P,
            "dataCompilazioneRicettaDal",
            self.data_compilazione_ricetta_dal.as_deref(),
        );
        e.opt(
            P,
            "dataCompilazioneRicettaAl",
            self.data_compilazione_ricetta_al.as_deref(),
        );
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            cod_regione: req(el, ns, "codRegione")?,
            nre: opt(el, ns, "nre"),
            cod_lotto: opt(el, ns, "codLotto"),
            cf_medico: req(el, ns, "cfMedico")?,
            cf_assistito: opt(el, ns, "cfAssistito").map(Sensitive::new),
            tipo_prescr: opt(el, ns, "tipoPrescr"),
            data_compilazione_ricetta_dal: opt(el, ns, "dataCompilazioneRicettaDal"),
            data_compilazione_ricetta_al: opt(el, ns, "dataCompilazioneRicettaAl"),
        })
    }
}

/// One `NreUtilRecord`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NreUtilRecord {
    /// `nre`.
    pub nre: Option<String>,
    /// `cfMedico`.
    pub cf_medico: Option<String>,
    /// `tipoPrescrizione`: `F` or `P`.
    pub tipo_prescrizione: Option<String>,
    /// `dataCompilazioneRicetta`: `yyyy-MM-dd HH:mm:ss`.
    pub data_compilazione_ricetta: Option<String>,
    /// `cfAssistito` (empty on the real test SAC).
    pub cf_assistito: Option<Sensitive>,
    /// `provenienza`: `0` web service, `1` web application.
    pub provenienza: Option<String>,
    /// `lotto` (e.g. `1300A40`).
    pub lotto: Option<String>,
    /// `codAutenticazione`.
    pub cod_autenticazione: Option<String>,
}

impl NreUtilRecord {
    /// The record the real SAC writes for a prescription sent through the web service
    /// (for servers): `provenienza` `0`, the lot as the first 7 characters of the NRE, and
    /// an empty `cfAssistito`.
    pub fn sent(
        nre: &str,
        cf_medico: impl Into<String>,
        tipo_prescrizione: impl Into<String>,
        data_compilazione_ricetta: impl Into<String>,
        cod_autenticazione: impl Into<String>,
    ) -> Self {
        Self {
            nre: Some(nre.to_owned()),
            cf_medico: Some(cf_medico.into()),
            tipo_prescrizione: Some(tipo_prescrizione.into()),
            data_compilazione_ricetta: Some(data_compilazione_ricetta.into()),
            cf_assistito: None,
            provenienza: Some("0".into()),
            lotto: Some(nre.chars().take(7).collect()),
            cod_autenticazione: Some(cod_autenticazione.into()),
        }
    }

    fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self {
            nre: opt(el, ns, "nre"),
            cf_medico: opt(el, ns, "cfMedico"),
            tipo_prescrizione: opt(el, ns, "tipoPrescrizione"),
            data_compilazione_ricetta: opt(el, ns, "dataCompilazioneRicetta"),
            cf_assistito: opt(el, ns, "cfAssistito").map(Sensitive::new),
            provenienza: opt(el, ns, "provenienza"),
            lotto: opt(el, ns, "lotto"),
            cod_autenticazione: opt(el, ns, "codAutenticazione"),
        }
    }

    fn write(&self, e: &mut Emitter, p: &str) {
        // The real SAC writes every field, empty when unknown; tipoPrescrizione and the
        // date have a minimum length, so they are left out instead of written empty.
        e.open(p, "NreUtilRecord");
        e.always(p, "nre", self.nre.as_deref());
        e.always(p, "cfMedico", self.cf_medico.as_deref());
        e.opt(p, "tipoPrescrizione", self.tipo_prescrizione.as_deref());
        e.opt(
            p,
            "dataCompilazioneRicetta",
            self.data_compilazione_ricetta.as_deref(),
        );
        e.always(
            p,
            "cfAssistito",
            self.cf_assistito.as_ref().map(Sensitive::expose),
        );
        e.always(p, "provenienza", self.provenienza.as_deref());
        e.always(p, "lotto", self.lotto.as_deref());
        e.always(p, "codAutenticazione", self.cod_autenticazione.as_deref());
        e.close(p, "NreUtilRecord");
    }
}

/// `InterrogaNreUtilRicevuta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterrogaNreUtilizzatiReceipt {
    /// `codEsitoInterrogaNreUtilizzati`.
    pub cod_esito: String,
    /// `ElencoNreUtilRecord`.
    pub records: Vec<NreUtilRecord>,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni` (`0400`).
    pub comunicazioni: Vec<Comunicazione>,
}

impl InterrogaNreUtilizzatiReceipt {
    /// The answer to a query that went through (for servers): `0000`, or `0001` with the
    /// `warnings`; no `ElencoNreUtilRecord` when nothing was found.
    pub fn found(records: Vec<NreUtilRecord>, warnings: Vec<ErroreRicetta>) -> Self {
        let (cod_esito, errori) = receipt::accepted_outcome(warnings, ErroreRicetta::ok());
        Self {
            cod_esito,
            records,
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
        }
    }

    /// A `9999` answer carrying these errors (for servers).
    pub fn rejected(errori: Vec<ErroreRicetta>) -> Self {
        Self {
            cod_esito: receipt::REFUSED.into(),
            records: Vec::new(),
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
        }
    }
}

impl DemReceipt for InterrogaNreUtilizzatiReceipt {
    const SERVICE: Service = SERVICE;

    receipt_accessors!(cod_esito);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            cod_esito: req(el, ns, "codEsitoInterrogaNreUtilizzati")?,
            records: receipt::read_list(
                el,
                "ElencoNreUtilRecord",
                "NreUtilRecord",
                NreUtilRecord::read,
            ),
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 1024 + 450 * self.records.len());
        w.leaf("codEsitoInterrogaNreUtilizzati", &self.cod_esito);
        w.list("ElencoNreUtilRecord", &self.records, NreUtilRecord::write);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.finish()
    }
}
