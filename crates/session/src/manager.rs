//! The async shell around [`decide`]: loads and commits records, performs upstream calls,
//! single-flights `create`, publishes changes.

mod hot;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sistemats::error::describe_chain;
use sistemats::secret::SessionCode;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};

use crate::audit::{AuditDraft, AuditEntry, AuditKind};
use crate::auto::{self, AutoInputs};
use crate::clock::Clock;
use crate::code::{FormatError, normalize_code};
use crate::error::SessionError;
use crate::ids::{Actor, SessionKey, UserId};
use crate::machine::{Decision, Effect, Event, decide};
use crate::policy::Policy;
use crate::ports::{AuditLog, EventSink, SessionChanged, SessionStore, StoreError, UserDirectory};
use crate::record::{CodeRequest, RequestStage, SessionRecord};
use crate::upstream::{CreateResult, Upstream, UpstreamError};
use crate::user::{Identity, UserProfile};
use crate::view::SessionView;
use hot::{CachedCode, CodeCache, UseTracker};

/// How many times a commit is retried when another writer got there first.
const CAS_ATTEMPTS: usize = 8;

/// The outside world of a [`SessionManager`].
#[derive(Clone)]
pub struct Ports {
    /// Session records (CAS).
    pub store: Arc<dyn SessionStore>,
    /// Audit lines that do not change a record.
    pub audit: Arc<dyn AuditLog>,
    /// Users and credentials.
    pub directory: Arc<dyn UserDirectory>,
    /// The A2F service.
    pub upstream: Arc<dyn Upstream>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ports")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// The answer to [`SessionManager::request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestOutcome {
    /// The session after the `create` (and, in test mode, the verification of the issued code).
    pub view: SessionView,
    /// `true` when this request joined a `create` already in flight.
    pub joined: bool,
}

type Outcome = Result<(), SessionError>;

struct Inner {
    ports: Ports,
    policy: Policy,
    events: broadcast::Sender<SessionChanged>,
    sink: Option<Arc<dyn EventSink>>,
    locks: Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>,
    inflight: Mutex<HashMap<SessionKey, watch::Receiver<Option<Outcome>>>>,
    /// The proxy's view of each user's code (see [`hot`]).
    codes: CodeCache,
    /// Uses of codes not yet audited one by one (see [`hot`]).
    uses: UseTracker,
    /// Who this process is (see [`SessionManager::with_instance`]).
    instance: Instance,
    /// What the autopilot last resolved for each user (see [`crate::auto`]): the views
    /// show the next automatic action, and held calls may start a request.
    auto: Mutex<HashMap<UserId, AutoInputs>>,
    /// What applies to a user with no entry in `auto`, once an autopilot runs.
    auto_fallback: Mutex<Option<AutoInputs>>,
    /// The automatic request started for held calls, per user: the calls that arrive while
    /// it is being started wait on its outcome instead of each asking (and auditing) again.
    held: Mutex<HashMap<UserId, HeldRequest>>,
    /// Whether this process made its first periodic pass, over every stored session; the
    /// later ones visit only what is due.
    swept: AtomicBool,
}

/// The outcome of the automatic request started for held calls (`None` until answered).
type HeldRequest = watch::Receiver<Option<Result<(), SessionError>>>;

/// The identity of one running process: a node name that stays the same across restarts
/// and an incarnation that is new at every start. A `create` in flight is tagged with it, so
/// that when the process dies the next process of the same node settles it at once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Instance {
    node: String,
    incarnation: String,
}

impl Instance {
    fn tag(&self) -> String {
        format!("{}#{}", self.node, self.incarnation)
    }
}

/// Shared sessions of every user, with their rules. Cheap to clone (one `Arc`).
///
/// Per key, every change goes through one async mutex (in-process) and a compare-and-swap
/// commit (across processes and, later, nodes). At most one `create` is in flight per key:
/// concurrent requests join it and get its result. Upstream calls run in spawned tasks, so a
/// caller that goes away (closed HTTP connection) never leaves a `create` half-recorded.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

