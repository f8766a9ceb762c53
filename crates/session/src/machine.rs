//! The state machine of one session key, as a pure function.
//!
//! [`decide`] takes the stored record, one event, the time and the policy, and returns the
//! next record, the effects to carry out (upstream calls, notification, audit) and the
//! answer for whoever caused the event. No I/O happens here, so every rule is tested
//! without sockets; [`crate::SessionManager`] does the I/O around it.

use sistemats::secret::SessionCode;
use time::OffsetDateTime;

use crate::audit::{AuditDraft, AuditKind};
use crate::error::{RejectReason, SessionError};
use crate::ids::Actor;
use crate::italy;
use crate::policy::Policy;
use crate::record::{
    BlockKind, CodeRequest, CodeSlot, CredentialsBlock, CurrentCode, EndReason, RecordedError,
    RequestStage, SessionRecord,
};
use crate::upstream::{CreateResult, RevokeOutcome, TokenCheck, UpstreamError};
use crate::view::{Level, snapshot};

/// Something that happened to a session key.
#[derive(Clone, Debug)]
pub enum Event {
    /// A workstation (or the CLI) asks for a new code; `replace` confirms replacing a valid one.
    RequestCode {
        /// Confirmation to replace a valid code.
        replace: bool,
        /// Who asks.
        by: Actor,
    },
    /// `create` answered positively.
    CreateSucceeded {
        /// Issued in the response (test) or mailed.
        result: CreateResult,
        /// Who asked.
        by: Actor,
    },
    /// `create` failed.
    CreateFailed {
        /// Why.
        error: UpstreamError,
        /// Who asked.
        by: Actor,
        /// Revision of the credentials used.
        revision: i64,
    },
    /// A normalised code was typed, pasted or found in the mailbox.
    CodeSubmitted {
        /// The code.
        code: SessionCode,
        /// Who entered it.
        by: Actor,
    },
    /// `checkToken` answered about `code`.
    CheckResult {
        /// The code checked.
        code: SessionCode,
        /// Who caused the check.
        by: Actor,
        /// Revision of the credentials used.
        revision: i64,
        /// The answer.
        result: Result<TokenCheck, UpstreamError>,
    },
    /// A business call went through with `code` without complaints about it.
    CodeUsed {
        /// The code sent.
        code: SessionCode,
        /// Which workstation.
        by: Actor,
    },
    /// A business call sent with `code` came back with 9101.
    DemCall9101 {
        /// The code sent.
        code: SessionCode,
        /// Which workstation.
        by: Actor,
    },
    /// Sistema TS did not answer a business call (timeout, 5xx).
    UpstreamUnavailable,
    /// Sistema TS answered a business call again.
    UpstreamRecovered,
    /// Revoke the current code, here and at Sistema TS.
    Revoke {
        /// Who.
        by: Actor,
    },
    /// `revoke` answered.
    RevokeResult {
        /// The code revoked.
        code: SessionCode,
        /// Who asked.
        by: Actor,
        /// Revision of the credentials used.
        revision: i64,
        /// The answer.
        result: Result<RevokeOutcome, UpstreamError>,
    },
    /// Somebody copied the code (audited).
    CodeCopied {
        /// Who.
        by: Actor,
    },
    /// Time passed: expiry, lost `create`, re-verification.
    Tick,
    /// The process `owner` is gone (it crashed or was killed): a `create` it had in flight
    /// will never be answered here.
    OwnerGone {
        /// `node#incarnation` of the gone process.
        owner: String,
    },
    /// The process `owner` is still waiting for the answer to its `create`: its lease is
    /// renewed from now (nothing if the request is no longer its own).
    CreateStillRunning {
        /// `node#incarnation` of the process that sent it.
        owner: String,
    },
    /// The credentials now have revision `revision`.
    CredentialsChanged {
        /// The new revision.
        revision: i64,
    },
    /// The mail of the request Sistema TS accepted at `sent_at` has not come in time
    /// (automatic requests): a failure, told to every workstation with `message`.
    MailLate {
        /// When the request was accepted.
        sent_at: OffsetDateTime,
        /// Italian, with the mailbox's diagnostics and the next step.
        message: String,
    },
}

