//! The bridge between the certified-mailbox watchers and the session domain.
//!
//! One [`Watcher`] runs per distinct mailbox (user name, host and port): several users may
//! share one, and the recipient address (or the text) of each mail says whose code it is.
//! The bridge follows the [`SessionManager`]'s changes: when a user starts waiting for a
//! code it tells the watcher (`expect_code`, with the request time), when he stops waiting
//! it cancels. A watcher is connected only while somebody waits, so an idle tsgate holds no
//! IMAP connection. Every candidate code goes through `submit_code` (normalised and checked
//! with `checkToken`) for the users the watcher proposes, in order; the outcome goes back to
//! the watcher, which then flags (or moves) the mail. The watcher's progress is stored, so
//! that a restart reads nothing twice; its diagnostics are served by `GET …/mailbox`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::sync::{Mutex, broadcast, mpsc};
use tokio::task::JoinHandle;
use tsgate_session::mailbox::{MailboxHealth, MailboxUpdate, MailboxView, UserMailbox, WatchState};
use tsgate_session::{
    Actor, MailboxError, MailboxService, SessionChanged, SessionManager, SessionView, StateName,
    Store, StoreResult, UserId, async_trait,
};

use crate::settings::MailboxSettings;
use crate::status::MailboxStatus;
use crate::watch::{Expectation, Found, Outcome, WatchEvent, Watcher, WatcherHandle};

/// How often the settings are re-read from the store.
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Several nodes on one database: each mailbox is watched by the node holding its lease,
/// renewed this often...
const LEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// ...and held this long past each renewal: a dead node's mailboxes are taken over within
/// `LEASE_TTL + LEASE_EVERY` (25 s).
const LEASE_TTL: time::Duration = time::Duration::seconds(20);

/// The lease of the mailbox `key`.
fn lease_name(key: &str) -> String {
    format!("mailbox:{key}")
}

/// Whether a view means "a code is on its way": a first request, or a replacement
/// requested while a code is still in use.
fn awaited_since(view: &SessionView) -> Option<OffsetDateTime> {
    let waiting = view.state == StateName::AwaitingCode || view.pending;
    view.requested_at.filter(|_| waiting)
}

/// Saves `mailbox` for `user`. Users who share the same mailbox get the same password
/// (one account, one password), so that changing it once is enough.
pub async fn save(store: &dyn Store, user: &UserId, mailbox: &UserMailbox) -> StoreResult<()> {
    store.set_mailbox(user, mailbox).await?;
    let key = mailbox.mailbox_key();
    for (other, mut theirs) in store.list_mailboxes().await? {
        if other != *user
            && theirs.mailbox_key() == key
            && theirs.settings.password.expose_secret() != mailbox.settings.password.expose_secret()
        {
            theirs.settings.password = mailbox.settings.password.clone();
            store.set_mailbox(&other, &theirs).await?;
        }
    }
    Ok(())
}

/// What identifies a watcher's configuration: a change restarts the watcher.
fn fingerprint(settings: &MailboxSettings) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(settings).unwrap_or_default());
    h.update([0]);
    h.update(settings.password.expose_secret().as_bytes());
    format!("{:x}", h.finalize())
}

struct Running {
    handle: Arc<WatcherHandle>,
    events: JoinHandle<()>,
    fingerprint: String,
}

impl Running {
    fn stop(self) {
        self.handle.stop();
        self.events.abort();
    }
}

struct UserEntry {
    key: String,
    addresses: Vec<String>,
    mailbox: UserMailbox,
}

#[derive(Default)]
struct Registry {
    users: BTreeMap<UserId, UserEntry>,
    watchers: HashMap<String, Running>,
    /// Users whose code the watchers were told to expect, with the request time.
    awaiting: HashMap<UserId, OffsetDateTime>,
}

impl Registry {
    fn handle_of(&self, user: &UserId) -> Option<Arc<WatcherHandle>> {
        let entry = self.users.get(user)?;
        self.watchers.get(&entry.key).map(|r| r.handle.clone())
    }

