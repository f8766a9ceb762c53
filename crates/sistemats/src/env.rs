//! Sistema TS environments: where the A2F, DEM and RBE services live.
//!
//! Production is never reached by accident: only [`Environment::Production`] may point at the
//! production hosts, and a [`Environment::Custom`] base that names one of them is refused.

use std::fmt;

use time::Date;

use crate::a2f::service::{Application, CONTEXT_RICETTA_DEM, SERVICE_PATH};
use crate::secret::SessionCode;

/// Production A2F base URL.
pub const PRODUCTION_A2F_BASE: &str = "https://servizits.sanita.finanze.it";
/// Test ("validazione") A2F base URL.
pub const TEST_A2F_BASE: &str = "https://servizitstest.sanita.finanze.it";
/// Production DEM base URL.
pub const PRODUCTION_DEM_BASE: &str = "https://demservice.sanita.finanze.it";
/// Test DEM base URL.
pub const TEST_DEM_BASE: &str = "https://demservicetest.sanita.finanze.it";

/// Production RBE (ricetta bianca) base URL: LIKELY (one third-party client, PROTOCOL §5.10).
pub const PRODUCTION_RBE_BASE: &str = "https://ricettabiancaservice.sanita.finanze.it";
/// Test RBE base URL: LIKELY, like [`PRODUCTION_RBE_BASE`].
pub const TEST_RBE_BASE: &str = "https://ricettabiancaservicetest.sanita.finanze.it";

/// Host names that belong to production; refused in a custom environment.
pub const PRODUCTION_HOSTS: &[&str] = &[
    "servizits.sanita.finanze.it",
    "demservice.sanita.finanze.it",
    "mirservice.sanita.finanze.it",
    "ricettabiancaservice.sanita.finanze.it",
];

/// Why an environment is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A custom base URL names a production host.
    #[error(
        "l'indirizzo {0} è un server di produzione di Sistema TS: per usarlo impostare esplicitamente l'ambiente 'production'"
    )]
    ProductionHostInCustom(String),
    /// A base URL is not an absolute http(s) URL.
    #[error("indirizzo non valido '{0}': serve un URL assoluto http:// o https://")]
    InvalidUrl(String),
    /// Unknown environment name in the configuration.
    #[error("ambiente sconosciuto '{0}': usare 'test', 'production' o un indirizzo personalizzato")]
    UnknownName(String),
}

/// A Sistema TS environment.
#[derive(Clone, PartialEq, Eq)]
pub enum Environment {
    /// The public test environment (fake data; `create` returns the code in the response).
    Test,
    /// Production: real doctors, real prescriptions. Must be chosen explicitly.
    Production,
    /// Another server with the same paths (the tsgate simulator, a recording proxy).
    ///
    /// Build it with [`Environment::custom`], which refuses production hosts.
    Custom {
        /// Base URL of the A2F service (scheme, host, optional port; no path).
        a2f_base: String,
        /// Base URL of the DEM services.
        dem_base: String,
        /// Base URL of the RBE services; `None`: the DEM base (one server serves both, as
        /// the simulator does).
        rbe_base: Option<String>,
    },
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Test => f.write_str("Test"),
            Environment::Production => f.write_str("Production"),
            Environment::Custom {
                a2f_base,
                dem_base,
                rbe_base,
            } => f
                .debug_struct("Custom")
                .field("a2f_base", a2f_base)
                .field("dem_base", dem_base)
                .field("rbe_base", rbe_base)
                .finish(),
        }
    }
}

impl Environment {
    /// A custom environment; refuses malformed URLs and production hosts.
    pub fn custom(
        a2f_base: impl Into<String>,
        dem_base: impl Into<String>,
    ) -> Result<Self, EnvError> {
        let env = Environment::Custom {
            a2f_base: a2f_base.into().trim_end_matches('/').to_owned(),
            dem_base: dem_base.into().trim_end_matches('/').to_owned(),
            rbe_base: None,
        };
        env.validate()?;
        Ok(env)
    }

