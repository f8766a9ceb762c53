//! Live events across nodes: every `tsgate serve` on one database tells the others of each
//! session change with a PostgreSQL `NOTIFY` on [`CHANNEL`], and feeds theirs to its own
//! manager ([`SessionManager::publish_external`]), which passes them to its workstations'
//! event streams and forgets its cached code of that user, so that its proxy never forwards
//! a code another node has replaced.
//!
//! - [`PgEvents::new`] starts the publisher: [`PgEventSink::publish`] (called by the manager
//!   after each commit, under the session's lock) only queues the change; a task sends the
//!   queued changes with `pg_notify`, several per statement when they pile up. The payload is
//!   a small JSON [`Notice`]: the sending process's tag, the session key and the view. A view
//!   that would not fit PostgreSQL's limit (a payload must be shorter than 8000 bytes) is left
//!   out, and the receiver reads it from its own store.
//! - [`PgEvents::listen`] starts the listener on a connection of its own (a
//!   [`PgListener`]). Notifications are not kept while nobody listens: whenever the
//!   connection is lost the listener connects again, and since the changes made meanwhile
//!   went unseen, it forgets every cached code
//!   ([`SessionManager::invalidate_all_codes`]) and says so in the log. Workstations' pages
//!   re-read the states when their own stream reconnects; those that stayed connected see
//!   the next change.
//!
//! A node ignores its own notifications (its manager already told its workstations).
//! Notifications are best effort: a change whose `NOTIFY` fails is logged and dropped, and the
//! code cache's short lifetime bounds how long another node may go on without it.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tsgate_session::{EventSink, SessionChanged, SessionKey, SessionManager, SessionView};

use crate::PgStore;
use crate::error::Result;

/// The channel of session changes.
pub const CHANNEL: &str = "tsgate_sessions";

/// PostgreSQL's limit on a `NOTIFY` payload (default build): shorter than 8000 bytes.
pub const MAX_PAYLOAD: usize = 7999;

/// Changes waiting for the publisher; when it falls this far behind (the database is
/// unreachable), further changes are dropped with a warning rather than held in memory.
const QUEUE: usize = 4096;

/// At most this many notifications per statement.
const BATCH: usize = 64;

/// The longest wait between two attempts to reconnect the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A listener connection that lasted this long resets the count of failures.
const STABLE: Duration = Duration::from_secs(60);

/// What one notification carries (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The sending process's tag ([`SessionManager::instance_tag`]).
    pub from: String,
    /// Whose session changed.
    pub key: SessionKey,
    /// The new view; absent when it would not fit in a payload (the receiver reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<SessionView>,
}

impl Notice {
    /// The payload of `change` sent by `from`: with the view when the whole fits in
    /// [`MAX_PAYLOAD`] bytes, otherwise the key alone.
    pub fn encode(from: &str, change: &SessionChanged) -> String {
        let mut notice = Self {
            from: from.to_owned(),
            key: change.key.clone(),
            view: Some(change.view.clone()),
        };
        let payload = to_json(&notice);
        if payload.len() <= MAX_PAYLOAD {
            return payload;
        }
        tracing::debug!(key = %change.key, bytes = payload.len(), "session view too long for a notification: sent without it");
        notice.view = None;
        to_json(&notice)
    }
}

fn to_json(notice: &Notice) -> String {
    // A struct of strings, numbers and options: serializing it cannot fail.
    serde_json::to_string(notice).unwrap_or_default()
}

/// Session changes of this node to every node on the database (LISTEN/NOTIFY): the
/// [`EventSink`] of the manager ([`Self::sink`]) and the listener that feeds the other
/// nodes' changes to it ([`Self::listen`]).
pub struct PgEvents {
    pool: PgPool,
    sink: Arc<PgEventSink>,
}

impl fmt::Debug for PgEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEvents").finish_non_exhaustive()
    }
}

/// Queues each change for `NOTIFY`; never waits. See [`PgEvents`].
#[derive(Debug)]
pub struct PgEventSink {
    queue: mpsc::Sender<SessionChanged>,
    /// The tag of the manager that publishes, known once [`PgEvents::listen`] is called.
    origin: Arc<OnceLock<String>>,
}

impl EventSink for PgEventSink {
    fn publish(&self, change: &SessionChanged) {
        match self.queue.try_send(change.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(change)) => {
                tracing::warn!(key = %change.key, "change not sent to the other nodes: too many waiting (database unreachable?)");
            }
            // The publisher has stopped: the database is closing.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl PgEvents {
    /// Starts the publisher on the current tokio runtime, sending over `store`'s pool. Give
    /// [`Self::sink`] to the manager, then call [`Self::listen`] with it.
    pub fn new(store: &PgStore) -> Self {
        let pool = store.pool().clone();
        let (queue, rx) = mpsc::channel(QUEUE);
        let origin = Arc::new(OnceLock::new());
        tokio::spawn(publish(pool.clone(), rx, Arc::clone(&origin)));
        Self {
            pool,
            sink: Arc::new(PgEventSink { queue, origin }),
        }
    }

    /// The sink to pass to [`SessionManager::new`].
    pub fn sink(&self) -> Arc<dyn EventSink> {
        self.sink.clone()
    }

    /// Listens to [`CHANNEL`] and feeds every other node's change to `manager` (the one
    /// built with [`Self::sink`]), until the store is closed. Returns once listening, so that
    /// no change made after it returns is missed; fails if the first connection does.
    pub async fn listen(self, manager: SessionManager) -> Result<JoinHandle<()>> {
        let origin = manager.instance_tag();
        // Set once: a second call keeps the first manager's tag.
        let _ = self.sink.origin.set(origin.clone());
        let listener = connect(&self.pool).await?;
        tracing::info!(
            channel = CHANNEL,
            "listening to the other nodes' session changes"
        );
        Ok(tokio::spawn(receive(self.pool, listener, manager, origin)))
    }
}

/// Sends queued changes until the queue's senders are gone or the pool is closed.
async fn publish(
    pool: PgPool,
    mut rx: mpsc::Receiver<SessionChanged>,
    origin: Arc<OnceLock<String>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let from = origin.get().map(String::as_str).unwrap_or_default();
        let payloads: Vec<String> = batch
            .drain(..)
            .map(|change| Notice::encode(from, &change))
            .collect();
        // In array order, in one transaction: the receivers get them in this order.
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&pool)
            .await;
        match sent {
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, dropped = payloads.len(), "changes not sent to the other nodes");
            }
        }
    }
}

