//! Sistema TS users (doctors, substitutes, pharmacies) and their credentials.

use serde::{Deserialize, Serialize};
use sistemats::secret::{Password, Pin};
use time::{Date, Duration};

use crate::ids::{Application, SessionKey, UserId};
use crate::italy;

/// What the user is for Sistema TS; decides the `applicazione` of his code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A family doctor or specialist prescribing for his own patients.
    Titolare,
    /// A substitute doctor: a user of his own, with his own credentials, mailbox and code.
    Sostituto,
    /// A pharmacy (dispenser).
    Farmacia,
}

impl Role {
    /// `EROGATORE` for pharmacies, `PRESCRITTORE` for doctors.
    pub fn application(self) -> Application {
        match self {
            Self::Farmacia => Application::Erogatore,
            Self::Titolare | Self::Sostituto => Application::Prescrittore,
        }
    }

    /// The lowercase name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Titolare => "titolare",
            Self::Sostituto => "sostituto",
            Self::Farmacia => "farmacia",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "titolare" => Some(Self::Titolare),
            "sostituto" => Some(Self::Sostituto),
            "farmacia" => Some(Self::Farmacia),
            _ => None,
        }
    }
}

/// Which Sistema TS the user talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// The test environment (or the simulator): `create` returns the code in the response.
    Test,
    /// Production: the code is only e-mailed.
    Production,
}

impl Environment {
    /// `test` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Test => "test",
            Self::Production => "production",
        }
    }

    /// Parses [`Environment::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(Self::Test),
            "production" => Some(Self::Production),
            _ => None,
        }
    }
}

/// The non-secret data of a Sistema TS user, as sent in `CreateAuthReq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Sistema TS user id (Basic user, `userId`).
    pub user_id: UserId,
    /// The user's own fiscal code (`cfUtente`); for a pharmacy, the owner's.
    pub fiscal_code: String,
    /// `codRegione` (3 characters).
    pub region: String,
    /// `codAslAo` (3 characters).
    pub asl: String,
    /// `codSsa`: `000000` for doctors.
    pub ssa: String,
    /// `codSpecializzazione` used on DEM calls, if any.
    pub specialization: Option<String>,
    /// Name shown on the cards ("Dr.ssa Rossi").
    pub display_name: Option<String>,
    /// Test or production.
    pub environment: Environment,
    /// Titolare, substitute or pharmacy.
    pub role: Role,
    /// When the Sistema TS password was last changed (passwords expire every 90 days).
    pub password_changed_at: Option<Date>,
}

impl UserProfile {
    /// The key of this user's shared session.
    pub fn session_key(&self) -> SessionKey {
        SessionKey::new(self.user_id.clone(), self.role.application())
    }

    /// The day the Sistema TS password expires, if the change date is known.
    pub fn password_expires_on(&self, max_age: Duration) -> Option<Date> {
        self.password_changed_at.map(|d| d + max_age)
    }

    /// An Italian warning when the password expires within `warn_before` (or has expired).
    pub fn password_warning(
        &self,
        today: Date,
        max_age: Duration,
        warn_before: Duration,
    ) -> Option<String> {
        let expires = self.password_expires_on(max_age)?;
        if today >= expires {
            Some(format!(
                "La password di Sistema TS è scaduta il {}: cambiala sul portale Sistema TS e poi aggiornala in tsgate.",
                italy::date(expires)
            ))
        } else if today >= expires - warn_before {
            Some(format!(
                "La password di Sistema TS scade il {}: cambiala sul portale Sistema TS e poi aggiornala in tsgate.",
                italy::date(expires)
            ))
        } else {
            None
        }
    }
}

/// The first factor of a user. Every change gets a new `revision`, which lets tsgate tell
/// "the credentials Sistema TS refused" from "the credentials the doctor has since corrected".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Sistema TS password (HTTP Basic).
    pub password: Password,
    /// Sistema TS PIN (sent encrypted with SanitelCF).
    pub pin: Pin,
    /// Increases at every change of password or PIN.
    pub revision: i64,
}

/// Everything an upstream call needs: who, with which credentials, for which application.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user's non-secret data.
    pub profile: UserProfile,
    /// Password and PIN.
    pub credentials: Credentials,
    /// `PRESCRITTORE` or `EROGATORE`.
    pub application: Application,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn profile(changed: Option<Date>) -> UserProfile {
        UserProfile {
            user_id: UserId::new("PROVAX00X00X000Y").unwrap(),
            fiscal_code: "PROVAX00X00X000Y".into(),
            region: "130".into(),
            asl: "202".into(),
            ssa: "000000".into(),
            specialization: None,
            display_name: None,
            environment: Environment::Test,
            role: Role::Titolare,
            password_changed_at: changed,
        }
    }

    #[test]
    fn password_warning_from_ten_days_before_ninety() {
        let p = profile(Some(date!(2026 - 01 - 01)));
        let (age, warn) = (Duration::days(90), Duration::days(10));
        assert_eq!(p.password_expires_on(age), Some(date!(2026 - 04 - 01)));
        assert!(
            p.password_warning(date!(2026 - 03 - 21), age, warn)
                .is_none()
        );
        let w = p
            .password_warning(date!(2026 - 03 - 22), age, warn)
            .unwrap();
        assert!(w.contains("scade il 01/04/2026"), "{w}");
        let w = p
            .password_warning(date!(2026 - 04 - 01), age, warn)
            .unwrap();
        assert!(w.contains("è scaduta il 01/04/2026"), "{w}");
        assert!(
            profile(None)
                .password_warning(date!(2026 - 04 - 01), age, warn)
                .is_none()
        );
    }

    #[test]
    fn role_decides_application() {
        assert_eq!(Role::Farmacia.application(), Application::Erogatore);
        assert_eq!(Role::Sostituto.application(), Application::Prescrittore);
        let p = profile(None);
        assert_eq!(p.session_key().application, Application::Prescrittore);
    }
}
