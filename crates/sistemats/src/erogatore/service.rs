//! The dispenser services: paths, SOAPActions, roots and namespaces (from the kit's WSDLs),
//! and the request and receipt traits.

use crate::dem::codec::{DemError, parse_payload, receipt_envelope};
use crate::dem::receipt::Comunicazione;
use crate::dem::validate::ValidationError;
use crate::dem::{DemOutcome, ErroreRicetta};
use crate::xml::Element;

/// A SAC DEM dispenser service (`/DemRicettaErogatoServicesWeb/services/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErogatoreService {
    /// View a prescription, take it in charge exclusively or release it (`demVisualizzaErogato`).
    VisualizzaErogato,
    /// Close the dispensing of a prescription (`demInvioErogato`).
    InvioErogato,
    /// Suspend the dispensing, or revoke the suspension (`demSospendiErogato`).
    SospendiErogato,
    /// Cancel a dispensing already sent (`demAnnullaErogato`).
    AnnullaErogato,
}

struct Info {
    name: &'static str,
    path: &'static str,
    soap_action: &'static str,
    request_root: &'static str,
    request_ns: &'static str,
    receipt_root: &'static str,
    receipt_ns: &'static str,
    operation_code: &'static str,
}

const VISUALIZZA: Info = Info {
    name: "VisualizzaErogato",
    path: "/DemRicettaErogatoServicesWeb/services/demVisualizzaErogato",
    soap_action: "http://visualizzaerogato.wsdl.dem.sanita.finanze.it/VisualizzaErogato",
    request_root: "VisualizzaErogatoRichiesta",
    request_ns: "http://visualizzaerogatorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "VisualizzaErogatoRicevuta",
    receipt_ns: "http://visualizzaerogatoricevuta.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoVisualizzazione",
};

const INVIO: Info = Info {
    name: "InvioErogato",
    path: "/DemRicettaErogatoServicesWeb/services/demInvioErogato",
    soap_action: "http://invioerogato.wsdl.dem.sanita.finanze.it/InvioErogato",
    request_root: "InvioErogatoRichiesta",
    request_ns: "http://invioerogatorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "InvioErogatoRicevuta",
    receipt_ns: "http://invioerogatoricevuta.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoInserimento",
};

// The WSDL's target namespace is "sospendierogato…" but its SOAPAction lives under
// "visualizzaerogato…" (PROTOCOL §8.7): the action is kept exactly as published.
const SOSPENDI: Info = Info {
    name: "SospendiErogato",
    path: "/DemRicettaErogatoServicesWeb/services/demSospendiErogato",
    soap_action: "http://visualizzaerogato.wsdl.dem.sanita.finanze.it/SospendiErogato",
    request_root: "SospendiErogatoRichiesta",
    request_ns: "http://sospendierogatorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "SospendiErogatoRicevuta",
    receipt_ns: "http://sospendierogatoricevuta.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoSospensione",
};

const ANNULLA: Info = Info {
    name: "AnnullaErogato",
    path: "/DemRicettaErogatoServicesWeb/services/demAnnullaErogato",
    soap_action: "http://annullaerogato.wsdl.dem.sanita.finanze.it/AnnullaErogato",
    request_root: "AnnullaErogatoRichiesta",
    request_ns: "http://annullaerogatorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "AnnullaErogatoRicevuta",
    receipt_ns: "http://annullaerogatoricevuta.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoAnnullamento",
};

impl ErogatoreService {
    /// All dispenser services this crate implements, in the order of the kit.
    pub const ALL: [ErogatoreService; 4] = [
        ErogatoreService::VisualizzaErogato,
        ErogatoreService::InvioErogato,
        ErogatoreService::SospendiErogato,
        ErogatoreService::AnnullaErogato,
    ];

