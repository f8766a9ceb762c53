//! An in-memory [`Store`](crate::ports::Store): every port, with the semantics of a real
//! backend (CAS on version, atomic commit with audit, tokens kept as hashes only). For tests
//! of every layer and for trying the domain without a database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::audit::{AuditEntry, AuditFilter};
use crate::auto::UserSchedule;
use crate::hours::WorkingHours;
use crate::ids::{SessionKey, UserId, WorkstationId};
use crate::mailbox::{UserMailbox, WatchState};
use crate::ports::{
    AuditLog, Health, ImportCounts, ImportedUser, LeaseRepo, MailboxRepo, PracticeRepo,
    ScheduleRepo, SessionStore, StoreError, StoreResult, UserDirectory, WorkstationRepo,
};
use crate::practice::{ListQuery, Page, Practice, PracticeCounts, PracticeId};
use crate::record::SessionRecord;
use crate::user::{Credentials, UserProfile};
use crate::workstation::{Workstation, WorkstationSpec, WorkstationToken};
use sistemats::secret::{Password, Pin};

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<SessionKey, SessionRecord>,
    audit: Vec<AuditEntry>,
    users: BTreeMap<UserId, UserProfile>,
    credentials: BTreeMap<UserId, Credentials>,
    /// By token hash.
    workstations: Vec<([u8; 32], Workstation)>,
    mailboxes: BTreeMap<UserId, UserMailbox>,
    watch: BTreeMap<String, WatchState>,
    practice_hours: Option<WorkingHours>,
    schedules: BTreeMap<UserId, UserSchedule>,
    practices: BTreeMap<PracticeId, Practice>,
    members: BTreeSet<(PracticeId, UserId)>,
    /// Lease name → (owner, until).
    leases: BTreeMap<String, (String, OffsetDateTime)>,
}

/// A store held in memory.
#[derive(Debug)]
pub struct MemoryStore(Mutex<Inner>);

impl Default for MemoryStore {
    fn default() -> Self {
        let mut inner = Inner::default();
        let id = PracticeId::default_practice();
        inner.practices.insert(
            id.clone(),
            Practice {
                id,
                name: "Studio".into(),
                created_at: OffsetDateTime::now_utc(),
            },
        );
        Self(Mutex::new(inner))
    }
}

/// Whether `text` contains the lower-cased `needle`, ignoring case.
fn contains_ci(text: &str, needle: &str) -> bool {
    text.to_lowercase().contains(needle)
}

impl MemoryStore {
    /// An empty store with the default practice.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `user` a member of `practice`, creating the practice if needed and without
    /// checking that the user exists (test set-up).
    pub fn add_member_unchecked(&self, practice: &PracticeId, user: &UserId) {
        let mut inner = self.lock();
        inner
            .practices
            .entry(practice.clone())
            .or_insert_with(|| Practice {
                id: practice.clone(),
                name: practice.to_string(),
                created_at: OffsetDateTime::now_utc(),
            });
        inner.members.insert((practice.clone(), user.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds or replaces a user, a member of the default practice as every user of a
    /// single-practice install is (test set-up; [`UserDirectory::put_user`] adds no
    /// membership, as a real backend).
    pub fn insert_user(&self, profile: UserProfile) {
        let mut inner = self.lock();
        inner
            .members
            .insert((PracticeId::default_practice(), profile.user_id.clone()));
        inner.users.insert(profile.user_id.clone(), profile);
    }

    /// Sets credentials; the revision is bumped past the previous one.
    pub fn insert_credentials(&self, user: &UserId, mut credentials: Credentials) -> i64 {
        let mut inner = self.lock();
        let previous = inner.credentials.get(user).map_or(0, |c| c.revision);
        credentials.revision = previous + 1;
        let revision = credentials.revision;
        inner.credentials.insert(user.clone(), credentials);
        revision
    }

    /// Every audit line so far, oldest first.
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        self.lock().audit.clone()
    }

    /// The stored record, if any.
    pub fn record(&self, key: &SessionKey) -> Option<SessionRecord> {
        self.lock().records.get(key).cloned()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey) -> StoreResult<Option<SessionRecord>> {
        Ok(self.lock().records.get(key).cloned())
    }

    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEntry],
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let stored = inner.records.get(&record.key).map_or(0, |r| r.version);
        if stored != expected_version {
            return Err(StoreError::Conflict);
        }
        let mut saved = record.clone();
        saved.version = expected_version + 1;
        inner.records.insert(saved.key.clone(), saved);
        inner.audit.extend_from_slice(audit);
        Ok(())
    }