    fn expect(&self, user: &UserId, since: OffsetDateTime) {
        if let (Some(entry), Some(handle)) = (self.users.get(user), self.handle_of(user)) {
            handle.expect_code(Expectation {
                user: user.as_str().to_owned(),
                addresses: entry.addresses.clone(),
                since,
            });
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    manager: SessionManager,
    registry: Mutex<Registry>,
    /// The mailboxes whose lease this node holds (it watches exactly these).
    leased: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// The running watchers of every configured mailbox. Cheap to clone.
#[derive(Clone)]
pub struct Mailboxes {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailboxes").finish_non_exhaustive()
    }
}

impl Mailboxes {
    /// Starts a watcher for every configured mailbox and follows the sessions. Must be
    /// called within the tokio runtime that serves the gateway.
    pub async fn start(store: Arc<dyn Store>, manager: SessionManager) -> StoreResult<Self> {
        // Subscribe first: a change that happens while the watchers start is not lost.
        let changes = manager.subscribe();
        let this = Self {
            inner: Arc::new(Inner {
                store,
                manager,
                registry: Mutex::new(Registry::default()),
                leased: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            }),
        };
        this.reload().await?;
        this.resync().await;
        let follower = this.clone();
        tokio::spawn(async move { follower.follow(changes).await });
        // Leases are renewed often; a mailbox this node gains or loses (another node died,
        // or took it while this one was stalled) starts or stops its watcher here.
        let leaser = Arc::downgrade(&this.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(LEASE_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(inner) = leaser.upgrade() else {
                    return;
                };
                let this = Self { inner };
                let keys: Vec<String> = {
                    let registry = this.inner.registry.lock().await;
                    registry.users.values().map(|e| e.key.clone()).collect()
                };
                let before = this.leased();
                if this.lease(keys).await != before {
                    match this.reload().await {
                        Ok(()) => this.resync().await,
                        Err(e) => {
                            tracing::warn!(error = %sistemats::error::describe_chain(&e), "cannot re-read the mailbox settings")
                        }
                    }
                }
            }
        });
        // Settings changed by `tsgate user set-mailbox` (another process) are picked up here;
        // unchanged mailboxes keep their watcher.
        let reloader = Arc::downgrade(&this.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(inner) = reloader.upgrade() else {
                    return;
                };
                let this = Self { inner };
                match this.reload().await {
                    Ok(()) => this.resync().await,
                    Err(e) => {
                        tracing::warn!(error = %sistemats::error::describe_chain(&e), "cannot re-read the mailbox settings")
                    }
                }
            }
        });
        Ok(this)
    }

    /// Stops every watcher (they log out) and gives their leases up, so that another node
    /// watches them at once.
    pub async fn shutdown(&self) {
        let mut registry = self.inner.registry.lock().await;
        for (_, running) in registry.watchers.drain() {
            running.stop();
        }
        drop(registry);
        let owner = self.inner.manager.node_name().to_owned();
        let leased = std::mem::take(&mut *self.leased_lock());
        for key in leased {
            if let Err(e) = self
                .inner
                .store
                .release_lease(&lease_name(&key), &owner)
                .await
            {
                tracing::warn!(mailbox = %key, error = %e, "mailbox lease not released");
            }
        }
    }

    fn leased_lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.inner.leased.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mailboxes this node holds the lease of.
    fn leased(&self) -> std::collections::BTreeSet<String> {
        self.leased_lock().clone()
    }

    /// The mailboxes (`username@host:port`) this node watches now.
    pub async fn watched(&self) -> Vec<String> {
        self.inner
            .registry
            .lock()
            .await
            .watchers
            .keys()
            .cloned()
            .collect()
    }

    /// Takes or renews the lease of each mailbox of `keys`; returns (and remembers) those this
    /// node holds. A store failure keeps nothing: better no watcher for a while than two.
    async fn lease(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> std::collections::BTreeSet<String> {
        let owner = self.inner.manager.node_name().to_owned();
        let now = OffsetDateTime::now_utc();
        let mut held = std::collections::BTreeSet::new();
        for key in keys {
            match self
                .inner
                .store
                .try_lease(&lease_name(&key), &owner, LEASE_TTL, now)
                .await
            {
                Ok(true) => {
                    held.insert(key);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(mailbox = %key, error = %e, "mailbox lease not renewed"),
            }
        }
        *self.leased_lock() = held.clone();
        held
    }

    /// Re-reads every mailbox from the store: starts watchers for new mailboxes, restarts
    /// those whose settings changed, stops those nobody uses any more.
    pub async fn reload(&self) -> StoreResult<()> {
        let mailboxes = self.inner.store.list_mailboxes().await?;
        let mut registry = self.inner.registry.lock().await;
        registry.users.clear();
        // The settings of the first user (by id) stand for a shared mailbox.
        let mut groups: BTreeMap<String, MailboxSettings> = BTreeMap::new();
        for (user, mailbox) in mailboxes {
            let key = mailbox.mailbox_key();
            groups
                .entry(key.clone())
                .or_insert_with(|| mailbox.settings.clone());
            registry.users.insert(
                user,
                UserEntry {
                    key,
                    addresses: mailbox.addresses(),
                    mailbox,
                },
            );
        }
        // In a shared mailbox the login address reaches every user: only each user's
        // certified address tells whose mail it is.
        let mut sharing: HashMap<String, usize> = HashMap::new();
        for entry in registry.users.values() {
            *sharing.entry(entry.key.clone()).or_default() += 1;
        }
        for entry in registry.users.values_mut() {
            if sharing.get(&entry.key).is_some_and(|n| *n > 1)
                && let Some(address) = &entry.mailbox.address
            {
                entry.addresses = vec![address.trim().to_lowercase()];
            }
        }
        // Only the mailboxes whose lease this node holds (one node per mailbox).
        let held = self.lease(groups.keys().cloned().collect::<Vec<_>>()).await;
        groups.retain(|key, _| held.contains(key));
        let stale: Vec<String> = registry
            .watchers
            .iter()
            .filter(|(key, running)| {
                groups
                    .get(*key)
                    .is_none_or(|s| fingerprint(s) != running.fingerprint)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(running) = registry.watchers.remove(&key) {
                tracing::info!(mailbox = %key, "mailbox watcher stopped (settings changed or removed)");
                running.stop();
            }
        }
        let mut started = Vec::new();
        for (key, settings) in groups {
            if registry.watchers.contains_key(&key) {
                continue;
            }
            let state = match self.inner.store.watch_state(&key).await {
                Ok(state) => state.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(mailbox = %key, error = %e, "watch state unreadable, starting afresh");
                    Default::default()
                }
            };
            let running = self.spawn(key.clone(), settings, state);
            tracing::info!(mailbox = %key, "mailbox watcher started");
            registry.watchers.insert(key.clone(), running);
            started.push(key);
        }
        // New watchers learn who is waiting.
        let awaiting: Vec<(UserId, OffsetDateTime)> = registry
            .awaiting
            .iter()
            .filter(|(u, _)| {
                registry
                    .users
                    .get(*u)
                    .is_some_and(|e| started.contains(&e.key))
            })
            .map(|(u, t)| (u.clone(), *t))
            .collect();
        for (user, since) in awaiting {
            registry.expect(&user, self.in_mail_time(since));
        }
        Ok(())
    }

    fn spawn(&self, key: String, settings: MailboxSettings, state: WatchState) -> Running {
        let fingerprint = fingerprint(&settings);
        let (tx, mut rx) = mpsc::unbounded_channel::<WatchEvent>();
        let handle = Arc::new(Watcher::spawn(settings, state, tx));
        let this = self.clone();
        let watcher = handle.clone();
        let events = tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                match event {
                    WatchEvent::Found(found) => this.verify(&watcher, &found).await,
                    WatchEvent::Diagnostic(d) => {
                        tracing::info!(mailbox = %key, code = ?d.code, user = ?d.user, "mailbox diagnostic");
                    }
                    WatchEvent::State(state) => {
                        if let Err(e) = this.inner.store.set_watch_state(&key, &state).await {
                            tracing::warn!(mailbox = %key, error = %e, "cannot save the watch state");
                        }
                    }
                }
            }
        });
        Running {
            handle,
            events,
            fingerprint,
        }
    }

    /// Verifies a found code for the users it may belong to, best first.
    async fn verify(&self, watcher: &WatcherHandle, found: &Found) {
        if watcher.already_accepted(found) {
            watcher.report(found, Outcome::Rejected);
            return;
        }
        let configured: Vec<UserId> = {
            let registry = self.inner.registry.lock().await;
            found
                .users
                .iter()
                .filter_map(|u| UserId::new(u.as_str()).ok())
                .filter(|u| registry.users.contains_key(u))
                .collect()
        };
        for user in configured {
            match self
                .inner
                .manager
                .submit_code(&user, found.code.expose_secret(), Actor::Mailbox)
                .await
            {
                Ok(_) => {
                    tracing::info!(%user, folder = %found.folder, junk = found.junk, via = ?found.via, "code from the mailbox verified");
                    watcher.report(
                        found,
                        Outcome::Accepted {
                            user: user.as_str().to_owned(),
                        },
                    );
                    return;
                }
                Err(e) => {
                    tracing::info!(%user, error = %e, "code from the mailbox not accepted");
                }
            }
        }
        watcher.report(found, Outcome::Rejected);
    }

    /// Follows the sessions: expects or cancels codes as users start or stop waiting.
    async fn follow(self, mut changes: broadcast::Receiver<SessionChanged>) {
        loop {
            match changes.recv().await {
                Ok(change) => self.on_change(&change.key.user, &change.view).await,
                Err(broadcast::error::RecvError::Lagged(_)) => self.resync().await,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// The domain's instant `at` on the mail server's clock, which stamps mail with real
    /// time: the same instant in production; in the demo, whose clock the simulator moves
    /// (hours or days ahead), the request time moved back by that offset, so that the
    /// search for mail newer than the request finds the mail.
    fn in_mail_time(&self, at: OffsetDateTime) -> OffsetDateTime {
        at - (self.inner.manager.now() - OffsetDateTime::now_utc())
    }

    async fn on_change(&self, user: &UserId, view: &SessionView) {
        let mut registry = self.inner.registry.lock().await;
        if !registry.users.contains_key(user) {
            return;
        }
        match awaited_since(view) {
            Some(since) => {
                // Every change while waiting is published; only a new request restarts the wait.
                if registry.awaiting.get(user) != Some(&since) {
                    registry.awaiting.insert(user.clone(), since);
                    registry.expect(user, self.in_mail_time(since));
                }
            }
            None => {
                if registry.awaiting.remove(user).is_some()
                    && let Some(handle) = registry.handle_of(user)
                {
                    handle.cancel(user.as_str());
                }
            }
        }
    }

    /// Reads the state of every user with a mailbox (at start, and after missed changes).
    async fn resync(&self) {
        let users: Vec<UserId> = self
            .inner
            .registry
            .lock()
            .await
            .users
            .keys()
            .cloned()
            .collect();
        for user in users {
            match self.inner.manager.status(&user).await {
                Ok(view) => self.on_change(&user, &view).await,
                Err(e) => tracing::warn!(%user, error = %e, "session state unreadable"),
            }
        }
    }

    /// The state of `user`'s mailbox as `GET …/mailbox` shows it.
    pub async fn status_of(&self, user: &UserId) -> MailboxView {
        let registry = self.inner.registry.lock().await;
        let Some(entry) = registry.users.get(user) else {
            return MailboxView::not_configured();
        };
        // Watched by another node (it holds the lease): configured all the same, its
        // connection state is that node's.
        let status = registry.handle_of(user).map_or_else(
            || MailboxStatus {
                configured: true,
                ..MailboxStatus::default()
            },
            |h| h.status(),
        );
        let shared_with: Vec<String> = registry
            .users
            .iter()
            .filter(|(u, e)| *u != user && e.key == entry.key)
            .map(|(u, _)| u.to_string())
            .collect();
        MailboxView::of(
            user,
            &entry.mailbox,
            status,
            entry.addresses.clone(),
            shared_with,
        )
    }
}

#[async_trait]
impl MailboxService for Mailboxes {
    async fn status(&self, user: &UserId) -> Result<MailboxView, MailboxError> {
        Ok(self.status_of(user).await)
    }

    async fn health(&self, user: &UserId) -> Result<MailboxHealth, MailboxError> {
        let registry = self.inner.registry.lock().await;
        if !registry.users.contains_key(user) {
            return Ok(MailboxHealth::default());
        }
        Ok(MailboxHealth {
            configured: true,
            last_error: registry.handle_of(user).and_then(|h| h.last_error()),
        })
    }

    async fn configure(
        &self,
        user: &UserId,
        update: MailboxUpdate,
    ) -> Result<MailboxView, MailboxError> {
        let store = &self.inner.store;
        if store.user(user).await?.is_none() {
            return Err(MailboxError::UnknownUser);
        }
        let previous = store.mailbox(user).await?;
        let mailbox = update.apply(previous.as_ref())?;
        save(store.as_ref(), user, &mailbox).await?;
        self.reload().await?;
        {
            let registry = self.inner.registry.lock().await;
            // Log in now so that wrong settings show up at once, not at the next request.
            if let Some(handle) = registry.handle_of(user) {
                handle.check_now();
            }
        }
        // A user already waiting gets the new watcher's attention.
        if let Ok(view) = self.inner.manager.status(user).await {
            self.inner.registry.lock().await.awaiting.remove(user);
            self.on_change(user, &view).await;
        }
        Ok(self.status_of(user).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsgate_session::mailbox::{MailboxSettings, Tls};
    use tsgate_session::testing::{FakeUpstream, TestDomain};
    use tsgate_session::{MailboxRepo as _, Password, Policy, Ports};

    fn node(domain: &TestDomain, name: &str) -> SessionManager {
        let ports = Ports {
            store: domain.store.clone(),
            audit: domain.store.clone(),
            directory: domain.store.clone(),
            upstream: domain.upstream.clone(),
            clock: Arc::new(domain.clock.clone()),
        };
        SessionManager::new(ports, Policy::default(), None).with_instance(name)
    }

    /// Two nodes on one database: one watches the mailbox, the other does not; when the
    /// first stops, the second takes the mailbox over.
    #[tokio::test]
    async fn each_mailbox_is_watched_by_one_node() {
        let domain = TestDomain::new(FakeUpstream::default());
        let user = domain.add_user("PROVAX00X00X000Y");
        let mailbox = UserMailbox {
            // Nothing listens there: the watcher retries, which is all this test needs.
            settings: MailboxSettings::new(
                "127.0.0.1",
                Tls::Plain,
                "medico@pec.example",
                Password::new("Segreta!1"),
            ),
            address: None,
        };
        domain.store.set_mailbox(&user, &mailbox).await.unwrap();
        let store: Arc<dyn Store> = domain.store.clone();
        let a = Mailboxes::start(store.clone(), node(&domain, "node-a"))
            .await
            .unwrap();
        let b = Mailboxes::start(store.clone(), node(&domain, "node-b"))
            .await
            .unwrap();
        let key = mailbox.mailbox_key();
        assert_eq!(a.watched().await, vec![key.clone()]);
        assert!(b.watched().await.is_empty(), "the lease is node A's");
        // Node B still knows the mailbox is configured: its automatic requests count on it.
        assert!(b.status_of(&user).await.configured);
        let health = MailboxService::health(&b, &user).await.unwrap();
        assert!(health.configured && health.last_error.is_none());
        b.reload().await.unwrap();
        assert!(b.watched().await.is_empty());
        a.shutdown().await;
        b.reload().await.unwrap();
        assert_eq!(b.watched().await, vec![key], "node B took the mailbox over");
        b.shutdown().await;
    }
}
