//! In-memory fakes of the gateway's ports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use sistemats::SessionCode;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use tsgate_gateway::{
    AdminDirectory, AdminError, AuditFilter, AuditLog, AuditRecord, BackendError, Caller,
    CodeProvider, NewUser, NewWorkstation, NoUsableCode, ProxyOutcome, Role, SessionService,
    TokenHash, Workstation, WorkstationDirectory, WorkstationToken,
};
use tsgate_session::{
    Application, Level, RejectReason, RequestOutcome, SessionError, SessionView, StateName, UserId,
};

use crate::helpers::{CODE_U1, CODE_U2, U1, U2, uid};

// ---------------------------------------------------------------- workstations

#[derive(Default)]
pub struct FakeDirectory {
    entries: Mutex<Vec<(TokenHash, Workstation)>>,
}

impl FakeDirectory {
    pub fn add(&self, name: &str, role: Role, users: &[&str]) -> String {
        let token = WorkstationToken::generate().expose_secret().to_owned();
        let ws = Workstation {
            id: format!("ws-{name}"),
            name: name.into(),
            role,
            users: users.iter().map(|u| u.to_string()).collect(),
        };
        self.entries
            .lock()
            .unwrap()
            .push((TokenHash::of(&token), ws));
        token
    }
}

impl WorkstationDirectory for FakeDirectory {
    fn authenticate<'a>(
        &'a self,
        token: &'a WorkstationToken,
    ) -> BoxFuture<'a, Result<Option<Workstation>, BackendError>> {
        // Constant-time comparison of hashes, as a store holding them in memory would do.
        let token_hash = TokenHash::of(token.expose_secret());
        let found = self
            .entries
            .lock()
            .unwrap()
            .iter()
            .find(|(h, _)| *h == token_hash)
            .map(|(_, w)| w.clone());
        async move { Ok(found) }.boxed()
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        async { Ok(()) }.boxed()
    }
}

impl AdminDirectory for FakeDirectory {
    fn list_users(
        &self,
    ) -> BoxFuture<'_, Result<Vec<tsgate_gateway::ports::UserRecord>, BackendError>> {
        async { Ok(vec![]) }.boxed()
    }
    fn add_user(
        &self,
        user: NewUser,
    ) -> BoxFuture<'_, Result<tsgate_gateway::ports::UserRecord, AdminError>> {
        async move {
            Ok(tsgate_gateway::ports::UserRecord {
                user_id: user.user_id,
                display_name: user.display_name,
                region: user.region,
                asl: user.asl,
            })
        }
        .boxed()
    }
    fn remove_user<'a>(&'a self, _user: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        async { Err(AdminError::NotFound) }.boxed()
    }
    fn list_workstations(&self) -> BoxFuture<'_, Result<Vec<Workstation>, BackendError>> {
        let all = self
            .entries
            .lock()
            .unwrap()
            .iter()
            .map(|(_, w)| w.clone())
            .collect();
        async move { Ok(all) }.boxed()
    }
    fn add_workstation(
        &self,
        new: NewWorkstation,
    ) -> BoxFuture<'_, Result<(Workstation, WorkstationToken), AdminError>> {
        let token = WorkstationToken::generate();
        let token_hash = TokenHash::of(token.expose_secret());
        let ws = Workstation {
            id: format!("ws-{}", new.name),
            name: new.name,
            role: new.role,
            users: new.users,
        };
        self.entries.lock().unwrap().push((token_hash, ws.clone()));
        async move { Ok((ws, token)) }.boxed()
    }
    fn revoke_workstation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        let mut entries = self.entries.lock().unwrap();
        let before = entries.len();
        entries.retain(|(_, w)| w.id != id);
        let removed = entries.len() < before;
        async move {
            if removed {
                Ok(())
            } else {
                Err(AdminError::NotFound)
            }
        }
        .boxed()
    }
}

// ---------------------------------------------------------------- audit

#[derive(Default)]
pub struct FakeAudit {
    pub records: Mutex<Vec<AuditRecord>>,
    pub last_filter: Mutex<Option<AuditFilter>>,
}

impl AuditLog for FakeAudit {
    fn record(&self, event: AuditRecord) -> BoxFuture<'_, Result<(), BackendError>> {
        self.records.lock().unwrap().push(event);
        async { Ok(()) }.boxed()
    }
    fn query(&self, filter: AuditFilter) -> BoxFuture<'_, Result<Vec<AuditRecord>, BackendError>> {
        let out: Vec<AuditRecord> = self
            .records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                filter
                    .user
                    .as_ref()
                    .is_none_or(|u| r.user.as_ref() == Some(u))
            })
            .filter(|r| filter.kind.as_ref().is_none_or(|k| &r.kind == k))
            .cloned()
            .collect();
        *self.last_filter.lock().unwrap() = Some(filter);
        async move { Ok(out) }.boxed()
    }
}

// ---------------------------------------------------------------- sessions

/// An in-memory stand-in of the session layer: one optional code per user.
pub struct FakeSessions {
    /// When set, `status` never answers (timeout tests).
    pub hang: std::sync::atomic::AtomicBool,
    pub codes: Mutex<HashMap<String, Option<String>>>,
    pub reports: Mutex<Vec<(String, String, ProxyOutcome)>>,
    pub reported: Notify,
    pub events: broadcast::Sender<SessionView>,
    audit: Arc<FakeAudit>,
}

impl FakeSessions {
    pub fn new(audit: Arc<FakeAudit>) -> Self {
        let mut codes = HashMap::new();
        codes.insert(U1.to_owned(), Some(CODE_U1.to_owned()));
        codes.insert(U2.to_owned(), Some(CODE_U2.to_owned()));
        Self {
            hang: Default::default(),
            codes: Mutex::new(codes),
            reports: Mutex::new(vec![]),
            reported: Notify::new(),
            events: broadcast::channel(64).0,
            audit,
        }
    }