    async fn keys(&self) -> StoreResult<Vec<SessionKey>> {
        Ok(self.lock().records.keys().cloned().collect())
    }

    async fn due(&self, now: OffsetDateTime) -> StoreResult<Vec<SessionKey>> {
        let inner = self.lock();
        let mut due: Vec<(OffsetDateTime, SessionKey)> = inner
            .records
            .values()
            .filter_map(|r| {
                r.due_at
                    .filter(|at| *at <= now)
                    .map(|at| (at, r.key.clone()))
            })
            .collect();
        due.sort();
        Ok(due.into_iter().map(|(_, key)| key).collect())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.lock().audit.push(entry.clone());
        Ok(())
    }

    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let inner = self.lock();
        let in_practice = |e: &AuditEntry| {
            filter.practice.as_ref().is_none_or(|p| {
                e.practice.as_ref() == Some(p)
                    || e.user
                        .as_ref()
                        .is_some_and(|u| inner.members.contains(&(p.clone(), u.clone())))
                    || (p.as_str() == PracticeId::DEFAULT
                        && e.practice.is_none()
                        && e.user.is_none())
            })
        };
        let mut found: Vec<AuditEntry> = inner
            .audit
            .iter()
            .filter(|e| filter.matches(e) && in_practice(e))
            .cloned()
            .collect();
        // Newest first; lines of the same instant in reverse order of writing, as a
        // database's descending id does.
        found.reverse();
        found.sort_by_key(|e| std::cmp::Reverse(e.at));
        found.truncate(filter.effective_limit() as usize);
        Ok(found)
    }
}

#[async_trait]
impl UserDirectory for MemoryStore {
    async fn user(&self, user: &UserId) -> StoreResult<Option<UserProfile>> {
        Ok(self.lock().users.get(user).cloned())
    }

    async fn credentials(&self, user: &UserId) -> StoreResult<Option<Credentials>> {
        Ok(self.lock().credentials.get(user).cloned())
    }

    async fn put_user(&self, profile: &UserProfile) -> StoreResult<()> {
        self.lock()
            .users
            .insert(profile.user_id.clone(), profile.clone());
        Ok(())
    }

    async fn list_users(&self) -> StoreResult<Vec<UserProfile>> {
        Ok(self.lock().users.values().cloned().collect())
    }

    async fn auto_candidates(&self) -> StoreResult<Vec<UserId>> {
        let inner = self.lock();
        let mut users: BTreeSet<UserId> = inner.mailboxes.keys().cloned().collect();
        users.extend(inner.schedules.keys().cloned());
        Ok(users.into_iter().collect())
    }

    async fn users_page(&self, query: &ListQuery) -> StoreResult<Page<UserProfile>> {
        let inner = self.lock();
        let needle = query.needle();
        let rows = inner
            .users
            .values()
            .filter(|p| {
                query
                    .after
                    .as_deref()
                    .is_none_or(|a| p.user_id.as_str() > a)
            })
            .filter(|p| {
                query.practice.as_ref().is_none_or(|practice| {
                    inner
                        .members
                        .contains(&(practice.clone(), p.user_id.clone()))
                })
            })
            .filter(|p| {
                needle.as_deref().is_none_or(|n| {
                    contains_ci(p.user_id.as_str(), n)
                        || contains_ci(&p.fiscal_code, n)
                        || p.display_name.as_deref().is_some_and(|d| contains_ci(d, n))
                })
            })
            .take(query.effective_limit() as usize + 1)
            .cloned()
            .collect();
        Ok(Page::from_rows(rows, query.effective_limit(), |p| {
            p.user_id.to_string()
        }))
    }

