//! In-memory implementations of the ports, for tests and for trying the domain without a
//! database. Same semantics as a real store (CAS on version, atomic commit with audit).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::ids::{SessionKey, UserId};
use crate::ports::{AuditSink, SessionStore, StoreError, UserDirectory};
use crate::record::SessionRecord;
use crate::user::{Credentials, UserProfile};

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<SessionKey, SessionRecord>,
    audit: Vec<AuditEvent>,
    users: BTreeMap<UserId, UserProfile>,
    credentials: BTreeMap<UserId, Credentials>,
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
    pub fn put_user(&self, profile: UserProfile) {
        self.lock().users.insert(profile.user_id.clone(), profile);
    }

    /// Sets credentials; the revision is bumped past the previous one.
    pub fn set_credentials(&self, user: &UserId, mut credentials: Credentials) -> i64 {
        let mut inner = self.lock();
        let previous = inner.credentials.get(user).map_or(0, |c| c.revision);
        credentials.revision = previous + 1;
        let revision = credentials.revision;
        inner.credentials.insert(user.clone(), credentials);
        revision
    }

    /// Every audit event so far, oldest first.
    pub fn audit_events(&self) -> Vec<AuditEvent> {
        self.lock().audit.clone()
    }

    /// The stored record, if any.
    pub fn record(&self, key: &SessionKey) -> Option<SessionRecord> {
        self.lock().records.get(key).cloned()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().records.get(key).cloned())
    }

    async fn commit(
        &self,
        record: &SessionRecord,
        expected_version: u64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
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

    async fn keys(&self) -> Result<Vec<SessionKey>, StoreError> {
        Ok(self.lock().records.keys().cloned().collect())
    }
}

#[async_trait]
impl AuditSink for MemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.lock().audit.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl UserDirectory for MemoryStore {
    async fn user(&self, user: &UserId) -> Result<Option<UserProfile>, StoreError> {
        Ok(self.lock().users.get(user).cloned())
    }

    async fn credentials(&self, user: &UserId) -> Result<Option<Credentials>, StoreError> {
        Ok(self.lock().credentials.get(user).cloned())
    }
}