fn internal(e: StoreError) -> SessionError {
    SessionError::internal(e)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionManager {
    /// A manager over `ports` with `policy`. `sink` receives every change besides the local
    /// broadcast channel (on PostgreSQL, the store's `NOTIFY` publisher); `None` on one node.
    pub fn new(ports: Ports, policy: Policy, sink: Option<Arc<dyn EventSink>>) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                ports,
                policy,
                events,
                sink,
                locks: Mutex::new(HashMap::new()),
                inflight: Mutex::new(HashMap::new()),
                codes: CodeCache::default(),
                uses: UseTracker::default(),
                instance: Instance {
                    node: "local".into(),
                    incarnation: uuid::Uuid::new_v4().to_string(),
                },
                auto: Mutex::new(HashMap::new()),
                auto_fallback: Mutex::new(None),
                held: Mutex::new(HashMap::new()),
                swept: AtomicBool::new(false),
            }),
        }
    }

    /// Names the node this manager runs on (default `local`). Give every long-running
    /// process of one installation the same stable name (`tsgate serve` uses the host
    /// name) and short-lived tools another one (the CLI), so that
    /// [`Self::settle_orphans`] settles only what a dead predecessor left. Call before
    /// cloning the manager.
    pub fn with_instance(mut self, node: impl Into<String>) -> Self {
        let node = node.into();
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.instance.node = node,
            // A clone already exists: it would keep the old name, so the two would disagree.
            None => {
                debug_assert!(false, "with_instance called on a shared manager");
                tracing::error!(%node, "node name not set: the manager was already shared");
            }
        }
        self
    }

    /// This process's node name (without the incarnation): the owner of its leases.
    pub fn node_name(&self) -> &str {
        &self.inner.instance.node
    }

    /// This process's tag (`node#incarnation`), as stored on the `create`s it sends.
    pub fn instance_tag(&self) -> String {
        self.inner.instance.tag()
    }

    /// Settles, at once, every `create` left in flight by an earlier process of this node
    /// (killed, crashed, power cut): Sistema TS' answer went to a process that no longer
    /// exists, so the request is lost (`create_lost`, "richiedilo di nuovo") and the next
    /// request goes out instead of joining it. Call once at start, before serving.
    /// Returns how many were settled.
    pub async fn settle_orphans(&self) -> Result<usize, SessionError> {
        let me = &self.inner.instance;
        let prefix = format!("{}#", me.node);
        let mine = me.tag();
        let mut settled = 0;
        for key in self.inner.ports.store.keys().await.map_err(internal)? {
            let Some(record) = self.inner.ports.store.load(&key).await.map_err(internal)? else {
                continue;
            };
            let Some(CodeRequest {
                stage:
                    RequestStage::Creating {
                        owner: Some(owner), ..
                    },
                ..
            }) = &record.request
            else {
                continue;
            };
            if !owner.starts_with(&prefix) || *owner == mine {
                continue;
            }
            let Ok(profile) = self.profile(&key.user).await else {
                continue;
            };
            let owner = owner.clone();
            tracing::warn!(%key, previous = %owner, "a create of a previous process was left in flight: settled as lost");
            self.step(&profile, &key, Event::OwnerGone { owner }, |_| {})
                .await?;
            settled += 1;
        }
        Ok(settled)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Every change of every session from now on (the gateway filters per workstation).
    /// A lagging receiver gets `RecvError::Lagged` and should re-read the states.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionChanged> {
        self.inner.events.subscribe()
    }

    /// Feeds a change that happened on another node (received through PostgreSQL
    /// LISTEN/NOTIFY) to this node's subscribers, and forgets this node's cached code of
    /// that user.
    pub fn publish_external(&self, change: SessionChanged) {
        self.inner.codes.invalidate(&change.key.user);
        let _ = self.inner.events.send(change);
    }

    async fn profile(&self, user: &UserId) -> Result<UserProfile, SessionError> {
        self.inner
            .ports
            .directory
            .user(user)
            .await
            .map_err(internal)?
            .ok_or_else(|| SessionError::UnknownUser(user.clone()))
    }

    async fn identity(&self, profile: &UserProfile) -> Result<Identity, SessionError> {
        let credentials = self
            .inner
            .ports
            .directory
            .credentials(&profile.user_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| SessionError::CredentialsMissing(profile.user_id.clone()))?;
        Ok(Identity {
            application: profile.role.application(),
            profile: profile.clone(),
            credentials,
        })
    }

    fn key_lock(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.locks)
            .entry(key.clone())
            .or_default()
            .clone()
    }

    fn warning(&self, profile: &UserProfile) -> Option<String> {
        let p = &self.inner.policy;
        profile.password_warning(
            self.inner.ports.clock.now().date(),
            p.password_max_age,
            p.password_warn_before,
        )
    }

    fn view(&self, profile: &UserProfile, record: &SessionRecord) -> SessionView {
        let now = self.inner.ports.clock.now();
        let auto = lock(&self.inner.auto)
            .get(&profile.user_id)
            .cloned()
            .or_else(|| lock(&self.inner.auto_fallback).clone())
            .map(|inputs| auto::plan(record, &inputs, now, &self.inner.policy).view(now));
        SessionView::build(record, now, &self.inner.policy, self.warning(profile)).with_auto(auto)
    }

    /// Loads, decides, commits (CAS, with the audit) and notifies, under the key's lock.
    /// `hook` runs under the lock after the commit (single-flight registration).
    async fn step(
        &self,
        profile: &UserProfile,
        key: &SessionKey,
        event: Event,
        hook: impl FnOnce(&Decision),
    ) -> Result<Decision, SessionError> {
        let key_lock = self.key_lock(key);
        let _guard = key_lock.lock().await;
        let ports = &self.inner.ports;
        let mut attempt = 0;
        let decision = loop {
            attempt += 1;
            let current = ports
                .store
                .load(key)
                .await
                .map_err(internal)?
                .unwrap_or_else(|| SessionRecord::new(key.clone()));
            let now = ports.clock.now();
            let mut decision = decide(&current, event.clone(), now, &self.inner.policy);
            if decision.effects.contains(&Effect::CallCreate)
                && let Some(CodeRequest {
                    stage: RequestStage::Creating { owner, .. },
                    ..
                }) = &mut decision.next.request
            {
                *owner = Some(self.inner.instance.tag());
            }
            let audit: Vec<AuditEntry> = decision
                .effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Audit(a) => Some(AuditEntry::session(now, key, a.clone())),
                    _ => None,
                })
                .collect();
            if decision.next == current {
                // Nothing to change (a click that joins a request in flight): the audit line
                // needs no new version, and writing one would make every such click race the
                // other nodes' commits (under load, eight lost races in a row were a 500).
                for entry in &audit {
                    ports.audit.append(entry).await.map_err(internal)?;
                }
                break decision;
            }
            match ports
                .store
                .commit(&decision.next, current.version, &audit)
                .await
            {
                Ok(()) => {
                    decision.next.version = current.version + 1;
                    self.inner.codes.invalidate(&key.user);
                    break decision;
                }
                Err(StoreError::Conflict) if attempt < CAS_ATTEMPTS => continue,
                Err(e) => return Err(internal(e)),
            }
        };
        hook(&decision);
        if decision.effects.contains(&Effect::Notify) {
            let change = SessionChanged {
                key: key.clone(),
                view: self.view(profile, &decision.next),
            };
            if let Some(sink) = &self.inner.sink {
                sink.publish(&change);
            }
            let _ = self.inner.events.send(change);
        }
        Ok(decision)
    }

    /// Performs the upstream calls in `effects` and feeds their results back, until no call
    /// is left. Returns the outcome of the last decision.
    async fn execute(
        &self,
        profile: &UserProfile,
        mut identity: Option<Identity>,
        key: &SessionKey,
        by: &Actor,
        effects: Vec<Effect>,
    ) -> Outcome {
        let mut outcome = Ok(());
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            if matches!(effect, Effect::Notify | Effect::Audit(_)) {
                continue;
            }
            let ident = match &identity {
                Some(i) => i.clone(),
                None => {
                    let i = self.identity(profile).await?;
                    identity = Some(i.clone());
                    i
                }
            };
            let revision = ident.credentials.revision;
            let upstream = &self.inner.ports.upstream;
            let by = by.clone();
            let event = match effect {
                Effect::CallCreate => match self.create_renewing(profile, key, &ident).await {
                    Ok(result) => Event::CreateSucceeded { result, by },
                    Err(error) => Event::CreateFailed {
                        error,
                        by,
                        revision,
                    },
                },
                Effect::CallCheckToken(code) => {
                    let result = upstream.check_token(&ident, &code).await;
                    Event::CheckResult {
                        code,
                        by,
                        revision,
                        result,
                    }
                }
                Effect::CallRevoke(code) => {
                    let result = upstream.revoke(&ident, &code).await;
                    Event::RevokeResult {
                        code,
                        by,
                        revision,
                        result,
                    }
                }
                Effect::Notify | Effect::Audit(_) => continue,
            };
            let decision = self.step(profile, key, event, |_| {}).await?;
            outcome = decision.outcome.clone();
            queue.extend(decision.effects);
        }
        outcome
    }

    /// Calls `create` and, while it has not answered, renews this process's lease on the
    /// request every [`Policy::create_renew_every`]: on one node or several, nobody takes a
    /// slow `create` for a lost one and sends a second (a known failure of token brokers whose
    /// lock expires mid-refresh); if this process dies, the renewals stop and the lease runs
    /// out [`Policy::create_timeout`] after the last one.
    async fn create_renewing(
        &self,
        profile: &UserProfile,
        key: &SessionKey,
        ident: &Identity,
    ) -> Result<CreateResult, UpstreamError> {
        let every = std::time::Duration::try_from(self.inner.policy.create_renew_every)
            .unwrap_or(std::time::Duration::from_secs(30))
            .max(std::time::Duration::from_millis(10));
        let call = self.inner.ports.upstream.create(ident);
        tokio::pin!(call);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                result = &mut call => return result,
                _ = renew.tick() => {
                    let owner = self.inner.instance.tag();
                    if let Err(e) = self
                        .step(profile, key, Event::CreateStillRunning { owner }, |_| {})
                        .await
                    {
                        tracing::warn!(%key, error = %describe_chain(&e), "create lease not renewed");
                    }
                }
            }
        }
    }

    /// Runs [`Self::execute`] in its own task so that it finishes even if the caller is dropped.
    async fn execute_detached(
        &self,
        profile: &UserProfile,
        identity: Option<Identity>,
        key: &SessionKey,
        by: &Actor,
        effects: Vec<Effect>,
    ) -> Outcome {
        if !effects.iter().any(|e| {
            matches!(
                e,
                Effect::CallCreate | Effect::CallCheckToken(_) | Effect::CallRevoke(_)
            )
        }) {
            return Ok(());
        }
        let this = self.clone();
        let (profile, key, by) = (profile.clone(), key.clone(), by.clone());
        tokio::spawn(async move { this.execute(&profile, identity, &key, &by, effects).await })
            .await
            .unwrap_or_else(|e| Err(SessionError::internal(format!("session task failed: {e}"))))
    }

    /// Lifts a credentials block if the credentials have changed since they were refused.
    async fn lift_block_if_changed(
        &self,
        profile: &UserProfile,
        key: &SessionKey,
        revision: i64,
    ) -> Result<(), SessionError> {
        let record = self.inner.ports.store.load(key).await.map_err(internal)?;
        if record
            .and_then(|r| r.blocked)
            .is_some_and(|b| b.revision != revision)
        {
            let decision = self
                .step(profile, key, Event::CredentialsChanged { revision }, |_| {})
                .await?;
            let _ = self
                .execute_detached(profile, None, key, &Actor::System, decision.effects)
                .await;
        }
        Ok(())
    }

    async fn current_view(&self, profile: &UserProfile) -> Result<SessionView, SessionError> {
        let key = profile.session_key();
        let record = self
            .inner
            .ports
            .store
            .load(&key)
            .await
            .map_err(internal)?
            .unwrap_or_else(|| SessionRecord::new(key));
        // Expiry as of now, even if the ticker has not committed it yet.
        let now = self.inner.ports.clock.now();
        let seen = decide(&record, Event::Tick, now, &self.inner.policy).next;
        Ok(self.view(profile, &seen))
    }

    /// The session of `user` as workstations see it.
    pub async fn status(&self, user: &UserId) -> Result<SessionView, SessionError> {
        let profile = self.profile(user).await?;
        self.current_view(&profile).await
    }

    /// Asks Sistema TS for a new code (`create`), or joins the one in flight.
    ///
    /// Waits for the `create` answer (and, in test mode, the verification of the issued
    /// code). Errors: `CodeActive` (409) when a valid code exists and `replace` is false,
    /// `TooSoon` (429), `CredentialsRefused` (423), `CredentialsMissing` (409), upstream
    /// errors (502/503). The API answers 202 on `Ok`.
    pub async fn request(
        &self,
        user: &UserId,
        replace: bool,
        by: Actor,
    ) -> Result<RequestOutcome, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let identity = self.identity(&profile).await?;
        self.lift_block_if_changed(&profile, &key, identity.credentials.revision)
            .await?;
        let mut waiter = None;
        let mut leader = None;
        let decision = self
            .step(
                &profile,
                &key,
                Event::RequestCode {
                    replace,
                    by: by.clone(),
                },
                |d| {
                    if d.outcome.is_err() {
                        return;
                    }
                    let mut inflight = lock(&self.inner.inflight);
                    if d.effects.contains(&Effect::CallCreate) {
                        let (tx, rx) = watch::channel(None);
                        inflight.insert(key.clone(), rx.clone());
                        waiter = Some(rx);
                        leader = Some(tx);
                    } else {
                        waiter = inflight.get(&key).cloned();
                    }
                },
            )
            .await?;
        decision.outcome.clone()?;
        let joined = leader.is_none();
        if let Some(tx) = leader {
            let this = self.clone();
            let (profile, key, by) = (profile.clone(), key.clone(), by.clone());
            tokio::spawn(async move {
                let result = this
                    .execute(&profile, Some(identity), &key, &by, decision.effects)
                    .await;
                lock(&this.inner.inflight).remove(&key);
                let _ = tx.send(Some(result));
            });
        }
        if let Some(mut rx) = waiter {
            let result = loop {
                if let Some(r) = rx.borrow_and_update().clone() {
                    break r;
                }
                if rx.changed().await.is_err() {
                    // The leader task ended without a result (it panicked): report the state.
                    break rx.borrow().clone().unwrap_or(Ok(()));
                }
            };
            result?;
        }
        Ok(RequestOutcome {
            view: self.current_view(&profile).await?,
            joined,
        })
    }

    /// A typed, pasted or mailbox-found code: normalised, verified with `checkToken`, and
    /// only then made current (every workstation switches at once).
    ///
    /// A whole mail pasted instead of the code (as shown, forwarded, HTML or its source) is
    /// searched for candidates ([`sistemats::code::find_in_paste`]); they are verified in the
    /// order they appear until one is accepted, at most four.
    ///
    /// Errors: `Format` (422 `format`), `Rejected` (422 `rejected`/`expired`/`revoked`/
    /// `wrong_user`), `CredentialsRefused` (423), upstream errors (502/503).
    pub async fn submit_code(
        &self,
        user: &UserId,
        raw: &str,
        by: Actor,
    ) -> Result<SessionView, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let candidates = match candidates_in(raw) {
            Ok(codes) => codes,
            Err(e) => {
                let draft = AuditDraft {
                    kind: AuditKind::Inserted,
                    actor: by,
                    outcome: "format".into(),
                    code_hint: None,
                };
                let entry = AuditEntry::session(self.inner.ports.clock.now(), &key, draft);
                self.inner
                    .ports
                    .audit
                    .append(&entry)
                    .await
                    .map_err(internal)?;
                return Err(e.into());
            }
        };
        let identity = self.identity(&profile).await?;
        self.lift_block_if_changed(&profile, &key, identity.credentials.revision)
            .await?;
        let mut refused = None;
        for code in candidates {
            let decision = self
                .step(
                    &profile,
                    &key,
                    Event::CodeSubmitted {
                        code,
                        by: by.clone(),
                    },
                    |_| {},
                )
                .await?;
            decision.outcome.clone()?;
            match self
                .execute_detached(
                    &profile,
                    Some(identity.clone()),
                    &key,
                    &by,
                    decision.effects,
                )
                .await
            {
                Ok(()) => return self.current_view(&profile).await,
                // Another candidate of the same paste may be the right one.
                Err(e @ SessionError::Rejected { .. }) => {
                    refused.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(refused.unwrap_or_else(|| FormatError::NotInText.into()))
    }

    /// Revokes the current code here at once and at Sistema TS. On an upstream error the
    /// local revocation has still happened; the error says Sistema TS did not confirm.
    pub async fn revoke(&self, user: &UserId, by: Actor) -> Result<SessionView, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let decision = self
            .step(&profile, &key, Event::Revoke { by: by.clone() }, |_| {})
            .await?;
        decision.outcome.clone()?;
        self.execute_detached(&profile, None, &key, &by, decision.effects)
            .await?;
        self.current_view(&profile).await
    }

    /// A proxied business call sent with `used` came back with 9101: the code becomes suspect
    /// and is re-verified; returns the resulting view (active again, revoked or expired).
    pub async fn on_dem_9101(
        &self,
        user: &UserId,
        used: &SessionCode,
        by: Actor,
    ) -> Result<SessionView, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let decision = self
            .step(
                &profile,
                &key,
                Event::DemCall9101 {
                    code: used.clone(),
                    by: by.clone(),
                },
                |_| {},
            )
            .await?;
        // Rejected or unavailable outcomes are in the view; only internal failures are errors.
        if let Err(e @ SessionError::Internal { .. }) = self
            .execute_detached(&profile, None, &key, &by, decision.effects)
            .await
        {
            return Err(e);
        }
        self.current_view(&profile).await
    }

    /// A proxied business call went through with `used` (audited as `used`).
    ///
    /// Cheap on the proxy's hot path: the first use of a code by a workstation in a window
    /// of [`hot::USE_PERIOD`] is committed and audited (and clears a recorded outage); the
    /// following ones are counted in memory and audited as one summary row (`ok: N calls
    /// from … to …`) when the window closes. [`Self::tick`] closes old windows;
    /// [`Self::flush_uses`] closes them all (at shutdown).
    pub async fn record_use(
        &self,
        user: &UserId,
        used: &SessionCode,
        by: Actor,
    ) -> Result<(), SessionError> {
        let cached = self.proxy_view(user).await?;
        let key = cached.profile.session_key();
        let now = self.inner.ports.clock.now();
        let decision = self.inner.uses.note(&key, &by, used, now, cached.quiet);
        if let Some(closed) = decision.closed {
            self.inner
                .ports
                .audit
                .append(&closed.audit_entry())
                .await
                .map_err(internal)?;
        }
        if decision.commit {
            let event = Event::CodeUsed {
                code: used.clone(),
                by,
            };
            self.step(&cached.profile, &key, event, |_| {}).await?;
        }
        Ok(())
    }

    /// Audits the calls counted since the last `used` row of each window and closes the
    /// windows: all of them with `all` (call it at shutdown), else those older than the
    /// period.
    pub async fn flush_uses(&self, all: bool) -> Result<(), SessionError> {
        let now = self.inner.ports.clock.now();
        for closed in self.inner.uses.flush(now, all) {
            self.inner
                .ports
                .audit
                .append(&closed.audit_entry())
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// The profile and usable code of `user`, from memory when fresh.
    async fn proxy_view(&self, user: &UserId) -> Result<CachedCode, SessionError> {
        let codes = &self.inner.codes;
        if let Some(cached) = codes.get(user) {
            return Ok(cached);
        }
        let generation = codes.generation();
        let profile = self.profile(user).await?;
        let record = self
            .inner
            .ports
            .store
            .load(&profile.session_key())
            .await
            .map_err(internal)?;
        let cached = CachedCode::new(profile, record.as_ref());
        codes.put(user, cached.clone(), generation);
        Ok(cached)
    }

    /// The code to put in `Authorization2F` for `user` (not audited here: the proxy calls
    /// [`Self::record_use`] or [`Self::on_dem_9101`] with the outcome). `NoCode` (404) when
    /// nothing usable exists: the proxy answers with a SOAP Fault saying what to do.
    ///
    /// Served from memory: every change made through this manager invalidates it at once;
    /// a change made by another process is seen within [`hot::CODE_TTL`].
    pub async fn code_for_proxy(&self, user: &UserId) -> Result<SessionCode, SessionError> {
        let cached = self.proxy_view(user).await?;
        let now = self.inner.ports.clock.now();
        cached
            .code
            .filter(|c| c.valid_until > now)
            .map(|c| c.code)
            .ok_or_else(|| SessionError::NoCode(user.clone()))
    }

    /// The code itself for "Copia codice" (a doctor's own workstation only: the gateway
    /// checks that), audited as `copied`.
    pub async fn copy_code(&self, user: &UserId, by: Actor) -> Result<SessionCode, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let decision = self
            .step(&profile, &key, Event::CodeCopied { by }, |_| {})
            .await?;
        decision.outcome?;
        decision
            .next
            .usable_code()
            .map(|c| c.code.clone())
            .ok_or_else(|| SessionError::NoCode(user.clone()))
    }

    /// To call after password or PIN were changed: lifts a "credentials refused" block (and
    /// re-verifies a suspect code).
    pub async fn credentials_changed(&self, user: &UserId) -> Result<SessionView, SessionError> {
        let profile = self.profile(user).await?;
        let identity = self.identity(&profile).await?;
        self.lift_block_if_changed(
            &profile,
            &profile.session_key(),
            identity.credentials.revision,
        )
        .await?;
        self.current_view(&profile).await
    }

    /// A proxied call to Sistema TS timed out or got a 5xx.
    pub async fn upstream_unavailable(&self, user: &UserId) -> Result<(), SessionError> {
        let profile = self.profile(user).await?;
        self.step(
            &profile,
            &profile.session_key(),
            Event::UpstreamUnavailable,
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// A proxied call to Sistema TS got an answer again.
    pub async fn upstream_recovered(&self, user: &UserId) -> Result<(), SessionError> {
        let profile = self.profile(user).await?;
        self.step(
            &profile,
            &profile.session_key(),
            Event::UpstreamRecovered,
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// The manager's "now" (its clock: the system's, or the simulator's in the demo).
    pub fn now(&self) -> OffsetDateTime {
        self.inner.ports.clock.now()
    }

    /// The record of `user` as of now (expiry applied even if not committed yet).
    pub async fn record(&self, user: &UserId) -> Result<SessionRecord, SessionError> {
        let profile = self.profile(user).await?;
        let key = profile.session_key();
        let record = self
            .inner
            .ports
            .store
            .load(&key)
            .await
            .map_err(internal)?
            .unwrap_or_else(|| SessionRecord::new(key));
        Ok(decide(&record, Event::Tick, self.now(), &self.inner.policy).next)
    }

    /// Records what automatic requests need for `user` (by [`crate::auto::Autopilot`]).
    /// Returns `true` when it differs from what was recorded before.
    pub fn set_auto_inputs(&self, user: &UserId, inputs: AutoInputs) -> bool {
        lock(&self.inner.auto).insert(user.clone(), inputs.clone()) != Some(inputs)
    }

    /// Forgets what was recorded for `user`: the fallback applies again (see
    /// [`Self::set_auto_fallback`]). Returns `true` when something was recorded.
    pub fn clear_auto_inputs(&self, user: &UserId) -> bool {
        lock(&self.inner.auto).remove(user).is_some()
    }

    /// The users with inputs recorded.
    pub fn auto_users(&self) -> Vec<UserId> {
        lock(&self.inner.auto).keys().cloned().collect()
    }

    /// What the views show for a user the autopilot does not visit (no mailbox, no choice of
    /// their own): automatic requests off, and why. Kept once instead of once per user, so
    /// that 100,000 doctors without a mailbox cost nothing.
    pub fn set_auto_fallback(&self, inputs: AutoInputs) {
        *lock(&self.inner.auto_fallback) = Some(inputs);
    }

    /// Tells every workstation of `user` the current view (after a change that is not a
    /// session event, such as automatic requests turned on).
    pub async fn announce(&self, user: &UserId) -> Result<(), SessionError> {
        let profile = self.profile(user).await?;
        let change = SessionChanged {
            key: profile.session_key(),
            view: self.current_view(&profile).await?,
        };
        if let Some(sink) = &self.inner.sink {
            sink.publish(&change);
        }
        let _ = self.inner.events.send(change);
        Ok(())
    }

    /// The mail of the request accepted at `sent_at` is late (automatic requests): counted
    /// as a failure and told to every workstation with `message`.
    pub async fn mail_late(
        &self,
        user: &UserId,
        sent_at: OffsetDateTime,
        message: String,
    ) -> Result<(), SessionError> {
        let profile = self.profile(user).await?;
        self.step(
            &profile,
            &profile.session_key(),
            Event::MailLate { sent_at, message },
            |_| {},
        )
        .await?;
        Ok(())
    }

    /// The code for a proxied call, obtained if need be: when `user` has no usable code but
    /// automatic requests are on for them (outside working hours too: a call needs it), a
    /// request is started or joined, and the call waits for the code up to `hold`. Every
    /// held call of one user waits on the same `create`. `NoCode` when none came in time or
    /// none can be obtained automatically; the error of the request when it was refused.
    pub async fn obtain_for_proxy(
        &self,
        user: &UserId,
        hold: std::time::Duration,
    ) -> Result<SessionCode, SessionError> {
        match self.code_for_proxy(user).await {
            Err(SessionError::NoCode(_)) => {}
            other => return other,
        }
        let enabled = lock(&self.inner.auto)
            .get(user)
            .is_some_and(|inputs| inputs.enabled);
        if !enabled || hold.is_zero() {
            return Err(SessionError::NoCode(user.clone()));
        }
        let deadline = tokio::time::Instant::now() + hold;
        // Subscribed before anything is asked, so that a fast answer is not missed.
        let mut changes = self.subscribe();
        let record = self.record(user).await?;
        if record.blocked.is_some() {
            return Err(SessionError::NoCode(user.clone()));
        }
        let now = self.now();
        let policy = &self.inner.policy;
        let on_its_way = record.create_in_flight(now, policy.create_timeout)
            || matches!(&record.request, Some(CodeRequest { stage: RequestStage::Sent { sent_at }, .. })
                if now < *sent_at + policy.auto_mail_wait);
        let mut done = if on_its_way {
            None
        } else {
            Some(self.start_held_request(user))
        };
        let mut requesting = done.is_some();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(SessionError::NoCode(user.clone()));
                }
                outcome = held_outcome(done.as_mut()), if requesting => {
                    requesting = false;
                    // `joined`/`sent` (or a task that ended without a word): the code is on
                    // its way, the session changes say when it is there.
                    if let Some(Err(e)) = outcome {
                        return Err(e);
                    }
                }
                change = changes.recv() => match change {
                    Ok(c) if c.key.user != *user => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(SessionError::NoCode(user.clone()));
                    }
                },
            }
            if let Ok(code) = self.code_for_proxy(user).await {
                return Ok(code);
            }
        }
    }

    /// Starts the automatic request of held calls for `user`, or joins the one another held
    /// call of this process is starting; its outcome arrives on the returned channel.
    fn start_held_request(&self, user: &UserId) -> HeldRequest {
        let mut held = lock(&self.inner.held);
        if let Some(rx) = held.get(user) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        held.insert(user.clone(), rx.clone());
        let this = self.clone();
        let user = user.clone();
        // Detached: a held call that gives up never cuts the `create` short.
        tokio::spawn(async move {
            let result = this.request(&user, true, Actor::Auto).await.map(|_| ());
            lock(&this.inner.held).remove(&user);
            let _ = tx.send(Some(result));
        });
        rx
    }

    /// Applies the passing of time to the stored sessions: expiry, lost `create`s,
    /// re-verification of suspect codes, green→yellow. Call it periodically
    /// (see [`Self::spawn_ticker`]). A pass visits the sessions whose
    /// [`SessionRecord::due_at`] has come (an indexed query), except the first pass of a
    /// process, which visits every session: moments stored by an older version, or under
    /// another policy, are computed again.
    pub async fn tick(&self) -> Result<(), SessionError> {
        self.tick_as(true).await
    }

    /// [`Self::tick`]; without `acting` (another node holds the periodic lease) only this
    /// node's own work is done: the use counts it keeps in memory go to the audit.
    pub async fn tick_as(&self, acting: bool) -> Result<(), SessionError> {
        // A failed summary row must not stop expiry and re-verification.
        if let Err(e) = self.flush_uses(false).await {
            tracing::warn!(error = %describe_chain(&e), "use summaries not audited");
        }
        if !acting {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let store = &self.inner.ports.store;
        let swept = self.inner.swept.load(Ordering::Acquire);
        let keys = if swept {
            store.due(self.inner.ports.clock.now()).await
        } else {
            store.keys().await
        }
        .map_err(internal)?;
        self.inner.swept.store(true, Ordering::Release);
        metrics::gauge!("tsgate_periodic_visited", "work" => "tick").set(keys.len() as f64);
        let _timer = PassTimer("tick", started);
        for key in keys {
            let Ok(profile) = self.profile(&key.user).await else {
                continue;
            };
            let decision = self.step(&profile, &key, Event::Tick, |_| {}).await?;
            if decision
                .effects
                .iter()
                .any(|e| matches!(e, Effect::CallCheckToken(_)))
            {
                let this = self.clone();
                tokio::spawn(async move {
                    let _ = this
                        .execute(&profile, None, &key, &Actor::System, decision.effects)
                        .await;
                });
            }
        }
        Ok(())
    }

    /// Runs [`Self::tick`] every `period` until the returned task is aborted; with `lease`
    /// (several nodes on one database) the passes over every session are the holder's.
    pub fn spawn_ticker(
        &self,
        period: std::time::Duration,
        lease: Option<Arc<crate::lease::Lease>>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let acting = match &lease {
                    Some(lease) => lease.hold().await,
                    None => true,
                };
                if let Err(e) = this.tick_as(acting).await {
                    tracing::warn!(error = %describe_chain(&e), "session tick failed");
                }
            }
        })
    }

    /// Forgets every cached code (see [`Self::code_for_proxy`]): the next proxied call of
    /// each user reads the store again. For when changes made elsewhere may have gone
    /// unseen, such as another node's while the connection that tells of them was down.
    pub fn invalidate_all_codes(&self) {
        self.inner.codes.invalidate_all();
    }
}

