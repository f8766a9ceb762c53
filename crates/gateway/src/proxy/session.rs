//! What the proxy asks of the domain: the code to add to a call, and what became of the
//! call. Calls [`SessionManager`] directly; this is the hot path, so both are cheap in the
//! common case (a cached code, a use counted in memory).

use sistemats::SessionCode;
use sistemats::error::describe_chain;
use tsgate_session::{Caller, SessionError, SessionManager, UserId};

/// What happened to one proxied call, for the session layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyOutcome {
    /// Sistema TS answered and the receipt had no 9101.
    Ok,
    /// The receipt carried ErroreRicetta 9101: the code is missing or not valid.
    Dem9101,
    /// Sistema TS refused the Basic credentials (HTTP 401).
    Unauthorized,
    /// Sistema TS did not answer, or answered 5xx without SOAP.
    UpstreamFailure,
}

/// The code to put in `Authorization2F` for `user`; otherwise the Italian text of the
/// SOAP Fault (`None`: the standard "richiedi il codice" text).
pub(crate) async fn code_for_proxy(
    sessions: &SessionManager,
    user: &UserId,
) -> Result<SessionCode, Option<String>> {
    match sessions.code_for_proxy(user).await {
        Ok(code) => Ok(code),
        Err(SessionError::NoCode(_)) => Err(None),
        Err(SessionError::UnknownUser(_)) => Err(Some(format!(
            "L'utente {user} non è configurato in tsgate: chiedi all'amministratore di aggiungerlo, poi richiedi il codice dalla pagina di tsgate."
        ))),
        Err(e) => {
            if matches!(e, SessionError::Internal { .. }) {
                tracing::error!(%user, cause = %describe_chain(&e), "code lookup failed");
            }
            Err(Some(e.to_string()))
        }
    }
}

/// Like [`code_for_proxy`], but when there is no usable code and an automatic request can
/// bring one, waits for it up to `hold` (every held call of one user waits on one
/// `create`; see `SessionManager::obtain_for_proxy`).
pub(crate) async fn obtain_for_proxy(
    sessions: &SessionManager,
    user: &UserId,
    hold: std::time::Duration,
) -> Result<SessionCode, Option<String>> {
    match sessions.obtain_for_proxy(user, hold).await {
        Ok(code) => Ok(code),
        Err(SessionError::NoCode(_)) => Err(None),
        Err(e) => {
            if matches!(e, SessionError::Internal { .. }) {
                tracing::error!(%user, cause = %describe_chain(&e), "automatic request for a held call failed");
            }
            Err(Some(format!(
                "{} La ricetta non è stata inviata: ripeti l'invio quando la scheda dell'utente è verde.",
                e
            )))
        }
    }
}

/// Tells the domain what happened to a call made with `code`. The code matters: a 9101 on
/// a code that was already replaced must not condemn the new one.
pub(crate) async fn report(
    sessions: &SessionManager,
    user: &UserId,
    code: &SessionCode,
    caller: &Caller,
    outcome: ProxyOutcome,
) {
    let result = match outcome {
        ProxyOutcome::Ok => sessions.record_use(user, code, caller.actor()).await,
        ProxyOutcome::Dem9101 => sessions
            .on_dem_9101(user, code, caller.actor())
            .await
            .map(drop),
        ProxyOutcome::UpstreamFailure => sessions.upstream_unavailable(user).await,
        // The practice software's own Basic credentials were refused: they are not the
        // ones tsgate keeps, so nothing to block here; the doctor sees the 401.
        ProxyOutcome::Unauthorized => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(%user, code = e.code(), cause = %describe_chain(&e), "session layer not updated after proxied call");
    }
}