    /// This custom environment with the RBE services at `rbe_base` rather than at the DEM
    /// base; refuses malformed URLs and production hosts. Test and production keep their
    /// own RBE hosts (`self` is returned unchanged).
    pub fn with_rbe_base(self, rbe_base: impl Into<String>) -> Result<Self, EnvError> {
        let env = match self {
            Environment::Custom {
                a2f_base, dem_base, ..
            } => Environment::Custom {
                a2f_base,
                dem_base,
                rbe_base: Some(rbe_base.into().trim_end_matches('/').to_owned()),
            },
            other => other,
        };
        env.validate()?;
        Ok(env)
    }

    /// `test` / `production` (also `prod`, `validazione`), case-insensitive.
    pub fn from_name(name: &str) -> Result<Self, EnvError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "test" | "validazione" => Ok(Environment::Test),
            "production" | "prod" | "produzione" => Ok(Environment::Production),
            _ => Err(EnvError::UnknownName(name.to_owned())),
        }
    }

    /// Checks a custom environment again (its fields are public, so it may have been built
    /// without [`Environment::custom`]). The client calls this before every use.
    pub fn validate(&self) -> Result<(), EnvError> {
        if let Environment::Custom {
            a2f_base,
            dem_base,
            rbe_base,
        } = self
        {
            for base in [a2f_base, dem_base].into_iter().chain(rbe_base) {
                let url =
                    reqwest::Url::parse(base).map_err(|_| EnvError::InvalidUrl(base.clone()))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(EnvError::InvalidUrl(base.clone()));
                }
                let host = url
                    .host_str()
                    .ok_or_else(|| EnvError::InvalidUrl(base.clone()))?
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                if PRODUCTION_HOSTS.contains(&host.as_str()) {
                    return Err(EnvError::ProductionHostInCustom(base.clone()));
                }
            }
        }
        Ok(())
    }

    /// Whether this is production.
    pub fn is_production(&self) -> bool {
        matches!(self, Environment::Production)
    }

    /// Whether this is the official test environment.
    pub fn is_test(&self) -> bool {
        matches!(self, Environment::Test)
    }

    /// Base URL of the A2F service, without trailing slash.
    pub fn a2f_base(&self) -> &str {
        match self {
            Environment::Test => TEST_A2F_BASE,
            Environment::Production => PRODUCTION_A2F_BASE,
            Environment::Custom { a2f_base, .. } => a2f_base.trim_end_matches('/'),
        }
    }

    /// Base URL of the DEM services, without trailing slash.
    pub fn dem_base(&self) -> &str {
        match self {
            Environment::Test => TEST_DEM_BASE,
            Environment::Production => PRODUCTION_DEM_BASE,
            Environment::Custom { dem_base, .. } => dem_base.trim_end_matches('/'),
        }
    }

    /// Base URL of the RBE (ricetta bianca) services, without trailing slash.
    pub fn rbe_base(&self) -> &str {
        match self {
            Environment::Test => TEST_RBE_BASE,
            Environment::Production => PRODUCTION_RBE_BASE,
            Environment::Custom {
                rbe_base, dem_base, ..
            } => rbe_base
                .as_deref()
                .unwrap_or(dem_base)
                .trim_end_matches('/'),
        }
    }

    /// Full URL of an RBE service path (`/RicettaBiancaDemPrescrittoServicesWeb/services/…`).
    pub fn rbe_url(&self, service_path: &str) -> String {
        let path = service_path.trim_start_matches('/');
        format!("{}/{}", self.rbe_base(), path)
    }

    /// Full URL of the A2F authentication service.
    pub fn a2f_url(&self) -> String {
        format!("{}{}", self.a2f_base(), SERVICE_PATH)
    }

    /// Full URL of a DEM service path (`/DemRicettaPrescrittoServicesWeb/services/…`).
    pub fn dem_url(&self, service_path: &str) -> String {
        let path = service_path.trim_start_matches('/');
        format!("{}/{}", self.dem_base(), path)
    }
}

