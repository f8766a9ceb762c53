//! Prescriptions issued by the simulator and NRE allocation (PROTOCOL §5.8).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng as _;
use sistemats::dem::{InvioPrescrittoRequest, Nre, NreError, StatoProcesso};

use crate::sync::lock;

/// One prescription.
#[derive(Clone)]
pub struct Prescription {
    /// NRE (15 chars).
    pub nre: String,
    /// The InvioPrescritto request that created it, without the encrypted `pinCode` and
    /// `codiceAss` (VisualizzaPrescritto returns the rest).
    pub sent: InvioPrescrittoRequest,
    /// Decrypted patient fiscal code (never logged; `Debug` hides it).
    pub cf_assistito: String,
    /// `statoProcesso`.
    pub stato: StatoProcesso,
    /// 30 digits.
    pub cod_autenticazione: String,
    /// `yyyy-MM-dd HH:mm:ss`.
    pub data_inserimento: String,
}

impl Prescription {
    /// The titolare's fiscal code (`cfMedico1`).
    pub fn cf_medico1(&self) -> &str {
        &self.sent.cf_medico1
    }

    /// The fiscal code of whoever compiled it: the substitute (`cfMedico2`) if any, else
    /// the titolare.
    pub fn compiler(&self) -> &str {
        self.sent
            .cf_medico2
            .as_deref()
            .unwrap_or(&self.sent.cf_medico1)
    }
}

impl std::fmt::Debug for Prescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prescription")
            .field("nre", &self.nre)
            .field("cf_medico1", &self.sent.cf_medico1)
            .field("cf_medico2", &self.sent.cf_medico2)
            .field("stato", &self.stato)
            .finish_non_exhaustive()
    }
}

/// All prescriptions, by NRE.
#[derive(Debug)]
pub struct PrescriptionStore {
    by_nre: Mutex<HashMap<String, Prescription>>,
    next: AtomicU64,
    substitutions: Mutex<Vec<Substitution>>,
}

impl Default for PrescriptionStore {
    fn default() -> Self {
        // Start the lot at a random point so two simulator runs do not hand out the same NRE.
        let start = rand::rng().random_range(10_000_000..90_000_000u64) * 10;
        Self {
            by_nre: Mutex::new(HashMap::new()),
            next: AtomicU64::new(start),
            substitutions: Mutex::new(Vec::new()),
        }
    }
}

impl PrescriptionStore {
    /// A new, never used NRE for `region` (3 digits): group `0A`, lot type `4`, 9 digits.
    pub fn allocate_nre(&self, region: &str) -> Result<Nre, NreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Nre::from_parts(region, "0A", 4, n)
    }

    /// Stores a new prescription.
    pub fn insert(&self, prescription: Prescription) {
        lock(&self.by_nre).insert(prescription.nre.clone(), prescription);
    }

    /// Whether a prescription has this NRE.
    pub fn contains(&self, nre: &str) -> bool {
        lock(&self.by_nre).contains_key(nre)
    }

    /// A copy of the prescription with this NRE.
    pub fn get(&self, nre: &str) -> Option<Prescription> {
        lock(&self.by_nre).get(nre).cloned()
    }

    /// Applies `f` to the prescription with this NRE.
    pub fn update<T>(&self, nre: &str, f: impl FnOnce(&mut Prescription) -> T) -> Option<T> {
        lock(&self.by_nre).get_mut(nre).map(f)
    }

    /// Prescriptions matching `filter`, sorted by compilation date then NRE.
    pub fn query(&self, filter: impl Fn(&Prescription) -> bool) -> Vec<Prescription> {
        let mut found: Vec<Prescription> = lock(&self.by_nre)
            .values()
            .filter(|p| filter(p))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (a.sent.data_compilazione.as_str(), a.nre.as_str())
                .cmp(&(b.sent.data_compilazione.as_str(), b.nre.as_str()))
        });
        found
    }

    /// Records a substitution declaration.
    pub fn declare_substitution(&self, s: Substitution) {
        lock(&self.substitutions).push(s);
    }

    /// Declared substitutions, oldest first.
    pub fn substitutions(&self) -> Vec<Substitution> {
        lock(&self.substitutions).clone()
    }
}

/// A declared substitution (DichiarazioneSostituzioneMedico).
#[derive(Debug, Clone)]
pub struct Substitution {
    /// Titolare's CF.
    pub titolare: String,
    /// Substitute's CF.
    pub sostituto: String,
    /// `dataInizioSostituzione` as sent.
    pub from: String,
    /// `dataFineSostituzione` as sent.
    pub to: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nre_shape_and_uniqueness() {
        let store = PrescriptionStore::default();
        let a = store.allocate_nre("130").unwrap();
        let b = store.allocate_nre("130").unwrap();
        assert!(a.as_str().starts_with("1300A4"));
        assert_eq!(a.region(), "130");
        assert_ne!(a, b);
        assert!(store.allocate_nre("ABC").is_err());
    }
}
