//! ID-SESSIONE store with the Validato/Attivo two-code rule (MOD-2F v1.1 §5).

use std::collections::{HashMap, VecDeque};

use time::OffsetDateTime;

/// Lifecycle of a code, ignoring expiry (computed from the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Issued, never used on a DEM call.
    Validato,
    /// Used at least once on a DEM call.
    Attivo,
    /// Revoked (explicitly, by a newer request or by the first use of a newer code).
    Revocato(OffsetDateTime),
}

/// One issued code.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Owner (Sistema TS user id).
    pub user_id: String,
    /// `contesto` at creation.
    pub contesto: String,
    /// `applicazione` at creation.
    pub applicazione: String,
    /// Start of validity (request time).
    pub issued: OffsetDateTime,
    /// End of validity.
    pub expires: OffsetDateTime,
    /// Current status.
    pub status: Status,
}

impl TokenRecord {
    /// Whether it has expired at `now`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires
    }

    /// Whether it can still be used at `now`.
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        !self.expired(now) && !matches!(self.status, Status::Revocato(_))
    }

    fn same_key(&self, user_id: &str, contesto: &str, applicazione: &str) -> bool {
        self.user_id == user_id && self.contesto == contesto && self.applicazione == applicazione
    }
}

/// Why a code was not accepted on a DEM call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseError {
    /// Never issued.
    Unknown,
    /// Issued for another user, contesto or applicazione.
    WrongOwner,
    /// Revoked.
    Revoked,
    /// Expired.
    Expired,
}

/// Codes kept at most. Each `create` adds one, and codes are otherwise dropped only a day
/// after they expire, so a benchmark that requests codes in a loop would grow the store
/// without end; beyond this many the oldest issued go first (a dropped code answers like
/// one never issued).
pub const TOKEN_LIMIT: usize = 100_000;

/// The codes issued (pruned of codes expired for more than a day, and of the oldest beyond
/// [`TOKEN_LIMIT`]).
#[derive(Debug)]
pub struct TokenStore {
    by_code: HashMap<String, TokenRecord>,
    /// Codes oldest first; exactly the keys of `by_code`.
    order: VecDeque<String>,
    max: usize,
}

impl Default for TokenStore {
    fn default() -> Self {
        Self::with_limit(TOKEN_LIMIT)
    }
}

