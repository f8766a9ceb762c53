//! Test fixtures of the domain, for this crate's tests and for every crate above it
//! (feature `testing`): a scripted A2F upstream and a ready [`TestDomain`] — the real
//! [`SessionManager`] over the in-memory store and a manual clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sistemats::secret::SessionCode;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::Semaphore;

use crate::clock::ManualClock;
use crate::ids::UserId;
use crate::manager::{Ports, SessionManager};
use crate::memory::MemoryStore;
use crate::policy::Policy;
use crate::upstream::{CreateResult, RevokeOutcome, TokenCheck, Upstream, UpstreamError};
use crate::user::{Credentials, Environment, Identity, Role, UserProfile};

/// When every [`TestDomain`] clock starts: a Friday morning in Rome.
pub const T0: OffsetDateTime = datetime!(2026-11-27 07:00 UTC);

/// A scripted A2F service that counts its calls.
#[derive(Debug, Default)]
pub struct FakeUpstream {
    /// `create` calls so far.
    pub creates: AtomicUsize,
    /// `checkToken` calls so far.
    pub checks: AtomicUsize,
    /// `revoke` calls so far.
    pub revokes: AtomicUsize,
    /// When set, `create` waits for a permit (to hold a `create` in flight).
    pub gate: Option<Semaphore>,
    /// The answer of `create` (default: mailed).
    pub create_result: Mutex<Option<Result<CreateResult, UpstreamError>>>,
    /// The answer of `checkToken` per code (default: not found).
    pub tokens: Mutex<HashMap<String, TokenCheck>>,
}

impl FakeUpstream {
    /// Makes `code` valid for 16 hours from `from`.
    pub fn valid(&self, code: &str, from: OffsetDateTime) {
        self.answer(
            code,
            TokenCheck::Valid {
                valid_from: from,
                valid_until: from + time::Duration::hours(16),
            },
        );
    }

    /// Scripts the `checkToken` answer for `code`.
    pub fn answer(&self, code: &str, check: TokenCheck) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code.to_owned(), check);
    }

    /// Scripts the answer of the next `create` calls.
    pub fn on_create(&self, result: Result<CreateResult, UpstreamError>) {
        *self.create_result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
    }

    /// `create` calls so far.
    pub fn create_count(&self) -> usize {
        self.creates.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Upstream for FakeUpstream {
    async fn create(&self, _: &Identity) -> Result<CreateResult, UpstreamError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        self.create_result
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or(Ok(CreateResult::Mailed))
    }

    async fn check_token(
        &self,
        _: &Identity,
        code: &SessionCode,
    ) -> Result<TokenCheck, UpstreamError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(code.expose_secret())
            .cloned()
            .unwrap_or(TokenCheck::NotFound))
    }

    async fn revoke(&self, _: &Identity, _: &SessionCode) -> Result<RevokeOutcome, UpstreamError> {
        self.revokes.fetch_add(1, Ordering::SeqCst);
        Ok(RevokeOutcome::Revoked)
    }
}

/// A doctor's profile in the test environment (region 130, ASL 202).
pub fn profile(user: &UserId) -> UserProfile {
    UserProfile {
        user_id: user.clone(),
        fiscal_code: user.to_string(),
        region: "130".into(),
        asl: "202".into(),
        ssa: "000000".into(),
        specialization: None,
        display_name: None,
        environment: Environment::Test,
        role: Role::Titolare,
        password_changed_at: None,
    }
}

/// The real domain over memory: store, manual clock, scripted upstream, manager.
#[derive(Debug, Clone)]
pub struct TestDomain {
    /// Every port.
    pub store: Arc<MemoryStore>,
    /// The scripted A2F service.
    pub upstream: Arc<FakeUpstream>,
    /// Time, moved by hand (starts at [`T0`]).
    pub clock: ManualClock,
    /// The manager.
    pub manager: SessionManager,
}

impl TestDomain {
    /// A domain with the default policy and `upstream`.
    pub fn new(upstream: FakeUpstream) -> Self {
        Self::with_policy(upstream, Policy::default())
    }

    /// A domain with `policy`.
    pub fn with_policy(upstream: FakeUpstream, policy: Policy) -> Self {
        let store = Arc::new(MemoryStore::new());
        let upstream = Arc::new(upstream);
        let clock = ManualClock::new(T0);
        let ports = Ports {
            store: store.clone(),
            audit: store.clone(),
            directory: store.clone(),
            upstream: upstream.clone(),
            clock: Arc::new(clock.clone()),
        };
        let manager = SessionManager::new(ports, policy, None);
        Self {
            store,
            upstream,
            clock,
            manager,
        }
    }

    /// Adds `user` with a test profile and credentials (password `pw`, PIN `123`).
    pub fn add_user(&self, user: &str) -> UserId {
        let id = UserId::new(user).unwrap_or_else(|e| panic!("{user}: {e}"));
        self.store.insert_user(profile(&id));
        self.store.insert_credentials(
            &id,
            Credentials {
                password: "pw".into(),
                pin: "123".into(),
                revision: 0,
            },
        );
        id
    }
}
