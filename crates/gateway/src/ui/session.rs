//! Browser sessions of the web UI: the session sealed in an HttpOnly cookie.
//!
//! The browser never holds the workstation token in JavaScript: the token is given once
//! (`/login?token=…` or the form) and sealed (XChaCha20-Poly1305, with the time of sign-in)
//! into the cookie with a key the server keeps in its data folder. So a restart of tsgate
//! does not sign the workstations out, and nothing about sessions is stored server-side
//! but the list of sessions ended by logout. Every request re-authenticates the workstation
//! through [`crate::WorkstationDirectory`], so that revoking a workstation signs its
//! browsers out at once. State-changing requests that come with the cookie must carry the
//! session's CSRF token in `X-CSRF-Token`; it is derived from the cookie with the key, so
//! it survives restarts too and cannot be computed without the key.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use tsgate_session::WorkstationToken;

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "tsgate_ui";
/// Header that carries the CSRF token on state-changing requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends this long after sign-in.
const ABSOLUTE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Associated data of the sealed cookie: binds it to this use and format version.
const AAD: &[u8] = b"tsgate-ui-session-v1";
const NONCE_LEN: usize = 24;

/// One signed-in browser.
#[derive(Clone)]
pub(crate) struct UiSession {
    /// The workstation token, unsealed from the cookie to re-authenticate.
    pub(crate) token: WorkstationToken,
    /// The session's CSRF token, given to the page and checked on every change.
    pub(crate) csrf: String,
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

/// Seals and opens session cookies; remembers the sessions ended by logout.
pub(crate) struct UiSessions {
    key: [u8; 32],
    cipher: XChaCha20Poly1305,
    /// Cookies ended by logout, with their sign-in time (dropped once they would have
    /// expired anyway). Kept in memory: after a restart a copied cookie of a logged-out
    /// session works again until it expires or its workstation is revoked, which is no
    /// more than what holding the workstation token itself allows.
    ended: Mutex<HashMap<[u8; 32], SystemTime>>,
}

impl fmt::Debug for UiSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiSessions").finish_non_exhaustive()
    }
}

impl Default for UiSessions {
    fn default() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self::with_key(key)
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl UiSessions {
    /// Sessions sealed with `key` (the same key across restarts keeps browsers signed in).
    pub(crate) fn with_key(key: [u8; 32]) -> Self {
        Self {
            key,
            cipher: XChaCha20Poly1305::new(&key.into()),
            ended: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for an already authenticated token; returns the cookie value.
    pub(crate) fn create(&self, token: WorkstationToken) -> String {
        let created = now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut plain = created.to_be_bytes().to_vec();
        plain.extend_from_slice(token.expose_secret().as_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .unwrap_or_default();
        let mut cookie = nonce.to_vec();
        cookie.extend_from_slice(&sealed);
        b64().encode(cookie)
    }

    fn fingerprint(id: &str) -> [u8; 32] {
        Sha256::digest(id.as_bytes()).into()
    }

    /// The live session of cookie value `id`; `None` if forged, expired or logged out.
    pub(crate) fn get(&self, id: &str) -> Option<UiSession> {
        let raw = b64().decode(id.as_bytes()).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .ok()?;
        let (created, token) = plain.split_at_checked(8)?;
        let created =
            UNIX_EPOCH + Duration::from_secs(u64::from_be_bytes(created.try_into().ok()?));
        if now()
            .duration_since(created)
            .is_ok_and(|age| age >= ABSOLUTE)
        {
            return None;
        }
        if self
            .ended
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&Self::fingerprint(id))
        {
            return None;
        }
        let token = WorkstationToken::new(String::from_utf8(token.to_vec()).ok()?);
        Some(UiSession {
            token,
            csrf: self.csrf_for(id),
        })
    }

    /// The CSRF token of cookie value `id`: a keyed hash, so only this server can make it.
    fn csrf_for(&self, id: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(b"tsgate-ui-csrf-v1");
        hash.update(self.key);
        hash.update(id.as_bytes());
        b64().encode(hash.finalize())
    }

    /// Ends the session of cookie value `id` (logout, revoked workstation).
    pub(crate) fn remove(&self, id: &str) {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let horizon = now() - ABSOLUTE;
        ended.retain(|_, at| *at > horizon);
        ended.insert(Self::fingerprint(id), now());
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
        let id = s.create(WorkstationToken::new("tsg_secret-token".to_owned()));
        assert!(!id.contains("secret"), "the token is sealed, not readable");
        let got = s.get(&id).expect("live");
        assert_eq!(got.token.expose_secret(), "tsg_secret-token");
        assert!(got.csrf_matches(&got.csrf.clone()));
        assert!(!got.csrf_matches(""));
        assert!(!got.csrf_matches("x"));
        assert!(!format!("{got:?}").contains(&got.csrf));
        s.remove(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn sessions_survive_a_restart_with_the_same_key() {
        let key = [7u8; 32];
        let before = UiSessions::with_key(key);
        let id = before.create(WorkstationToken::new("tsg_t".to_owned()));
        let csrf = before.get(&id).unwrap().csrf;
        let after = UiSessions::with_key(key);
        let got = after.get(&id).expect("still signed in after a restart");
        assert_eq!(got.csrf, csrf);
        assert!(UiSessions::with_key([8u8; 32]).get(&id).is_none());
    }

    #[test]
    fn forged_or_tampered_cookies_are_refused() {
        let s = UiSessions::default();
        let id = s.create(WorkstationToken::new("tsg_t".to_owned()));
        let mut raw = b64().decode(id.as_bytes()).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(s.get(&b64().encode(raw)).is_none());
        assert!(s.get("abc").is_none());
        assert!(s.get("").is_none());
    }
}
