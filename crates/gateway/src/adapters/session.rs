//! The ports implemented over the domain's [`SessionManager`].
//!
//! The binary wires `Arc::new(manager.clone())` as both `Backends::sessions` and
//! `Backends::codes`. Workstations, the audit query and administration come from the store.

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{FutureExt as _, StreamExt as _};
use sistemats::SessionCode;
use tokio::sync::broadcast::error::RecvError;
use tsgate_session::{
    Application, RequestOutcome, SessionError, SessionManager, SessionView, UserId,
};

use crate::ports::{Caller, CodeProvider, NoUsableCode, ProxyOutcome, SessionService};

impl SessionService for SessionManager {
    fn status<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move { SessionManager::status(self, user).await }.boxed()
    }

    fn request<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
        replace: bool,
    ) -> BoxFuture<'a, Result<RequestOutcome, SessionError>> {
        async move { SessionManager::request(self, user, replace, caller.actor()).await }.boxed()
    }

    fn submit_code<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
        code: SessionCode,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move {
            SessionManager::submit_code(self, user, code.expose_secret(), caller.actor()).await
        }
        .boxed()
    }

    fn revoke<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionView, SessionError>> {
        async move { SessionManager::revoke(self, user, caller.actor()).await }.boxed()
    }

    fn current_code<'a>(
        &'a self,
        user: &'a UserId,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, SessionError>> {
        async move { SessionManager::copy_code(self, user, caller.actor()).await }.boxed()
    }

    fn subscribe(&self) -> BoxStream<'static, SessionView> {
        let rx = SessionManager::subscribe(self);
        stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(change) => return Some((change.view, rx)),
                    // Missed changes: the next ones still arrive; the UI re-reads on reconnect.
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "event stream lagged");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}

impl CodeProvider for SessionManager {
    fn code_for_proxy<'a>(
        &'a self,
        user: &'a UserId,
        application: Application,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<SessionCode, NoUsableCode>> {
        async move {
            match SessionManager::code_for_proxy(self, user).await {
                Ok(code) => Ok(code),
                Err(SessionError::NoCode(_)) => Err(NoUsableCode { message_it: None }),
                Err(SessionError::UnknownUser(_)) => Err(NoUsableCode {
                    message_it: Some(format!(
                        "L'utente {user} non è configurato in tsgate: chiedi all'amministratore di aggiungerlo, poi richiedi il codice dalla pagina di tsgate."
                    )),
                }),
                Err(e) => {
                    if let Some(cause) = e.cause() {
                        tracing::error!(%cause, %user, application = application.as_str(), "code lookup failed");
                    }
                    Err(NoUsableCode {
                        message_it: Some(e.to_string()),
                    })
                }
            }
        }
        .boxed()
    }

    fn report<'a>(
        &'a self,
        user: &'a UserId,
        code: &'a SessionCode,
        caller: &'a Caller,
        outcome: ProxyOutcome,
    ) -> BoxFuture<'a, ()> {
        async move {
            let id = user;
            let result = match outcome {
                ProxyOutcome::Ok => self.record_use(id, code, caller.actor()).await,
                ProxyOutcome::Dem9101 => self.on_dem_9101(id, code, caller.actor()).await.map(drop),
                ProxyOutcome::UpstreamFailure { .. } => self.upstream_unavailable(id).await,
                // The practice software's own Basic credentials were refused: they are not
                // the ones tsgate keeps, so nothing to block here; the doctor sees the 401.
                ProxyOutcome::Unauthorized => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(%user, code = e.code(), cause = e.cause().unwrap_or(""), "session layer not updated after proxied call");
            }
        }
        .boxed()
    }
}
