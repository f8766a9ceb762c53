//! # tsgate-session
//!
//! The domain of tsgate: one shared ID-SESSIONE per (Sistema TS user, `RICETTA-DEM`,
//! application), its states, the rules that protect the doctor's account, and the async
//! [`SessionManager`] that applies them with at most one `create` in flight per key.
//!
//! - [`machine::decide`] is the whole rule book as a pure function (tested exhaustively);
//! - [`SessionManager`] does the I/O around it through the [`ports`] traits
//!   ([`SessionStore`], [`UserDirectory`], [`AuditLog`], [`EventSink`]), the [`Upstream`]
//!   trait (A2F) and a [`Clock`];
//! - [`workstation`] holds the rule "who may use a code";
//! - [`ports`] is every port a backend implements ([`Store`]); [`MemoryStore`] implements
//!   them in memory;
//! - [`normalize_code`] turns whatever a doctor pastes into a code;
//! - [`SessionView`] is what workstations see: never the code.

pub mod audit;
pub mod auto;
pub mod clock;
pub mod code;
pub mod error;
pub mod fields;
pub mod hours;
pub mod ids;
pub mod import;
pub mod italy;
pub mod lease;
pub mod level;
pub mod machine;
pub mod mailbox;
mod manager;
pub mod memory;
pub mod policy;
pub mod ports;
pub mod practice;
pub mod provision;
pub mod record;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod upstream;
pub mod user;
pub mod view;
pub mod workstation;

pub use async_trait::async_trait;

pub use audit::{AdminAction, AuditDraft, AuditEntry, AuditEntryKind, AuditFilter, AuditKind};
pub use clock::{Clock, ManualClock, SystemClock};
pub use code::{FormatError, normalize_code};
pub use error::{RejectReason, SessionError};
pub use ids::{Actor, Application, CONTEXT, SessionKey, UserId, WorkstationId};
pub use machine::{Decision, Effect, Event, decide, next_due};
pub use manager::{Ports, RequestOutcome, SessionManager};
pub use memory::MemoryStore;
pub use policy::Policy;
pub use ports::{
    AuditLog, BoxError, EventSink, Health, ImportCounts, ImportedUser, LeaseRepo, MailboxError,
    MailboxRepo, MailboxService, PracticeRepo, ScheduleRepo, SessionChanged, SessionStore, Store,
    StoreError, StoreResult, UserDirectory, WorkstationRepo,
};
pub use practice::{ListQuery, Page, Practice, PracticeCounts, PracticeId};
pub use record::{
    BlockKind, CodeRequest, CodeSlot, CredentialsBlock, CurrentCode, EndReason, RecordedError,
    RequestStage, SessionRecord, UpstreamHealth,
};
pub use upstream::{CreateResult, RevokeOutcome, TokenCheck, Upstream, UpstreamError};
pub use user::{Credentials, Environment, Identity, Role, UserProfile};
pub use view::{Level, SessionView, StateName, ViewError};
pub use workstation::{
    AdminScope, Caller, PracticeRule, Reach, Workstation, WorkstationRole, WorkstationSpec,
    WorkstationToken,
};

pub use sistemats::secret::{Password, Pin, SessionCode};