    async fn remove_user(&self, user: &UserId) -> StoreResult<bool> {
        let mut inner = self.lock();
        let found = inner.users.remove(user).is_some();
        inner.credentials.remove(user);
        inner.mailboxes.remove(user);
        inner.schedules.remove(user);
        inner.records.retain(|k, _| &k.user != user);
        inner.members.retain(|(_, u)| u != user);
        for (_, ws) in &mut inner.workstations {
            ws.users.retain(|u| u != user);
        }
        Ok(found)
    }

    async fn set_credentials(
        &self,
        user: &UserId,
        password: &Password,
        pin: &Pin,
        password_changed_on: Option<Date>,
    ) -> StoreResult<i64> {
        if !self.lock().users.contains_key(user) {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        let revision = self.insert_credentials(
            user,
            Credentials {
                password: password.clone(),
                pin: pin.clone(),
                revision: 0,
            },
        );
        if let Some(on) = password_changed_on
            && let Some(profile) = self.lock().users.get_mut(user)
        {
            profile.password_changed_at = Some(on);
        }
        Ok(revision)
    }
}

#[async_trait]
impl WorkstationRepo for MemoryStore {
    async fn register_workstation(
        &self,
        spec: &WorkstationSpec,
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        let token = WorkstationToken::generate();
        let mut users = spec.users.clone();
        users.sort();
        users.dedup();
        let ws = Workstation {
            id: WorkstationId(uuid::Uuid::new_v4().to_string()),
            name: spec.name.clone(),
            role: spec.role,
            practice: spec.practice.clone(),
            users,
            created_at: OffsetDateTime::now_utc(),
            revoked_at: None,
        };
        let mut inner = self.lock();
        if let Some(p) = &spec.practice
            && !inner.practices.contains_key(p)
        {
            return Err(StoreError::NotFound(format!("practice {p}")));
        }
        inner.workstations.push((token.hash(), ws.clone()));
        Ok((ws, token))
    }

    async fn workstations_page(&self, query: &ListQuery) -> StoreResult<Page<Workstation>> {
        let inner = self.lock();
        let needle = query.needle();
        // Oldest first; the cursor is the position in that order.
        let start = query
            .after
            .as_deref()
            .and_then(|a| a.parse::<usize>().ok())
            .unwrap_or(0);
        let rows: Vec<(usize, Workstation)> = inner
            .workstations
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(_, (_, ws))| ws.is_live())
            .filter(|(_, (_, ws))| {
                query
                    .practice
                    .as_ref()
                    .is_none_or(|p| ws.practice.as_ref() == Some(p))
            })
            .filter(|(_, (_, ws))| needle.as_deref().is_none_or(|n| contains_ci(&ws.name, n)))
            .take(query.effective_limit() as usize + 1)
            .map(|(i, (_, ws))| (i, ws.clone()))
            .collect();
        Ok(
            Page::from_rows(rows, query.effective_limit(), |(i, _)| (i + 1).to_string())
                .map(|(_, ws)| ws),
        )
    }

    async fn workstation_named(
        &self,
        practice: Option<&PracticeId>,
        name: &str,
    ) -> StoreResult<Option<Workstation>> {
        Ok(self
            .lock()
            .workstations
            .iter()
            .map(|(_, ws)| ws)
            .find(|ws| ws.is_live() && ws.practice.as_ref() == practice && ws.name == name)
            .cloned())
    }

    async fn authenticate(&self, token: &WorkstationToken) -> StoreResult<Option<Workstation>> {
        let hash = token.hash();
        Ok(self
            .lock()
            .workstations
            .iter()
            .find(|(h, ws)| *h == hash && ws.is_live())
            .map(|(_, ws)| ws.clone()))
    }

    async fn workstation(&self, id: &WorkstationId) -> StoreResult<Option<Workstation>> {
        Ok(self
            .lock()
            .workstations
            .iter()
            .find(|(_, ws)| &ws.id == id)
            .map(|(_, ws)| ws.clone()))
    }

    async fn list_workstations(&self) -> StoreResult<Vec<Workstation>> {
        Ok(self
            .lock()
            .workstations
            .iter()
            .map(|(_, ws)| ws.clone())
            .collect())
    }

