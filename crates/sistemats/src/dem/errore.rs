//! `ErroreRicetta`, the diagnostic entry every DEM receipt carries, and its [`Severity`].
//!
//! Kept apart from [`super::receipt`] so that both the receipts and the client's view of
//! them ([`super::outcome`]) can use it without importing each other.

use crate::xml::Element;

use super::codec::{Emitter, Ns, raw};

/// The code of a successful operation and of the "all fine" `ErroreRicetta`.
pub(crate) const OK: &str = "0000";
/// `tipoErrore` the real test SAC sends on blocking errors.
pub(crate) const BLOCCANTE: &str = "Bloccante";
/// Text of the "all fine" `ErroreRicetta`.
pub(crate) const OK_TEXT: &str = "Operazione eseguita correttamente";

/// How serious an [`ErroreRicetta`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `0000`: the "operation done" entry.
    Ok,
    /// Remark: the operation went through.
    Warning,
    /// The operation was refused because of it.
    Blocking,
}

/// One entry of `ElencoErroriRicette` (or, for DichiarazioneSostituzioneMedico, of
/// `ElencoErrori`, which has no `progPresc`).
///
/// Text fields keep "absent" (`None`) apart from "present but empty" (`Some("")`) so the
/// real serialization can be reproduced: the real SAC sends an empty `tipoErrore` on
/// success and `Bloccante` on blocking errors, and omits it in InvioPrescritto's success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErroreRicetta {
    /// `codEsito`: 4 digits (`0000` when all went well).
    pub cod_esito: String,
    /// `esito`: the server's text.
    pub esito: Option<String>,
    /// `progPresc`: `0` the whole prescription, `n` the n-th detail line.
    pub prog_presc: Option<String>,
    /// `tipoErrore`: `Bloccante`, empty, or `E`/`W` as in the specification.
    pub tipo_errore: Option<String>,
}

impl ErroreRicetta {
    /// The `0000 Operazione eseguita correttamente` entry the SAC always adds on success.
    pub fn ok() -> Self {
        Self {
            cod_esito: OK.into(),
            esito: Some(OK_TEXT.into()),
            prog_presc: Some("0".into()),
            tipo_errore: Some(String::new()),
        }
    }

    /// A blocking error on the whole prescription, as the real SAC writes it.
    pub fn blocking(cod_esito: impl Into<String>, esito: impl Into<String>) -> Self {
        Self {
            cod_esito: cod_esito.into(),
            esito: Some(esito.into()),
            prog_presc: Some("0".into()),
            tipo_errore: Some(BLOCCANTE.into()),
        }
    }

    /// A warning on the whole prescription (`tipoErrore` `W`, as in the specification).
    pub fn warning(cod_esito: impl Into<String>, esito: impl Into<String>) -> Self {
        Self {
            cod_esito: cod_esito.into(),
            esito: Some(esito.into()),
            prog_presc: Some("0".into()),
            tipo_errore: Some("W".into()),
        }
    }

    /// The `9101` entry for a missing or invalid `Authorization2F`. The first sentence is
    /// the one reported by users of the real SAC (PROTOCOL §4.3); the rest was truncated
    /// in the source and is ours.
    pub fn second_factor(blocking: bool) -> Self {
        let text = "id-sessione non presente o non valido. Valore atteso in http header con campo Authorization2F e valore secondo il seguente formato: Bearer <id-sessione>";
        if blocking {
            Self::blocking("9101", text)
        } else {
            Self::warning("9101", text)
        }
    }

    /// Whether this is the `0000` "operation done" entry.
    pub fn is_ok(&self) -> bool {
        self.cod_esito == OK
    }

    /// Whether this entry says the second factor (ID-SESSIONE) is missing or invalid.
    pub fn is_second_factor_problem(&self) -> bool {
        self.cod_esito == "9101"
    }

    /// What `tipoErrore` declares, if it is one of the known literals.
    pub fn declared_severity(&self) -> Option<Severity> {
        match self.tipo_errore.as_deref().map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case(BLOCCANTE) || t.eq_ignore_ascii_case("E") => {
                Some(Severity::Blocking)
            }
            Some(t) if t.eq_ignore_ascii_case("W") || t.eq_ignore_ascii_case("Warning") => {
                Some(Severity::Warning)
            }
            _ => None,
        }
    }

    /// Severity of this entry in a receipt whose operation code is `operation_code`.
    ///
    /// The 4-digit operation code decides first (`0000`/`0001`: nothing blocked, so every
    /// entry is at most a warning; `9999`: refused, so entries are blocking unless declared
    /// `W`); `tipoErrore` decides only for unknown operation codes.
    pub fn severity_in(&self, operation_code: &str) -> Severity {
        if self.is_ok() {
            return Severity::Ok;
        }
        match operation_code.trim() {
            "0000" | "0001" => Severity::Warning,
            "9999" => match self.declared_severity() {
                Some(Severity::Warning) => Severity::Warning,
                _ => Severity::Blocking,
            },
            _ => self.declared_severity().unwrap_or(Severity::Blocking),
        }
    }

    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self {
            cod_esito: raw(el, ns, "codEsito").unwrap_or_default(),
            esito: raw(el, ns, "esito"),
            prog_presc: raw(el, ns, "progPresc"),
            tipo_errore: raw(el, ns, "tipoErrore"),
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str, element: &str, with_prog: bool) {
        e.open(p, element);
        e.leaf(p, "codEsito", &self.cod_esito);
        e.opt(p, "esito", self.esito.as_deref());
        if with_prog {
            e.opt(p, "progPresc", self.prog_presc.as_deref());
        }
        e.opt(p, "tipoErrore", self.tipo_errore.as_deref());
        e.close(p, element);
    }
}
