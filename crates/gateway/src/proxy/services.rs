//! The DEM service paths the proxy forwards (PROTOCOL.md §5.1 and §5.11); nothing else.

pub use tsgate_session::Application;

/// One forwarded DEM service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemService {
    /// Short name, used as a metrics label.
    pub name: &'static str,
    /// Path on the DEM host.
    pub path: &'static str,
    /// The application whose code it takes.
    pub application: Application,
}

const fn svc(name: &'static str, path: &'static str, application: Application) -> DemService {
    DemService {
        name,
        path,
        application,
    }
}

/// Every service the proxy forwards.
///
/// Kept here rather than taken from `sistemats::dem` because the proxy also forwards the
/// dispenser services and ServiceAnag, which the protocol crate does not model.
pub const SERVICES: &[DemService] = &[
    svc(
        "InvioPrescritto",
        "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto",
        Application::Prescrittore,
    ),
    svc(
        "VisualizzaPrescritto",
        "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto",
        Application::Prescrittore,
    ),
    svc(
        "AnnullaPrescritto",
        "/DemRicettaPrescrittoServicesWeb/services/demAnnullaPrescritto",
        Application::Prescrittore,
    ),
    svc(
        "InterrogaNreUtilizzati",
        "/DemRicettaInterrogazioniServicesWeb/services/demInterrogaNreUtilizzati",
        Application::Prescrittore,
    ),
    svc(
        "DichiarazioneSostituzioneMedico",
        "/DemRicettaServiceMedicoWeb/services/invioDichiarazioneSostituzioneMedico",
        Application::Prescrittore,
    ),
    svc(
        "ServiceAnag",
        "/DemRicettaServiceAnagServicesWeb/services/demServiceAnag",
        Application::Prescrittore,
    ),
    svc(
        "VisualizzaErogato",
        "/DemRicettaErogatoServicesWeb/services/demVisualizzaErogato",
        Application::Erogatore,
    ),
    svc(
        "InvioErogato",
        "/DemRicettaErogatoServicesWeb/services/demInvioErogato",
        Application::Erogatore,
    ),
    svc(
        "SospendiErogato",
        "/DemRicettaErogatoServicesWeb/services/demSospendiErogato",
        Application::Erogatore,
    ),
    svc(
        "AnnullaErogato",
        "/DemRicettaErogatoServicesWeb/services/demAnnullaErogato",
        Application::Erogatore,
    ),
];

/// The service at exactly `path` (case-sensitive, as Sistema TS is).
pub fn find(path: &str) -> Option<&'static DemService> {
    SERVICES.iter().find(|s| s.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_paths_only() {
        assert_eq!(
            find("/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto").map(|s| s.name),
            Some("InvioPrescritto")
        );
        assert!(find("/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto/").is_none());
        assert!(find("/a2f-auth-ws/soap/v1/authentication-service").is_none());
        assert!(find("/DemRicettaPrescrittoServicesWeb/services/../../etc/passwd").is_none());
        assert_eq!(
            find("/DemRicettaErogatoServicesWeb/services/demInvioErogato").map(|s| s.application),
            Some(Application::Erogatore)
        );
    }
}
