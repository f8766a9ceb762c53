//! The three RBE requests: typed, validated before sending, written and read by
//! (namespace, local name).
//!
//! Element names and their order are those of the one third-party client known
//! (PROTOCOL §5.10, LIKELY); no field was added that the client does not send. Without an
//! XSD, lengths and optionality are not known: validation checks only what the known
//! sources state (a 16-character fiscal code, the `via|cap|città|prov` and `+39|numero`
//! shapes, a 12-character NRBE, a 5-character PIN NRBE, at least one medicine) and what a
//! request cannot do without (PIN, doctor, patient). Parsing requires the same.

use crate::dem::codec::{DemError, Emitter, Ns, children, expect_root, opt, parse_payload, req};
use crate::dem::validate::{Checker, Problem, ValidationError};
use crate::dem::{EncryptedValue, Sensitive};
use crate::xml::Element;

use super::service::RbeService;
use super::types::{Nrbe, PinNrbe};

/// A request of one of the RBE services.
pub trait RbeRequest: Sized {
    /// The service this request belongs to.
    const SERVICE: RbeService;

    /// Every rule this request breaks (empty when valid).
    fn problems(&self) -> Vec<ValidationError>;

    /// Checks the request before it is sent; the error names the first wrong field.
    fn validate(&self) -> Result<(), ValidationError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// The request element alone, with its own namespace declarations.
    fn to_xml(&self) -> String;

    /// The whole SOAP 1.1 envelope to POST.
    fn to_envelope(&self) -> String {
        crate::soap::envelope(&[], &self.to_xml())
    }

    /// Reads the request from the SOAP body payload (namespaces are checked).
    fn from_payload(payload: &Element) -> Result<Self, DemError>;

    /// Reads the request from a whole SOAP envelope.
    fn parse(bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(&parse_payload(bytes)?)
    }
}

/// One medicine of a ricetta bianca (`dettaglioPrescrizioneRicettaBianca`, items in the
/// types namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DettaglioRbe {
    /// `codProdPrest`: the product code (AIC).
    pub cod_prod_prest: Option<String>,
    /// `descrProdPrest`: the product's description.
    pub descr_prod_prest: Option<String>,
    /// `tdl`: the third-party client always sends `0`; its meaning is UNKNOWN.
    pub tdl: Option<String>,
    /// `descrTestoLiberoNote`: free-text notes.
    pub descr_testo_libero_note: Option<String>,
    /// `quantita`: number of packs.
    pub quantita: String,
    /// `posologia`: dosage, free text.
    pub posologia: Option<String>,
}

impl DettaglioRbe {
    /// A line for `quantita` packs of the product `cod_prod_prest` described as `descr`.
    pub fn product(cod_prod_prest: &str, descr: &str, quantita: u32) -> Self {
        Self {
            cod_prod_prest: Some(cod_prod_prest.to_owned()),
            descr_prod_prest: Some(descr.to_owned()),
            quantita: quantita.to_string(),
            ..Self::default()
        }
    }

    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self {
            cod_prod_prest: opt(el, ns, "codProdPrest"),
            descr_prod_prest: opt(el, ns, "descrProdPrest"),
            tdl: opt(el, ns, "tdl"),
            descr_testo_libero_note: opt(el, ns, "descrTestoLiberoNote"),
            quantita: opt(el, ns, "quantita").unwrap_or_default(),
            posologia: opt(el, ns, "posologia"),
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str) {
        e.opt(p, "codProdPrest", self.cod_prod_prest.as_deref());
        e.opt(p, "descrProdPrest", self.descr_prod_prest.as_deref());
        e.opt(p, "tdl", self.tdl.as_deref());
        e.opt(
            p,
            "descrTestoLiberoNote",
            self.descr_testo_libero_note.as_deref(),
        );
        e.leaf(p, "quantita", &self.quantita);
        e.opt(p, "posologia", self.posologia.as_deref());
    }
}

/// Element of each detail line, in the request namespace; its children are in the types
/// namespace.
pub(crate) const DETTAGLIO: &str = "dettaglioPrescrizioneRicettaBianca";

