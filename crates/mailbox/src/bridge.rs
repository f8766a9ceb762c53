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
use tsgate_session::mailbox::{MailboxUpdate, MailboxView, UserMailbox, WatchState};
use tsgate_session::{
    Actor, MailboxError, MailboxService, SessionChanged, SessionManager, SessionView, StateName,
    Store, StoreResult, UserId, async_trait,
};

use crate::settings::MailboxSettings;
use crate::watch::{Expectation, Found, Outcome, WatchEvent, Watcher, WatcherHandle};

/// How often the settings are re-read from the store.
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

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
            }),
        };
        this.reload().await?;
        this.resync().await;
        let follower = this.clone();
        tokio::spawn(async move { follower.follow(changes).await });
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

    /// Stops every watcher (they log out).
    pub async fn shutdown(&self) {
        let mut registry = self.inner.registry.lock().await;
        for (_, running) in registry.watchers.drain() {
            running.stop();
        }
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
        let status = registry
            .handle_of(user)
            .map(|h| h.status())
            .unwrap_or_default();
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
