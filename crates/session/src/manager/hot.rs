//! The SOAP proxy's hot path: the current code per user kept in memory, and uses of a code
//! audited per period instead of per call.
//!
//! Every proxied call needs the user's code and reports that it was used. Reading and
//! decrypting the record from the store, and committing a record plus an audit row for
//! every call, made the store the bottleneck of the proxy. Here:
//! - [`CodeCache`] keeps, per user, the profile and the usable code as last loaded. Every
//!   change the manager commits invalidates the user's entry (and a generation counter
//!   stops a load that raced with a commit from caching a stale record); a short TTL bounds
//!   how long a change made by another process (the CLI, another node) goes unseen.
//! - [`UseTracker`] keeps one window per (session, workstation, code): the first use in a
//!   window goes through the state machine (committed, audited `used`, clears an outage);
//!   the following ones are counted in memory, and when the window closes (after `period`,
//!   or when the workstation sends another code) one summary row says how many calls were
//!   made and when the last one was.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sistemats::secret::SessionCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::lock;
use crate::audit::{AuditDraft, AuditEntry, AuditKind};
use crate::ids::{Actor, SessionKey, UserId};
use crate::record::{CurrentCode, SessionRecord};
use crate::user::UserProfile;

/// How long a cached code may be used without re-reading the store. Changes made through
/// this manager are seen at once; this bounds changes made by another process.
pub(super) const CODE_TTL: Duration = Duration::from_secs(2);

/// Length of a use window: at most one `used` commit and one summary row per window and
/// workstation.
pub(super) const USE_PERIOD: time::Duration = time::Duration::minutes(1);

/// What the proxy needs of a user's session, as last loaded.
#[derive(Clone)]
pub(super) struct CachedCode {
    /// The user's profile (the session key comes from it).
    pub profile: UserProfile,
    /// The code that may be sent, if any (expiry is checked by the reader).
    pub code: Option<CurrentCode>,
    /// No outage or upstream error recorded: a successful call changes nothing but the
    /// audit, so it may be counted instead of committed.
    pub quiet: bool,
    loaded: Instant,
}

impl CachedCode {
    pub(super) fn new(profile: UserProfile, record: Option<&SessionRecord>) -> Self {
        let code = record.and_then(SessionRecord::usable_code).cloned();
        let quiet = record.is_none_or(|r| {
            r.upstream.down_since.is_none()
                && r.last_error
                    .as_ref()
                    .is_none_or(|e| e.code != "upstream_unavailable")
        });
        Self {
            profile,
            code,
            quiet,
            loaded: Instant::now(),
        }
    }
}

/// Per-user cache of [`CachedCode`], invalidated on every change.
#[derive(Default)]
pub(super) struct CodeCache {
    entries: Mutex<HashMap<UserId, CachedCode>>,
    generation: AtomicU64,
}

impl CodeCache {
    /// To read before loading from the store; pass it back to [`Self::put`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The fresh entry of `user`, if any.
    pub(super) fn get(&self, user: &UserId) -> Option<CachedCode> {
        lock(&self.entries)
            .get(user)
            .filter(|c| c.loaded.elapsed() < CODE_TTL)
            .cloned()
    }

    /// Caches what was loaded, unless something changed since `generation` was read.
    pub(super) fn put(&self, user: &UserId, entry: CachedCode, generation: u64) {
        let mut entries = lock(&self.entries);
        if self.generation.load(Ordering::Acquire) == generation {
            entries.insert(user.clone(), entry);
        }
    }

    /// Forgets `user` (after any change of its session, profile or credentials).
    pub(super) fn invalidate(&self, user: &UserId) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(user);
    }

    /// Forgets every user (when changes may have gone unseen).
    pub(super) fn invalidate_all(&self) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// Calls made with one code by one workstation in one window.
struct Window {
    code: SessionCode,
    opened: OffsetDateTime,
    last: OffsetDateTime,
    count: u64,
}

/// A closed window with more than the one call already audited.
pub(super) struct UseSummary {
    key: SessionKey,
    actor: Actor,
    code: SessionCode,
    window: Window,
}

impl UseSummary {
    /// The audit row: kind `used`, at the last call, outcome `ok: N calls from … to …`.
    pub(super) fn audit_entry(&self) -> AuditEntry {
        let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        let draft = AuditDraft {
            actor: self.actor.clone(),
            kind: AuditKind::Used,
            outcome: format!(
                "ok: {} calls from {} to {}",
                self.window.count,
                fmt(self.window.opened),
                fmt(self.window.last)
            ),
            code_hint: Some(self.code.hint()),
        };
        AuditEntry::session(self.window.last, &self.key, draft)
    }
}

/// What [`UseTracker::note`] asks the manager to do.
pub(super) struct UseDecision {
    /// Commit the use through the state machine (first use in a window, or not quiet).
    pub commit: bool,
    /// A window that just closed, to audit.
    pub closed: Option<UseSummary>,
}

/// Use windows per (session, workstation).
#[derive(Default)]
pub(super) struct UseTracker {
    windows: Mutex<HashMap<(SessionKey, Actor), Window>>,
}

impl UseTracker {
    /// Notes one successful call. `quiet` is false when the session records a problem that
    /// a success must clear at once.
    pub(super) fn note(
        &self,
        key: &SessionKey,
        actor: &Actor,
        code: &SessionCode,
        now: OffsetDateTime,
        quiet: bool,
    ) -> UseDecision {
        let mut windows = lock(&self.windows);
        let slot = (key.clone(), actor.clone());
        if let Some(w) = windows.get_mut(&slot)
            && w.code == *code
            && now - w.opened < USE_PERIOD
        {
            w.count += 1;
            w.last = now;
            return UseDecision {
                commit: !quiet,
                closed: None,
            };
        }
        let fresh = Window {
            code: code.clone(),
            opened: now,
            last: now,
            count: 1,
        };
        let closed = windows
            .insert(slot, fresh)
            .filter(|w| w.count > 1)
            .map(|window| UseSummary {
                key: key.clone(),
                actor: actor.clone(),
                code: window.code.clone(),
                window,
            });
        UseDecision {
            commit: true,
            closed,
        }
    }