/// `InvioPrescrittoRicettaBiancaRichiesta`: a new class-C prescription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvioRbeRequest {
    /// `pinCode`, encrypted with the SanitelCF certificate.
    pub pin_code: EncryptedValue,
    /// `cfMedico`: the prescribing doctor.
    pub cf_medico: String,
    /// `codRegione`.
    pub cod_regione: Option<String>,
    /// `codASLAo`.
    pub cod_asl_ao: Option<String>,
    /// `codStruttura`.
    pub cod_struttura: Option<String>,
    /// `codSpecializzazione`.
    pub cod_specializzazione: Option<String>,
    /// `specialClinica`: the doctor's clinical specialty, free text.
    pub special_clinica: Option<String>,
    /// `numIscrizAlbo`: registration number in the medical register.
    pub num_iscriz_albo: Option<String>,
    /// `indirMedico`: `via|cap|città|prov`.
    pub indir_medico: Option<String>,
    /// `telefMedico`: `+39|numero`.
    pub telef_medico: Option<String>,
    /// `codicePaziente`: the patient's fiscal code, encrypted with the SanitelCF certificate.
    pub codice_paziente: EncryptedValue,
    /// `cognNome`: the patient's name (personal data).
    pub cogn_nome: Option<Sensitive>,
    /// `indirizzo`: the patient's address, `via|cap|città|prov` (personal data).
    pub indirizzo: Option<Sensitive>,
    /// `tipoPrescrizione` (the third-party client sends `F`, medicines).
    pub tipo_prescrizione: Option<String>,
    /// `codDiagnosi`.
    pub cod_diagnosi: Option<String>,
    /// `descrDiagnosi` (personal data: health).
    pub descr_diagnosi: Option<Sensitive>,
    /// `dataCompilazione`: `yyyy-MM-dd HH:mm:ss`.
    pub data_compilazione: String,
    /// `dettaglioPrescrizioneRicettaBianca`, one per medicine.
    pub dettagli: Vec<DettaglioRbe>,
}

fn check_address(c: &mut Checker, field: &str, value: Option<&str>) {
    if value.is_some_and(|v| v.split('|').count() != 4) {
        c.report(
            field,
            Problem::Format("nella forma via|cap|città|provincia"),
        );
    }
}

fn check_doctor(c: &mut Checker, pin: &str, cf: &str) {
    c.required("pinCode", pin);
    if c.required("cfMedico", cf) {
        c.fiscal_code("cfMedico", cf);
        if cf.chars().count() != 16 {
            c.report("cfMedico", Problem::WrongLength { length: 16 });
        }
    }
}

