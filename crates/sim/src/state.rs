//! Shared simulator state.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::SimClock;
use crate::config::{CodeFormat, Enforcement, MailFolder, Mode, SimConfig};
use crate::dem::store::PrescriptionStore;
use crate::keys::SimKeys;
use crate::mail::Mailer;
use crate::ops::Operation;
use crate::rbe::RbeStore;
use crate::sync::lock;
use crate::tokens::TokenStore;
use crate::users::TestUser;

/// Settings changeable at run time through `POST /sim/control`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Settings {
    /// Production or test behaviour.
    pub mode: Mode,
    /// `Authorization2F` enforcement.
    pub enforcement: Enforcement,
    /// Text or image code in mails.
    pub code_format: CodeFormat,
    /// Maildir folder for new mails.
    pub mail_folder: MailFolder,
    /// Validity of new codes, in seconds.
    pub validity_seconds: u64,
}

/// Kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer normally, but after `delay_ms` (default 3000 ms).
    Slow,
    /// HTTP 500 with an HTML error page (a front-end failure).
    Http500,
    /// HTTP 500 with a SOAP Fault `soapenv:Server`.
    SoapFault,
    /// HTTP 200 with a truncated, not well-formed XML body.
    Malformed,
    /// Close the TCP connection without answering.
    Reset,
}

/// A pending fault injection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    /// Operation name (`create`, `InvioPrescritto`, …) or `*` for any.
    pub operation: String,
    /// What to do.
    pub kind: FaultKind,
    /// How many requests are still affected.
    #[serde(default = "one")]
    pub count: u32,
    /// Delay for `slow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// Counters shown by `GET /sim/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Requests received per operation.
    pub operations: BTreeMap<String, u64>,
    /// Successful `create` calls per user.
    pub creates_by_user: BTreeMap<String, u64>,
    /// DEM and RBE answers that carried error 9101 (warning or blocking).
    pub warnings_9101: u64,
    /// Faults injected so far.
    pub faults_injected: u64,
    /// Mails delivered.
    pub mails_sent: u64,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct Sim {
    /// Test identities.
    pub users: Vec<TestUser>,
    /// RSA key pair and certificate.
    pub keys: SimKeys,
    /// Simulated clock.
    pub clock: SimClock,
    /// Run-time settings.
    pub settings: Mutex<Settings>,
    /// Issued ID-SESSIONE codes.
    pub tokens: Mutex<TokenStore>,
    /// Prescriptions (the most recent `max_prescriptions`) and NRE allocation.
    pub prescriptions: PrescriptionStore,
    /// Ricette bianche (RBE, class C): NRBE issued, the most recent `max_prescriptions`.
    pub rbe: RbeStore,
    /// Counters.
    pub stats: Mutex<Stats>,
    /// Pending fault injections.
    pub faults: Mutex<Vec<FaultRule>>,
    /// Mail delivery and outbox.
    pub mailer: Mailer,
}

impl Sim {
    /// Builds the state from a configuration (generates or loads the key pair).
    pub fn new(config: &SimConfig) -> anyhow::Result<Self> {
        let stats = Stats {
            operations: Operation::ALL
                .iter()
                .map(|op| (op.name().to_owned(), 0))
                .collect(),
            ..Stats::default()
        };
        Ok(Self {
            users: crate::users::default_users(),
            keys: SimKeys::load_or_generate(config.data_dir.as_deref())?,
            clock: SimClock::default(),
            settings: Mutex::new(Settings {
                mode: config.mode,
                enforcement: config.enforcement,
                code_format: config.code_format,
                mail_folder: config.mail_folder,
                validity_seconds: config.validity.as_secs(),
            }),
            tokens: Mutex::new(TokenStore::default()),
            prescriptions: PrescriptionStore::with_limit(config.max_prescriptions),
            rbe: RbeStore::with_limit(config.max_prescriptions),
            stats: Mutex::new(stats),
            faults: Mutex::new(Vec::new()),
            mailer: Mailer::new(config)?,
        })
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    /// The user with this Sistema TS user id.
    pub fn user(&self, user_id: &str) -> Option<&TestUser> {
        self.users.iter().find(|u| u.user_id == user_id)
    }

    /// The user with this fiscal code.
    pub fn user_by_cf(&self, cf: &str) -> Option<&TestUser> {
        self.users.iter().find(|u| u.cf == cf)
    }

    /// Validity of new codes.
    pub fn validity(&self) -> Duration {
        Duration::from_secs(self.settings().validity_seconds)
    }

    /// Updates the counters.
    pub fn with_stats(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    /// Takes one pending fault for `op`, if any.
    pub fn take_fault(&self, op: Operation) -> Option<FaultRule> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| {
            f.count > 0 && (f.operation == "*" || f.operation.eq_ignore_ascii_case(op.name()))
        })?;
        let rule = faults[index].clone();
        faults[index].count -= 1;
        if faults[index].count == 0 {
            faults.remove(index);
        }
        drop(faults);
        self.with_stats(|s| s.faults_injected += 1);
        Some(rule)
    }
}
