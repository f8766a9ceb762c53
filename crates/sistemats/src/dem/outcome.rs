//! A client's view of a receipt: accepted, accepted with warnings, or rejected, with Italian
//! messages that tell the doctor what to do next.

use std::fmt;

use super::errore::{ErroreRicetta, Severity};

/// Diagnostic codes whose meaning is known (PROTOCOL §4.3, §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownCode {
    /// `5005`: the NRE does not exist.
    NreInesistente,
    /// `1120`: the prescription is in a state that does not allow the operation
    /// (e.g. cancelling twice).
    StatoNonValido,
    /// `1125`: the doctor's fiscal code differs from the one associated with the NRE
    /// (e.g. the titolare cancelling a substitute's prescription).
    MedicoNonAssociato,
    /// `5221`: dispensed outside the SSN.
    ErogataNonSsn,
    /// `1020`: invalid AIFA note.
    NotaAifaNonValida,
    /// `9101`: the ID-SESSIONE (Authorization2F) is missing or invalid.
    SecondoFattore,
    /// `5011`: a dispenser asked for a prescription another user (pharmacy) has taken in
    /// charge (PROTOCOL §5.12, LIKELY).
    PresaInCaricoAltroUtente,
}

impl KnownCode {
    /// The known code for a 4-digit `codEsito`.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "5005" => Self::NreInesistente,
            "1120" => Self::StatoNonValido,
            "1125" => Self::MedicoNonAssociato,
            "5221" => Self::ErogataNonSsn,
            "1020" => Self::NotaAifaNonValida,
            "9101" => Self::SecondoFattore,
            "5011" => Self::PresaInCaricoAltroUtente,
            _ => return None,
        })
    }

    /// The 4-digit code.
    pub fn code(self) -> &'static str {
        match self {
            Self::NreInesistente => "5005",
            Self::StatoNonValido => "1120",
            Self::MedicoNonAssociato => "1125",
            Self::ErogataNonSsn => "5221",
            Self::NotaAifaNonValida => "1020",
            Self::SecondoFattore => "9101",
            Self::PresaInCaricoAltroUtente => "5011",
        }
    }

    /// Italian message for the doctor, with the next step.
    pub fn message(self) -> &'static str {
        match self {
            Self::NreInesistente => {
                "NRE inesistente: la ricetta non risulta nel Sistema TS. Controlla il numero di ricetta elettronica e riprova."
            }
            Self::StatoNonValido => {
                "Stato della ricetta non valido per questa operazione (per esempio è già annullata o già presa in carico): verifica lo stato con Visualizza."
            }
            Self::MedicoNonAssociato => {
                "Il codice fiscale del medico è diverso da quello associato all'NRE: se la ricetta è stata compilata da un sostituto, l'operazione deve farla il sostituto con le proprie credenziali."
            }
            Self::ErogataNonSsn => {
                "La ricetta risulta erogata non a carico del SSN: non sono possibili altre operazioni."
            }
            Self::NotaAifaNonValida => {
                "Nota AIFA non valida: correggi la nota nella riga indicata e invia di nuovo la ricetta."
            }
            Self::SecondoFattore => "ID-SESSIONE mancante o non valido: richiedi un nuovo codice",
            Self::PresaInCaricoAltroUtente => {
                "Ricetta già presa in carico da un'altra farmacia: non puoi erogarla finché chi l'ha presa in carico non la rilascia. Chiedi all'assistito dove l'ha presentata."
            }
        }
    }
}

/// One remark or error of a receipt, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The 4-digit `codEsito`.
    pub code: String,
    /// The server's own text (`esito`), may be empty.
    pub server_text: String,
    /// `progPresc`: `0` (or absent) the whole prescription, `n` the n-th line.
    pub prog_presc: Option<String>,
    /// The meaning, if the code is known.
    pub known: Option<KnownCode>,
}

impl Diagnostic {
    /// From an `ErroreRicetta`.
    pub fn from_errore(errore: &ErroreRicetta) -> Self {
        Self {
            code: errore.cod_esito.clone(),
            server_text: errore.esito.clone().unwrap_or_default(),
            prog_presc: errore.prog_presc.clone().filter(|p| !p.is_empty()),
            known: KnownCode::from_code(&errore.cod_esito),
        }
    }

    /// The detail line (1-based) the diagnostic refers to, if not the whole prescription.
    pub fn line(&self) -> Option<u32> {
        self.prog_presc
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .filter(|n| *n > 0)
    }

