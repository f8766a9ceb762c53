//! The service paths the proxy forwards: DEM (PROTOCOL.md §5.1 and §5.11) on the DEM host,
//! RBE, the ricetta bianca (§5.10), on its own host; nothing else.

pub use tsgate_session::Application;

/// Which Sistema TS host serves a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// `upstream_dem_base` (demservice…).
    Dem,
    /// `upstream_rbe_base` (ricettabiancaservice…).
    Rbe,
}

/// One forwarded service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemService {
    /// Short name, used as a metrics label.
    pub name: &'static str,
    /// Path on its host.
    pub path: &'static str,
    /// The application whose code it takes.
    pub application: Application,
    /// The host it is forwarded to.
    pub upstream: Upstream,
}

const fn svc(name: &'static str, path: &'static str, application: Application) -> DemService {
    DemService {
        name,
        path,
        application,
        upstream: Upstream::Dem,
    }
}

/// An RBE service: the doctor's PRESCRITTORE code, like the DEM prescriber services (which
/// `contesto`/`applicazione` RBE expects is UNKNOWN, PROTOCOL §2.7).
const fn rbe(name: &'static str, path: &'static str) -> DemService {
    DemService {
        name,
        path,
        application: Application::Prescrittore,
        upstream: Upstream::Rbe,
    }
}

/// Every service the proxy forwards.
///
/// Kept here rather than taken from `sistemats::dem` because the proxy also forwards the
/// dispenser services and ServiceAnag, which the protocol crate does not model. The RBE
/// paths are LIKELY (PROTOCOL §5.10); a test checks they match `sistemats::rbe`.
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
    rbe(
        "InvioPrescrittoRicettaBianca",
        "/RicettaBiancaDemPrescrittoServicesWeb/services/demInvioPrescrittoRicettaBianca",
    ),
    rbe(
        "VisualizzaPrescrittoRicettaBianca",
        "/RicettaBiancaDemPrescrittoServicesWeb/services/demVisualizzaPrescrittoRicettaBianca",
    ),
    rbe(
        "AnnullaPrescrittoRicettaBianca",
        "/RicettaBiancaDemPrescrittoServicesWeb/services/demAnnullaPrescrittoRicettaBianca",
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

    #[test]
    fn rbe_paths_are_the_protocol_crates_and_go_to_the_rbe_host() {
        for service in sistemats::rbe::RbeService::ALL {
            let found = find(service.path()).expect("every RBE path is forwarded");
            assert_eq!(found.name, service.name());
            assert_eq!(found.upstream, Upstream::Rbe);
            assert_eq!(found.application, Application::Prescrittore);
        }
        for service in sistemats::dem::Service::ALL {
            assert_eq!(
                find(service.path()).map(|s| s.upstream),
                Some(Upstream::Dem)
            );
        }
    }
}
