//! AnnullaErogato: cancel a dispensing already sent with InvioErogato (PROTOCOL §5.12).

use crate::dem::ErroreRicetta;
use crate::dem::codec::{DemError, Ns, expect_root, opt, req};
use crate::dem::receipt::{self, Comunicazione};
use crate::dem::validate::{Checker, ValidationError};
use crate::xml::Element;

use super::common::{REFUSED, ReceiptWriter, Testata, accepted, open_request};
use super::service::{ErogatoreReceipt, ErogatoreRequest, ErogatoreService, receipt_accessors};

const SERVICE: ErogatoreService = ErogatoreService::AnnullaErogato;
const P: &str = "ann";

/// `AnnullaErogatoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnullaErogatoRequest {
    /// The common header.
    pub testata: Testata,
    /// `codAnnullamento` ("codice annullamento erogato" in the XSD; its values are not
    /// documented in the material available, PROTOCOL §5.12 UNKNOWN). Required, non-empty.
    pub cod_annullamento: String,
}

impl AnnullaErogatoRequest {
    /// A cancellation of the dispensing of the header's NRE.
    pub fn new(testata: Testata, cod_annullamento: impl Into<String>) -> Self {
        Self {
            testata,
            cod_annullamento: cod_annullamento.into(),
        }
    }
}

impl ErogatoreRequest for AnnullaErogatoRequest {
    const SERVICE: ErogatoreService = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        self.testata.check(&mut c);
        c.required("codAnnullamento", &self.cod_annullamento);
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = open_request(SERVICE, P, None, 900);
        self.testata.write(&mut e, P);
        e.leaf(P, "codAnnullamento", &self.cod_annullamento);
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        Ok(Self {
            testata: Testata::read(el, ns)?,
            cod_annullamento: req(el, ns, "codAnnullamento")?,
        })
    }
}

/// `AnnullaErogatoRicevuta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnullaErogatoReceipt {
    /// `nre`.
    pub nre: Option<String>,
    /// `dataRicezione`.
    pub data_ricezione: Option<String>,
    /// `codAutenticazione`: certifies the cancellation.
    pub cod_autenticazione: Option<String>,
    /// `codEsitoAnnullamento`.
    pub cod_esito_annullamento: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni`.
    pub comunicazioni: Vec<Comunicazione>,
}

impl AnnullaErogatoReceipt {
    /// The receipt of a cancellation done (for servers): `0000`, or `0001` with warnings.
    pub fn accepted(
        nre: impl Into<String>,
        data_ricezione: impl Into<String>,
        cod_autenticazione: impl Into<String>,
        warnings: Vec<ErroreRicetta>,
    ) -> Self {
        let (cod_esito_annullamento, errori) = accepted(warnings);
        Self {
            nre: Some(nre.into()),
            data_ricezione: Some(data_ricezione.into()),
            cod_autenticazione: Some(cod_autenticazione.into()),
            cod_esito_annullamento,
            errori,
            comunicazioni: Vec::new(),
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(nre: impl Into<String>, errori: Vec<ErroreRicetta>) -> Self {
        Self {
            nre: Some(nre.into()).filter(|n: &String| !n.is_empty() && n.len() <= 15),
            cod_esito_annullamento: REFUSED.into(),
            errori,
            ..Self::default()
        }
    }
}

impl ErogatoreReceipt for AnnullaErogatoReceipt {
    const SERVICE: ErogatoreService = SERVICE;

    receipt_accessors!(cod_esito_annullamento);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            nre: opt(el, ns, "nre"),
            data_ricezione: opt(el, ns, "dataRicezione"),
            cod_autenticazione: opt(el, ns, "codAutenticazione"),
            cod_esito_annullamento: req(el, ns, "codEsitoAnnullamento")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 900);
        w.opt("nre", self.nre.as_deref());
        w.opt("dataRicezione", self.data_ricezione.as_deref());
        w.opt("codAutenticazione", self.cod_autenticazione.as_deref());
        w.leaf("codEsitoAnnullamento", &self.cod_esito_annullamento);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.finish()
    }
}
