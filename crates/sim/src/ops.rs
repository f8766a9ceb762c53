//! The SOAP operations the simulator serves. Paths, SOAPActions and request roots come from
//! the `sistemats` codecs, so the simulator and the client cannot disagree on them.

use sistemats::a2f;
use sistemats::dem::Service;
use sistemats::erogatore::ErogatoreService;
use sistemats::rbe::RbeService;

use crate::schema::RequestSchema;

/// One SOAP operation: one of the three A2F operations, one of the five DEM prescriber
/// services, one of the four DEM dispenser services or one of the three RBE (ricetta
/// bianca) services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A2F create, checkToken or revoke.
    A2f(a2f::Operation),
    /// A DEM prescriber service.
    Dem(Service),
    /// An RBE (ricetta bianca) prescriber service.
    Rbe(RbeService),
    /// A DEM dispenser (erogatore) service.
    Erogatore(ErogatoreService),
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 15] = [
        Self::A2f(a2f::Operation::Create),
        Self::A2f(a2f::Operation::CheckToken),
        Self::A2f(a2f::Operation::Revoke),
        Self::Dem(Service::InvioPrescritto),
        Self::Dem(Service::VisualizzaPrescritto),
        Self::Dem(Service::AnnullaPrescritto),
        Self::Dem(Service::InterrogaNreUtilizzati),
        Self::Dem(Service::DichiarazioneSostituzioneMedico),
        Self::Rbe(RbeService::Invio),
        Self::Rbe(RbeService::Visualizza),
        Self::Rbe(RbeService::Annulla),
        Self::Erogatore(ErogatoreService::VisualizzaErogato),
        Self::Erogatore(ErogatoreService::InvioErogato),
        Self::Erogatore(ErogatoreService::SospendiErogato),
        Self::Erogatore(ErogatoreService::AnnullaErogato),
    ];

    /// Name used in `/sim/stats` and `/sim/control` (`create`, `InvioPrescritto`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::A2f(op) => op.name(),
            Self::Dem(service) => service.name(),
            Self::Rbe(service) => service.name(),
            Self::Erogatore(service) => service.name(),
        }
    }

    /// Parses a name as used in `/sim/control` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// The SOAPAction (without quotes) from the official WSDLs (RBE: the LIKELY ones of
    /// PROTOCOL §5.10).
    pub fn soap_action(self) -> &'static str {
        match self {
            Self::A2f(op) => op.soap_action(),
            Self::Dem(service) => service.soap_action(),
            Self::Rbe(service) => service.soap_action(),
            Self::Erogatore(service) => service.soap_action(),
        }
    }

    /// The HTTP path (the three A2F operations share one).
    pub fn path(self) -> &'static str {
        match self {
            Self::A2f(_) => a2f::SERVICE_PATH,
            Self::Dem(service) => service.path(),
            Self::Rbe(service) => service.path(),
            Self::Erogatore(service) => service.path(),
        }
    }

    /// The schema its request must satisfy; `None` for the RBE services, whose XSDs are
    /// not public (their requests are parsed strictly instead).
    pub fn schema(self) -> Option<RequestSchema> {
        Some(match self {
            Self::A2f(_) => RequestSchema::A2f,
            Self::Dem(Service::InvioPrescritto) => RequestSchema::Invio,
            Self::Dem(Service::VisualizzaPrescritto) => RequestSchema::Visualizza,
            Self::Dem(Service::AnnullaPrescritto) => RequestSchema::Annulla,
            Self::Dem(Service::InterrogaNreUtilizzati) => RequestSchema::InterrogaNre,
            Self::Dem(Service::DichiarazioneSostituzioneMedico) => RequestSchema::Sostituzione,
            Self::Erogatore(ErogatoreService::VisualizzaErogato) => {
                RequestSchema::VisualizzaErogato
            }
            Self::Erogatore(ErogatoreService::InvioErogato) => RequestSchema::InvioErogato,
            Self::Erogatore(ErogatoreService::SospendiErogato) => RequestSchema::SospendiErogato,
            Self::Erogatore(ErogatoreService::AnnullaErogato) => RequestSchema::AnnullaErogato,
            Self::Rbe(_) => return None,
        })
    }

    /// Request root element: its namespace and local name.
    pub fn request_root(self) -> (&'static str, &'static str) {
        match self {
            Self::A2f(op) => (a2f::AUTH_NS, op.request_root()),
            Self::Dem(service) => (service.request_namespace(), service.request_root()),
            Self::Rbe(service) => (service.request_namespace(), service.request_root()),
            Self::Erogatore(service) => (service.request_namespace(), service.request_root()),
        }
    }
}