async fn connect(pool: &PgPool) -> std::result::Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Receives notifications until the pool is closed, reconnecting whenever the connection
/// is lost.
async fn receive(pool: PgPool, listener: PgListener, manager: SessionManager, origin: String) {
    let mut listener = Some(listener);
    let mut since = Instant::now();
    // Failures in a row: the wait before the next attempt doubles with each.
    let mut failures = 0u32;
    loop {
        let Some(current) = listener.as_mut() else {
            tokio::time::sleep(backoff(failures)).await;
            match connect(&pool).await {
                Ok(fresh) => {
                    listener = Some(fresh);
                    since = Instant::now();
                    missed(&manager);
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, retry_in = ?backoff(failures), "cannot listen to the other nodes' changes");
                }
            }
            continue;
        };
        match current.try_recv().await {
            Ok(Some(notification)) => {
                failures = 0;
                deliver(&manager, &origin, notification.payload()).await;
            }
            // The connection was lost and is back (PgListener connects and listens again
            // before answering this).
            Ok(None) => {
                since = Instant::now();
                missed(&manager);
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                // A connection that served a while is a new story, not one more failure.
                if since.elapsed() > STABLE {
                    failures = 0;
                }
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, "lost the connection that brings the other nodes' changes");
                // Start again from a new listener, whatever state this one is in.
                listener = None;
            }
        }
    }
}

/// The wait before the next attempt after `failures` failures in a row.
fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => (Duration::from_millis(250) * 2u32.saturating_pow(n - 1)).min(MAX_BACKOFF),
    }
}

/// After a reconnection: what the other nodes changed meanwhile went unseen.
fn missed(manager: &SessionManager) {
    tracing::warn!(
        "listening again to the other nodes' changes: those made while the connection was down \
         were missed; every cached code is read again from the database"
    );
    manager.invalidate_all_codes();
}

/// Passes one notification to `manager`, unless this process sent it.
async fn deliver(manager: &SessionManager, origin: &str, payload: &str) {
    let notice: Notice = match serde_json::from_str(payload) {
        Ok(notice) => notice,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session notification ignored");
            return;
        }
    };
    if notice.from == origin {
        return;
    }
    tracing::debug!(key = %notice.key, from = %notice.from, "session changed on another node");
    let view = match notice.view {
        Some(view) => view,
        None => match manager.status(&notice.key.user).await {
            Ok(view) => view,
            Err(e) => {
                // The user may be gone; whatever happened, this node must not keep using the
                // code it cached.
                tracing::warn!(key = %notice.key, error = %e, "session changed on another node, but it cannot be read here");
                manager.invalidate_all_codes();
                return;
            }
        },
    };
    manager.publish_external(SessionChanged {
        key: notice.key,
        view,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsgate_session::{Application, Level, StateName, UserId};

    fn change(warning: Option<String>) -> SessionChanged {
        let user = UserId::new("PROVAX00X00X000Y").unwrap();
        SessionChanged {
            key: SessionKey::new(user.clone(), Application::Prescrittore),
            view: SessionView {
                user,
                application: Application::Prescrittore,
                state: StateName::Active,
                level: Level::Green,
                expires_at: Some(time::OffsetDateTime::UNIX_EPOCH),
                remaining_seconds: Some(3600),
                yellow_from: Some(time::OffsetDateTime::UNIX_EPOCH),
                pending: true,
                requested_at: Some(time::OffsetDateTime::UNIX_EPOCH),
                requested_by: Some(tsgate_session::Actor::Cli),
                last_error: None,
                password_warning: warning,
                auto: None,
            },
        }
    }

    #[test]
    fn a_notice_carries_the_view_and_reads_back_the_same() {
        let change = change(Some("La password scade tra 3 giorni".into()));
        let payload = Notice::encode("node#1", &change);
        assert!(payload.len() <= MAX_PAYLOAD);
        let notice: Notice = serde_json::from_str(&payload).unwrap();
        assert_eq!(notice.from, "node#1");
        assert_eq!(notice.key, change.key);
        assert_eq!(notice.view, Some(change.view));
    }

    #[test]
    fn a_view_too_long_for_postgres_is_left_out() {
        let change = change(Some("x".repeat(MAX_PAYLOAD)));
        let payload = Notice::encode("node#1", &change);
        assert!(payload.len() < 200, "{payload}");
        let notice: Notice = serde_json::from_str(&payload).unwrap();
        assert_eq!((notice.key, notice.view), (change.key, None));
        // Just under the limit still goes whole.
        let base = Notice::encode("node#1", &self::change(Some(String::new()))).len();
        let fits = self::change(Some("y".repeat(MAX_PAYLOAD - base)));
        let payload = Notice::encode("node#1", &fits);
        assert_eq!(payload.len(), MAX_PAYLOAD);
        assert!(
            serde_json::from_str::<Notice>(&payload)
                .unwrap()
                .view
                .is_some()
        );
    }
}