    /// Closes the windows older than the period (or all with `all`), returning those with
    /// uncounted calls.
    pub(super) fn flush(&self, now: OffsetDateTime, all: bool) -> Vec<UseSummary> {
        let mut windows = lock(&self.windows);
        let expired: Vec<(SessionKey, Actor)> = windows
            .iter()
            .filter(|(_, w)| all || now - w.opened >= USE_PERIOD)
            .map(|(k, _)| k.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|slot| {
                let window = windows.remove(&slot)?;
                (window.count > 1).then(|| UseSummary {
                    key: slot.0,
                    actor: slot.1,
                    code: window.code.clone(),
                    window,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::*;

    const CODE: &str = "11111111-2222-4333-8444-555555555555";

    use super::*;

    fn setup() -> (Arc<MemoryStore>, ManualClock, SessionManager, UserId) {
        let domain = crate::testing::TestDomain::new(crate::testing::FakeUpstream::default());
        let user = domain.add_user("PROVAX00X00X000Y");
        domain.upstream.valid(CODE, domain.clock.now());
        (domain.store, domain.clock, domain.manager, user)
    }

    fn ws(n: usize) -> Actor {
        Actor::Workstation(WorkstationId(format!("w{n}")))
    }

    fn used(store: &MemoryStore) -> Vec<AuditEntry> {
        store
            .audit_entries()
            .into_iter()
            .filter(|e| e.session_kind() == Some(AuditKind::Used))
            .collect()
    }

    #[tokio::test]
    async fn uses_are_audited_once_per_window_and_summarised() {
        let (store, clock, m, user) = setup();
        assert!(m.code_for_proxy(&user).await.is_err());
        m.submit_code(&user, CODE, ws(1)).await.unwrap();
        // The cached "no code" was invalidated by the insert.
        let code = m.code_for_proxy(&user).await.unwrap();
        assert_eq!(code.expose_secret(), CODE);
        for _ in 0..5 {
            m.record_use(&user, &code, ws(1)).await.unwrap();
        }
        m.record_use(&user, &code, ws(2)).await.unwrap();
        let rows = used(&store);
        assert_eq!(rows.len(), 2, "first use per workstation");
        assert!(rows.iter().all(|e| e.outcome == "ok"));

        clock.advance(time::Duration::seconds(61));
        m.tick().await.unwrap();
        let rows = used(&store);
        assert_eq!(
            rows.len(),
            3,
            "one summary for w1, none for w2 (a single call)"
        );
        let summary = &rows[2];
        assert_eq!(summary.actor, ws(1));
        assert!(
            summary
                .outcome
                .starts_with("ok: 5 calls from 2026-11-27T07:00:00Z to "),
            "{}",
            summary.outcome
        );
        assert_eq!(summary.code_hint.as_deref(), Some(code.hint().as_str()));

        // The next use opens a new window: audited again.
        m.record_use(&user, &code, ws(1)).await.unwrap();
        m.record_use(&user, &code, ws(1)).await.unwrap();
        assert_eq!(used(&store).len(), 4);
        m.flush_uses(true).await.unwrap();
        assert_eq!(used(&store).len(), 5);
        assert!(!format!("{:?}", store.audit_entries()).contains(CODE));
    }

    #[tokio::test]
    async fn every_change_reaches_the_proxy_at_once() {
        let (_store, _clock, m, user) = setup();
        m.submit_code(&user, CODE, ws(1)).await.unwrap();
        let code = m.code_for_proxy(&user).await.unwrap();
        m.upstream_unavailable(&user).await.unwrap();
        let s = m.status(&user).await.unwrap();
        assert!(s.last_error.is_some());
        // Not quiet any more: this success is committed and clears the outage at once.
        m.record_use(&user, &code, ws(1)).await.unwrap();
        m.record_use(&user, &code, ws(1)).await.unwrap();
        assert!(m.status(&user).await.unwrap().last_error.is_none());
        m.revoke(&user, ws(1)).await.unwrap();
        assert!(matches!(
            m.code_for_proxy(&user).await,
            Err(SessionError::NoCode(_))
        ));
    }

    #[test]
    fn a_load_that_raced_with_a_change_is_not_cached() {
        let cache = CodeCache::default();
        let user = UserId::new("U1").unwrap();
        let profile = crate::testing::profile(&user);
        let g = cache.generation();
        cache.invalidate(&user);
        cache.put(&user, CachedCode::new(profile.clone(), None), g);
        assert!(cache.get(&user).is_none());
        let g = cache.generation();
        cache.put(&user, CachedCode::new(profile, None), g);
        assert!(cache.get(&user).is_some());
    }

    #[test]
    fn invalidating_all_forgets_every_user_and_races_like_one() {
        let cache = CodeCache::default();
        let users = ["U1", "U2"].map(|u| UserId::new(u).unwrap());
        for user in &users {
            let g = cache.generation();
            cache.put(
                user,
                CachedCode::new(crate::testing::profile(user), None),
                g,
            );
        }
        let g = cache.generation();
        cache.invalidate_all();
        assert!(users.iter().all(|u| cache.get(u).is_none()));
        cache.put(
            &users[0],
            CachedCode::new(crate::testing::profile(&users[0]), None),
            g,
        );
        assert!(cache.get(&users[0]).is_none(), "loaded before: not cached");
    }
}