/// What must happen after a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Call `create` (the record now holds the single-flight lease).
    CallCreate,
    /// Call `checkToken` for this code, then feed [`Event::CheckResult`].
    CallCheckToken(SessionCode),
    /// Call `revoke` for this code, then feed [`Event::RevokeResult`].
    CallRevoke(SessionCode),
    /// The visible state changed: tell every workstation (once).
    Notify,
    /// Write this audit line with the record.
    Audit(AuditDraft),
}

/// The result of [`decide`].
#[derive(Clone, Debug)]
pub struct Decision {
    /// The record to commit.
    pub next: SessionRecord,
    /// Effects, in order.
    pub effects: Vec<Effect>,
    /// The answer for whoever caused the event.
    pub outcome: Result<(), SessionError>,
}

struct Ctx<'a> {
    next: SessionRecord,
    effects: Vec<Effect>,
    now: OffsetDateTime,
    policy: &'a Policy,
}

impl Ctx<'_> {
    fn audit(&mut self, kind: AuditKind, actor: &Actor, outcome: &str, code: Option<&SessionCode>) {
        self.effects.push(Effect::Audit(AuditDraft {
            kind,
            actor: actor.clone(),
            outcome: outcome.to_owned(),
            code_hint: code.map(SessionCode::hint),
        }));
    }

    fn set_error(&mut self, error: &SessionError) {
        self.next.last_error = Some(RecordedError {
            code: error.code().to_owned(),
            message: error.to_string(),
            at: self.now,
        });
    }

    fn upstream_ok(&mut self) {
        // To the minute is all the "last answer at 10:30" message needs: a busy proxy then
        // writes the record once a minute, not at every call (several nodes serving one
        // doctor's calls would otherwise race on the row).
        let stale = self.next.upstream.last_success_at.is_none_or(|at| {
            self.now - at >= SUCCESS_PRECISION || self.next.upstream.down_since.is_some()
        });
        if stale {
            self.next.upstream.last_success_at = Some(self.now);
        }
        self.next.upstream.down_since = None;
        if self
            .next
            .last_error
            .as_ref()
            .is_some_and(|e| e.code == "upstream_unavailable")
        {
            self.next.last_error = None;
        }
    }

    /// Records an upstream failure and returns the error for the caller.
    fn upstream_failed(&mut self, error: &UpstreamError, revision: i64) -> SessionError {
        let mapped = match error {
            UpstreamError::Unavailable { .. } => {
                let last = self.next.upstream.last_success_at;
                self.next.upstream.down_since.get_or_insert(self.now);
                SessionError::unavailable(last, self.now)
            }
            other => {
                // Any answer, even an error, means Sistema TS is reachable.
                self.upstream_ok();
                match other {
                    UpstreamError::PasswordRefused => self.block(BlockKind::Password, revision),
                    UpstreamError::PinRefused { .. } => self.block(BlockKind::Pin, revision),
                    UpstreamError::UserRefused { .. } => self.block(BlockKind::User, revision),
                    UpstreamError::NoCertifiedMail => SessionError::NoCertifiedMail,
                    UpstreamError::MailSendFailed => SessionError::MailSendFailed,
                    UpstreamError::A2f { code, message } => SessionError::Upstream {
                        code: code.clone(),
                        message: message.clone(),
                    },
                    UpstreamError::Unavailable { .. } => {
                        unreachable!("handled by the outer match")
                    }
                }
            }
        };
        self.set_error(&mapped);
        mapped
    }

    fn block(&mut self, kind: BlockKind, revision: i64) -> SessionError {
        self.next.blocked = Some(CredentialsBlock {
            kind,
            at: self.now,
            revision,
        });
        SessionError::credentials_refused(kind)
    }

    /// Expiry and lost `create`s are applied before every event, so that no decision is
    /// taken on a code that is already past its `dataFineValidita`.
    fn housekeeping(&mut self) {
        if let Some(current) = self.next.usable_code().cloned()
            && current.valid_until <= self.now
        {
            self.next.code = CodeSlot::Ended {
                reason: EndReason::Expired,
                at: current.valid_until,
            };
            self.audit(
                AuditKind::Expired,
                &Actor::System,
                "ok",
                Some(&current.code),
            );
            let message = format!(
                "Il codice è scaduto {}: richiedine uno nuovo.",
                italy::at_time(current.valid_until, self.now)
            );
            self.next.last_error = Some(RecordedError {
                code: "expired".into(),
                message,
                at: self.now,
            });
        }
        if let Some(alive) = self.next.create_alive_at()
            && self.now - alive >= self.policy.create_timeout
        {
            self.create_lost();
        }
    }

    /// The `create` in flight will never be answered: the next request may go out at once
    /// (the minimum interval follows a `create` Sistema TS answered, not a lost one).
    fn create_lost(&mut self) {
        self.next.request = None;
        self.next.last_create_at = None;
        self.next.last_error = Some(RecordedError {
            code: "create_lost".into(),
            message: "Sistema TS non ha risposto alla richiesta del codice: richiedilo di nuovo."
                .into(),
            at: self.now,
        });
    }

    fn create_still_running(&mut self, running: &str) {
        let now = self.now;
        if let Some(CodeRequest {
            stage:
                RequestStage::Creating {
                    owner: Some(owner),
                    renewed_at,
                    ..
                },
            ..
        }) = &mut self.next.request
            && owner == running
        {
            *renewed_at = Some(now);
        }
    }

    fn owner_gone(&mut self, gone: &str) {
        if let Some(CodeRequest {
            stage: RequestStage::Creating {
                owner: Some(owner), ..
            },
            ..
        }) = &self.next.request
            && owner == gone
        {
            self.create_lost();
        }
    }

    fn blocked_error(&self) -> Option<SessionError> {
        self.next
            .blocked
            .as_ref()
            .map(|b| SessionError::credentials_refused(b.kind))
    }

    fn start_check(&mut self, code: SessionCode) {
        if let CodeSlot::Suspect { last_check_at, .. } = &mut self.next.code {
            *last_check_at = self.now;
        }
        self.effects.push(Effect::CallCheckToken(code));
    }

    fn request_code(&mut self, replace: bool, by: Actor) -> Result<(), SessionError> {
        if let Some(e) = self.blocked_error() {
            self.audit(AuditKind::Requested, &by, e.code(), None);
            return Err(e);
        }
        if self
            .next
            .create_in_flight(self.now, self.policy.create_timeout)
        {
            self.audit(AuditKind::Requested, &by, "joined", None);
            return Ok(());
        }
        if let CodeSlot::Active(current) = &self.next.code
            && !replace
        {
            let e = SessionError::CodeActive {
                until: italy::until_time(current.valid_until, self.now),
                expires_at: current.valid_until,
            };
            self.audit(AuditKind::Requested, &by, e.code(), None);
            return Err(e);
        }
        // A click while the mail of a request made moments ago is on its way joins that
        // request: the doctor wants a code and one is coming. Only an explicit replacement
        // within the minimum interval is refused as too soon.
        if !replace
            && let Some(CodeRequest {
                stage: RequestStage::Sent { .. },
                ..
            }) = &self.next.request
            && self
                .next
                .last_create_at
                .is_some_and(|last| self.now < last + self.policy.min_create_interval)
        {
            self.audit(AuditKind::Requested, &by, "joined", None);
            return Ok(());
        }
        if let Some(last) = self.next.last_create_at {
            let retry_at = last + self.policy.min_create_interval;
            if self.now < retry_at {
                let e = SessionError::TooSoon {
                    when: italy::at_time_seconds(retry_at, self.now),
                    retry_at,
                };
                self.audit(AuditKind::Requested, &by, e.code(), None);
                return Err(e);
            }
        }
        if by == Actor::Auto {
            let today = italy::to_rome(self.now).date();
            let done = self.next.auto.creates_on(today);
            if done >= self.policy.auto_daily_cap {
                let e =
                    SessionError::AutoLimit(crate::auto::cap_reached(self.policy.auto_daily_cap));
                self.audit(AuditKind::Requested, &by, e.code(), None);
                return Err(e);
            }
            self.next.auto.day = Some(today);
            self.next.auto.creates = done + 1;
        }
        self.next.request = Some(CodeRequest {
            requested_at: self.now,
            by: by.clone(),
            stage: RequestStage::Creating {
                started_at: self.now,
                owner: None,
                renewed_at: None,
            },
        });
        self.next.last_create_at = Some(self.now);
        self.next.last_error = None;
        self.effects.push(Effect::CallCreate);
        self.audit(AuditKind::Requested, &by, "sent", None);
        Ok(())
    }

    fn create_answered(&mut self) {
        if let Some(request) = &mut self.next.request
            && matches!(request.stage, RequestStage::Creating { .. })
        {
            request.stage = RequestStage::Sent { sent_at: self.now };
        }
    }

    fn check_result(
        &mut self,
        code: SessionCode,
        by: Actor,
        revision: i64,
        result: Result<TokenCheck, UpstreamError>,
    ) -> Result<(), SessionError> {
        let is_current = self.next.usable_code().is_some_and(|c| c.code == code);
        let check = match result {
            Ok(check) => check,
            Err(error) => {
                let e = self.upstream_failed(&error, revision);
                self.audit(AuditKind::Verified, &by, e.code(), Some(&code));
                return Err(e);
            }
        };
        self.upstream_ok();
        if is_current {
            self.recheck(code, by, check)
        } else {
            self.candidate(code, by, check)
        }
    }

    /// The answer about the code already in use (after 9101, or entered again).
    fn recheck(
        &mut self,
        code: SessionCode,
        by: Actor,
        check: TokenCheck,
    ) -> Result<(), SessionError> {
        let (reason, end) = match check {
            TokenCheck::Valid {
                valid_from,
                valid_until,
            } if valid_until > self.now => {
                self.next.code = CodeSlot::Active(CurrentCode {
                    code: code.clone(),
                    valid_from,
                    valid_until,
                    verified_at: self.now,
                });
                self.next.newest_valid_from = self.next.newest_valid_from.max(Some(valid_from));
                self.next.last_error = None;
                self.audit(AuditKind::Verified, &by, "ok", Some(&code));
                return Ok(());
            }
            TokenCheck::Valid { valid_until, .. } => (
                RejectReason::Expired {
                    at: Some(valid_until),
                },
                (EndReason::Expired, valid_until),
            ),
            TokenCheck::Expired { valid_until } => (
                RejectReason::Expired { at: valid_until },
                (EndReason::Expired, valid_until.unwrap_or(self.now)),
            ),
            TokenCheck::Revoked => (RejectReason::Revoked, (EndReason::Revoked, self.now)),
            TokenCheck::NotFound => (RejectReason::NotFound, (EndReason::Revoked, self.now)),
            TokenCheck::WrongUser => (RejectReason::WrongUser, (EndReason::Revoked, self.now)),
        };
        let kind = if end.0 == EndReason::Expired {
            AuditKind::Expired
        } else {
            AuditKind::Revoked
        };
        self.next.code = CodeSlot::Ended {
            reason: end.0,
            at: end.1,
        };
        let e = SessionError::rejected(reason, self.now);
        self.set_error(&e);
        self.audit(kind, &by, e.code(), Some(&code));
        Err(e)
    }

    /// The answer about a new code: it replaces the current one only if valid, not older than
    /// it (never alternate), and then in one step.
    fn candidate(
        &mut self,
        code: SessionCode,
        by: Actor,
        check: TokenCheck,
    ) -> Result<(), SessionError> {
        let reason = match check {
            TokenCheck::Valid {
                valid_from,
                valid_until,
            } => {
                if valid_until <= self.now {
                    RejectReason::Expired {
                        at: Some(valid_until),
                    }
                } else if self
                    .next
                    .newest_valid_from
                    .is_some_and(|newest| valid_from < newest)
                {
                    RejectReason::Superseded
                } else {
                    self.next.code = CodeSlot::Active(CurrentCode {
                        code: code.clone(),
                        valid_from,
                        valid_until,
                        verified_at: self.now,
                    });
                    self.next.newest_valid_from = Some(valid_from);
                    self.next.auto.failures = 0;
                    self.next.auto.retry_at = None;
                    if matches!(
                        self.next.request,
                        Some(CodeRequest {
                            stage: RequestStage::Sent { .. },
                            ..
                        })
                    ) {
                        self.next.request = None;
                    }
                    self.next.last_error = None;
                    self.audit(AuditKind::Verified, &by, "ok", Some(&code));
                    return Ok(());
                }
            }
            TokenCheck::Revoked => RejectReason::Revoked,
            TokenCheck::Expired { valid_until } => RejectReason::Expired { at: valid_until },
            TokenCheck::NotFound => RejectReason::NotFound,
            TokenCheck::WrongUser => RejectReason::WrongUser,
        };
        let e = match self.next.usable_code() {
            // An old code pasted while a newer one is in use: nothing is wrong, say so.
            Some(active) if active.code != code && reason.is_stale() => {
                SessionError::stale_while_active(reason, active.valid_until, self.now)
            }
            _ => SessionError::rejected(reason, self.now),
        };
        self.audit(AuditKind::Rejected, &by, e.code(), Some(&code));
        // A refused code never touches a good one, and does not alarm the other workstations
        // while a good one is in use.
        if self.next.usable_code().is_none() {
            self.set_error(&e);
            if self.next.request.is_none() {
                self.next.code = CodeSlot::Ended {
                    reason: EndReason::Rejected,
                    at: self.now,
                };
            }
        }
        Err(e)
    }

    fn dem_9101(&mut self, code: SessionCode, by: Actor) -> Result<(), SessionError> {
        self.audit(AuditKind::Used, &by, "9101", Some(&code));
        let blocked = self.next.blocked.is_some();
        match &self.next.code {
            CodeSlot::Active(current) if current.code == code => {
                self.next.code = CodeSlot::Suspect {
                    code: current.clone(),
                    since: self.now,
                    last_check_at: self.now,
                };
                if !blocked {
                    self.start_check(code);
                }
            }
            CodeSlot::Suspect {
                code: current,
                last_check_at,
                ..
            } if current.code == code
                && !blocked
                && self.now - *last_check_at >= self.policy.recheck_interval =>
            {
                self.start_check(code);
            }
            // 9101 for a code that is no longer the current one: the switch already happened.
            _ => {}
        }
        Ok(())
    }

    fn revoke(&mut self, by: Actor) -> Result<(), SessionError> {
        if matches!(
            self.next.request,
            Some(CodeRequest {
                stage: RequestStage::Sent { .. },
                ..
            })
        ) {
            self.next.request = None;
        }
        match self.next.usable_code().cloned() {
            Some(current) => {
                self.next.code = CodeSlot::Ended {
                    reason: EndReason::Revoked,
                    at: self.now,
                };
                self.next.last_error = None;
                self.audit(AuditKind::Revoked, &by, "local", Some(&current.code));
                // Revoking at Sistema TS is a call with the refused credentials: skip it.
                if self.next.blocked.is_none() {
                    self.effects.push(Effect::CallRevoke(current.code));
                }
            }
            None => self.audit(AuditKind::Revoked, &by, "nothing", None),
        }
        Ok(())
    }

    fn tick(&mut self) {
        if let CodeSlot::Suspect {
            code,
            last_check_at,
            ..
        } = &self.next.code
            && self.next.blocked.is_none()
            && self.now - *last_check_at >= self.policy.recheck_interval
        {
            let code = code.code.clone();
            self.start_check(code);
        }
    }

    /// An automatic request failed: count it and wait before the next one.
    fn auto_failed(&mut self) {
        self.next.auto.record_failure(self.now, self.policy);
    }

    fn mail_late(&mut self, sent_at: OffsetDateTime, message: String) {
        let still_waiting = matches!(
            self.next.request,
            Some(CodeRequest { stage: RequestStage::Sent { sent_at: s }, .. }) if s == sent_at
        );
        if !still_waiting {
            return;
        }
        self.auto_failed();
        self.next.last_error = Some(RecordedError {
            code: "mail_late".into(),
            message,
            at: self.now,
        });
    }

    fn credentials_changed(&mut self, revision: i64) {
        let lifted = self
            .next
            .blocked
            .as_ref()
            .is_some_and(|b| b.revision != revision);
        if !lifted {
            return;
        }
        let kind = self.next.blocked.take().map(|b| b.kind);
        if self
            .next
            .last_error
            .as_ref()
            .is_some_and(|e| Some(e.code.as_str()) == kind.map(BlockKind::as_str))
        {
            self.next.last_error = None;
        }
        if let CodeSlot::Suspect { code, .. } = &self.next.code {
            let code = code.code.clone();
            self.start_check(code);
        }
    }
}