impl RbeRequest for InvioRbeRequest {
    const SERVICE: RbeService = RbeService::Invio;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        check_doctor(&mut c, self.pin_code.as_str(), &self.cf_medico);
        check_address(&mut c, "indirMedico", self.indir_medico.as_deref());
        if self
            .telef_medico
            .as_deref()
            .is_some_and(|t| t.split('|').count() != 2)
        {
            c.report("telefMedico", Problem::Format("nella forma +39|numero"));
        }
        c.required("codicePaziente", self.codice_paziente.as_str());
        check_address(
            &mut c,
            "indirizzo",
            self.indirizzo.as_ref().map(Sensitive::expose),
        );
        if c.required("dataCompilazione", &self.data_compilazione) {
            c.data_ora("dataCompilazione", &self.data_compilazione);
        }
        if self.dettagli.is_empty() {
            c.report(
                DETTAGLIO,
                Problem::Rule("indica almeno un medicinale da prescrivere"),
            );
        }
        for (i, d) in self.dettagli.iter().enumerate() {
            c.scope(Some(format!("{DETTAGLIO}[{}]", i + 1)));
            if c.required("quantita", &d.quantita)
                && !d.quantita.bytes().all(|b| b.is_ascii_digit())
            {
                c.report("quantita", Problem::Format("un numero intero"));
            }
            if d.cod_prod_prest.is_none() && d.descr_prod_prest.is_none() {
                c.report(
                    "codProdPrest",
                    Problem::Rule("indica il codice o la descrizione del medicinale"),
                );
            }
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let service = Self::SERVICE;
        let (p, t) = ("inv", "tip");
        let mut e = Emitter::with_capacity(1500 + 300 * self.dettagli.len());
        e.open_with(
            p,
            service.request_root(),
            &[
                ("xmlns:inv", service.request_namespace()),
                ("xmlns:tip", service.types_namespace()),
            ],
        );
        e.leaf(p, "pinCode", self.pin_code.as_str());
        e.leaf(p, "cfMedico", &self.cf_medico);
        e.opt(p, "codRegione", self.cod_regione.as_deref());
        e.opt(p, "codASLAo", self.cod_asl_ao.as_deref());
        e.opt(p, "codStruttura", self.cod_struttura.as_deref());
        e.opt(
            p,
            "codSpecializzazione",
            self.cod_specializzazione.as_deref(),
        );
        e.opt(p, "specialClinica", self.special_clinica.as_deref());
        e.opt(p, "numIscrizAlbo", self.num_iscriz_albo.as_deref());
        e.opt(p, "indirMedico", self.indir_medico.as_deref());
        e.opt(p, "telefMedico", self.telef_medico.as_deref());
        e.leaf(p, "codicePaziente", self.codice_paziente.as_str());
        e.opt(
            p,
            "cognNome",
            self.cogn_nome.as_ref().map(Sensitive::expose),
        );
        e.opt(
            p,
            "indirizzo",
            self.indirizzo.as_ref().map(Sensitive::expose),
        );
        e.opt(p, "tipoPrescrizione", self.tipo_prescrizione.as_deref());
        e.opt(p, "codDiagnosi", self.cod_diagnosi.as_deref());
        e.opt(
            p,
            "descrDiagnosi",
            self.descr_diagnosi.as_ref().map(Sensitive::expose),
        );
        e.leaf(p, "dataCompilazione", &self.data_compilazione);
        for d in &self.dettagli {
            e.open(p, DETTAGLIO);
            d.write(&mut e, t);
            e.close(p, DETTAGLIO);
        }
        e.close(p, service.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let service = Self::SERVICE;
        let ns = Ns::Strict(service.request_namespace());
        let types = Ns::Strict(service.types_namespace());
        expect_root(el, ns, service.request_root())?;
        let sensitive = |name| opt(el, ns, name).map(Sensitive::new);
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            cf_medico: req(el, ns, "cfMedico")?,
            cod_regione: opt(el, ns, "codRegione"),
            cod_asl_ao: opt(el, ns, "codASLAo"),
            cod_struttura: opt(el, ns, "codStruttura"),
            cod_specializzazione: opt(el, ns, "codSpecializzazione"),
            special_clinica: opt(el, ns, "specialClinica"),
            num_iscriz_albo: opt(el, ns, "numIscrizAlbo"),
            indir_medico: opt(el, ns, "indirMedico"),
            telef_medico: opt(el, ns, "telefMedico"),
            codice_paziente: EncryptedValue::new(req(el, ns, "codicePaziente")?),
            cogn_nome: sensitive("cognNome"),
            indirizzo: sensitive("indirizzo"),
            tipo_prescrizione: opt(el, ns, "tipoPrescrizione"),
            cod_diagnosi: opt(el, ns, "codDiagnosi"),
            descr_diagnosi: sensitive("descrDiagnosi"),
            data_compilazione: opt(el, ns, "dataCompilazione").unwrap_or_default(),
            dettagli: children(el, ns, DETTAGLIO)
                .map(|d| DettaglioRbe::read(d, types))
                .collect(),
        })
    }
}

/// The fields Visualizza and Annulla share: which prescription, and who asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NrbeQuery {
    /// `pinCode`, encrypted.
    pub pin_code: EncryptedValue,
    /// `codicePaziente`: the patient's fiscal code, encrypted (sent by the known client).
    pub codice_paziente: Option<EncryptedValue>,
    /// `nrbe`.
    pub nrbe: Option<String>,
    /// `pinNrbe`.
    pub pin_nrbe: Option<PinNrbe>,
    /// `cfMedico`: the prescribing doctor.
    pub cf_medico: String,
}