impl TokenStore {
    /// An empty store that keeps at most `max` codes (at least one).
    pub fn with_limit(max: usize) -> Self {
        Self {
            by_code: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// How many codes are stored now.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether no code is stored.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// Issues a new Validato code. A previous, still unused Validato code for the same
    /// (user, contesto, applicazione) is revoked; an Attivo one stays valid until the new
    /// one is first used.
    pub fn create(
        &mut self,
        user_id: &str,
        contesto: &str,
        applicazione: &str,
        now: OffsetDateTime,
        validity: time::Duration,
    ) -> (String, TokenRecord) {
        let before = self.by_code.len();
        self.by_code
            .retain(|_, t| now - t.expires < time::Duration::days(1));
        if self.by_code.len() != before {
            let by_code = &self.by_code;
            self.order.retain(|code| by_code.contains_key(code));
        }
        for record in self.by_code.values_mut() {
            if record.same_key(user_id, contesto, applicazione)
                && record.status == Status::Validato
                && !record.expired(now)
            {
                record.status = Status::Revocato(now);
            }
        }
        let code = uuid::Uuid::new_v4().to_string();
        let record = TokenRecord {
            user_id: user_id.into(),
            contesto: contesto.into(),
            applicazione: applicazione.into(),
            issued: now,
            expires: now + validity,
            status: Status::Validato,
        };
        self.by_code.insert(code.clone(), record.clone());
        self.order.push_back(code.clone());
        while self.order.len() > self.max {
            if let Some(oldest) = self.order.pop_front() {
                self.by_code.remove(&oldest);
            }
        }
        (code, record)
    }

    /// The record of a code.
    pub fn get(&self, code: &str) -> Option<&TokenRecord> {
        self.by_code.get(code)
    }

    /// Revokes a code (no-op if already revoked).
    pub fn revoke(&mut self, code: &str, now: OffsetDateTime) {
        if let Some(record) = self.by_code.get_mut(code)
            && !matches!(record.status, Status::Revocato(_))
        {
            record.status = Status::Revocato(now);
        }
    }

    /// Accepts a code on a DEM call for `user_id`/`applicazione`: the first use of a Validato
    /// code makes it Attivo and revokes the other Attivo code of the same key.
    pub fn use_on_dem(
        &mut self,
        code: &str,
        user_id: &str,
        applicazione: &str,
        now: OffsetDateTime,
    ) -> Result<(), UseError> {
        let record = self.by_code.get(code).ok_or(UseError::Unknown)?;
        if !record.same_key(user_id, "RICETTA-DEM", applicazione) {
            return Err(UseError::WrongOwner);
        }
        if matches!(record.status, Status::Revocato(_)) {
            return Err(UseError::Revoked);
        }
        if record.expired(now) {
            return Err(UseError::Expired);
        }
        if record.status == Status::Validato {
            for (other_code, other) in self.by_code.iter_mut() {
                if other_code != code
                    && other.same_key(user_id, "RICETTA-DEM", applicazione)
                    && other.status == Status::Attivo
                {
                    other.status = Status::Revocato(now);
                }
            }
            if let Some(record) = self.by_code.get_mut(code) {
                record.status = Status::Attivo;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_code_rule() {
        let mut store = TokenStore::default();
        let now = OffsetDateTime::now_utc();
        let h16 = time::Duration::hours(16);
        let (a, _) = store.create("U", "RICETTA-DEM", "PRESCRITTORE", now, h16);
        store.use_on_dem(&a, "U", "PRESCRITTORE", now).unwrap();
        let (b, _) = store.create("U", "RICETTA-DEM", "PRESCRITTORE", now, h16);
        // The new code does not kill the active one…
        assert!(store.get(&a).unwrap().usable(now));
        // …a further request replaces the unused one…
        let (c, _) = store.create("U", "RICETTA-DEM", "PRESCRITTORE", now, h16);
        assert!(!store.get(&b).unwrap().usable(now));
        assert_eq!(
            store.use_on_dem(&b, "U", "PRESCRITTORE", now),
            Err(UseError::Revoked)
        );
        // …and the first use of the new one revokes the old active one.
        store.use_on_dem(&c, "U", "PRESCRITTORE", now).unwrap();
        assert!(!store.get(&a).unwrap().usable(now));
        assert_eq!(store.get(&c).unwrap().status, Status::Attivo);
        assert_eq!(
            store.use_on_dem(&c, "V", "PRESCRITTORE", now),
            Err(UseError::WrongOwner)
        );
        assert_eq!(
            store.use_on_dem("x", "U", "PRESCRITTORE", now),
            Err(UseError::Unknown)
        );
        assert_eq!(
            store.use_on_dem(&c, "U", "PRESCRITTORE", now + h16),
            Err(UseError::Expired)
        );
    }

    #[test]
    fn oldest_codes_go_beyond_the_limit() {
        let mut store = TokenStore::with_limit(3);
        let now = OffsetDateTime::now_utc();
        let h16 = time::Duration::hours(16);
        let codes: Vec<String> = (0..5)
            .map(|i| {
                store
                    .create(&format!("U{i}"), "RICETTA-DEM", "PRESCRITTORE", now, h16)
                    .0
            })
            .collect();
        assert_eq!(store.len(), 3);
        for old in &codes[..2] {
            assert!(store.get(old).is_none());
            assert_eq!(
                store.use_on_dem(old, "U0", "PRESCRITTORE", now),
                Err(UseError::Unknown)
            );
        }
        for (i, kept) in codes[2..].iter().enumerate() {
            assert_eq!(store.get(kept).unwrap().user_id, format!("U{}", i + 2));
        }
        // Pruning by expiry keeps the order in step with the map.
        let later = now + h16 + time::Duration::days(2);
        store.create("V", "RICETTA-DEM", "PRESCRITTORE", later, h16);
        assert_eq!(store.len(), 1);
        assert_eq!(store.order.len(), 1);
    }
}
