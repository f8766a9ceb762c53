//! Workstations and the one rule of tsgate's access control: **who may use a code**.
//!
//! The second factor exists so that a stolen password and PIN are not enough; tsgate must not
//! undo that. Every use of a code (API, proxy, web UI) comes from a registered workstation
//! that may act for that user ([`Workstation::may_act_for`]); only a doctor's own workstation
//! ever sees a code in clear ([`Workstation::may_see_code_of`]); administration is for admin
//! workstations ([`Workstation::may_administer`]). The gateway asks these and nothing else.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::{Actor, UserId, WorkstationId};

/// What a workstation may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkstationRole {
    /// Manages users, mailboxes, workstations; reads the audit; acts only for the users it
    /// lists.
    Admin,
    /// A doctor's own workstation: may request, insert, revoke and copy the codes of the
    /// users it lists.
    Doctor,
    /// Reception: sees states, may request or insert for the users it lists, never sees a
    /// code.
    Staff,
}

impl WorkstationRole {
    /// Every role.
    pub const ALL: [WorkstationRole; 3] = [Self::Admin, Self::Doctor, Self::Staff];

    /// `admin`, `doctor`, `staff`: the name in JSON, in the database and in the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Doctor => "doctor",
            Self::Staff => "staff",
        }
    }

    /// Parses [`WorkstationRole::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for WorkstationRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered workstation (its token is never stored, only its SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workstation {
    /// UUID.
    pub id: WorkstationId,
    /// Human name ("Ambulatorio 1").
    pub name: String,
    /// Role.
    pub role: WorkstationRole,
    /// The Sistema TS users it may act for.
    pub users: Vec<UserId>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revocation time, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Workstation {
    /// Whether the workstation still works (not revoked).
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether it may act for `user`: see the state, request, insert, revoke, and have the
    /// proxy add that user's code to its calls. Not revoked, and `user` in its list.
    pub fn may_act_for(&self, user: &UserId) -> bool {
        self.is_live() && self.users.contains(user)
    }

    /// Whether it may read the code of `user` in clear ("Copia codice"): only a doctor's
    /// workstation that acts for that user. Staff and admin workstations see states only.
    pub fn may_see_code_of(&self, user: &UserId) -> bool {
        self.role == WorkstationRole::Doctor && self.may_act_for(user)
    }

    /// Whether it may manage users, mailboxes, workstations and read the audit.
    pub fn may_administer(&self) -> bool {
        self.role == WorkstationRole::Admin && self.is_live()
    }

    /// The domain's actor for this workstation (`ws:<id>`).
    pub fn actor(&self) -> Actor {
        Actor::Workstation(self.id.clone())
    }
}

/// Who is asking: an authenticated workstation and the address it connects from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated workstation.
    pub workstation: Workstation,
    /// Remote address of the connection, when known (for the log).
    pub remote: Option<IpAddr>,
}

impl Caller {
    /// The domain's actor for this caller (`ws:<id>`).
    pub fn actor(&self) -> Actor {
        self.workstation.actor()
    }
}

/// A workstation bearer token, shown once at creation. `Debug`/`Display` are masked.
#[derive(Clone)]
pub struct WorkstationToken(SecretString);

impl WorkstationToken {
    /// A new random token: `tsg_` + 43 base64url characters (256 bits).
    pub fn generate() -> Self {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Self(SecretString::from(format!("tsg_{text}")))
    }

    /// Wraps a token received from a client.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The clear token, to print once or to send.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// SHA-256 of the token: what the database keeps. A 256-bit random token needs no
    /// password hashing (nothing to brute-force).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.expose_secret().as_bytes()).into()
    }
}

impl fmt::Debug for WorkstationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkstationToken(***)")
    }
}

impl fmt::Display for WorkstationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ws(role: WorkstationRole, users: &[&str]) -> Workstation {
        Workstation {
            id: WorkstationId("w1".into()),
            name: "Ambulatorio".into(),
            role,
            users: users.iter().map(|u| UserId::new(*u).unwrap()).collect(),
            created_at: datetime!(2026-12-01 08:00 UTC),
            revoked_at: None,
        }
    }

    #[test]
    fn who_may_use_a_code() {
        let (a, b) = (UserId::new("A").unwrap(), UserId::new("B").unwrap());
        for role in WorkstationRole::ALL {
            let w = ws(role, &["A"]);
            assert!(w.may_act_for(&a), "{role}");
            assert!(!w.may_act_for(&b), "{role}");
            assert_eq!(w.may_see_code_of(&a), role == WorkstationRole::Doctor);
            assert!(!w.may_see_code_of(&b));
            assert_eq!(w.may_administer(), role == WorkstationRole::Admin);
            let mut revoked = w.clone();
            revoked.revoked_at = Some(datetime!(2026-12-02 08:00 UTC));
            assert!(!revoked.may_act_for(&a));
            assert!(!revoked.may_see_code_of(&a));
            assert!(!revoked.may_administer());
            assert_eq!(WorkstationRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(WorkstationRole::parse("root"), None);
    }

    #[test]
    fn tokens_are_masked_and_hashed() {
        let t = WorkstationToken::generate();
        assert!(t.expose_secret().starts_with("tsg_"));
        assert_eq!(t.expose_secret().len(), 47);
        assert_eq!(format!("{t:?} {t}"), "WorkstationToken(***) ***");
        assert_eq!(t.hash(), WorkstationToken::new(t.expose_secret()).hash());
        assert_ne!(t.hash(), WorkstationToken::generate().hash());
    }
}