    fn info(self) -> &'static Info {
        match self {
            Self::VisualizzaErogato => &VISUALIZZA,
            Self::InvioErogato => &INVIO,
            Self::SospendiErogato => &SOSPENDI,
            Self::AnnullaErogato => &ANNULLA,
        }
    }

    /// Operation name for logs and counters (`"VisualizzaErogato"`, …).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// HTTP path on the DEM host.
    pub fn path(self) -> &'static str {
        self.info().path
    }

    /// SOAPAction exactly as in the WSDL, without quotes (send it quoted).
    pub fn soap_action(self) -> &'static str {
        self.info().soap_action
    }

    /// Local name of the request element.
    pub fn request_root(self) -> &'static str {
        self.info().request_root
    }

    /// Namespace of the request element.
    pub fn request_namespace(self) -> &'static str {
        self.info().request_ns
    }

    /// Local name of the receipt element.
    pub fn receipt_root(self) -> &'static str {
        self.info().receipt_root
    }

    /// Namespace of the receipt element.
    pub fn receipt_namespace(self) -> &'static str {
        self.info().receipt_ns
    }

    /// Namespace of the shared types (`ErroreRicetta`, detail lines): the same `tipodati`
    /// namespace as the prescriber services, with per-service type files.
    pub fn types_namespace(self) -> &'static str {
        crate::dem::TIPODATI_NS
    }

    /// Local name of the receipt's 4-digit operation code.
    pub fn operation_code_element(self) -> &'static str {
        self.info().operation_code
    }

    /// The service served at this path. A query string and a trailing slash are ignored.
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        Self::ALL.into_iter().find(|s| s.path() == path)
    }

    /// The service with this SOAPAction header value, quoted or not.
    pub fn from_soap_action(action: &str) -> Option<Self> {
        let action = action.trim();
        let action = action
            .strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .unwrap_or(action)
            .trim();
        Self::ALL.into_iter().find(|s| s.soap_action() == action)
    }
}

impl std::fmt::Display for ErogatoreService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A request of one of the dispenser services.
pub trait ErogatoreRequest: Sized {
    /// The service this request belongs to.
    const SERVICE: ErogatoreService;

    /// Every XSD facet and specification rule this request breaks (empty when valid).
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

/// A receipt of one of the dispenser services.
pub trait ErogatoreReceipt: Sized {
    /// The service this receipt answers.
    const SERVICE: ErogatoreService;

    /// The 4-digit operation code: `0000` done, `0001` done with warnings, `9999` refused.
    fn operation_code(&self) -> &str;

    /// `ElencoErroriRicette`.
    fn errors(&self) -> &[ErroreRicetta];

    /// `ElencoComunicazioni`.
    fn comunicazioni(&self) -> &[Comunicazione];

    /// Accepted / accepted with warnings / rejected, with Italian messages.
    fn outcome(&self) -> DemOutcome {
        DemOutcome::from_parts(self.operation_code(), self.errors())
    }

    /// Whether the receipt reports `9101`: the pharmacy's ID-SESSIONE is missing or invalid.
    fn second_factor_problem(&self) -> bool {
        self.errors()
            .iter()
            .any(ErroreRicetta::is_second_factor_problem)
    }

    /// Reads the receipt from a SOAP body payload (tolerant: prefixes and namespaces may vary).
    fn from_payload(payload: &Element) -> Result<Self, DemError>;

    /// The receipt element with its namespace declarations.
    fn to_xml(&self) -> String;

    /// The whole SOAP envelope as a server writes it.
    fn to_envelope(&self) -> String {
        receipt_envelope(&self.to_xml())
    }

    /// Reads the receipt from a whole SOAP envelope; a SOAP Fault is [`DemError::Fault`].
    fn parse(bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(&parse_payload(bytes)?)
    }
}

/// Implements the accessors of [`ErogatoreReceipt`] for a receipt whose operation code is
/// the field `$code` and whose lists are the fields `errori` and `comunicazioni`.
macro_rules! receipt_accessors {
    ($code:ident) => {
        fn operation_code(&self) -> &str {
            &self.$code
        }

        fn errors(&self) -> &[ErroreRicetta] {
            &self.errori
        }

        fn comunicazioni(&self) -> &[Comunicazione] {
            &self.comunicazioni
        }
    };
}
pub(crate) use receipt_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_round_trips() {
        for s in ErogatoreService::ALL {
            assert_eq!(ErogatoreService::from_path(s.path()), Some(s));
            assert_eq!(
                ErogatoreService::from_soap_action(&format!("\"{}\"", s.soap_action())),
                Some(s)
            );
        }
        assert_eq!(
            ErogatoreService::SospendiErogato.soap_action(),
            "http://visualizzaerogato.wsdl.dem.sanita.finanze.it/SospendiErogato"
        );
        assert_eq!(ErogatoreService::from_path("/x"), None);
    }
}
