//! DichiarazioneSostituzioneMedico: declare that a substitute prescribes for a titolare
//! (PROTOCOL §5.9). The XSD limits `pwd` to 16 characters, so it travels in clear (it
//! cannot be a SanitelCF ciphertext); it is held as a [`Password`].

use crate::secret::Password;
use crate::xml::Element;

use super::codec::{DemError, Emitter, Ns, children, expect_root, opt, req};
use super::errore::ErroreRicetta;
use super::receipt::{self, Comunicazione, DemReceipt, ReceiptWriter, receipt_accessors};
use super::service::{DemRequest, Service, TIPODATI_SOSTITUZIONE_NS};
use super::types::EncryptedValue;
use super::validate::{Checker, Problem, ValidationError};

const SERVICE: Service = Service::DichiarazioneSostituzioneMedico;
const P: &str = "sos";
const T: &str = "tds";

/// A free key/value option (`opzioni{chiave, valore}`, each 1–300 characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opzione {
    /// `chiave`.
    pub chiave: String,
    /// `valore`.
    pub valore: String,
}

/// `DichiarazioneSostituzioneMedicoRichiesta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DichiarazioneSostituzioneMedicoRequest {
    /// `pinCode`, encrypted.
    pub pin_code: EncryptedValue,
    /// `pwd`: 1–16 characters.
    pub pwd: Password,
    /// `cfMedicoTitolare`.
    pub cf_medico_titolare: String,
    /// `codRegione`: 3 characters.
    pub cod_regione: String,
    /// `codASLAo`: 3 characters.
    pub cod_asl_ao: String,
    /// `codStruttura`.
    pub cod_struttura: Option<String>,
    /// `codSpecializzazione`: 1 character.
    pub cod_specializzazione: String,
    /// `cfMedicoSostituto`.
    pub cf_medico_sostituto: String,
    /// `comunicazioneAsl`: exactly 2 characters.
    pub comunicazione_asl: Option<String>,
    /// `dataInizioSostituzione`: exactly 8 characters (the format is not documented
    /// publicly; the XSD fixes only the length).
    pub data_inizio_sostituzione: String,
    /// `dataFineSostituzione`: exactly 8 characters.
    pub data_fine_sostituzione: String,
    /// `nota`.
    pub nota: Option<String>,
    /// `opzioni`.
    pub opzioni: Vec<Opzione>,
}

impl DemRequest for DichiarazioneSostituzioneMedicoRequest {
    const SERVICE: Service = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        c.required("pinCode", self.pin_code.as_str());
        if c.required("pwd", self.pwd.expose_secret()) {
            c.len_between("pwd", self.pwd.expose_secret(), 1, 16);
        }
        if c.required("cfMedicoTitolare", &self.cf_medico_titolare) {
            c.fiscal_code("cfMedicoTitolare", &self.cf_medico_titolare);
        }
        c.len_between("codRegione", &self.cod_regione, 3, 3);
        c.len_between("codASLAo", &self.cod_asl_ao, 3, 3);
        c.len_between("codSpecializzazione", &self.cod_specializzazione, 1, 1);
        if c.required("cfMedicoSostituto", &self.cf_medico_sostituto) {
            c.fiscal_code("cfMedicoSostituto", &self.cf_medico_sostituto);
            if self
                .cf_medico_sostituto
                .eq_ignore_ascii_case(&self.cf_medico_titolare)
            {
                c.report(
                    "cfMedicoSostituto",
                    Problem::Rule("deve essere diverso da cfMedicoTitolare"),
                );
            }
        }
        if let Some(v) = &self.comunicazione_asl {
            c.len_between("comunicazioneAsl", v, 2, 2);
        }
        c.len_between(
            "dataInizioSostituzione",
            &self.data_inizio_sostituzione,
            8,
            8,
        );
        c.len_between("dataFineSostituzione", &self.data_fine_sostituzione, 8, 8);
        for (i, o) in self.opzioni.iter().enumerate() {
            c.scope(Some(format!("opzioni[{}]", i + 1)));
            c.len_between("chiave", &o.chiave, 1, 300);
            c.len_between("valore", &o.valore, 1, 300);
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = Emitter::with_capacity(1200);
        e.open_with(
            P,
            SERVICE.request_root(),
            &[
                ("xmlns:sos", SERVICE.request_namespace()),
                ("xmlns:tds", TIPODATI_SOSTITUZIONE_NS),
            ],
        );
        e.leaf(P, "pinCode", self.pin_code.as_str());
        e.leaf(P, "pwd", self.pwd.expose_secret());
        e.leaf(P, "cfMedicoTitolare", &self.cf_medico_titolare);
        e.leaf(P, "codRegione", &self.cod_regione);
        e.leaf(P, "codASLAo", &self.cod_asl_ao);
        e.always(P, "codStruttura", self.cod_struttura.as_deref());
        e.leaf(P, "codSpecializzazione", &self.cod_specializzazione);
        e.leaf(P, "cfMedicoSostituto", &self.cf_medico_sostituto);
        e.opt(P, "comunicazioneAsl", self.comunicazione_asl.as_deref());
        e.leaf(P, "dataInizioSostituzione", &self.data_inizio_sostituzione);
        e.leaf(P, "dataFineSostituzione", &self.data_fine_sostituzione);
        e.opt(P, "nota", self.nota.as_deref());
        for o in &self.opzioni {
            e.open(P, "opzioni");
            e.leaf(T, "chiave", &o.chiave);
            e.leaf(T, "valore", &o.valore);
            e.close(P, "opzioni");
        }
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        let td = Ns::Strict(TIPODATI_SOSTITUZIONE_NS);
        expect_root(el, ns, SERVICE.request_root())?;
        let opzioni = children(el, ns, "opzioni")
            .map(|o| {
                Ok(Opzione {
                    chiave: req(o, td, "chiave")?,
                    valore: req(o, td, "valore")?,
                })
            })
            .collect::<Result<Vec<_>, DemError>>()?;
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            pwd: Password::new(req(el, ns, "pwd")?),
            cf_medico_titolare: req(el, ns, "cfMedicoTitolare")?,
            cod_regione: req(el, ns, "codRegione")?,
            cod_asl_ao: req(el, ns, "codASLAo")?,
            cod_struttura: opt(el, ns, "codStruttura"),
            cod_specializzazione: req(el, ns, "codSpecializzazione")?,
            cf_medico_sostituto: req(el, ns, "cfMedicoSostituto")?,
            comunicazione_asl: opt(el, ns, "comunicazioneAsl"),
            data_inizio_sostituzione: req(el, ns, "dataInizioSostituzione")?,
            data_fine_sostituzione: req(el, ns, "dataFineSostituzione")?,
            nota: opt(el, ns, "nota"),
            opzioni,
        })
    }
}

