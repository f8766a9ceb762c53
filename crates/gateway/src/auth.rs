//! Workstation authentication and per-workstation rate limits.
//!
//! A workstation proves itself with a random token (`Authorization: Bearer …` on the API,
//! the first path segment or `X-Tsgate-Token` on the proxy). Only the SHA-256 of the token
//! is stored and looked up: a stolen database does not give working tokens, and the hash
//! comparison is constant-time wherever two hashes are compared in memory.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use tsgate_store::WorkstationToken;

use crate::config::RateQuota;
use crate::error::ApiError;
use crate::ports::{Caller, Role};
use crate::state::AppState;

/// The SHA-256 of a workstation token: what the store keeps and looks up.
#[derive(Clone, Copy)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a token as given (no trimming: tokens are machine-generated).
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The raw hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, e.g. for a database column.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash prefix identifies a row for support without helping anyone.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
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
        .backends()
        .workstations
        .authenticate(&WorkstationToken::new(token))
        .await
        .map_err(|e| AuthFailure::Backend(e.0))?
        .ok_or(AuthFailure::Invalid)?;
    limiter
        .check(&workstation.id)
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
    Backend(String),
}

impl From<AuthFailure> for ApiError {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Invalid => ApiError::InvalidToken,
            AuthFailure::RateLimited(secs) => ApiError::RateLimited {
                retry_after_seconds: secs,
            },
            AuthFailure::Backend(cause) => ApiError::Internal(cause),
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
                .check(&caller.workstation.id)
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
        if actor.workstation.role != Role::Admin {
            return Err(ApiError::AdminOnly);
        }
        Ok(AdminAuthed(actor))
    }
}

impl Caller {
    /// `Ok` when this caller may act for `user`, else the API's 403.
    /// Also parses the id: a workstation can list only valid ids, so an invalid one is
    /// refused the same way.
    pub(crate) fn require_user(&self, user: &str) -> Result<tsgate_session::UserId, ApiError> {
        if self.workstation.may_act_for(user) {
            tsgate_session::UserId::new(user).map_err(|_| ApiError::UnknownUser)
        } else {
            Err(ApiError::NotAllowedForUser {
                user: user.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hash_stably() {
        let a = WorkstationToken::generate().expose_secret().to_owned();
        let b = WorkstationToken::generate().expose_secret().to_owned();
        assert_eq!(TokenHash::of(&a).0, WorkstationToken::new(a.clone()).hash());
        assert_eq!(TokenHash::of(&a), TokenHash::of(&a));
        assert_ne!(TokenHash::of(&a), TokenHash::of(&b));
        assert_eq!(
            TokenHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!format!("{:?}", TokenHash::of(&a)).contains(&TokenHash::of(&a).to_hex()));
    }

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