/// The first moment at which [`Event::Tick`] changes `record`: the code expires, turns
/// yellow, the `create` in flight counts as lost, or a suspect code is due for
/// re-verification. `None` when time alone changes nothing. A moment already past means
/// "now" (a suspect code whose re-verification was due while other events came in).
///
/// The periodic pass visits a record at this moment and not before: every rule of
/// `decide`'s housekeeping and tick that depends on the clock must appear here (the
/// property test `random_sequences_keep_the_rules` checks that a tick before it changes
/// nothing and a tick at it changes something).
pub fn next_due(record: &SessionRecord, policy: &Policy) -> Option<OffsetDateTime> {
    let Some(announced) = record.announced_level else {
        // Never announced (not yet through `decide`): look at it at once.
        return Some(OffsetDateTime::UNIX_EPOCH);
    };
    let code = record.usable_code();
    let expiry = code.map(|c| c.valid_until);
    let yellow = match &record.code {
        CodeSlot::Active(c) if record.blocked.is_none() && announced == Level::Green => {
            Some(c.valid_until - policy.yellow_before)
        }
        _ => None,
    };
    let lost = record
        .create_alive_at()
        .map(|at| at + policy.create_timeout);
    let recheck = match &record.code {
        CodeSlot::Suspect { last_check_at, .. } if record.blocked.is_none() => {
            Some(*last_check_at + policy.recheck_interval)
        }
        _ => None,
    };
    [expiry, yellow, lost, recheck]
        .into_iter()
        .flatten()
        .min()
        .map(ceil_to_millisecond)
}