    pub fn set_code(&self, user: &str, code: Option<&str>) {
        self.codes
            .lock()
            .unwrap()
            .insert(user.into(), code.map(str::to_owned));
    }

    pub fn view(&self, user: &UserId) -> Result<SessionView, SessionError> {
        let codes = self.codes.lock().unwrap();
        let Some(code) = codes.get(user.as_str()) else {
            return Err(SessionError::UnknownUser(user.clone()));
        };
        let now = OffsetDateTime::now_utc();
        let active = code.is_some();
        Ok(SessionView {
            user: user.clone(),
            application: Application::Prescrittore,
            state: if active {
                StateName::Active
            } else {
                StateName::None
            },
            level: if active { Level::Green } else { Level::Red },
            expires_at: active.then(|| now + time::Duration::hours(8)),
            remaining_seconds: active.then_some(8 * 3600),
            yellow_from: active.then(|| now + time::Duration::hours(7)),
            pending: false,
            requested_at: None,
            requested_by: None,
            last_error: None,
            password_warning: None,
        })
    }

    /// Publishes the current view of `user` to subscribers.
    pub fn publish(&self, user: &str) {
        let view = self.view(&uid(user)).unwrap();
        let _ = self.events.send(view);
    }

    pub async fn wait_reports(&self, n: usize) -> Vec<(String, String, ProxyOutcome)> {
        loop {
            let notified = self.reported.notified();
            tokio::pin!(notified);
            // Registered before the check, so a report in between is not missed.
            notified.as_mut().enable();
            {
                let r = self.reports.lock().unwrap();
                if r.len() >= n {
                    return r.clone();
                }
            }
            notified.await;
        }
    }
}

impl SessionService for FakeSessions {
    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move {
            if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            self.view(user)
        }
        .boxed()
    }
    fn request<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
        replace: bool,
    ) -> BoxFuture<'a, Result<RequestOutcome, SessionError>> {
        async move {
            let view = self.view(user)?;
            if view.state == StateName::Active && !replace {
                return Err(SessionError::CodeActive {
                    until: "alle 18:00".into(),
                    expires_at: view.expires_at.unwrap(),
                });
            }
            let mut view = view;
            view.state = StateName::AwaitingCode;
            Ok(RequestOutcome {
                view,
                joined: false,
            })
        }
        .boxed()
    }
    fn submit_code<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
        code: SessionCode,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move {
            self.view(user)?;
            if code.expose_secret() == "expired-code" {
                return Err(SessionError::Rejected {
                    reason: RejectReason::Expired { at: None },
                    message: "Il codice è scaduto: richiedine uno nuovo.".into(),
                });
            }
            self.set_code(user.as_str(), Some(code.expose_secret()));
            self.view(user)
        }
        .boxed()
    }
    fn revoke<'a>(
        &'a self,
        user: &'a UserId,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move {
            self.view(user)?;
            self.set_code(user.as_str(), None);
            self.view(user)
        }
        .boxed()
    }
    fn current_code<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, SessionError>> {
        async move {
            let code = self
                .codes
                .lock()
                .unwrap()
                .get(user.as_str())
                .cloned()
                .flatten()
                .ok_or_else(|| SessionError::NoCode(user.clone()))?;
            let code = SessionCode::new(code);
            self.audit.records.lock().unwrap().push(AuditRecord {
                at: OffsetDateTime::now_utc(),
                kind: "copied".into(),
                user: Some(user.to_string()),
                application: Some("PRESCRITTORE".into()),
                actor: caller.actor().to_string(),
                outcome: "ok".into(),
                code_hint: Some(code.hint()),
            });
            Ok(code)
        }
        .boxed()
    }
    fn subscribe(&self) -> BoxStream<'static, SessionView> {
        let rx = self.events.subscribe();
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.ok().map(|v| (v, rx)) },
        )
        .boxed()
    }
}

impl CodeProvider for FakeSessions {
    fn code_for_proxy<'a>(
        &'a self,
        user: &'a UserId,
        _application: Application,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, NoUsableCode>> {
        let code = self
            .codes
            .lock()
            .unwrap()
            .get(user.as_str())
            .cloned()
            .flatten();
        async move {
            code.map(SessionCode::new)
                .ok_or(NoUsableCode { message_it: None })
        }
        .boxed()
    }
    fn report<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a SessionCode,
        _caller: &'a Caller,
        outcome: ProxyOutcome,
    ) -> BoxFuture<'a, ()> {
        self.reports.lock().unwrap().push((
            user.to_string(),
            code.expose_secret().to_owned(),
            outcome,
        ));
        self.reported.notify_waiters();
        async {}.boxed()
    }
}

// ---------------------------------------------------------------- mailboxes

/// Keeps the settings as given; its status deliberately echoes them, password included,
/// to check that the gateway strips it.
#[derive(Default)]
pub struct FakeMailboxes {
    settings: Mutex<HashMap<String, serde_json::Value>>,
}

impl tsgate_gateway::MailboxService for FakeMailboxes {
    fn status<'a>(
        &'a self,
        user: &'a UserId,
    ) -> BoxFuture<'a, Result<serde_json::Value, AdminError>> {
        let mut v = self
            .settings
            .lock()
            .unwrap()
            .get(user.as_str())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let configured = v.get("host").is_some();
        v["configured"] = configured.into();
        async move { Ok(v) }.boxed()
    }
    fn configure<'a>(
        &'a self,
        user: &'a UserId,
        settings: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, AdminError>> {
        self.settings
            .lock()
            .unwrap()
            .insert(user.to_string(), settings);
        self.status(user)
    }
}