    async fn set_workstation_users(&self, id: &WorkstationId, users: &[UserId]) -> StoreResult<()> {
        let mut inner = self.lock();
        let (_, ws) = inner
            .workstations
            .iter_mut()
            .find(|(_, ws)| &ws.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("workstation {id}")))?;
        ws.users = users.to_vec();
        ws.users.sort();
        ws.users.dedup();
        Ok(())
    }

    async fn revoke_workstation(&self, id: &WorkstationId) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner
            .workstations
            .iter_mut()
            .find(|(_, ws)| &ws.id == id && ws.is_live())
        {
            Some((_, ws)) => {
                ws.revoked_at = Some(OffsetDateTime::now_utc());
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl PracticeRepo for MemoryStore {
    async fn put_practice(&self, id: &PracticeId, name: &str) -> StoreResult<Practice> {
        let mut inner = self.lock();
        let practice = inner
            .practices
            .entry(id.clone())
            .or_insert_with(|| Practice {
                id: id.clone(),
                name: String::new(),
                created_at: OffsetDateTime::now_utc(),
            });
        practice.name = name.to_owned();
        Ok(practice.clone())
    }

    async fn practice(&self, id: &PracticeId) -> StoreResult<Option<Practice>> {
        Ok(self.lock().practices.get(id).cloned())
    }

    async fn practices_page(&self, query: &ListQuery) -> StoreResult<Page<Practice>> {
        let inner = self.lock();
        let needle = query.needle();
        let rows = inner
            .practices
            .values()
            .filter(|p| query.after.as_deref().is_none_or(|a| p.id.as_str() > a))
            .filter(|p| {
                needle
                    .as_deref()
                    .is_none_or(|n| contains_ci(p.id.as_str(), n) || contains_ci(&p.name, n))
            })
            .take(query.effective_limit() as usize + 1)
            .cloned()
            .collect();
        Ok(Page::from_rows(rows, query.effective_limit(), |p| {
            p.id.to_string()
        }))
    }

    async fn practice_counts(&self, id: &PracticeId) -> StoreResult<PracticeCounts> {
        let inner = self.lock();
        let members: Vec<&UserId> = inner
            .members
            .iter()
            .filter(|(p, _)| p == id)
            .map(|(_, u)| u)
            .collect();
        Ok(PracticeCounts {
            users: members.len() as u64,
            workstations: inner
                .workstations
                .iter()
                .filter(|(_, ws)| ws.is_live() && ws.practice.as_ref() == Some(id))
                .count() as u64,
            active_sessions: inner
                .records
                .values()
                .filter(|r| r.usable_code().is_some() && members.contains(&&r.key.user))
                .count() as u64,
        })
    }

    async fn add_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<()> {
        let mut inner = self.lock();
        if !inner.practices.contains_key(practice) {
            return Err(StoreError::NotFound(format!("practice {practice}")));
        }
        if !inner.users.contains_key(user) {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        inner.members.insert((practice.clone(), user.clone()));
        Ok(())
    }

    async fn remove_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        let mut inner = self.lock();
        let removed = inner.members.remove(&(practice.clone(), user.clone()));
        for (_, ws) in &mut inner.workstations {
            if ws.practice.as_ref() == Some(practice) {
                ws.users.retain(|u| u != user);
            }
        }
        Ok(removed)
    }

    async fn is_member(&self, practice: &PracticeId, user: &UserId) -> StoreResult<bool> {
        Ok(self
            .lock()
            .members
            .contains(&(practice.clone(), user.clone())))
    }

    async fn practices_of(&self, user: &UserId) -> StoreResult<Vec<PracticeId>> {
        Ok(self
            .lock()
            .members
            .iter()
            .filter(|(_, u)| u == user)
            .map(|(p, _)| p.clone())
            .collect())
    }

    async fn import_users(&self, rows: &[ImportedUser]) -> StoreResult<ImportCounts> {
        let mut counts = ImportCounts::default();
        let mut inner = self.lock();
        for row in rows {
            match inner.practices.get_mut(&row.practice) {
                Some(p) => {
                    if let Some(name) = &row.practice_name {
                        p.name.clone_from(name);
                    }
                }
                None => {
                    inner.practices.insert(
                        row.practice.clone(),
                        Practice {
                            id: row.practice.clone(),
                            name: row
                                .practice_name
                                .clone()
                                .unwrap_or_else(|| row.practice.to_string()),
                            created_at: OffsetDateTime::now_utc(),
                        },
                    );
                    counts.practices_created += 1;
                }
            }
            let id = &row.profile.user_id;
            let before = inner.users.insert(id.clone(), row.profile.clone());
            let mut changed = before.as_ref().is_some_and(|b| b != &row.profile);
            if let Some((password, pin)) = &row.credentials {
                let same = inner.credentials.get(id).is_some_and(|c| {
                    c.password.expose_secret() == password.expose_secret()
                        && c.pin.expose_secret() == pin.expose_secret()
                });
                if !same {
                    let revision = inner.credentials.get(id).map_or(0, |c| c.revision) + 1;
                    inner.credentials.insert(
                        id.clone(),
                        Credentials {
                            password: password.clone(),
                            pin: pin.clone(),
                            revision,
                        },
                    );
                    changed = true;
                }
            }
            match (before.is_some(), changed) {
                (false, _) => counts.users_created += 1,
                (true, true) => counts.users_updated += 1,
                (true, false) => counts.users_unchanged += 1,
            }
            if inner.members.insert((row.practice.clone(), id.clone())) {
                counts.memberships_added += 1;
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl LeaseRepo for MemoryStore {
    async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        let free = inner
            .leases
            .get(name)
            .is_none_or(|(holder, until)| holder == owner || *until < now);
        if free {
            inner
                .leases
                .insert(name.to_owned(), (owner.to_owned(), now + ttl));
        }
        Ok(free)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner
            .leases
            .get(name)
            .is_some_and(|(holder, _)| holder == owner)
        {
            inner.leases.remove(name);
        }
        Ok(())
    }
}

#[async_trait]
impl MailboxRepo for MemoryStore {
    async fn set_mailbox(&self, user: &UserId, mailbox: &UserMailbox) -> StoreResult<()> {
        self.lock().mailboxes.insert(user.clone(), mailbox.clone());
        Ok(())
    }

    async fn mailbox(&self, user: &UserId) -> StoreResult<Option<UserMailbox>> {
        Ok(self.lock().mailboxes.get(user).cloned())
    }

    async fn remove_mailbox(&self, user: &UserId) -> StoreResult<bool> {
        Ok(self.lock().mailboxes.remove(user).is_some())
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<(UserId, UserMailbox)>> {
        Ok(self
            .lock()
            .mailboxes
            .iter()
            .map(|(u, m)| (u.clone(), m.clone()))
            .collect())
    }

    async fn watch_state(&self, mailbox: &str) -> StoreResult<Option<WatchState>> {
        Ok(self.lock().watch.get(mailbox).cloned())
    }

    async fn set_watch_state(&self, mailbox: &str, state: &WatchState) -> StoreResult<()> {
        self.lock().watch.insert(mailbox.to_owned(), state.clone());
        Ok(())
    }
}

#[async_trait]
impl ScheduleRepo for MemoryStore {
    async fn practice_hours(&self) -> StoreResult<Option<WorkingHours>> {
        Ok(self.lock().practice_hours.clone())
    }

    async fn set_practice_hours(&self, hours: &WorkingHours) -> StoreResult<()> {
        self.lock().practice_hours = Some(hours.clone());
        Ok(())
    }

    async fn schedule(&self, user: &UserId) -> StoreResult<UserSchedule> {
        let inner = self.lock();
        if !inner.users.contains_key(user) {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        Ok(inner.schedules.get(user).cloned().unwrap_or_default())
    }

    async fn set_schedule(&self, user: &UserId, schedule: &UserSchedule) -> StoreResult<()> {
        let mut inner = self.lock();
        if !inner.users.contains_key(user) {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        inner.schedules.insert(user.clone(), schedule.clone());
        Ok(())
    }
}

#[async_trait]
impl Health for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}
