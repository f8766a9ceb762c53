//! Notices: things every workstation of a user should hear about that are not a change of
//! the session itself, sent on the event stream as `notice` events.
//!
//! Today one kind: a call of the practice software refused by the proxy because the user
//! has no usable code. The practice software shows only the SOAP Fault, on the machine that
//! sent the prescription; the doctor may be at another desk, or on the phone, with the
//! tsgate page open: the notice tells them there, with the one step to take.
//!
//! Notices are node-local and not stored (the log and a metric keep the count; a notice
//! only prompts an action), and throttled per user so that software retrying in a loop
//! raises one notice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::broadcast;

use tsgate_session::{Caller, UserId};

/// At most one notice of the same kind for the same user in this interval.
const THROTTLE: Duration = Duration::from_secs(30);

/// One `notice` event of `GET /api/v1/events`.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// Machine name of the notice: `proxy_refused`.
    pub kind: &'static str,
    /// The Sistema TS user concerned.
    pub user: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The workstation whose call it was.
    pub workstation_id: String,
    /// Its human name.
    pub workstation_name: String,
    /// What happened and what to do, in Italian.
    pub message: String,
}

/// The notices channel of one gateway.
#[derive(Debug)]
pub(crate) struct Notices {
    tx: broadcast::Sender<Notice>,
    last: Mutex<HashMap<(&'static str, UserId), Instant>>,
}

impl Notices {
    pub(crate) fn new() -> Self {
        Self {
            tx: broadcast::channel(256).0,
            last: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }

    /// A proxied call for `user` was refused because no usable code was there.
    pub(crate) fn proxy_refused(&self, user: &UserId, caller: &Caller) {
        let name = &caller.workstation.name;
        self.send(Notice {
            kind: "proxy_refused",
            user: user.clone(),
            at: OffsetDateTime::now_utc(),
            workstation_id: caller.workstation.id.0.clone(),
            workstation_name: name.clone(),
            message: format!(
                "Un invio del programma di studio dalla postazione «{name}» è stato rifiutato: non c'è un codice ID-SESSIONE valido. Richiedi il codice, poi fai ripetere l'invio."
            ),
        });
    }

    fn send(&self, notice: Notice) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            let key = (notice.kind, notice.user.clone());
            if last
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < THROTTLE)
            {
                return;
            }
            if last.len() > 10_000 {
                last.retain(|_, at| now.duration_since(*at) < THROTTLE);
            }
            last.insert(key, now);
        }
        // No receiver left in between: nobody to tell.
        let _ = self.tx.send(notice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsgate_session::{Workstation, WorkstationId, WorkstationRole};

    fn caller() -> Caller {
        Caller {
            workstation: Workstation {
                id: WorkstationId("w1".into()),
                name: "Ambulatorio 2".into(),
                role: WorkstationRole::Staff,
                practice: None,
                users: vec![u("U1")],
                created_at: OffsetDateTime::UNIX_EPOCH,
                revoked_at: None,
            },
            remote: None,
        }
    }

    fn u(id: &str) -> UserId {
        UserId::new(id).unwrap()
    }

    #[test]
    fn one_notice_per_user_within_the_throttle() {
        let notices = Notices::new();
        let mut rx = notices.subscribe();
        notices.proxy_refused(&u("U1"), &caller());
        notices.proxy_refused(&u("U1"), &caller());
        notices.proxy_refused(&u("U2"), &caller());
        let first = rx.try_recv().unwrap();
        assert_eq!((first.kind, first.user.as_str()), ("proxy_refused", "U1"));
        assert!(
            first.message.contains("«Ambulatorio 2»"),
            "{}",
            first.message
        );
        assert_eq!(rx.try_recv().unwrap().user.as_str(), "U2");
        assert!(rx.try_recv().is_err(), "the retry of U1 was throttled");
    }

    #[test]
    fn nothing_is_kept_without_listeners() {
        let notices = Notices::new();
        notices.proxy_refused(&u("U1"), &caller());
        // A listener arriving later still gets the next refusal (no throttle was armed).
        let mut rx = notices.subscribe();
        notices.proxy_refused(&u("U1"), &caller());
        assert_eq!(rx.try_recv().unwrap().user.as_str(), "U1");
    }
}
