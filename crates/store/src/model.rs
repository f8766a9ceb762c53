//! Records the store keeps besides sessions: workstations, mailbox settings, audit filters.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tsgate_session::audit::AuditEntryKind;
use tsgate_session::{UserId, WorkstationId};

/// What a workstation may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkstationRole {
    /// Manages users, mailboxes, workstations; reads the audit.
    Admin,
    /// A doctor's own workstation: may request, insert, revoke and copy codes of its users.
    Doctor,
    /// Reception: sees states, never codes; acts only for the users it is allowed.
    Staff,
}

impl WorkstationRole {
    /// `admin`, `doctor`, `staff`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Doctor => "doctor",
            Self::Staff => "staff",
        }
    }

    /// Parses [`WorkstationRole::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "doctor" => Some(Self::Doctor),
            "staff" => Some(Self::Staff),
            _ => None,
        }
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
    /// Users it may act for.
    pub users: Vec<UserId>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revocation time, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Workstation {
    /// Whether it may act for `user` (not revoked and in its list).
    pub fn may_act_for(&self, user: &UserId) -> bool {
        self.revoked_at.is_none() && self.users.contains(user)
    }

    /// Whether it may see the code itself ("Copia codice"): doctors' workstations only.
    pub fn may_see_codes(&self) -> bool {
        self.role == WorkstationRole::Doctor && self.revoked_at.is_none()
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

/// Certified-mailbox settings of a user: the watcher's IMAP settings (the password is
/// stored encrypted, the rest as JSON) and the address certified on the Sistema TS portal.
/// Several users may share one mailbox (same host, port and user name).
#[derive(Clone, Debug)]
pub struct UserMailbox {
    /// IMAP settings, password included.
    pub settings: tsgate_mailbox::MailboxSettings,
    /// The address certified on the Sistema TS portal, when it differs from the user name.
    pub address: Option<String>,
}

impl UserMailbox {
    /// Identifies the mailbox itself (`username@host:port`, lowercase): users with the same
    /// key share one watcher and one [`tsgate_mailbox::WatchState`].
    pub fn mailbox_key(&self) -> String {
        let s = &self.settings;
        format!(
            "{}@{}:{}",
            s.username.trim(),
            s.host.trim(),
            s.effective_port()
        )
        .to_lowercase()
    }

    /// The addresses whose mails are this user's: the certified address and the user name
    /// when it is an address.
    pub fn addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in self
            .address
            .iter()
            .chain(std::iter::once(&self.settings.username))
        {
            let a = a.trim().to_lowercase();
            if a.contains('@') && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

/// Filters for audit queries; `None` means "any". Results are newest first, session events
/// and administration changes together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this user.
    pub user: Option<UserId>,
    /// Only this actor (`ws:<id>`, `mailbox`, `cli`, `system`).
    pub actor: Option<String>,
    /// Only this kind: a session kind or an administration action.
    pub kind: Option<AuditEntryKind>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Strictly before.
    pub until: Option<OffsetDateTime>,
    /// At most this many (default 100, at most 10 000).
    pub limit: Option<u32>,
}
