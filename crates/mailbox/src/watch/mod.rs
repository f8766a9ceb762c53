//! The watcher: one task per mailbox that is connected while a code is awaited and costs
//! nothing otherwise.
//!
//! Contract with the caller (the session domain):
//! 1. call [`WatcherHandle::expect_code`] *before* sending the A2F `create`;
//! 2. verify every [`Found`] code with `checkToken` for the users it lists (best first);
//! 3. tell the outcome with [`WatcherHandle::report`]: an accepted code ends the wait for
//!    that user and the mail is flagged `\Seen` (or moved/deleted as configured);
//! 4. persist every [`WatchEvent::State`] so that a restart reads nothing twice.

mod ctx;
mod scan;
mod session;
mod survey;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sistemats::secret::SessionCode;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::extract::Via;
use crate::settings::MailboxSettings;
use crate::state::WatchState;
use crate::status::{Diagnostic, DiagnosticCode, MailboxStatus, text};

pub use survey::check;

/// A code is awaited for `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The user (Sistema TS user id, or any key the caller uses).
    pub user: String,
    /// The user's certified addresses: mails addressed there are his.
    pub addresses: Vec<String>,
    /// When the code was requested: older mails are ignored (minus the configured margin).
    pub since: OffsetDateTime,
}

/// A mail in a folder, as IMAP identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// Folder name.
    pub folder: String,
    /// UIDVALIDITY of the folder.
    pub uid_validity: u32,
    /// UID of the mail.
    pub uid: u32,
}

/// A candidate code found in a mail. `Debug` masks the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The code (verify it before use).
    pub code: SessionCode,
    /// Users awaiting a code that this mail may be for, best match first (recipient
    /// address, then user id in the text, then everybody awaiting).
    pub users: Vec<String>,
    /// Folder of the mail.
    pub folder: String,
    /// The folder is the spam folder.
    pub junk: bool,
    /// Recipient addresses of the mail.
    pub recipients: Vec<String>,
    /// The mail, for [`WatcherHandle::report`].
    pub message: MessageRef,
    /// When the server received the mail (else the `Date` header).
    pub received_at: Option<OffsetDateTime>,
    /// Where in the mail the code was.
    pub via: Via,
}

/// What the watcher tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A candidate code.
    Found(Found),
    /// Something a doctor or an administrator should read.
    Diagnostic(Diagnostic),
    /// New progress to persist.
    State(WatchState),
}

/// Receiver of the watcher's events. Called from the watcher task: do not block in it.
pub trait MailSink: Send + Sync + 'static {
    /// One event.
    fn event(&self, event: WatchEvent);
}

impl MailSink for tokio::sync::mpsc::UnboundedSender<WatchEvent> {
    fn event(&self, event: WatchEvent) {
        // A closed receiver means nobody listens any more; the handle's stop follows.
        let _ = self.send(event);
    }
}

/// Outcome of the verification of a [`Found`] code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sistema TS confirmed the code for this user.
    Accepted {
        /// The user the code belongs to.
        user: String,
    },
    /// Sistema TS refused the code.
    Rejected,
}

/// Starts watchers.
#[derive(Debug)]
pub struct Watcher;

impl Watcher {
    /// Starts the watcher task of one mailbox with the progress persisted last time.
    /// Must be called within a tokio runtime.
    pub fn spawn(
        settings: MailboxSettings,
        state: WatchState,
        sink: impl MailSink,
    ) -> WatcherHandle {
        let configured = settings.validate().is_ok();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                state,
                status: MailboxStatus {
                    configured,
                    ..MailboxStatus::default()
                },
                ..Inner::default()
            }),
            wake: Notify::new(),
            sink: Box::new(sink),
        });
        let task = tokio::spawn(session::run(shared.clone(), settings));
        WatcherHandle {
            shared,
            task: Some(task),
        }
    }
}

/// Control of a running watcher. Dropping it stops the watcher.
#[derive(Debug)]
pub struct WatcherHandle {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl WatcherHandle {
    /// Starts (or restarts) waiting for a code for `expectation.user`.
    pub fn expect_code(&self, expectation: Expectation) {
        let mut inner = self.shared.lock();
        for address in &expectation.addresses {
            inner
                .known_addresses
                .insert(address.trim().to_lowercase(), expectation.user.clone());
        }
        let user = expectation.user.clone();
        inner.expectations.retain(|p| p.expectation.user != user);
        inner.status.clear(
            &[
                DiagnosticCode::NoMail,
                DiagnosticCode::FoundInJunk,
                DiagnosticCode::CodeRejected,
                DiagnosticCode::CodeUnreadable,
                DiagnosticCode::GaveUp,
            ],
            Some(&user),
        );
        inner.expectations.push(Pending {
            expectation,
            started: Instant::now(),
            no_mail_told: false,
        });
        drop(inner);
        self.shared.wake.notify_one();
    }

    /// Stops waiting for `user` (e.g. the code was pasted by hand).
    pub fn cancel(&self, user: &str) {
        self.shared
            .lock()
            .expectations
            .retain(|p| p.expectation.user != user);
        self.shared.wake.notify_one();
    }

    /// Whether another code of the same mail was already accepted: the rest of its
    /// candidates (other OCR readings) need no `checkToken`.
    pub fn already_accepted(&self, found: &Found) -> bool {
        self.shared
            .lock()
            .outstanding
            .get(&found.message)
            .is_some_and(|o| o.accepted)
    }

