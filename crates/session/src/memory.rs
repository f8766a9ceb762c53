//! An in-memory [`Store`](crate::ports::Store): every port, with the semantics of a real
//! backend (CAS on version, atomic commit with audit, tokens kept as hashes only). For tests
//! of every layer and for trying the domain without a database.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::audit::{AuditEntry, AuditFilter};
use crate::auto::UserSchedule;
use crate::hours::WorkingHours;
use crate::ids::{SessionKey, UserId, WorkstationId};
use crate::mailbox::{UserMailbox, WatchState};
use crate::ports::{
    AuditLog, Health, MailboxRepo, ScheduleRepo, SessionStore, StoreError, StoreResult,
    UserDirectory, WorkstationRepo,
};
use crate::record::SessionRecord;
use crate::user::{Credentials, UserProfile};
use crate::workstation::{Workstation, WorkstationRole, WorkstationToken};
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
}

/// A store held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds or replaces a user.
    pub fn insert_user(&self, profile: UserProfile) {
        self.lock().users.insert(profile.user_id.clone(), profile);
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
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.lock().audit.push(entry.clone());
        Ok(())
    }

    async fn query(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let inner = self.lock();
        let mut found: Vec<AuditEntry> = inner
            .audit
            .iter()
            .filter(|e| filter.matches(e))
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
        self.insert_user(profile.clone());
        Ok(())
    }

    async fn list_users(&self) -> StoreResult<Vec<UserProfile>> {
        Ok(self.lock().users.values().cloned().collect())
    }

    async fn remove_user(&self, user: &UserId) -> StoreResult<bool> {
        let mut inner = self.lock();
        let found = inner.users.remove(user).is_some();
        inner.credentials.remove(user);
        inner.mailboxes.remove(user);
        inner.schedules.remove(user);
        inner.records.retain(|k, _| &k.user != user);
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
    async fn create_workstation(
        &self,
        name: &str,
        role: WorkstationRole,
        users: &[UserId],
    ) -> StoreResult<(Workstation, WorkstationToken)> {
        let token = WorkstationToken::generate();
        let ws = Workstation {
            id: WorkstationId(uuid::Uuid::new_v4().to_string()),
            name: name.to_owned(),
            role,
            users: users.to_vec(),
            created_at: OffsetDateTime::now_utc(),
            revoked_at: None,
        };
        self.lock().workstations.push((token.hash(), ws.clone()));
        Ok((ws, token))
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
