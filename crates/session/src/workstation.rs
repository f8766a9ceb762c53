//! Workstations and the one rule of tsgate's access control: **who may use a code**.
//!
//! The second factor exists so that a stolen password and PIN are not enough; tsgate must not
//! undo that. Every use of a code (API, proxy, web UI) comes from a registered workstation
//! that may act for that user ([`Workstation::acts_for`]); only a doctor's own workstation
//! or a vendor's backend ever sees a code in clear ([`Workstation::sees_code_of`]);
//! administration is for admin workstations within their practice and for the vendor
//! ([`Workstation::admin_scope`]). The gateway asks these and nothing else.
//!
//! Whom a workstation acts for ([`Reach`]) is either the short list it names (a doctor's PC,
//! reception) or, for a vendor's backend, every member of its practice (or of every
//! practice) without listing them: deciding costs one indexed membership lookup whatever the
//! number of doctors.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::{Actor, UserId, WorkstationId};
use crate::ports::{PracticeRepo, StoreResult};
use crate::practice::PracticeId;

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
    /// A practice-software vendor's server acting for every doctor of its practice (or of
    /// every practice when it has none), without listing them: what a doctor's workstation
    /// may do, codes included.
    Backend,
    /// The vendor's provisioning: creates practices, doctors and workstations in any
    /// practice, reads health and counts; never acts for a doctor, never sees a code.
    Vendor,
}

impl WorkstationRole {
    /// Every role.
    pub const ALL: [WorkstationRole; 5] = [
        Self::Admin,
        Self::Doctor,
        Self::Staff,
        Self::Backend,
        Self::Vendor,
    ];

    /// `admin`, `doctor`, `staff`, `backend`, `vendor`: the name in JSON, in the database
    /// and in the audit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Doctor => "doctor",
            Self::Staff => "staff",
            Self::Backend => "backend",
            Self::Vendor => "vendor",
        }
    }

    /// Whether this role names the users it acts for (admin, doctor, staff); a backend reaches
    /// its practices' members and a vendor nobody.
    pub fn lists_users(self) -> bool {
        matches!(self, Self::Admin | Self::Doctor | Self::Staff)
    }

    /// Whether a workstation of this role belongs to one practice. A vendor never does; a
    /// backend may (one practice) or may not (every practice); the others always do.
    pub fn practice_rule(self) -> PracticeRule {
        match self {
            Self::Admin | Self::Doctor | Self::Staff => PracticeRule::Required,
            Self::Backend => PracticeRule::Optional,
            Self::Vendor => PracticeRule::Forbidden,
        }
    }

    /// Parses [`WorkstationRole::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Whether a role's workstation belongs to a practice ([`WorkstationRole::practice_rule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PracticeRule {
    /// It always does.
    Required,
    /// With one: that practice; without: every practice.
    Optional,
    /// It never does (installation-wide).
    Forbidden,
}

/// Whom a workstation acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach<'a> {
    /// The users it lists (sorted).
    Listed(&'a [UserId]),
    /// Every member of this practice.
    Practice(&'a PracticeId),
    /// Every user of the installation.
    Everyone,
    /// Nobody (a vendor's provisioning, a revoked workstation).
    Nobody,
}

/// What a workstation may administer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminScope<'a> {
    /// Its own practice only.
    Practice(&'a PracticeId),
    /// Every practice (the vendor).
    Installation,
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
    /// The practice it belongs to (`None`: installation-wide, see
    /// [`WorkstationRole::practice_rule`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<PracticeId>,
    /// The Sistema TS users it may act for, sorted (roles that list them; empty otherwise).
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

    /// Whom it acts for, without asking the store.
    pub fn reach(&self) -> Reach<'_> {
        if !self.is_live() {
            return Reach::Nobody;
        }
        match (self.role, &self.practice) {
            (WorkstationRole::Vendor, _) => Reach::Nobody,
            (WorkstationRole::Backend, Some(practice)) => Reach::Practice(practice),
            (WorkstationRole::Backend, None) => Reach::Everyone,
            _ => Reach::Listed(&self.users),
        }
    }

    /// Whether it may act for `user`: see the state, request, insert, revoke, and have the
    /// proxy add that user's code to its calls. Not revoked, and `user` in its list or a
    /// member of its practice. Costs one indexed lookup at most, whatever the number of
    /// doctors.
    pub async fn acts_for(&self, user: &UserId, members: &dyn PracticeRepo) -> StoreResult<bool> {
        match self.reach() {
            Reach::Listed(users) => Ok(lists(users, user)),
            Reach::Practice(practice) => members.is_member(practice, user).await,
            Reach::Everyone => Ok(true),
            Reach::Nobody => Ok(false),
        }
    }

    /// Whether it may act for `user` when that is decided by its own list alone
    /// (`None`: the store must be asked, see [`Workstation::acts_for`]).
    pub fn acts_for_listed(&self, user: &UserId) -> Option<bool> {
        match self.reach() {
            Reach::Listed(users) => Some(lists(users, user)),
            Reach::Nobody => Some(false),
            Reach::Practice(_) | Reach::Everyone => None,
        }
    }

    /// Whether its role may read codes in clear ("Copia codice"): a doctor's workstation or a
    /// vendor's backend, for the users it acts for. Staff, admin and vendor see states only.
    pub fn role_sees_codes(&self) -> bool {
        matches!(
            self.role,
            WorkstationRole::Doctor | WorkstationRole::Backend
        )
    }

    /// Whether it may read the code of `user` in clear: [`Workstation::role_sees_codes`] and
    /// [`Workstation::acts_for`].
    pub async fn sees_code_of(
        &self,
        user: &UserId,
        members: &dyn PracticeRepo,
    ) -> StoreResult<bool> {
        Ok(self.role_sees_codes() && self.acts_for(user, members).await?)
    }

    /// What it may administer: an admin workstation its practice, the vendor every practice.
    pub fn admin_scope(&self) -> Option<AdminScope<'_>> {
        if !self.is_live() {
            return None;
        }
        match (self.role, &self.practice) {
            (WorkstationRole::Admin, Some(practice)) => Some(AdminScope::Practice(practice)),
            (WorkstationRole::Vendor, _) => Some(AdminScope::Installation),
            _ => None,
        }
    }

    /// Whether it may manage users, mailboxes, workstations and read the audit (of its
    /// practice, or of all for the vendor).
    pub fn may_administer(&self) -> bool {
        self.admin_scope().is_some()
    }

    /// The domain's actor for this workstation (`ws:<id>`).
    pub fn actor(&self) -> Actor {
        Actor::Workstation(self.id.clone())
    }
}

