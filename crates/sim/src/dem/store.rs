//! Prescriptions issued by the simulator and NRE allocation (PROTOCOL §5.8).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng as _;

use crate::state::lock;

/// State "da erogare".
pub const STATE_TO_DISPENSE: u8 = 3;
/// State "annullata dal prescrittore".
pub const STATE_CANCELLED: u8 = 4;

/// One prescription.
#[derive(Clone)]
pub struct Prescription {
    /// NRE (15 chars).
    pub nre: String,
    /// Titolare.
    pub cf_medico1: String,
    /// Substitute who compiled it (empty in CASE 1).
    pub cf_medico2: String,
    /// Header fields of the request in document order (local name, text), without
    /// `pinCode`, `nre`, `codiceAss`, `cfMedico1`, `cfMedico2` and the details.
    pub header: Vec<(String, String)>,
    /// `DettaglioPrescrizione` children (local name, text) in document order.
    pub details: Vec<Vec<(String, String)>>,
    /// `F` or `P`.
    pub tipo_prescrizione: String,
    /// `dataCompilazione` as sent.
    pub data_compilazione: String,
    /// Decrypted patient fiscal code (never logged; `Debug` hides it).
    pub cf_assistito: String,
    /// `statoProcesso`.
    pub stato: u8,
    /// 30 digits.
    pub cod_autenticazione: String,
    /// `yyyy-MM-dd HH:mm:ss`.
    pub data_inserimento: String,
}

impl std::fmt::Debug for Prescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prescription")
            .field("nre", &self.nre)
            .field("cf_medico1", &self.cf_medico1)
            .field("cf_medico2", &self.cf_medico2)
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
    /// A new, never used NRE for `region`: region (3) + group `0A` + lot type `4` + 9 digits.
    pub fn allocate_nre(&self, region: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 1_000_000_000;
        format!("{region:0>3.3}0A4{n:09}")
    }

    /// Stores a new prescription.
    pub fn insert(&self, prescription: Prescription) {
        lock(&self.by_nre).insert(prescription.nre.clone(), prescription);
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
            (a.data_compilazione.as_str(), a.nre.as_str())
                .cmp(&(b.data_compilazione.as_str(), b.nre.as_str()))
        });
        found
    }
}

/// `ddMMyyyyHHmmss` + 16 random digits (never all zeros, as the timestamp is not).
pub fn cod_autenticazione(compact_now: &str) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    format!("{compact_now}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nre_shape_and_uniqueness() {
        let store = PrescriptionStore::default();
        let a = store.allocate_nre("130");
        let b = store.allocate_nre("130");
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("1300A4"));
        assert_ne!(a, b);
        let code = cod_autenticazione("30092026164416");
        assert_eq!(code.len(), 30);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
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

impl PrescriptionStore {
    /// Records a substitution declaration.
    pub fn declare_substitution(&self, s: Substitution) {
        lock(&self.substitutions).push(s);
    }

    /// Declared substitutions, oldest first.
    pub fn substitutions(&self) -> Vec<Substitution> {
        lock(&self.substitutions).clone()
    }
}
