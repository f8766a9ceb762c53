//! The SOAP operations the simulator serves: paths, SOAPActions, schemas.

use crate::schema::RequestSchema;

/// A2F request namespace (`aut`).
pub const AUT_NS: &str = "http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
/// A2F data-type namespace (`dat`).
pub const DAT_NS: &str = "http://datatype.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
/// DEM shared types namespace.
pub const TIPODATI_NS: &str = "http://tipodati.xsd.dem.sanita.finanze.it";
/// Path of the A2F service.
pub const A2F_PATH: &str = "/a2f-auth-ws/soap/v1/authentication-service";

/// One SOAP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A2F create.
    Create,
    /// A2F checkToken.
    CheckToken,
    /// A2F revoke.
    Revoke,
    /// DEM InvioPrescritto.
    InvioPrescritto,
    /// DEM VisualizzaPrescritto.
    VisualizzaPrescritto,
    /// DEM AnnullaPrescritto.
    AnnullaPrescritto,
    /// DEM InterrogaNreUtilizzati.
    InterrogaNreUtilizzati,
    /// DEM DichiarazioneSostituzioneMedico.
    DichiarazioneSostituzioneMedico,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 8] = [
        Self::Create,
        Self::CheckToken,
        Self::Revoke,
        Self::InvioPrescritto,
        Self::VisualizzaPrescritto,
        Self::AnnullaPrescritto,
        Self::InterrogaNreUtilizzati,
        Self::DichiarazioneSostituzioneMedico,
    ];

    /// Name used in `/sim/stats` and `/sim/control` (`create`, `InvioPrescritto`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::CheckToken => "checkToken",
            Self::Revoke => "revoke",
            Self::InvioPrescritto => "InvioPrescritto",
            Self::VisualizzaPrescritto => "VisualizzaPrescritto",
            Self::AnnullaPrescritto => "AnnullaPrescritto",
            Self::InterrogaNreUtilizzati => "InterrogaNreUtilizzati",
            Self::DichiarazioneSostituzioneMedico => "DichiarazioneSostituzioneMedico",
        }
    }

    /// Parses a name as used in `/sim/control` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// The SOAPAction (without quotes) from the official WSDLs.
    pub fn soap_action(self) -> &'static str {
        match self {
            Self::Create => "http://wsdl.auth.a2f.sts.sanita.finanze.it/create",
            Self::CheckToken => "http://wsdl.auth.a2f.sts.sanita.finanze.it/checkToken",
            Self::Revoke => "http://wsdl.auth.a2f.sts.sanita.finanze.it/revoke",
            Self::InvioPrescritto => {
                "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"
            }
            Self::VisualizzaPrescritto => {
                "http://visualizzaprescritto.wsdl.dem.sanita.finanze.it/VisualizzaPrescritto"
            }
            Self::AnnullaPrescritto => {
                "http://annullaprescritto.wsdl.dem.sanita.finanze.it/AnnullaPrescritto"
            }
            Self::InterrogaNreUtilizzati => {
                "http://interroganreassociati.wsdl.dem.sanita.finanze.it/InterrogaNreUtilizzati"
            }
            Self::DichiarazioneSostituzioneMedico => {
                "http://dichiarazionesostituzionemedico.wsdl.dem.sanita.finanze.it/DichiarazioneSostituzioneMedico"
            }
        }
    }

    /// The HTTP path (the three A2F operations share one).
    pub fn path(self) -> &'static str {
        match self {
            Self::Create | Self::CheckToken | Self::Revoke => A2F_PATH,
            Self::InvioPrescritto => "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
            Self::VisualizzaPrescritto => {
                "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto"
            }
            Self::AnnullaPrescritto => {
                "/DemRicettaPrescrittoServicesWeb/services/demAnnullaPrescritto"
            }
            Self::InterrogaNreUtilizzati => {
                "/DemRicettaInterrogazioniServicesWeb/services/demInterrogaNreUtilizzati"
            }
            Self::DichiarazioneSostituzioneMedico => {
                "/DemRicettaServiceMedicoWeb/services/invioDichiarazioneSostituzioneMedico"
            }
        }
    }

    /// The schema its request must satisfy.
    pub fn schema(self) -> RequestSchema {
        match self {
            Self::Create | Self::CheckToken | Self::Revoke => RequestSchema::A2f,
            Self::InvioPrescritto => RequestSchema::Invio,
            Self::VisualizzaPrescritto => RequestSchema::Visualizza,
            Self::AnnullaPrescritto => RequestSchema::Annulla,
            Self::InterrogaNreUtilizzati => RequestSchema::InterrogaNre,
            Self::DichiarazioneSostituzioneMedico => RequestSchema::Sostituzione,
        }
    }

    /// Request root element (local name) and its namespace.
    pub fn request_root(self) -> (&'static str, &'static str) {
        match self {
            Self::Create => (AUT_NS, "CreateAuthReq"),
            Self::CheckToken => (AUT_NS, "CheckTokenReq"),
            Self::Revoke => (AUT_NS, "RevokeAuthReq"),
            Self::InvioPrescritto => (
                "http://invioprescrittorichiesta.xsd.dem.sanita.finanze.it",
                "InvioPrescrittoRichiesta",
            ),
            Self::VisualizzaPrescritto => (
                "http://visualizzaprescrittorichiesta.xsd.dem.sanita.finanze.it",
                "VisualizzaPrescrittoRichiesta",
            ),
            Self::AnnullaPrescritto => (
                "http://annullaprescrittorichiesta.xsd.dem.sanita.finanze.it",
                "AnnullaPrescrittoRichiesta",
            ),
            Self::InterrogaNreUtilizzati => (
                "http://interroganreutilrichiesta.xsd.dem.sanita.finanze.it",
                "InterrogaNreUtilRichiesta",
            ),
            Self::DichiarazioneSostituzioneMedico => (
                "http://dichiarazionesostituzionemedicorichiesta.xsd.dem.sanita.finanze.it",
                "DichiarazioneSostituzioneMedicoRichiesta",
            ),
        }
    }

    /// Whether it is one of the three A2F operations.
    pub fn is_a2f(self) -> bool {
        matches!(self, Self::Create | Self::CheckToken | Self::Revoke)
    }
}