/// Whether the list `users` holds `user`. Stores return lists sorted (a binary search); a
/// short list built by hand may not be, so those are scanned.
fn lists(users: &[UserId], user: &UserId) -> bool {
    if users.len() <= 16 {
        users.contains(user)
    } else {
        users.binary_search(user).is_ok()
    }
}

/// A workstation to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkstationSpec {
    /// Human name.
    pub name: String,
    /// Role.
    pub role: WorkstationRole,
    /// Its practice (see [`WorkstationRole::practice_rule`]).
    pub practice: Option<PracticeId>,
    /// The users it acts for (roles that list them).
    pub users: Vec<UserId>,
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

    fn ws(role: WorkstationRole, practice: Option<&str>, users: &[&str]) -> Workstation {
        Workstation {
            id: WorkstationId("w1".into()),
            name: "Ambulatorio".into(),
            role,
            practice: practice.map(|p| PracticeId::new(p).unwrap()),
            users: users.iter().map(|u| UserId::new(*u).unwrap()).collect(),
            created_at: datetime!(2026-12-01 08:00 UTC),
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn who_may_use_a_code() {
        use crate::ports::PracticeRepo as _;
        let members = crate::MemoryStore::new();
        let (a, b, c) = (
            UserId::new("A").unwrap(),
            UserId::new("B").unwrap(),
            UserId::new("C").unwrap(),
        );
        let p1 = PracticeId::new("p1").unwrap();
        members.add_member_unchecked(&p1, &a);
        members.add_member_unchecked(&p1, &c);
        for role in WorkstationRole::ALL {
            let w = ws(role, Some("p1"), &["A"]);
            let listed = role.lists_users();
            let backend = role == WorkstationRole::Backend;
            assert_eq!(
                w.acts_for(&a, &members).await.unwrap(),
                listed || backend,
                "{role}"
            );
            assert!(!w.acts_for(&b, &members).await.unwrap(), "{role}");
            // A backend reaches every member of its practice without listing them.
            assert_eq!(w.acts_for(&c, &members).await.unwrap(), backend, "{role}");
            let sees = matches!(role, WorkstationRole::Doctor | WorkstationRole::Backend);
            assert_eq!(w.sees_code_of(&a, &members).await.unwrap(), sees, "{role}");
            assert!(!w.sees_code_of(&b, &members).await.unwrap());
            assert_eq!(
                w.may_administer(),
                matches!(role, WorkstationRole::Admin | WorkstationRole::Vendor)
            );
            let mut revoked = w.clone();
            revoked.revoked_at = Some(datetime!(2026-12-02 08:00 UTC));
            assert!(!revoked.acts_for(&a, &members).await.unwrap());
            assert!(!revoked.sees_code_of(&a, &members).await.unwrap());
            assert!(!revoked.may_administer());
            assert_eq!(WorkstationRole::parse(role.as_str()), Some(role));
        }
        let everywhere = ws(WorkstationRole::Backend, None, &[]);
        assert!(everywhere.acts_for(&b, &members).await.unwrap());
        assert_eq!(everywhere.acts_for_listed(&b), None);
        let vendor = ws(WorkstationRole::Vendor, None, &["A"]);
        assert!(!vendor.acts_for(&a, &members).await.unwrap());
        assert_eq!(vendor.admin_scope(), Some(AdminScope::Installation));
        assert_eq!(
            ws(WorkstationRole::Admin, Some("p1"), &[]).admin_scope(),
            Some(AdminScope::Practice(&p1))
        );
        assert_eq!(WorkstationRole::parse("root"), None);
        assert!(members.is_member(&p1, &c).await.unwrap());
    }

    #[test]
    fn long_lists_are_searched_sorted() {
        let ids: Vec<String> = (0..1000).map(|i| format!("U{i:05}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let w = ws(WorkstationRole::Doctor, Some("p1"), &refs);
        assert_eq!(
            w.acts_for_listed(&UserId::new("U00999").unwrap()),
            Some(true)
        );
        assert_eq!(
            w.acts_for_listed(&UserId::new("U01000").unwrap()),
            Some(false)
        );
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