/// `DichiarazioneSostituzioneMedicoRicevuta`. Its `ElencoErrori/Errore` entries have no
/// `progPresc`; they are read into [`ErroreRicetta`] with `prog_presc: None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DichiarazioneSostituzioneMedicoReceipt {
    /// `codEsitoInserimento`.
    pub cod_esito_inserimento: String,
    /// `dataInserimento`.
    pub data_inserimento: Option<String>,
    /// `ElencoErrori`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni`.
    pub comunicazioni: Vec<Comunicazione>,
}

impl DichiarazioneSostituzioneMedicoReceipt {
    /// The receipt of a declaration that was recorded (for servers): `0000`, or `0001` with
    /// the `warnings`.
    pub fn accepted(data_inserimento: impl Into<String>, warnings: Vec<ErroreRicetta>) -> Self {
        let (cod_esito_inserimento, errori) =
            receipt::accepted_outcome(warnings, ErroreRicetta::ok());
        Self {
            cod_esito_inserimento,
            data_inserimento: Some(data_inserimento.into()),
            errori,
            comunicazioni: Vec::new(),
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(errori: Vec<ErroreRicetta>) -> Self {
        Self {
            cod_esito_inserimento: receipt::REFUSED.into(),
            errori,
            ..Self::default()
        }
    }
}

impl DemReceipt for DichiarazioneSostituzioneMedicoReceipt {
    const SERVICE: Service = SERVICE;

    receipt_accessors!(cod_esito_inserimento);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            cod_esito_inserimento: req(el, ns, "codEsitoInserimento")?,
            data_inserimento: opt(el, ns, "dataInserimento"),
            errori: receipt::read_list(el, "ElencoErrori", "Errore", ErroreRicetta::read),
            comunicazioni: receipt::read_comunicazioni(el),
        })
    }

    fn to_xml(&self) -> String {
        // No capture of this receipt exists: written like the other SAC receipts, its
        // error entries without `progPresc`.
        let mut w = ReceiptWriter::open(SERVICE, 900);
        w.leaf("codEsitoInserimento", &self.cod_esito_inserimento);
        w.opt("dataInserimento", self.data_inserimento.as_deref());
        w.list("ElencoErrori", &self.errori, |err, e, p| {
            err.write(e, p, "Errore", false);
        });
        w.comunicazioni(&self.comunicazioni);
        w.finish()
    }
}
