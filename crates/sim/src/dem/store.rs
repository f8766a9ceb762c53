//! Prescriptions issued by the simulator and NRE allocation (PROTOCOL §5.8).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng as _;
use sistemats::dem::{InvioPrescrittoRequest, Nre, NreError, StatoProcesso};
use sistemats::erogatore::DettaglioPrescrizioneInvioErogato;

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
    /// The pharmacy that took it in charge and what it dispensed (`None` while no pharmacy
    /// holds it).
    pub erogazione: Option<Erogazione>,
}

/// A prescription taken in charge by a pharmacy (VisualizzaErogato) and what happened next.
#[derive(Debug, Clone, Default)]
pub struct Erogazione {
    /// Sistema TS user id of the pharmacy holding it.
    pub holder: String,
    /// `statoProcesso` before a suspension, restored when the suspension is revoked.
    pub before_suspension: Option<StatoProcesso>,
    /// `codAutenticazione` of the last InvioErogato.
    pub cod_autenticazione: Option<String>,
    /// `dataSpedizione` of the last InvioErogato.
    pub data_spedizione: Option<String>,
    /// The dispensed lines of the last InvioErogato.
    pub dettagli: Vec<DettaglioPrescrizioneInvioErogato>,
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

/// Prescriptions kept by default: enough for any functional test and for hours of a
/// benchmark's working set, small enough to keep the simulator's memory flat in a soak.
pub const DEFAULT_MAX_PRESCRIPTIONS: usize = 20_000;
/// Substitution declarations kept (oldest dropped first); nothing reads them back but
/// tests and inspection, so a fixed limit is enough.
const SUBSTITUTION_LIMIT: usize = 10_000;

/// The most recent prescriptions, by NRE, at most `max` of them.
///
/// When a new prescription would exceed the limit the oldest one goes: its NRE then
/// answers like one never issued (5005 on VisualizzaPrescritto and AnnullaPrescritto),
/// which is what production answers for an NRE it does not know.
#[derive(Debug)]
pub struct PrescriptionStore {
    stored: Mutex<Stored>,
    max: usize,
    next: AtomicU64,
    substitutions: Mutex<VecDeque<Substitution>>,
}

/// The map and the insertion order, under one lock so they never disagree.
#[derive(Debug, Default)]
struct Stored {
    by_nre: HashMap<String, Prescription>,
    /// NREs oldest first; exactly the keys of `by_nre`.
    order: VecDeque<String>,
}

impl Default for PrescriptionStore {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_PRESCRIPTIONS)
    }
}

impl PrescriptionStore {
    /// An empty store that keeps at most `max` prescriptions (at least one).
    pub fn with_limit(max: usize) -> Self {
        // Start the lot at a random point so two simulator runs do not hand out the same NRE.
        let start = rand::rng().random_range(10_000_000..90_000_000u64) * 10;
        Self {
            stored: Mutex::new(Stored::default()),
            max: max.max(1),
            next: AtomicU64::new(start),
            substitutions: Mutex::new(VecDeque::new()),
        }
    }

    /// The most prescriptions kept.
    pub fn limit(&self) -> usize {
        self.max
    }

    /// How many prescriptions are stored now.
    pub fn len(&self) -> usize {
        lock(&self.stored).by_nre.len()
    }

    /// Whether no prescription is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new, never used NRE for `region` (3 digits): group `0A`, lot type `4`, 9 digits.
    pub fn allocate_nre(&self, region: &str) -> Result<Nre, NreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Nre::from_parts(region, "0A", 4, n)
    }

    /// Stores a new prescription, dropping the oldest ones beyond the limit. Storing an
    /// NRE again replaces its data and keeps its place in the order.
    pub fn insert(&self, prescription: Prescription) {
        let mut stored = lock(&self.stored);
        let nre = prescription.nre.clone();
        if stored.by_nre.insert(nre.clone(), prescription).is_none() {
            stored.order.push_back(nre);
        }
        while stored.order.len() > self.max {
            if let Some(oldest) = stored.order.pop_front() {
                stored.by_nre.remove(&oldest);
            }
        }
    }

    /// Whether a prescription has this NRE.
    pub fn contains(&self, nre: &str) -> bool {
        lock(&self.stored).by_nre.contains_key(nre)
    }

    /// A copy of the prescription with this NRE.
    pub fn get(&self, nre: &str) -> Option<Prescription> {
        lock(&self.stored).by_nre.get(nre).cloned()
    }

    /// Applies `f` to the prescription with this NRE.
    pub fn update<T>(&self, nre: &str, f: impl FnOnce(&mut Prescription) -> T) -> Option<T> {
        lock(&self.stored).by_nre.get_mut(nre).map(f)
    }

    /// Prescriptions matching `filter`, sorted by compilation date then NRE.
    pub fn query(&self, filter: impl Fn(&Prescription) -> bool) -> Vec<Prescription> {
        let mut found: Vec<Prescription> = lock(&self.stored)
            .by_nre
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

    /// Records a substitution declaration (the oldest beyond a fixed limit are dropped).
    pub fn declare_substitution(&self, s: Substitution) {
        let mut list = lock(&self.substitutions);
        if list.len() >= SUBSTITUTION_LIMIT {
            list.pop_front();
        }
        list.push_back(s);
    }

    /// Declared substitutions, oldest first.
    pub fn substitutions(&self) -> Vec<Substitution> {
        lock(&self.substitutions).iter().cloned().collect()
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

    fn prescription(store: &PrescriptionStore) -> Prescription {
        Prescription {
            nre: store.allocate_nre("130").unwrap().as_str().to_owned(),
            sent: InvioPrescrittoRequest::default(),
            cf_assistito: String::new(),
            stato: StatoProcesso::DaErogare,
            cod_autenticazione: String::new(),
            data_inserimento: String::new(),
            erogazione: None,
        }
    }

    #[test]
    fn oldest_prescriptions_go_beyond_the_limit() {
        let store = PrescriptionStore::with_limit(100);
        let nres: Vec<String> = (0..130)
            .map(|_| {
                let p = prescription(&store);
                let nre = p.nre.clone();
                store.insert(p);
                nre
            })
            .collect();
        assert_eq!(store.len(), 100);
        assert!(nres[..30].iter().all(|n| !store.contains(n)));
        assert!(nres[30..].iter().all(|n| store.contains(n)));
        assert!(store.update(&nres[0], |_| ()).is_none());

        // Storing an NRE again replaces it without taking a second place.
        let mut again = store.get(&nres[30]).unwrap();
        again.stato = StatoProcesso::Annullata;
        store.insert(again);
        assert_eq!(store.len(), 100);
        assert_eq!(lock(&store.stored).order.len(), 100);
        store.insert(prescription(&store));
        assert!(!store.contains(&nres[30]));
        assert!(store.contains(&nres[31]));
    }

    #[test]
    fn substitutions_are_bounded() {
        let store = PrescriptionStore::with_limit(1);
        for i in 0..SUBSTITUTION_LIMIT + 5 {
            store.declare_substitution(Substitution {
                titolare: format!("T{i}"),
                sostituto: "S".into(),
                from: String::new(),
                to: String::new(),
            });
        }
        let list = store.substitutions();
        assert_eq!(list.len(), SUBSTITUTION_LIMIT);
        assert_eq!(list[0].titolare, "T5");
    }
}
