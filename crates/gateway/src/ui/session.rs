//! Browser sessions of the web UI: a random id in an HttpOnly cookie, everything else on
//! the server.
//!
//! The browser never holds the workstation token in JavaScript: the token is given once
//! (`/login?token=…` or the form), kept here in memory, and used to re-authenticate the
//! workstation through [`crate::WorkstationDirectory`] on every request, so that revoking a
//! workstation signs its browsers out at once. State-changing requests that come with the
//! cookie must carry the session's CSRF token in `X-CSRF-Token`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tsgate_store::WorkstationToken;

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "tsgate_ui";
/// Header that carries the CSRF token on state-changing requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused for this long ends.
const IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// A session ends this long after sign-in, used or not.
const ABSOLUTE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Upper bound of live sessions kept in memory (oldest dropped first).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub(crate) struct UiSession {
    /// The workstation token, kept only here (server memory) to re-authenticate.
    pub(crate) token: WorkstationToken,
    /// The per-session CSRF token, given to the page and checked on every change.
    pub(crate) csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl fmt::Debug for UiSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiSession").finish_non_exhaustive()
    }
}

impl UiSession {
    /// Whether `candidate` is this session's CSRF token (constant-time).
    pub(crate) fn csrf_matches(&self, candidate: &str) -> bool {
        !candidate.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

/// The in-memory map session id → session.
#[derive(Default)]
pub(crate) struct UiSessions {
    map: Mutex<HashMap<String, UiSession>>,
}

impl fmt::Debug for UiSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiSessions").finish_non_exhaustive()
    }
}

/// 32 random bytes, URL-safe base64.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl UiSessions {
    /// Starts a session for an already authenticated token; returns its id.
    pub(crate) fn create(&self, token: WorkstationToken) -> String {
        let now = Instant::now();
        let id = random_id();
        let session = UiSession {
            token,
            csrf: random_id(),
            created: now,
            last_seen: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| Self::alive(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session);
        id
    }

    fn alive(s: &UiSession, now: Instant) -> bool {
        now.duration_since(s.last_seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
    }

    /// The live session `id`, touched; an expired one is removed.
    pub(crate) fn get(&self, id: &str) -> Option<UiSession> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let session = map.get_mut(id)?;
        if !Self::alive(session, now) {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id` (logout, revoked workstation).
    pub(crate) fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Number of live sessions (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The session id of the request's cookie, if any.
pub(crate) fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over HTTPS (directly or through a TLS-terminating proxy
/// that says so): then the cookie is `Secure`.
pub(crate) fn is_https(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for a new session.
pub(crate) fn set_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        ABSOLUTE.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that deletes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static("tsgate_ui=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure")
    } else {
        HeaderValue::from_static("tsgate_ui=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_long() {
        let a = random_id();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_id());
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tsgate_ui=abc ; b=2"),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("tsgate_ui="));
        assert_eq!(cookie_id(&h), None);
    }

    #[test]
    fn sessions_live_and_end() {
        let s = UiSessions::default();
        let id = s.create(WorkstationToken::new("t".to_owned()));
        let got = s.get(&id).expect("live");
        assert!(got.csrf_matches(&got.csrf.clone()));
        assert!(!got.csrf_matches(""));
        assert!(!got.csrf_matches("x"));
        assert!(!format!("{got:?}").contains(&got.csrf));
        s.remove(&id);
        assert!(s.get(&id).is_none());
        assert_eq!(s.len(), 0);
    }
}
