//! [`SqliteStore`] as the gateway's workstation directory, audit log and admin directory.
//! The audit log is the store's `audit` table: session events and administration changes.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tsgate_session::audit::{AdminAction, AdminEvent, AuditEntryKind};
use tsgate_session::{Actor, UserId, UserProfile, WorkstationId};
use tsgate_store::{
    AdminAudit, AuditQuery, SqliteStore, UserRepo, WorkstationRepo, WorkstationRole,
    WorkstationToken,
};

use crate::ports::{
    AdminDirectory, AdminError, AuditFilter, AuditLog, AuditRecord, BackendError, NewUser,
    NewWorkstation, Role, UserRecord, Workstation, WorkstationDirectory,
};

/// How long an authenticated workstation is trusted without asking the database again.
/// A revocation through this process (API, UI) takes effect at once; one made by another
/// process (`tsgate workstation revoke`) within this time.
const WORKSTATION_TTL: Duration = Duration::from_secs(5);

/// Entries kept before expired ones are swept.
const WORKSTATION_CACHE_SWEEP: usize = 4096;

type CacheKey = (usize, [u8; 32]);

/// Workstations recently authenticated, by (store, token hash). Every proxied call and API
/// request authenticates its workstation; this keeps the SQLite lookup off that hot path.
///
/// It lives here, keyed by the store's address, because the gateway reaches the store only
/// through the `WorkstationDirectory` port implemented on `SqliteStore` itself. Unknown
/// tokens are never cached, so a new workstation works at once.
static WORKSTATIONS: LazyLock<Mutex<HashMap<CacheKey, (Instant, Workstation)>>> =
    LazyLock::new(Default::default);

fn cache() -> MutexGuard<'static, HashMap<CacheKey, (Instant, Workstation)>> {
    WORKSTATIONS.lock().unwrap_or_else(|p| p.into_inner())
}

fn store_id(store: &SqliteStore) -> usize {
    std::ptr::from_ref(store) as usize
}

/// Forgets every cached workstation of `store` (after a revocation or a user removal).
fn forget_workstations(store: &SqliteStore) {
    let id = store_id(store);
    cache().retain(|k, _| k.0 != id);
}

fn backend(e: tsgate_store::Error) -> BackendError {
    BackendError(e.to_string())
}

fn admin(e: tsgate_store::Error) -> AdminError {
    match e {
        tsgate_store::Error::NotFound(_) => AdminError::NotFound,
        tsgate_store::Error::Conflict => AdminError::AlreadyExists,
        other => AdminError::Backend(backend(other)),
    }
}

fn role_from_store(role: WorkstationRole) -> Role {
    match role {
        WorkstationRole::Admin => Role::Admin,
        WorkstationRole::Doctor => Role::Doctor,
        WorkstationRole::Staff => Role::Staff,
    }
}

fn role_to_store(role: Role) -> WorkstationRole {
    match role {
        Role::Admin => WorkstationRole::Admin,
        Role::Doctor => WorkstationRole::Doctor,
        Role::Staff => WorkstationRole::Staff,
    }
}

fn workstation(ws: tsgate_store::Workstation) -> Workstation {
    Workstation {
        id: ws.id.0,
        name: ws.name,
        role: role_from_store(ws.role),
        users: ws.users.into_iter().map(String::from).collect(),
    }
}

fn user_record(p: UserProfile) -> UserRecord {
    UserRecord {
        user_id: p.user_id.into(),
        display_name: p.display_name,
        region: p.region,
        asl: p.asl,
    }
}

fn user_ids(users: &[String]) -> Result<Vec<UserId>, AdminError> {
    users
        .iter()
        .map(|u| UserId::new(u.as_str()).map_err(|e| AdminError::Invalid(format!("{u}: {e}"))))
        .collect()
}

impl WorkstationDirectory for SqliteStore {
    fn authenticate<'a>(
        &'a self,
        token: &'a WorkstationToken,
    ) -> BoxFuture<'a, Result<Option<Workstation>, BackendError>> {
        async move {
            let key = (store_id(self), token.hash());
            if let Some((at, ws)) = cache().get(&key)
                && at.elapsed() < WORKSTATION_TTL
            {
                return Ok(Some(ws.clone()));
            }
            let found = WorkstationRepo::authenticate(self, token)
                .await
                .map_err(backend)?;
            let found = found.filter(|ws| ws.revoked_at.is_none()).map(workstation);
            if let Some(ws) = &found {
                let mut cache = cache();
                if cache.len() >= WORKSTATION_CACHE_SWEEP {
                    cache.retain(|_, (at, _)| at.elapsed() < WORKSTATION_TTL);
                }
                cache.insert(key, (Instant::now(), ws.clone()));
            }
            Ok(found)
        }
        .boxed()
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        async move { self.ping().await.map_err(backend) }.boxed()
    }
}

