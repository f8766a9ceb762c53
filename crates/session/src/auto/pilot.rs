//! The periodic side of automatic requests: for every user, resolve the inputs of [`plan`]
//! (mode, mailbox, working hours), tell the manager (so that every view shows the next
//! automatic action), and perform what is due.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use sistemats::error::describe_chain;
use time::OffsetDateTime;

use super::{AutoInputs, AutoMode, HoursSource, Plan, UserSchedule, plan};
use crate::error::SessionError;
use crate::hours::WorkingHours;
use crate::ids::{Actor, UserId};
use crate::italy;
use crate::lease::Lease;
use crate::manager::SessionManager;
use crate::policy::Policy;
use crate::ports::{MailboxService, ScheduleRepo, StoreError, UserDirectory};
use crate::record::{CodeRequest, RequestStage, SessionRecord};

/// Runs automatic requests for every user. Cheap to clone.
#[derive(Clone)]
pub struct Autopilot {
    inner: Arc<Inner>,
}

struct Inner {
    manager: SessionManager,
    directory: Arc<dyn UserDirectory>,
    schedules: Arc<dyn ScheduleRepo>,
    mailboxes: Option<Arc<dyn MailboxService>>,
    /// Practice hours from the configuration file: when set, they are the practice default
    /// and the stored one is not used.
    file_hours: Option<WorkingHours>,
    /// Users whose automatic request is being performed by this process.
    running: Mutex<HashSet<UserId>>,
    /// When each user visited by this process must be visited again (see [`Visit`]).
    visits: Mutex<HashMap<UserId, Visit>>,
}

/// What a visit to a user left for the next passes: nothing needs to be looked at before
/// `next_at` unless the user's session changes (every node hears of it: the change events,
/// across nodes through the database), their schedule or the practice hours change (both
/// plan again at once), or their mailbox starts or stops working (`mailbox`, checked in
/// memory at every pass). A pass over 100,000 doctors thus reads the database for the few
/// that are due, not for every one.
#[derive(Clone, Debug)]
struct Visit {
    next_at: OffsetDateTime,
    /// For a user in `default` mode, what their mailbox said ([`Autopilot::mailbox_working`]).
    mailbox: Option<(bool, Option<String>)>,
}

/// The longest a user goes unvisited even when nothing says they should be: a safety net,
/// not the means by which changes are seen.
const REVISIT_AT_LEAST_EVERY: time::Duration = time::Duration::hours(1);

/// When the plan of a user must be made again, at the latest, after `decided` at `now`.
fn revisit_at(
    decided: &Plan,
    record: &SessionRecord,
    now: OffsetDateTime,
    policy: &Policy,
) -> OffsetDateTime {
    let at = match decided {
        // Due: the next pass (a request started meanwhile changes the session anyway).
        Plan::Due(_) | Plan::MailLate { .. } => now,
        Plan::At { at, .. } => *at,
        Plan::Waiting => match &record.request {
            Some(CodeRequest {
                stage: RequestStage::Sent { sent_at },
                ..
            }) => *sent_at + policy.auto_mail_wait,
            // A `create` in flight or a suspect code: their outcome is a session change.
            _ => now + policy.create_timeout,
        },
        // The daily cap ends at midnight; every other reason ends with a change that is
        // announced.
        Plan::Off { .. } => italy::from_rome(
            italy::to_rome(now)
                .date()
                .next_day()
                .unwrap_or(time::Date::MAX),
            time::Time::MIDNIGHT,
        ),
    };
    at.min(now + REVISIT_AT_LEAST_EVERY)
}

impl std::fmt::Debug for Autopilot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Autopilot").finish_non_exhaustive()
    }
}

/// Why automatic requests are off for a user without a certified mailbox.
const NOT_CONFIGURED: &str = "Richieste automatiche non attive: configura la casella di posta \
     certificata, così tsgate richiede e inserisce i codici da solo.";

fn internal(e: StoreError) -> SessionError {
    SessionError::internal(e)
}