/// `t` rounded up to a whole millisecond, the precision stores keep: a record reads back
/// equal to what was committed, and the visit is never before the moment.
fn ceil_to_millisecond(t: OffsetDateTime) -> OffsetDateTime {
    let below = t.nanosecond() % 1_000_000;
    if below == 0 {
        t
    } else {
        t + time::Duration::nanoseconds(i64::from(1_000_000 - below))
    }
}

/// How fresh "the last answer of Sistema TS" is kept (see `upstream_ok`).
const SUCCESS_PRECISION: time::Duration = time::Duration::minutes(1);

/// Applies `event` to `record` at `now`.
pub fn decide(
    record: &SessionRecord,
    event: Event,
    now: OffsetDateTime,
    policy: &Policy,
) -> Decision {
    let mut before = snapshot(record, now, policy);
    // Time alone changes the level (green to yellow): compare with what was last announced.
    if let Some(level) = record.announced_level {
        before.level = level;
    }
    let mut cx = Ctx {
        next: record.clone(),
        effects: Vec::new(),
        now,
        policy,
    };
    cx.housekeeping();
    let outcome = match event {
        Event::RequestCode { replace, by } => cx.request_code(replace, by),
        Event::CreateSucceeded { result, by } => {
            cx.upstream_ok();
            cx.create_answered();
            match result {
                CreateResult::Mailed => cx.audit(AuditKind::Requested, &by, "mailed", None),
                CreateResult::Issued(code) => {
                    cx.audit(AuditKind::Requested, &by, "issued", Some(&code));
                    cx.effects.push(Effect::CallCheckToken(code));
                }
            }
            Ok(())
        }
        Event::CreateFailed {
            error,
            by,
            revision,
        } => {
            if matches!(
                cx.next.request,
                Some(CodeRequest {
                    stage: RequestStage::Creating { .. },
                    ..
                })
            ) {
                cx.next.request = None;
            }
            // The minimum interval follows a `create` Sistema TS accepted, not a failed one:
            // a retry after a failure is not "too soon".
            cx.next.last_create_at = None;
            if by == Actor::Auto {
                cx.auto_failed();
            }
            let e = cx.upstream_failed(&error, revision);
            cx.audit(AuditKind::Requested, &by, e.code(), None);
            Err(e)
        }
        Event::CodeSubmitted { code, by } => {
            if let Some(e) = cx.blocked_error() {
                cx.audit(AuditKind::Inserted, &by, e.code(), Some(&code));
                Err(e)
            } else if matches!(&cx.next.code, CodeSlot::Active(c) if c.code == code) {
                cx.audit(AuditKind::Inserted, &by, "already_active", Some(&code));
                Ok(())
            } else {
                cx.audit(AuditKind::Inserted, &by, "checking", Some(&code));
                cx.effects.push(Effect::CallCheckToken(code));
                Ok(())
            }
        }
        Event::CheckResult {
            code,
            by,
            revision,
            result,
        } => cx.check_result(code, by, revision, result),
        Event::CodeUsed { code, by } => {
            cx.upstream_ok();
            cx.audit(AuditKind::Used, &by, "ok", Some(&code));
            Ok(())
        }
        Event::DemCall9101 { code, by } => {
            cx.upstream_ok();
            cx.dem_9101(code, by)
        }
        Event::UpstreamUnavailable => {
            // Recorded for every workstation; nobody waits for an answer here.
            let _ = cx.upstream_failed(
                &UpstreamError::Unavailable {
                    detail: String::new(),
                },
                0,
            );
            Ok(())
        }
        Event::UpstreamRecovered => {
            cx.upstream_ok();
            Ok(())
        }
        Event::Revoke { by } => cx.revoke(by),
        Event::RevokeResult {
            code,
            by,
            revision,
            result,
        } => match result {
            Ok(outcome) => {
                cx.upstream_ok();
                let text = match outcome {
                    RevokeOutcome::Revoked => "ok",
                    RevokeOutcome::AlreadyGone => "already_gone",
                };
                cx.audit(AuditKind::Revoked, &by, text, Some(&code));
                Ok(())
            }
            Err(error) => {
                let e = cx.upstream_failed(&error, revision);
                cx.audit(AuditKind::Revoked, &by, e.code(), Some(&code));
                Err(e)
            }
        },
        Event::CodeCopied { by } => match cx.next.usable_code().map(|c| c.code.clone()) {
            Some(code) => {
                cx.audit(AuditKind::Copied, &by, "ok", Some(&code));
                Ok(())
            }
            None => Err(SessionError::NoCode(cx.next.key.user.clone())),
        },
        Event::Tick => {
            cx.tick();
            Ok(())
        }
        Event::OwnerGone { owner } => {
            cx.owner_gone(&owner);
            Ok(())
        }
        Event::CreateStillRunning { owner } => {
            cx.create_still_running(&owner);
            Ok(())
        }
        Event::CredentialsChanged { revision } => {
            cx.credentials_changed(revision);
            Ok(())
        }
        Event::MailLate { sent_at, message } => {
            cx.mail_late(sent_at, message);
            Ok(())
        }
    };
    let after = snapshot(&cx.next, now, policy);
    cx.next.announced_level = Some(after.level);
    cx.next.due_at = next_due(&cx.next, policy);
    if after != before {
        cx.effects.push(Effect::Notify);
    }
    Decision {
        next: cx.next,
        effects: cx.effects,
        outcome,
    }
}