/// What the automatic request of held calls answered; `None` if its task ended without
/// answering (or there is none).
async fn held_outcome(request: Option<&mut HeldRequest>) -> Option<Result<(), SessionError>> {
    let request = request?;
    request
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|answer| answer.clone())
}

/// The codes a typed or pasted text may hold: itself once cleaned, or else the candidates of
/// a whole pasted mail. A long text without any is "no code in what you pasted", not "431
/// characters instead of 36".
fn candidates_in(raw: &str) -> Result<Vec<SessionCode>, FormatError> {
    match normalize_code(raw) {
        Ok(code) => Ok(vec![code]),
        Err(FormatError::WrongLength { len }) if len > PASTE_LENGTH => {
            let found = sistemats::code::find_in_paste(raw);
            if found.is_empty() {
                Err(FormatError::NotInText)
            } else {
                Ok(found)
            }
        }
        Err(e) => Err(e),
    }
}

/// Beyond this many characters (after cleaning) a paste is a text that may contain a code,
/// not a mistyped code.
const PASTE_LENGTH: usize = 40;

/// Records how long one periodic pass took (`tsgate_periodic_duration_seconds{work}`), when
/// dropped: a pass that fails half-way is measured too.
pub(crate) struct PassTimer(pub(crate) &'static str, pub(crate) std::time::Instant);

impl Drop for PassTimer {
    fn drop(&mut self) {
        metrics::histogram!("tsgate_periodic_duration_seconds", "work" => self.0)
            .record(self.1.elapsed().as_secs_f64());
    }
}