impl Autopilot {
    /// An autopilot over `manager`. `mailboxes` tells whether each user's mailbox is
    /// working (without it, `default` mode means off); `file_hours` are the practice hours
    /// of the configuration file, if any.
    pub fn new(
        manager: SessionManager,
        directory: Arc<dyn UserDirectory>,
        schedules: Arc<dyn ScheduleRepo>,
        mailboxes: Option<Arc<dyn MailboxService>>,
        file_hours: Option<WorkingHours>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                manager,
                directory,
                schedules,
                mailboxes,
                file_hours,
                running: Mutex::new(HashSet::new()),
                visits: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The practice default and where it comes from: the configuration file's, else the
    /// stored one, else built in ([`super::practice_hours`]).
    pub async fn practice(&self) -> Result<(WorkingHours, HoursSource), SessionError> {
        super::practice_hours(&*self.inner.schedules, self.inner.file_hours.as_ref())
            .await
            .map_err(internal)
    }

    /// The hours `user` works by and where they come from (their own, or the practice's).
    pub async fn effective_hours(
        &self,
        user: &UserId,
        schedule: &UserSchedule,
    ) -> Result<(WorkingHours, HoursSource), SessionError> {
        super::effective_hours(
            &*self.inner.schedules,
            self.inner.file_hours.as_ref(),
            schedule,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => SessionError::UnknownUser(user.clone()),
            e => internal(e),
        })
    }

    /// Whether the practice hours come from the configuration file (then they are read-only
    /// in the UI and the API).
    pub fn hours_from_file(&self) -> bool {
        self.inner.file_hours.is_some()
    }

    /// Resolves what [`plan`] needs for `user`.
    pub async fn inputs(&self, user: &UserId) -> Result<AutoInputs, SessionError> {
        Ok(self.resolve(user).await?.0)
    }

    /// [`Self::inputs`], with what the mailbox said when the user's mode depends on it.
    async fn resolve(
        &self,
        user: &UserId,
    ) -> Result<(AutoInputs, Option<(bool, Option<String>)>), SessionError> {
        let schedule = match self.inner.schedules.schedule(user).await {
            Ok(s) => s,
            Err(StoreError::NotFound(_)) => return Err(SessionError::UnknownUser(user.clone())),
            Err(e) => return Err(internal(e)),
        };
        let (hours, _) = self.effective_hours(user, &schedule).await?;
        let mut mailbox = None;
        let (enabled, off_reason) = match schedule.auto {
            AutoMode::Off => (
                false,
                Some(
                    "Richieste automatiche spente per questo medico: il codice si richiede \
                     dalla scheda."
                        .to_owned(),
                ),
            ),
            AutoMode::On => (true, None),
            AutoMode::Default => {
                let working = self.mailbox_working(user).await;
                mailbox = Some(working.clone());
                working
            }
        };
        let inputs = AutoInputs {
            enabled,
            off_reason,
            hours,
        };
        Ok((inputs, mailbox))
    }

    /// The inputs of a user without mailbox and without a choice of their own.
    fn fallback(&self) -> AutoInputs {
        AutoInputs {
            enabled: false,
            off_reason: Some(NOT_CONFIGURED.to_owned()),
            hours: self.inner.file_hours.clone().unwrap_or_default(),
        }
    }

    /// `default` mode: on when the mailbox is configured and its last check did not fail.
    async fn mailbox_working(&self, user: &UserId) -> (bool, Option<String>) {
        let not_configured = Some(NOT_CONFIGURED.to_owned());
        let Some(mailboxes) = &self.inner.mailboxes else {
            return (false, not_configured);
        };
        match mailboxes.health(user).await {
            Ok(health) if !health.configured => (false, not_configured),
            Ok(health) => match health.last_error {
                Some(d) => (
                    false,
                    Some(format!(
                        "Richieste automatiche sospese finché la casella non funziona: {}",
                        d.message
                    )),
                ),
                None => (true, None),
            },
            Err(e) => (
                false,
                Some(format!(
                    "Richieste automatiche sospese: stato della casella non disponibile ({e})."
                )),
            ),
        }
    }

    /// Plans every user whose automatic requests may be on (a mailbox, or a choice of their
    /// own: [`UserDirectory::auto_candidates`]) again and performs what is due (each request
    /// in its own task); for when what applies to all may have changed (the practice hours).
    /// Everybody else is off for want of a mailbox, which one shared fallback tells the
    /// views. Returns how many requests were started.
    pub async fn run_once(&self) -> Result<usize, SessionError> {
        self.visits().clear();
        self.run_pass(true).await
    }