/// The test environment's monthly wildcard ID-SESSIONE:
/// `<USER>-<yyyy>-<MM>-RICETTA-DEM[-<APPLICAZIONE>]`.
///
/// Accepted only by the DEM services of the test environment (it is not 36 characters, so
/// the A2F service cannot check or revoke it). `month` is the current month in Italy.
pub fn test_wildcard(user_id: &str, month: Date, application: Application) -> SessionCode {
    let mut value = format!(
        "{}-{:04}-{:02}-{}",
        user_id,
        month.year(),
        u8::from(month.month()),
        CONTEXT_RICETTA_DEM
    );
    if !application.as_str().is_empty() {
        value.push('-');
        value.push_str(application.as_str());
    }
    SessionCode::new(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_urls() {
        assert_eq!(
            Environment::Test.a2f_url(),
            "https://servizitstest.sanita.finanze.it/a2f-auth-ws/soap/v1/authentication-service"
        );
        assert_eq!(
            Environment::Production
                .dem_url("/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto"),
            "https://demservice.sanita.finanze.it/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto"
        );
        let sim = Environment::custom("http://127.0.0.1:8080/", "http://127.0.0.1:8080").unwrap();
        assert_eq!(
            sim.a2f_url(),
            "http://127.0.0.1:8080/a2f-auth-ws/soap/v1/authentication-service"
        );
        assert!(!sim.is_production());
    }

    #[test]
    fn production_hosts_refused_in_custom() {
        for base in [
            "https://servizits.sanita.finanze.it",
            "https://DEMSERVICE.sanita.finanze.it.:443/",
        ] {
            assert!(matches!(
                Environment::custom(base, "http://localhost:1"),
                Err(EnvError::ProductionHostInCustom(_))
            ));
        }
        let forged = Environment::Custom {
            a2f_base: "http://localhost".into(),
            dem_base: "https://demservice.sanita.finanze.it".into(),
            rbe_base: None,
        };
        assert!(forged.validate().is_err());
        let sim = Environment::custom("http://127.0.0.1:1", "http://127.0.0.1:1").unwrap();
        assert_eq!(sim.rbe_base(), "http://127.0.0.1:1");
        assert!(matches!(
            sim.clone()
                .with_rbe_base("https://ricettabiancaservice.sanita.finanze.it/"),
            Err(EnvError::ProductionHostInCustom(_))
        ));
        let split = sim.with_rbe_base("http://127.0.0.1:2/").unwrap();
        assert_eq!(
            split.rbe_url(
                "/RicettaBiancaDemPrescrittoServicesWeb/services/demInvioPrescrittoRicettaBianca"
            ),
            "http://127.0.0.1:2/RicettaBiancaDemPrescrittoServicesWeb/services/demInvioPrescrittoRicettaBianca"
        );
        assert_eq!(Environment::Test.rbe_base(), TEST_RBE_BASE);
        assert_eq!(Environment::Production.rbe_base(), PRODUCTION_RBE_BASE);
        assert!(Environment::custom("ftp://x", "http://y").is_err());
        assert!(Environment::custom("not a url", "http://y").is_err());
        assert!(
            Environment::custom("https://servizitstest.sanita.finanze.it", TEST_DEM_BASE).is_ok()
        );
    }

    #[test]
    fn names() {
        assert_eq!(Environment::from_name("TEST").unwrap(), Environment::Test);
        assert_eq!(
            Environment::from_name("production").unwrap(),
            Environment::Production
        );
        assert!(Environment::from_name("prod2").is_err());
    }

    #[test]
    fn wildcard() {
        let month = time::macros::date!(2026 - 03 - 15);
        let code = test_wildcard("PROVAX00X00X000Y", month, Application::Prescriber);
        assert_eq!(
            code.expose_secret(),
            "PROVAX00X00X000Y-2026-03-RICETTA-DEM-PRESCRITTORE"
        );
        let code = test_wildcard("UV386Q5B", month, Application::None);
        assert_eq!(code.expose_secret(), "UV386Q5B-2026-03-RICETTA-DEM");
    }
}