impl AuditLog for SqliteStore {
    /// Stores an administration event (the gateway records nothing else: session events are
    /// written by the domain with each commit). Kinds other than [`AdminAction`]s, unknown
    /// actors and invalid user ids are refused rather than stored half-typed.
    fn record(&self, event: AuditRecord) -> BoxFuture<'_, Result<(), BackendError>> {
        async move {
            let invalid = |what: &str| BackendError(format!("audit record: invalid {what}"));
            let action = AdminAction::from_str(&event.kind).map_err(|_| invalid("kind"))?;
            let actor = Actor::from_str(&event.actor).map_err(|_| invalid("actor"))?;
            let user = event
                .user
                .as_deref()
                .map(UserId::new)
                .transpose()
                .map_err(|_| invalid("user"))?;
            tracing::info!(
                target: "audit",
                kind = %action,
                actor = %actor,
                user = user.as_ref().map_or("", UserId::as_str),
                outcome = %event.outcome,
                "administration"
            );
            self.record_admin(&AdminEvent {
                at: event.at,
                actor,
                action,
                user,
                outcome: event.outcome,
            })
            .await
            .map_err(backend)
        }
        .boxed()
    }

    fn query(&self, filter: AuditFilter) -> BoxFuture<'_, Result<Vec<AuditRecord>, BackendError>> {
        async move {
            // A user id or kind that cannot exist matches nothing.
            let user = match filter.user.as_deref().map(UserId::new) {
                Some(Err(_)) => return Ok(vec![]),
                Some(Ok(u)) => Some(u),
                None => None,
            };
            let kind = match filter.kind.as_deref().map(AuditEntryKind::from_str) {
                Some(Err(_)) => return Ok(vec![]),
                Some(Ok(k)) => Some(k),
                None => None,
            };
            let store_filter = tsgate_store::AuditFilter {
                user,
                actor: filter.workstation.map(|w| format!("ws:{w}")),
                kind,
                since: filter.from,
                until: filter.to,
                limit: filter.limit,
            };
            let entries = self.query_audit(&store_filter).await.map_err(backend)?;
            Ok(entries.into_iter().map(AuditRecord::from).collect())
        }
        .boxed()
    }
}

impl AdminDirectory for SqliteStore {
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<UserRecord>, BackendError>> {
        async move {
            let users = UserRepo::list_users(self).await.map_err(backend)?;
            Ok(users.into_iter().map(user_record).collect())
        }
        .boxed()
    }

    fn add_user(&self, user: NewUser) -> BoxFuture<'_, Result<UserRecord, AdminError>> {
        async move {
            let id = UserId::new(user.user_id.as_str())
                .map_err(|e| AdminError::Invalid(e.to_string()))?;
            if self.get_user(&id).await.map_err(admin)?.is_some() {
                return Err(AdminError::AlreadyExists);
            }
            let profile = UserProfile {
                user_id: id.clone(),
                fiscal_code: user.cf,
                region: user.region,
                asl: user.asl,
                ssa: user.ssa.unwrap_or_else(|| "000000".into()),
                specialization: user.specialization,
                display_name: user.display_name,
                environment: user.environment,
                role: user.role,
                password_changed_at: None,
            };
            self.put_user(&profile).await.map_err(admin)?;
            self.set_credentials(&id, &user.password, &user.pin, None)
                .await
                .map_err(admin)?;
            Ok(user_record(profile))
        }
        .boxed()
    }

    fn remove_user<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        async move {
            let id = UserId::new(user).map_err(|_| AdminError::NotFound)?;
            let removed = UserRepo::remove_user(self, &id).await.map_err(admin)?;
            forget_workstations(self);
            match removed {
                true => Ok(()),
                false => Err(AdminError::NotFound),
            }
        }
        .boxed()
    }

    fn list_workstations(&self) -> BoxFuture<'_, Result<Vec<Workstation>, BackendError>> {
        async move {
            let all = WorkstationRepo::list_workstations(self)
                .await
                .map_err(backend)?;
            Ok(all
                .into_iter()
                .filter(|ws| ws.revoked_at.is_none())
                .map(workstation)
                .collect())
        }
        .boxed()
    }

    fn add_workstation(
        &self,
        new: NewWorkstation,
    ) -> BoxFuture<'_, Result<(Workstation, WorkstationToken), AdminError>> {
        async move {
            let users = user_ids(&new.users)?;
            let (ws, token) = self
                .create_workstation(new.name.trim(), role_to_store(new.role), &users)
                .await
                .map_err(admin)?;
            Ok((workstation(ws), token))
        }
        .boxed()
    }

    fn revoke_workstation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), AdminError>> {
        async move {
            let id = WorkstationId(id.to_owned());
            let revoked = WorkstationRepo::revoke_workstation(self, &id)
                .await
                .map_err(admin)?;
            forget_workstations(self);
            match revoked {
                true => Ok(()),
                false => Err(AdminError::NotFound),
            }
        }
        .boxed()
    }
}