    /// One periodic pass: visits the users whose plan is due again (see [`Visit`]), refreshes
    /// the inputs the views show and performs what is due. When `acting` is false (another
    /// node holds the periodic lease), no request is started and no mail is declared late
    /// here.
    pub async fn run_pass(&self, acting: bool) -> Result<usize, SessionError> {
        let _timer = crate::manager::PassTimer("autopilot", std::time::Instant::now());
        let manager = &self.inner.manager;
        manager.set_auto_fallback(self.fallback());
        let users = self
            .inner
            .directory
            .auto_candidates()
            .await
            .map_err(internal)?;
        // Users visited last time who no longer are (mailbox removed): back to the fallback.
        let candidates: HashSet<&UserId> = users.iter().collect();
        self.visits().retain(|u, _| candidates.contains(u));
        for user in manager.auto_users() {
            if !candidates.contains(&user) && manager.clear_auto_inputs(&user) {
                match manager.announce(&user).await {
                    Ok(()) | Err(SessionError::UnknownUser(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let now = manager.now();
        let mut started = 0;
        let mut visited = 0;
        for user in users {
            if !self.due(&user, now).await {
                continue;
            }
            visited += 1;
            let (inputs, mailbox) = match self.resolve(&user).await {
                Ok(i) => i,
                Err(SessionError::UnknownUser(_)) => continue,
                Err(e) => return Err(e),
            };
            let (began, next_at) = self.step_as(&user, inputs, acting).await?;
            self.visits().insert(user, Visit { next_at, mailbox });
            started += usize::from(began);
        }
        metrics::gauge!("tsgate_periodic_visited", "work" => "autopilot").set(visited as f64);
        Ok(started)
    }

    /// Whether `user` must be visited at `now`: never visited, their moment has come, or
    /// their mailbox started or stopped working since (an in-memory look).
    async fn due(&self, user: &UserId, now: OffsetDateTime) -> bool {
        let Some(visit) = self.visits().get(user).cloned() else {
            return true;
        };
        if visit.next_at <= now {
            return true;
        }
        match visit.mailbox {
            Some(said) => self.mailbox_working(user).await != said,
            None => false,
        }
    }

    /// Forgets when `user` was to be visited: the next pass plans them again. For a change
    /// of their session, here or on another node.
    pub fn touch(&self, user: &UserId) {
        self.visits().remove(user);
    }

    fn visits(&self) -> MutexGuard<'_, HashMap<UserId, Visit>> {
        self.inner.visits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Plans `user` again now, after a change of their schedule or of the practice's hours,
    /// so that every workstation sees the new next action at once (not at the next pass),
    /// and performs what is due. `true` when a request started.
    pub async fn replan(&self, user: &UserId) -> Result<bool, SessionError> {
        let (inputs, mailbox) = self.resolve(user).await?;
        let (started, next_at) = self.step_as(user, inputs, true).await?;
        self.visits()
            .insert(user.clone(), Visit { next_at, mailbox });
        Ok(started)
    }

    /// Plans `user` with `inputs` and performs what is due (without `acting`, only the
    /// inputs are recorded and announced). Returns whether a request started, and when
    /// the plan must be made again at the latest.
    async fn step_as(
        &self,
        user: &UserId,
        inputs: AutoInputs,
        acting: bool,
    ) -> Result<(bool, OffsetDateTime), SessionError> {
        let manager = &self.inner.manager;
        let changed = manager.set_auto_inputs(user, inputs.clone());
        let record = manager.record(user).await?;
        let now = manager.now();
        let decided = plan(&record, &inputs, now, manager.policy());
        let next_at = revisit_at(&decided, &record, now, manager.policy());
        if changed {
            manager.announce(user).await?;
        }
        if !acting {
            return Ok((false, next_at));
        }
        match decided {
            Plan::Due(reason) => {
                if !self.claim(user) {
                    return Ok((false, next_at));
                }
                tracing::info!(%user, ?reason, "automatic request");
                let this = self.clone();
                let user = user.clone();
                tokio::spawn(async move {
                    let result = this.inner.manager.request(&user, true, Actor::Auto).await;
                    if let Err(e) = result {
                        tracing::warn!(%user, error = %describe_chain(&e), "automatic request failed");
                    }
                    this.release(&user);
                });
                Ok((true, next_at))
            }
            Plan::MailLate { sent_at } => {
                let message = self
                    .mail_late_message(user, &record, &inputs, sent_at, now)
                    .await;
                manager.mail_late(user, sent_at, message).await?;
                Ok((false, next_at))
            }
            Plan::Off { .. } | Plan::Waiting | Plan::At { .. } => Ok((false, next_at)),
        }
    }

    /// How many automatic requests this process is performing right now (each until its
    /// `create` is answered; the mail may still be on its way).
    pub fn in_progress(&self) -> usize {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn claim(&self, user: &UserId) -> bool {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.clone())
    }

    fn release(&self, user: &UserId) {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }

    /// "The code requested at 07:50 has not arrived…" with the mailbox's own diagnostics and
    /// the next attempt.
    async fn mail_late_message(
        &self,
        user: &UserId,
        record: &SessionRecord,
        inputs: &AutoInputs,
        sent_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> String {
        let policy = self.inner.manager.policy();
        // The next attempt is what the plan will say once this failure is recorded (the
        // backoff, or later when a code still covers the working hours until then).
        let mut after = record.clone();
        after.auto.record_failure(now, policy);
        let next = match plan(&after, inputs, now, policy) {
            Plan::At { at, .. } => format!(
                "Nuovo tentativo automatico {}, oppure inserisci il codice se lo ricevi.",
                italy::at_time(at, now)
            ),
            Plan::Off { reason, .. } => {
                format!("{reason} Se ricevi il codice, inseriscilo dalla scheda.")
            }
            _ => "Nuovo tentativo automatico tra poco, oppure inserisci il codice se lo ricevi."
                .to_owned(),
        };
        let minutes = policy.auto_mail_wait.whole_minutes().max(1);
        let mut text = format!(
            "Il codice richiesto {} non è arrivato nella casella entro {minutes} min.",
            italy::at_time(sent_at, now)
        );
        let diagnostics = match &self.inner.mailboxes {
            Some(m) => m
                .status(user)
                .await
                .map(|v| v.diagnostics.into_iter().map(|d| d.message).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if diagnostics.is_empty() {
            text.push_str(
                " Controlla che la casella certificata sul portale Sistema TS sia quella \
                 configurata in tsgate.",
            );
        } else {
            for d in diagnostics {
                text.push(' ');
                text.push_str(&d);
            }
        }
        text.push(' ');
        text.push_str(&next);
        text
    }

    /// Runs [`Self::run_pass`] every `period` until the returned task is aborted; a change
    /// of a user's session (here or, through the database, on another node) makes the next
    /// pass plan that user again.
    ///
    /// With `lease` (several nodes on one database), only the node that holds it starts
    /// requests; the others keep their views' inputs fresh.
    pub fn spawn(
        &self,
        period: std::time::Duration,
        lease: Option<Arc<Lease>>,
    ) -> tokio::task::JoinHandle<()> {
        self.spawn_telling(period, lease, None)
    }

    /// [`Self::spawn`], whose first pass starts at once and, when done, is told on
    /// `first_pass` (a node with many doctors need not wait for it before serving).
    pub fn spawn_telling(
        &self,
        period: std::time::Duration,
        lease: Option<Arc<Lease>>,
        first_pass: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let mut changes = self.inner.manager.subscribe();
        let mut first_pass = first_pass;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    change = changes.recv() => {
                        match change {
                            Ok(change) => this.touch(&change.key.user),
                            // Changes were missed: plan everybody again.
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                this.visits().clear();
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        }
                        continue;
                    }
                }
                let acting = match &lease {
                    Some(lease) => lease.hold().await,
                    None => true,
                };
                if let Err(e) = this.run_pass(acting).await {
                    tracing::warn!(error = %describe_chain(&e), "automatic requests: pass failed");
                }
                if let Some(done) = first_pass.take() {
                    let _ = done.send(());
                }
            }
        })
    }
}