    /// Italian message for the doctor: ours for known codes, the server's text otherwise.
    pub fn message(&self) -> String {
        let base = match self.known {
            Some(known) => known.message().to_owned(),
            None if self.server_text.is_empty() => {
                format!(
                    "Errore {} dal Sistema TS: contatta l'assistenza.",
                    self.code
                )
            }
            None => format!("Errore {} dal Sistema TS: {}", self.code, self.server_text),
        };
        match self.line() {
            Some(line) => format!("{base} (riga {line} della ricetta)"),
            None => base,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What a receipt means for the doctor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemOutcome {
    /// `0000`: done, nothing to report.
    Accepted,
    /// `0001` (or `0000` with remarks): done, with remarks to show (e.g. `9101` while the
    /// second factor is not yet enforced).
    AcceptedWithWarnings {
        /// The remarks.
        warnings: Vec<Diagnostic>,
    },
    /// `9999`: refused.
    Rejected {
        /// Why; never empty.
        errors: Vec<Diagnostic>,
    },
}

impl DemOutcome {
    /// Classifies an operation code and its `ElencoErroriRicette`.
    ///
    /// The 4-digit operation code decides (PROTOCOL §5.7): `0000`/`0001` accepted, anything
    /// else rejected; `tipoErrore` is only used to sort the entries.
    pub fn from_parts(operation_code: &str, errors: &[ErroreRicetta]) -> Self {
        let code = operation_code.trim();
        let issues = |wanted: fn(Severity) -> bool| -> Vec<Diagnostic> {
            errors
                .iter()
                .filter(|e| wanted(e.severity_in(code)))
                .map(Diagnostic::from_errore)
                .collect()
        };
        match code {
            "0000" | "0001" => {
                let warnings = issues(|s| s != Severity::Ok);
                if warnings.is_empty() {
                    DemOutcome::Accepted
                } else {
                    DemOutcome::AcceptedWithWarnings { warnings }
                }
            }
            _ => {
                let mut errors = issues(|s| s != Severity::Ok);
                if errors.is_empty() {
                    errors.push(Diagnostic {
                        code: code.to_owned(),
                        server_text: String::new(),
                        prog_presc: None,
                        known: None,
                    });
                }
                DemOutcome::Rejected { errors }
            }
        }
    }

    /// Whether the operation went through.
    pub fn is_accepted(&self) -> bool {
        !matches!(self, DemOutcome::Rejected { .. })
    }

    /// Remarks or errors (empty for [`DemOutcome::Accepted`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            DemOutcome::Accepted => &[],
            DemOutcome::AcceptedWithWarnings { warnings } => warnings,
            DemOutcome::Rejected { errors } => errors,
        }
    }

    /// Whether a `9101` (ID-SESSIONE missing or invalid) is among the diagnostics.
    pub fn second_factor_problem(&self) -> bool {
        self.diagnostics()
            .iter()
            .any(|d| d.known == Some(KnownCode::SecondoFattore))
    }

    /// One Italian sentence (or a few) summarising the outcome for the doctor.
    pub fn message(&self) -> String {
        let join = |list: &[Diagnostic]| {
            list.iter()
                .map(Diagnostic::message)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            DemOutcome::Accepted => "Operazione eseguita correttamente.".to_owned(),
            DemOutcome::AcceptedWithWarnings { warnings } => {
                format!("Operazione eseguita, con avvisi: {}", join(warnings))
            }
            DemOutcome::Rejected { errors } => {
                format!("Operazione rifiutata dal Sistema TS: {}", join(errors))
            }
        }
    }
}

impl fmt::Display for DemOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_code_decides() {
        let ok = [ErroreRicetta::ok()];
        assert_eq!(DemOutcome::from_parts("0000", &ok), DemOutcome::Accepted);

        let warn = [ErroreRicetta::ok(), ErroreRicetta::second_factor(false)];
        let outcome = DemOutcome::from_parts("0001", &warn);
        assert!(outcome.is_accepted());
        assert!(outcome.second_factor_problem());
        assert_eq!(
            outcome.diagnostics()[0].message(),
            "ID-SESSIONE mancante o non valido: richiedi un nuovo codice"
        );

        // A blocking literal does not make an accepted operation rejected, and an empty
        // tipoErrore does not make a refused one accepted.
        let mut e = ErroreRicetta::blocking("1120", "stato non valido");
        assert!(DemOutcome::from_parts("0001", std::slice::from_ref(&e)).is_accepted());
        e.tipo_errore = Some(String::new());
        let rejected = DemOutcome::from_parts("9999", &[e]);
        assert!(!rejected.is_accepted());
        assert_eq!(
            rejected.diagnostics()[0].known,
            Some(KnownCode::StatoNonValido)
        );
        assert!(rejected.message().starts_with("Operazione rifiutata"));

        // Rejected without entries still says something.
        let bare = DemOutcome::from_parts("9999", &[]);
        assert_eq!(bare.diagnostics().len(), 1);
    }

    #[test]
    fn line_is_reported() {
        let mut e = ErroreRicetta::blocking("1020", "nota");
        e.prog_presc = Some("2".into());
        let d = Diagnostic::from_errore(&e);
        assert_eq!(d.line(), Some(2));
        assert!(d.message().ends_with("(riga 2 della ricetta)"));
    }
}
