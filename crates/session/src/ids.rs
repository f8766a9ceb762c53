//! Identifiers of the domain: users, applications, session keys, actors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The only `contesto` tsgate manages: dematerialised prescriptions.
pub const CONTEXT: &str = "RICETTA-DEM";

/// A Sistema TS user id (the Basic user: a fiscal code or a nickname, at most 16 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// A user id that Sistema TS would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Identificativo utente non valido: deve avere da 1 a 16 caratteri, senza spazi (es. il codice fiscale)."
)]
pub struct InvalidUserId;

impl UserId {
    /// Checks the XSD limits (`stringTypeMax16`, not empty) and that there is no whitespace.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidUserId> {
        let value = value.into();
        let len = value.chars().count();
        if len == 0 || len > 16 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidUserId);
        }
        Ok(Self(value))
    }

    /// The id as Sistema TS knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidUserId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl FromStr for UserId {
    type Err = InvalidUserId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The `applicazione` of a token: a prescriber's code is not valid for dispensing and vice versa.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Application {
    /// Doctors (titolare or substitute).
    Prescrittore,
    /// Pharmacies and other dispensers.
    Erogatore,
}

impl Application {
    /// The value sent in `applicazione`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prescrittore => "PRESCRITTORE",
            Self::Erogatore => "EROGATORE",
        }
    }
}

impl fmt::Display for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not `PRESCRITTORE` or `EROGATORE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("applicazione sconosciuta (attese PRESCRITTORE o EROGATORE)")]
pub struct UnknownApplication;

impl FromStr for Application {
    type Err = UnknownApplication;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PRESCRITTORE" => Ok(Self::Prescrittore),
            "EROGATORE" => Ok(Self::Erogatore),
            _ => Err(UnknownApplication),
        }
    }
}

/// One shared session record exists per key: (user, `RICETTA-DEM`, application).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionKey {
    /// The Sistema TS user.
    pub user: UserId,
    /// Prescriber or dispenser.
    pub application: Application,
}

impl SessionKey {
    /// A key in the `RICETTA-DEM` context.
    pub fn new(user: UserId, application: Application) -> Self {
        Self { user, application }
    }

    /// Always [`CONTEXT`]; kept as a method so that another context is an addition.
    pub fn context(&self) -> &'static str {
        CONTEXT
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.user, CONTEXT, self.application)
    }
}

/// Identifier of a registered workstation (a UUID in text form).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkstationId(pub String);

impl fmt::Display for WorkstationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who caused an event, for the audit and for "requested by".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A registered workstation (API, UI or SOAP proxy).
    Workstation(WorkstationId),
    /// The certified-mailbox watcher that found a code.
    Mailbox,
    /// The command line (`tsgate session …`), run by an operator on the server.
    Cli,
    /// tsgate itself (expiry, re-verification).
    System,
    /// An automatic request ("rinnovo automatico", see [`crate::auto`]).
    Auto,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Workstation(id) => write!(f, "ws:{id}"),
            Self::Mailbox => f.write_str("mailbox"),
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
            Self::Auto => f.write_str("auto"),
        }
    }
}

/// Not one of the forms [`Actor`]'s `Display` produces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown actor")]
pub struct UnknownActor;

impl FromStr for Actor {
    type Err = UnknownActor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mailbox" => Ok(Self::Mailbox),
            "cli" => Ok(Self::Cli),
            "system" => Ok(Self::System),
            "auto" => Ok(Self::Auto),
            _ => s
                .strip_prefix("ws:")
                .filter(|id| !id.is_empty())
                .map(|id| Self::Workstation(WorkstationId(id.to_owned())))
                .ok_or(UnknownActor),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_limits() {
        assert!(UserId::new("PROVAX00X00X000Y").is_ok());
        assert!(UserId::new("").is_err());
        assert!(UserId::new("PROVAX00X00X000YZ").is_err());
        assert!(UserId::new("A B").is_err());
    }

    #[test]
    fn actor_round_trip() {
        for a in [
            Actor::Workstation(WorkstationId("abc".into())),
            Actor::Mailbox,
            Actor::Cli,
            Actor::System,
        ] {
            assert_eq!(a.to_string().parse::<Actor>().unwrap(), a);
        }
        assert!("ws:".parse::<Actor>().is_err());
    }
}