impl NrbeQuery {
    /// The prescription `nrbe` of the doctor `cf_medico`, for the patient whose encrypted
    /// fiscal code is `codice_paziente`.
    pub fn new(
        pin_code: EncryptedValue,
        nrbe: &Nrbe,
        codice_paziente: Option<EncryptedValue>,
        cf_medico: impl Into<String>,
    ) -> Self {
        Self {
            pin_code,
            codice_paziente,
            nrbe: Some(nrbe.as_str().to_owned()),
            pin_nrbe: None,
            cf_medico: cf_medico.into(),
        }
    }

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        check_doctor(&mut c, self.pin_code.as_str(), &self.cf_medico);
        match (&self.nrbe, &self.pin_nrbe) {
            (None, None) => c.report("nrbe", Problem::Rule("indica l'NRBE della ricetta")),
            (nrbe, pin) => {
                if let Some(nrbe) = nrbe {
                    c.len_between("nrbe", nrbe, Nrbe::LEN, Nrbe::LEN);
                }
                if let Some(pin) = pin {
                    c.len_between("pinNrbe", pin.expose(), PinNrbe::LEN, PinNrbe::LEN);
                }
            }
        }
        c.finish()
    }

    fn write(&self, service: RbeService, p: &str) -> String {
        let mut e = Emitter::with_capacity(1200);
        e.open_with(
            p,
            service.request_root(),
            &[(&format!("xmlns:{p}"), service.request_namespace())],
        );
        e.leaf(p, "pinCode", self.pin_code.as_str());
        e.opt(
            p,
            "codicePaziente",
            self.codice_paziente.as_ref().map(EncryptedValue::as_str),
        );
        e.opt(p, "nrbe", self.nrbe.as_deref());
        e.opt(p, "pinNrbe", self.pin_nrbe.as_ref().map(PinNrbe::expose));
        e.leaf(p, "cfMedico", &self.cf_medico);
        e.close(p, service.request_root());
        e.finish()
    }

    fn read(service: RbeService, el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(service.request_namespace());
        expect_root(el, ns, service.request_root())?;
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            codice_paziente: opt(el, ns, "codicePaziente").map(EncryptedValue::new),
            nrbe: opt(el, ns, "nrbe"),
            pin_nrbe: opt(el, ns, "pinNrbe").map(PinNrbe::new),
            cf_medico: req(el, ns, "cfMedico")?,
        })
    }
}

macro_rules! nrbe_request {
    ($(#[$doc:meta])* $name:ident, $service:expr, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name(pub NrbeQuery);

        impl RbeRequest for $name {
            const SERVICE: RbeService = $service;

            fn problems(&self) -> Vec<ValidationError> {
                self.0.problems()
            }

            fn to_xml(&self) -> String {
                self.0.write(Self::SERVICE, $prefix)
            }

            fn from_payload(el: &Element) -> Result<Self, DemError> {
                NrbeQuery::read(Self::SERVICE, el).map(Self)
            }
        }
    };
}

nrbe_request!(
    /// `VisualizzaPrescrittoRicettaBiancaRichiesta`: read a prescription back.
    VisualizzaRbeRequest,
    RbeService::Visualizza,
    "vis"
);

nrbe_request!(
    /// `AnnullaPrescrittoRicettaBiancaRichiesta`: cancel a prescription.
    AnnullaRbeRequest,
    RbeService::Annulla,
    "ann"
);

/// Any RBE request, for servers that route by the body (the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyRbeRequest {
    /// InvioPrescrittoRicettaBianca.
    Invio(Box<InvioRbeRequest>),
    /// VisualizzaPrescrittoRicettaBianca.
    Visualizza(VisualizzaRbeRequest),
    /// AnnullaPrescrittoRicettaBianca.
    Annulla(AnnullaRbeRequest),
}

impl AnyRbeRequest {
    /// Reads any RBE request from a SOAP body payload, by its root element.
    pub fn from_payload(payload: &Element) -> Result<Self, DemError> {
        let service = RbeService::ALL
            .into_iter()
            .find(|s| payload.is(s.request_namespace(), s.request_root()))
            .ok_or_else(|| DemError::UnexpectedRoot {
                expected: "una richiesta di ricetta bianca",
                found: payload.name.clone(),
            })?;
        Ok(match service {
            RbeService::Invio => Self::Invio(Box::new(InvioRbeRequest::from_payload(payload)?)),
            RbeService::Visualizza => {
                Self::Visualizza(VisualizzaRbeRequest::from_payload(payload)?)
            }
            RbeService::Annulla => Self::Annulla(AnnullaRbeRequest::from_payload(payload)?),
        })
    }

    /// The request's service.
    pub fn service(&self) -> RbeService {
        match self {
            Self::Invio(_) => RbeService::Invio,
            Self::Visualizza(_) => RbeService::Visualizza,
            Self::Annulla(_) => RbeService::Annulla,
        }
    }

    /// The encrypted `pinCode`.
    pub fn pin_code(&self) -> &EncryptedValue {
        match self {
            Self::Invio(r) => &r.pin_code,
            Self::Visualizza(r) => &r.0.pin_code,
            Self::Annulla(r) => &r.0.pin_code,
        }
    }
}
