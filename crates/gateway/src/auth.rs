//! Workstation authentication and per-workstation rate limits.
//!
//! A workstation proves itself with a random token (`Authorization: Bearer …` on the API,
//! the first path segment or `X-Tsgate-Token` on the proxy). Only the SHA-256 of the token
//! is stored and looked up (`WorkstationToken::hash`): a stolen database does not give
//! working tokens. Recently authenticated workstations are cached a few seconds
//! ([`WorkstationCache`]).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use tsgate_session::{Caller, StoreResult, UserId, Workstation, WorkstationRepo, WorkstationToken};

use crate::config::RateQuota;
use crate::error::ApiError;
use crate::state::AppState;

/// How long an authenticated workstation is trusted without asking the database again.
/// A revocation through this process (API, UI) takes effect at once; one made by another
/// process (`tsgate workstation revoke`) within this time.
const WORKSTATION_TTL: Duration = Duration::from_secs(5);

/// Entries kept before expired ones are swept.
const WORKSTATION_CACHE_SWEEP: usize = 4096;

/// Workstations recently authenticated, by token hash, in front of the store: every proxied
/// call and API request authenticates its workstation, and this keeps the database off that
/// hot path. Owned by the application state (one per gateway, dropped with it). Unknown
/// tokens are never cached, so a new workstation works at once.
pub struct WorkstationCache {
    repo: Arc<dyn WorkstationRepo>,
    entries: Mutex<HashMap<[u8; 32], (Instant, Workstation)>>,
}

impl fmt::Debug for WorkstationCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkstationCache")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl WorkstationCache {
    /// A cache in front of `repo`.
    pub fn new(repo: Arc<dyn WorkstationRepo>) -> Self {
        Self {
            repo,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], (Instant, Workstation)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live workstation holding `token`, if any.
    pub async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>> {
        let key = token.hash();
        if let Some((at, ws)) = self.lock().get(&key)
            && at.elapsed() < WORKSTATION_TTL
        {
            return Ok(Some(ws.clone()));
        }
        let found = self
            .repo
            .authenticate(token)
            .await?
            .filter(Workstation::is_live);
        if let Some(ws) = &found {
            let mut entries = self.lock();
            if entries.len() >= WORKSTATION_CACHE_SWEEP {
                entries.retain(|_, (at, _)| at.elapsed() < WORKSTATION_TTL);
            }
            entries.insert(key, (Instant::now(), ws.clone()));
        }
        Ok(found)
    }

    /// Forgets every cached workstation (after a revocation or a user removal).
    pub fn forget_all(&self) {
        self.lock().clear();
    }
}

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

/// Per-workstation token buckets.
pub(crate) struct WorkstationLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl fmt::Debug for WorkstationLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkstationLimiter")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl WorkstationLimiter {
    pub(crate) fn new(quota: Option<RateQuota>) -> Self {
        let limiter = quota.map(|q| {
            let rate = NonZeroU32::new(q.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(q.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self { limiter }
    }

    /// `Err(wait)` when the workstation must slow down.
    pub(crate) fn check(&self, workstation_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&workstation_id.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
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
/// [`Workstation::may_act_for`]), else the API's 403. An id that is not even valid cannot be
/// in a workstation's list, so it is refused the same way.
pub(crate) fn act_for(caller: &Caller, user: &str) -> Result<UserId, ApiError> {
    match UserId::new(user) {
        Ok(id) if caller.workstation.may_act_for(&id) => Ok(id),
        _ => Err(ApiError::NotAllowedForUser {
            user: user.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_past_the_burst() {
        let l = WorkstationLimiter::new(Some(RateQuota {
            per_second: 1,
            burst: 2,
        }));
        assert!(l.check("w1").is_ok());
        assert!(l.check("w1").is_ok());
        assert!(l.check("w1").is_err());
        assert!(l.check("w2").is_ok(), "buckets are per workstation");
        assert!(WorkstationLimiter::new(None).check("w1").is_ok());
    }
}
