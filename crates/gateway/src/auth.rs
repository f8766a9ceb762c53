//! Workstation authentication and per-workstation rate limits.
//!
//! A workstation proves itself with a random token (`Authorization: Bearer …` on the API,
//! the first path segment or `X-Tsgate-Token` on the proxy). Only the SHA-256 of the token
//! is stored and looked up (`WorkstationToken::hash`): a stolen database does not give
//! working tokens. Recently authenticated workstations are cached a few seconds
//! ([`WorkstationCache`], in `workstations.rs` with the rate limiter).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use tsgate_session::{Caller, UserId, WorkstationToken};

use crate::error::ApiError;
use crate::state::AppState;
pub use crate::workstations::WorkstationCache;
use crate::workstations::WorkstationLimiter;

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// Remote address of the connection, when the server was started with connect info.
pub(crate) fn remote_ip(parts: &Parts) -> Option<IpAddr> {
    remote_ip_of(&parts.extensions)
}

/// Same as [`remote_ip`], from the request extensions.
pub(crate) fn remote_ip_of(extensions: &http::Extensions) -> Option<IpAddr> {
    // Plain connections carry `SocketAddr`, TLS ones `RemoteAddr`.
    extensions
        .get::<ConnectInfo<crate::tls::RemoteAddr>>()
        .map(|ci| ci.0.0.ip())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ci| ci.0.ip())
        })
}

/// Looks up the workstation of a token (already extracted) and applies a rate limiter.
pub(crate) async fn authenticate(
    state: &AppState,
    token: &str,
    remote: Option<IpAddr>,
    limiter: &WorkstationLimiter,
) -> Result<Caller, AuthFailure> {
    let workstation = state
        .workstations()
        .authenticate(&WorkstationToken::new(token))
        .await
        .map_err(AuthFailure::Backend)?
        .ok_or(AuthFailure::Invalid)?;
    limiter
        .check(&workstation.id.0)
        .map_err(|wait| AuthFailure::RateLimited(wait.as_secs().max(1)))?;
    Ok(Caller {
        workstation,
        remote,
    })
}

/// Why a workstation was not let in.
#[derive(Debug)]
pub(crate) enum AuthFailure {
    Invalid,
    RateLimited(u64),
    Backend(tsgate_session::StoreError),
}

impl From<AuthFailure> for ApiError {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Invalid => ApiError::InvalidToken,
            AuthFailure::RateLimited(secs) => ApiError::RateLimited {
                retry_after_seconds: secs,
            },
            AuthFailure::Backend(cause) => ApiError::Store(cause),
        }
    }
}

/// Extractor: the workstation authenticated by `Authorization: Bearer`, rate-limited.
///
/// A [`Caller`] placed in the request extensions by a server-side layer (e.g. the web UI's
/// cookie session) is accepted instead of the header.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A caller already authenticated by a layer of the server (the web UI's session
        // cookie, with its CSRF check): only server code can put it there, never a client.
        if let Some(caller) = parts.extensions.get::<Caller>().cloned() {
            state
                .api_limiter()
                .check(&caller.workstation.id.0)
                .map_err(|wait| ApiError::RateLimited {
                    retry_after_seconds: wait.as_secs().max(1),
                })?;
            return Ok(Authed(caller));
        }
        let token = bearer_token(parts).ok_or(ApiError::MissingToken)?;
        let remote = remote_ip(parts);
        let actor = authenticate(state, token, remote, state.api_limiter()).await?;
        Ok(Authed(actor))
    }
}

/// Extractor: an authenticated admin workstation.
#[derive(Debug, Clone)]
pub struct AdminAuthed(pub Caller);

impl FromRequestParts<AppState> for AdminAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authed(actor) = Authed::from_request_parts(parts, state).await?;
        if !actor.workstation.may_administer() {
            return Err(ApiError::AdminOnly);
        }
        Ok(AdminAuthed(actor))
    }
}

/// The user `user` if `caller` may act for it (the rule is the domain's
/// [`tsgate_session::Workstation::acts_for`]: its list, or one indexed membership lookup for
/// a backend), else the API's 403. An id that is not even valid cannot be in a
/// workstation's reach, so it is refused the same way.
pub(crate) async fn act_for(
    state: &AppState,
    caller: &Caller,
    user: &str,
) -> Result<UserId, ApiError> {
    let refused = || ApiError::NotAllowedForUser {
        user: user.to_owned(),
    };
    let id = UserId::new(user).map_err(|_| refused())?;
    if caller
        .workstation
        .acts_for(&id, state.backends().store.as_ref())
        .await?
    {
        Ok(id)
    } else {
        Err(refused())
    }
}