    /// Tells the outcome of the verification of a found code.
    pub fn report(&self, found: &Found, outcome: Outcome) {
        let mut events = Vec::new();
        {
            let mut inner = self.shared.lock();
            let entry = inner.outstanding.get_mut(&found.message).map(|o| {
                o.remaining = o.remaining.saturating_sub(1);
                (o.remaining, o.accepted, o.users.clone())
            });
            match outcome {
                Outcome::Accepted { user } => {
                    if let Some(o) = inner.outstanding.get_mut(&found.message) {
                        o.accepted = true;
                    }
                    inner.expectations.retain(|p| p.expectation.user != user);
                    inner.status.clear(
                        &[
                            DiagnosticCode::NoMail,
                            DiagnosticCode::CodeRejected,
                            DiagnosticCode::CodeUnreadable,
                        ],
                        Some(&user),
                    );
                    inner.actions.push(found.message.clone());
                }
                Outcome::Rejected => {
                    let (remaining, accepted, users) =
                        entry.unwrap_or((0, false, found.users.clone()));
                    if remaining == 0 && !accepted {
                        for user in users {
                            let d = Diagnostic::new(DiagnosticCode::CodeRejected, text::rejected())
                                .for_user(user);
                            inner.status.push(d.clone());
                            events.push(WatchEvent::Diagnostic(d));
                        }
                    }
                }
            }
            if inner
                .outstanding
                .get(&found.message)
                .is_some_and(|o| o.remaining == 0)
            {
                inner.outstanding.remove(&found.message);
            }
        }
        for event in events {
            self.shared.sink.event(event);
        }
        self.shared.wake.notify_one();
    }

    /// Connects now (even with no code awaited) to refresh the status and diagnostics.
    pub fn check_now(&self) {
        self.shared.lock().check_now = true;
        self.shared.wake.notify_one();
    }

    /// Asks the watcher to log out and end. Returns at once.
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
    }

    /// Stops the watcher and waits for its task to end.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Current status (never the password).
    pub fn status(&self) -> MailboxStatus {
        let inner = self.shared.lock();
        let mut status = inner.status.clone();
        status.awaiting = inner
            .expectations
            .iter()
            .map(|p| p.expectation.user.clone())
            .collect();
        status
    }

    /// The last error, if the watcher is failing ([`Self::status`] without the copies).
    pub fn last_error(&self) -> Option<Diagnostic> {
        self.shared.lock().status.last_error.clone()
    }

    /// Current progress (the same as the last [`WatchEvent::State`]).
    pub fn state(&self) -> WatchState {
        self.shared.lock().state.clone()
    }
}

impl Drop for WatcherHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    sink: Box<dyn MailSink>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every update is a single
        // assignment), so the poison flag is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records and sends a diagnostic.
    fn diagnose(&self, diagnostic: Diagnostic) {
        self.lock().status.push(diagnostic.clone());
        self.sink.event(WatchEvent::Diagnostic(diagnostic));
    }

    /// Expires requests and raises the "no mail" diagnostic; returns the time until the
    /// next such deadline.
    fn housekeeping(&self, settings: &MailboxSettings) -> Option<Duration> {
        let no_mail = Duration::from_secs(settings.no_mail_after_secs);
        let give_up = Duration::from_secs(settings.await_timeout_secs);
        let mut events = Vec::new();
        let mut next: Option<Duration> = None;
        {
            let mut inner = self.lock();
            let quota = inner.status.quota_percent;
            let now = Instant::now();
            let mut kept = Vec::new();
            for mut p in std::mem::take(&mut inner.expectations) {
                let waited = now.saturating_duration_since(p.started);
                if waited >= give_up {
                    events.push(
                        Diagnostic::new(
                            DiagnosticCode::GaveUp,
                            text::gave_up(give_up.as_secs() / 60),
                        )
                        .for_user(p.expectation.user.clone()),
                    );
                    continue;
                }
                if !p.no_mail_told && waited >= no_mail {
                    p.no_mail_told = true;
                    let code = match quota {
                        Some(q) if q >= 90 => DiagnosticCode::MailboxFull,
                        _ => DiagnosticCode::NoMail,
                    };
                    let minutes = no_mail.as_secs().div_ceil(60).max(1);
                    events.push(
                        Diagnostic::new(code, text::no_mail(minutes, quota))
                            .for_user(p.expectation.user.clone()),
                    );
                }
                let deadline = if p.no_mail_told { give_up } else { no_mail };
                let left = deadline.saturating_sub(waited);
                next = Some(next.map_or(left, |n| n.min(left)));
                kept.push(p);
            }
            inner.expectations = kept;
            for d in &events {
                inner.status.push(d.clone());
            }
        }
        for d in events {
            self.sink.event(WatchEvent::Diagnostic(d));
        }
        next
    }
}

#[derive(Debug)]
struct Pending {
    expectation: Expectation,
    started: Instant,
    no_mail_told: bool,
}

#[derive(Debug)]
struct Outstanding {
    remaining: usize,
    accepted: bool,
    users: Vec<String>,
}

#[derive(Debug, Default)]
struct Inner {
    stop: bool,
    check_now: bool,
    expectations: Vec<Pending>,
    /// Certified address → user, from every expectation seen: a mail addressed to a user
    /// who is not waiting is not offered to the others.
    known_addresses: HashMap<String, String>,
    /// Mails whose code was accepted, to flag/move/delete.
    actions: Vec<MessageRef>,
    outstanding: HashMap<MessageRef, Outstanding>,
    status: MailboxStatus,
    state: WatchState,
}
