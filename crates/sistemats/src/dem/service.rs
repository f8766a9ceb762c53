//! The five prescriber services: paths, SOAPActions, roots and namespaces, for routing.

use crate::xml::Element;

use super::codec::{DemError, parse_payload};
use super::validate::ValidationError;

/// Namespace of the shared DEM types (`TipiDati.xsd` and `TipiDatiInterrogaNreUtilizzati.xsd`).
pub const TIPODATI_NS: &str = "http://tipodati.xsd.dem.sanita.finanze.it";
/// Namespace of the types of DichiarazioneSostituzioneMedico.
pub const TIPODATI_SOSTITUZIONE_NS: &str =
    "http://tipodatidichiarazionesostituzionemedico.xsd.dem.sanita.finanze.it";

/// A SAC DEM prescriber service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Send a new prescription (`demInvioPrescritto`).
    InvioPrescritto,
    /// Read a prescription back (`demVisualizzaPrescritto`).
    VisualizzaPrescritto,
    /// Cancel a prescription (`demAnnullaPrescritto`).
    AnnullaPrescritto,
    /// List the NREs used by a doctor (`demInterrogaNreUtilizzati`).
    InterrogaNreUtilizzati,
    /// Declare a substitution (`invioDichiarazioneSostituzioneMedico`).
    DichiarazioneSostituzioneMedico,
}

struct Info {
    name: &'static str,
    path: &'static str,
    soap_action: &'static str,
    request_root: &'static str,
    request_ns: &'static str,
    receipt_root: &'static str,
    receipt_ns: &'static str,
    types_ns: &'static str,
    operation_code: &'static str,
    no_communication_code: &'static str,
}

const INVIO: Info = Info {
    name: "InvioPrescritto",
    path: "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
    soap_action: "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto",
    request_root: "InvioPrescrittoRichiesta",
    request_ns: "http://invioprescrittorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "InvioPrescrittoRicevuta",
    receipt_ns: "http://invioprescrittoricevuta.xsd.dem.sanita.finanze.it",
    types_ns: TIPODATI_NS,
    operation_code: "codEsitoInserimento",
    no_communication_code: "0100",
};

const VISUALIZZA: Info = Info {
    name: "VisualizzaPrescritto",
    path: "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto",
    soap_action: "http://visualizzaprescritto.wsdl.dem.sanita.finanze.it/VisualizzaPrescritto",
    request_root: "VisualizzaPrescrittoRichiesta",
    request_ns: "http://visualizzaprescrittorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "VisualizzaPrescrittoRicevuta",
    receipt_ns: "http://visualizzaprescrittoricevuta.xsd.dem.sanita.finanze.it",
    types_ns: TIPODATI_NS,
    operation_code: "codEsitoVisualizzazione",
    no_communication_code: "0200",
};

const ANNULLA: Info = Info {
    name: "AnnullaPrescritto",
    path: "/DemRicettaPrescrittoServicesWeb/services/demAnnullaPrescritto",
    soap_action: "http://annullaprescritto.wsdl.dem.sanita.finanze.it/AnnullaPrescritto",
    request_root: "AnnullaPrescrittoRichiesta",
    request_ns: "http://annullaprescrittorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "AnnullaPrescrittoRicevuta",
    receipt_ns: "http://annullaprescrittoricevuta.xsd.dem.sanita.finanze.it",
    types_ns: TIPODATI_NS,
    operation_code: "codEsitoAnnullamento",
    no_communication_code: "0300",
};

// The WSDL's SOAPAction says "interroganreassociati" although its target namespace is
// "…interroganreutilizzati…" (PROTOCOL §8.6): the action is kept exactly as published.
const INTERROGA: Info = Info {
    name: "InterrogaNreUtilizzati",
    path: "/DemRicettaInterrogazioniServicesWeb/services/demInterrogaNreUtilizzati",
    soap_action: "http://interroganreassociati.wsdl.dem.sanita.finanze.it/InterrogaNreUtilizzati",
    request_root: "InterrogaNreUtilRichiesta",
    request_ns: "http://interroganreutilrichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "InterrogaNreUtilRicevuta",
    receipt_ns: "http://interroganreutilricevuta.xsd.dem.sanita.finanze.it",
    types_ns: TIPODATI_NS,
    operation_code: "codEsitoInterrogaNreUtilizzati",
    no_communication_code: "0400",
};

// Path from a third-party catalogue (the WSDL address is a localhost placeholder):
// LIKELY, PROTOCOL §5.1. The "no communication" code is not documented; "0500" is ours.
const SOSTITUZIONE: Info = Info {
    name: "DichiarazioneSostituzioneMedico",
    path: "/DemRicettaServiceMedicoWeb/services/invioDichiarazioneSostituzioneMedico",
    soap_action: "http://dichiarazionesostituzionemedico.wsdl.dem.sanita.finanze.it/DichiarazioneSostituzioneMedico",
    request_root: "DichiarazioneSostituzioneMedicoRichiesta",
    request_ns: "http://dichiarazionesostituzionemedicorichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "DichiarazioneSostituzioneMedicoRicevuta",
    receipt_ns: "http://dichiarazionesostituzionemedicoricevuta.xsd.dem.sanita.finanze.it",
    types_ns: TIPODATI_SOSTITUZIONE_NS,
    operation_code: "codEsitoInserimento",
    no_communication_code: "0500",
};

impl Service {
    /// All services, in the order of the specification.
    pub const ALL: [Service; 5] = [
        Service::InvioPrescritto,
        Service::VisualizzaPrescritto,
        Service::AnnullaPrescritto,
        Service::InterrogaNreUtilizzati,
        Service::DichiarazioneSostituzioneMedico,
    ];

    fn info(self) -> &'static Info {
        match self {
            Service::InvioPrescritto => &INVIO,
            Service::VisualizzaPrescritto => &VISUALIZZA,
            Service::AnnullaPrescritto => &ANNULLA,
            Service::InterrogaNreUtilizzati => &INTERROGA,
            Service::DichiarazioneSostituzioneMedico => &SOSTITUZIONE,
        }
    }

    /// Operation name for logs and counters (`"InvioPrescritto"`, …).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// HTTP path on the DEM host (`/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto`).
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

    /// Namespace of the shared types (`ErroreRicetta`, `DettaglioPrescrizione`, …).
    pub fn types_namespace(self) -> &'static str {
        self.info().types_ns
    }

    /// Local name of the receipt's 4-digit operation code (`codEsitoInserimento`, …).
    pub fn operation_code_element(self) -> &'static str {
        self.info().operation_code
    }

    /// Code of the "Nessuna comunicazione." communication the service returns
    /// (`0100` invio, `0200` visualizza, `0300` annulla, `0400` interroga).
    pub fn no_communication_code(self) -> &'static str {
        self.info().no_communication_code
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

    /// The service whose request or receipt root has this local name.
    pub fn from_root(local_name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.request_root() == local_name || s.receipt_root() == local_name)
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A request of one of the DEM services.
pub trait DemRequest: Sized {
    /// The service this request belongs to.
    const SERVICE: Service;

    /// Every XSD facet and specification rule this request breaks (empty when valid).
    fn problems(&self) -> Vec<ValidationError>;

    /// Checks the request before it is sent; the error names the first wrong field.
    fn validate(&self) -> Result<(), ValidationError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// The request element alone, with its own namespace declarations (valid on its own
    /// against the request XSD).
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
