//! AnnullaPrescritto: cancel a prescription (PROTOCOL §5.5). Only state 3 ("da erogare")
//! can be cancelled; a substitute's prescription only by the substitute (else `1125`).

use crate::xml::Element;

use super::codec::{DemError, Ns, expect_root, opt, req};
use super::errore::ErroreRicetta;
use super::receipt::{self, Comunicazione, DemReceipt, ReceiptWriter, receipt_accessors};
use super::service::{DemRequest, Service};
use super::types::{EncryptedValue, Nre};
use super::validate::ValidationError;
use super::visualizza::{check_pin_nre_cf, read_pin_nre_cf, write_pin_nre_cf};

const SERVICE: Service = Service::AnnullaPrescritto;

/// `AnnullaPrescrittoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnullaPrescrittoRequest {
    /// `pinCode`, encrypted.
    pub pin_code: EncryptedValue,
    /// `nre`.
    pub nre: String,
    /// `cfMedico`: whoever compiled it (the substitute for a substitute's prescription).
    pub cf_medico: String,
}

impl AnnullaPrescrittoRequest {
    /// A request to cancel this NRE.
    pub fn new(pin_code: EncryptedValue, nre: &Nre, cf_medico: impl Into<String>) -> Self {
        Self {
            pin_code,
            nre: nre.as_str().to_owned(),
            cf_medico: cf_medico.into(),
        }
    }
}

impl DemRequest for AnnullaPrescrittoRequest {
    const SERVICE: Service = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        check_pin_nre_cf(self.pin_code.as_str(), &self.nre, &self.cf_medico)
    }

    fn to_xml(&self) -> String {
        write_pin_nre_cf(
            SERVICE,
            "ann",
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

/// `AnnullaPrescrittoRicevuta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnullaPrescrittoReceipt {
    /// `nre` (required by the XSD).
    pub nre: String,
    /// `codEsitoAnnullamento`: `0000` cancelled, `9999` refused.
    pub cod_esito_annullamento: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni` (`0300`).
    pub comunicazioni: Vec<Comunicazione>,
}

impl AnnullaPrescrittoReceipt {
    /// The receipt of a cancellation that went through (for servers): `0000`, or `0001`
    /// with the `warnings`.
    pub fn accepted(nre: impl Into<String>, warnings: Vec<ErroreRicetta>) -> Self {
        let (cod_esito_annullamento, errori) =
            receipt::accepted_outcome(warnings, ErroreRicetta::ok());
        Self {
            nre: nre.into(),
            cod_esito_annullamento,
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(nre: impl Into<String>, errori: Vec<ErroreRicetta>) -> Self {
        Self {
            nre: nre.into(),
            cod_esito_annullamento: receipt::REFUSED.into(),
            errori,
            comunicazioni: vec![Comunicazione::nessuna(SERVICE)],
        }
    }
}

impl DemReceipt for AnnullaPrescrittoReceipt {
    const SERVICE: Service = SERVICE;

    receipt_accessors!(cod_esito_annullamento);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            nre: opt(el, ns, "nre").unwrap_or_default(),
            cod_esito_annullamento: req(el, ns, "codEsitoAnnullamento")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 900);
        w.leaf("nre", &self.nre);
        w.leaf("codEsitoAnnullamento", &self.cod_esito_annullamento);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.finish()
    }
}
