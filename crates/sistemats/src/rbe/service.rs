//! The three RBE prescriber services: paths, SOAPActions, roots and namespaces.
//!
//! No official RBE kit (WSDL/XSD) was found (docs/PROTOCOL.md §5.10): every value here
//! comes from one third-party client and is **LIKELY**, except where marked **UNKNOWN**
//! (then it is an analogy with the DEM services, chosen so that the simulator has
//! something to answer with). The SOAPAction a caller sends is its own choice:
//! [`RbeService::soap_action`] is only the default, and
//! [`crate::client::SistemaTsClient::call_rbe`] takes whatever action it is given.

/// A ricetta bianca elettronica (RBE) prescriber service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RbeService {
    /// Send a new class-C prescription and get its NRBE (`demInvioPrescrittoRicettaBianca`).
    Invio,
    /// Read a prescription back (`demVisualizzaPrescrittoRicettaBianca`).
    Visualizza,
    /// Cancel a prescription (`demAnnullaPrescrittoRicettaBianca`).
    Annulla,
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
}

// Path, SOAPAction, roots and namespaces: LIKELY (one third-party client, PROTOCOL §5.10).
const INVIO: Info = Info {
    name: "InvioPrescrittoRicettaBianca",
    path: "/RicettaBiancaDemPrescrittoServicesWeb/services/demInvioPrescrittoRicettaBianca",
    soap_action: "http://invioprescrittoricettabianca.wsdl.dem.sanita.finanze.it/InvioPrescrittoRicettaBianca",
    request_root: "InvioPrescrittoRicettaBiancaRichiesta",
    request_ns: "http://invioprescrittoricettabiancarichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "InvioPrescrittoRicettaBiancaRicevuta",
    receipt_ns: "http://invioprescrittoricettabiancaricevuta.xsd.dem.sanita.finanze.it",
    types_ns: "http://tipodatiinvioprescrittoricettabianca.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoInserimento",
};

// LIKELY, like Invio.
const VISUALIZZA: Info = Info {
    name: "VisualizzaPrescrittoRicettaBianca",
    path: "/RicettaBiancaDemPrescrittoServicesWeb/services/demVisualizzaPrescrittoRicettaBianca",
    soap_action: "http://visualizzaprescrittoricettabianca.wsdl.dem.sanita.finanze.it/VisualizzaPrescrittoRicettaBianca",
    request_root: "VisualizzaPrescrittoRicettaBiancaRichiesta",
    request_ns: "http://visualizzaprescrittoricettabiancarichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "VisualizzaPrescrittoRicettaBiancaRicevuta",
    receipt_ns: "http://visualizzaprescrittoricettabiancaricevuta.xsd.dem.sanita.finanze.it",
    types_ns: "http://tipodativisualizzaprescrittoricettabianca.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoVisualizzazione",
};

// Path, SOAPAction, request root and namespace: LIKELY (the same client). Receipt root and
// namespace, types namespace and the operation code element: UNKNOWN, by analogy with
// Invio/Visualizza and with the DEM AnnullaPrescrittoRicevuta.
const ANNULLA: Info = Info {
    name: "AnnullaPrescrittoRicettaBianca",
    path: "/RicettaBiancaDemPrescrittoServicesWeb/services/demAnnullaPrescrittoRicettaBianca",
    soap_action: "http://annullaprescrittoricettabianca.wsdl.dem.sanita.finanze.it/AnnullaPrescrittoRicettaBianca",
    request_root: "AnnullaPrescrittoRicettaBiancaRichiesta",
    request_ns: "http://annullaprescrittoricettabiancarichiesta.xsd.dem.sanita.finanze.it",
    receipt_root: "AnnullaPrescrittoRicettaBiancaRicevuta",
    receipt_ns: "http://annullaprescrittoricettabiancaricevuta.xsd.dem.sanita.finanze.it",
    types_ns: "http://tipodatiannullaprescrittoricettabianca.xsd.dem.sanita.finanze.it",
    operation_code: "codEsitoAnnullamento",
};

impl RbeService {
    /// All services: invio, visualizza, annulla.
    pub const ALL: [RbeService; 3] = [
        RbeService::Invio,
        RbeService::Visualizza,
        RbeService::Annulla,
    ];

    fn info(self) -> &'static Info {
        match self {
            RbeService::Invio => &INVIO,
            RbeService::Visualizza => &VISUALIZZA,
            RbeService::Annulla => &ANNULLA,
        }
    }

    /// Operation name for logs and counters (`"InvioPrescrittoRicettaBianca"`, …).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// HTTP path on the RBE host.
    pub fn path(self) -> &'static str {
        self.info().path
    }

    /// The default SOAPAction, without quotes (LIKELY; see the module documentation).
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

    /// Namespace of the service's types (detail lines, errors, communications).
    pub fn types_namespace(self) -> &'static str {
        self.info().types_ns
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

    /// The service whose default SOAPAction is this header value, quoted or not.
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

impl std::fmt::Display for RbeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
