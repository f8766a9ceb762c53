//! SospendiErogato: suspend the dispensing of a prescription taken in charge, or revoke the
//! suspension (PROTOCOL §5.12).

use crate::dem::ErroreRicetta;
use crate::dem::codec::{DemError, Ns, expect_root, req};
use crate::dem::receipt::{self, Comunicazione};
use crate::dem::validate::{Checker, ValidationError};
use crate::xml::Element;

use super::common::{REFUSED, ReceiptWriter, Testata, accepted, open_request};
use super::service::{ErogatoreReceipt, ErogatoreRequest, ErogatoreService, receipt_accessors};

const SERVICE: ErogatoreService = ErogatoreService::SospendiErogato;
const P: &str = "sos";

/// `tipoOperazione` of SospendiErogato, as the XSD documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoOperazioneSospendi {
    /// `1`: start the suspension.
    InizioSospensione,
    /// `2`: revoke the suspension.
    RevocaSospensione,
}

impl TipoOperazioneSospendi {
    /// Allowed wire values.
    pub const CODES: &'static [&'static str] = &["1", "2"];

    /// The wire value.
    pub fn code(self) -> &'static str {
        match self {
            Self::InizioSospensione => "1",
            Self::RevocaSospensione => "2",
        }
    }

    /// From the wire value.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "1" => Self::InizioSospensione,
            "2" => Self::RevocaSospensione,
            _ => return None,
        })
    }
}

/// `SospendiErogatoRichiesta`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SospendiErogatoRequest {
    /// The common header.
    pub testata: Testata,
    /// `tipoOperazione` (see [`TipoOperazioneSospendi`]).
    pub tipo_operazione: String,
}

impl SospendiErogatoRequest {
    /// A request of this kind for the header's NRE.
    pub fn new(testata: Testata, tipo: TipoOperazioneSospendi) -> Self {
        Self {
            testata,
            tipo_operazione: tipo.code().to_owned(),
        }
    }

    /// The operation asked for, if the value is one the kit defines.
    pub fn tipo(&self) -> Option<TipoOperazioneSospendi> {
        TipoOperazioneSospendi::from_code(&self.tipo_operazione)
    }
}

impl ErogatoreRequest for SospendiErogatoRequest {
    const SERVICE: ErogatoreService = SERVICE;

    fn problems(&self) -> Vec<ValidationError> {
        let mut c = Checker::new();
        self.testata.check(&mut c);
        if c.required("tipoOperazione", &self.tipo_operazione) {
            c.one_of(
                "tipoOperazione",
                &self.tipo_operazione,
                TipoOperazioneSospendi::CODES,
            );
        }
        c.finish()
    }

    fn to_xml(&self) -> String {
        let mut e = open_request(SERVICE, P, None, 900);
        self.testata.write(&mut e, P);
        e.leaf(P, "tipoOperazione", &self.tipo_operazione);
        e.close(P, SERVICE.request_root());
        e.finish()
    }

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Strict(SERVICE.request_namespace());
        expect_root(el, ns, SERVICE.request_root())?;
        Ok(Self {
            testata: Testata::read(el, ns)?,
            tipo_operazione: req(el, ns, "tipoOperazione")?,
        })
    }
}

/// `SospendiErogatoRicevuta`: only the outcome (the XSD has no `nre`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SospendiErogatoReceipt {
    /// `codEsitoSospensione`.
    pub cod_esito_sospensione: String,
    /// `ElencoErroriRicette`.
    pub errori: Vec<ErroreRicetta>,
    /// `ElencoComunicazioni`.
    pub comunicazioni: Vec<Comunicazione>,
}

impl SospendiErogatoReceipt {
    /// The receipt of a suspension (or revocation) done (for servers).
    pub fn accepted(warnings: Vec<ErroreRicetta>) -> Self {
        let (cod_esito_sospensione, errori) = accepted(warnings);
        Self {
            cod_esito_sospensione,
            errori,
            comunicazioni: Vec::new(),
        }
    }

    /// A `9999` receipt carrying these errors (for servers).
    pub fn rejected(errori: Vec<ErroreRicetta>) -> Self {
        Self {
            cod_esito_sospensione: REFUSED.into(),
            errori,
            comunicazioni: Vec::new(),
        }
    }
}

impl ErogatoreReceipt for SospendiErogatoReceipt {
    const SERVICE: ErogatoreService = SERVICE;

    receipt_accessors!(cod_esito_sospensione);

    fn from_payload(el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, SERVICE.receipt_root())?;
        Ok(Self {
            cod_esito_sospensione: req(el, ns, "codEsitoSospensione")?,
            errori: receipt::read_errors(el),
            comunicazioni: receipt::read_comunicazioni(el),
        })
    }

    fn to_xml(&self) -> String {
        let mut w = ReceiptWriter::open(SERVICE, 700);
        w.leaf("codEsitoSospensione", &self.cod_esito_sospensione);
        w.errori(&self.errori);
        w.comunicazioni(&self.comunicazioni);
        w.finish()
    }
}
