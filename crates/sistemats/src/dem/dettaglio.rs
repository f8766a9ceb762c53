//! `DettaglioPrescrizione`: one line of a prescription, shared by InvioPrescritto requests
//! and VisualizzaPrescritto receipts.

use crate::xml::Element;

use super::codec::{DemError, Emitter, Ns, opt, raw, req};
use super::validate::{Checker, Problem};

/// One line of a prescription (`DettaglioPrescrizione`, tipodati namespace), in XSD order.
///
/// Only `quantita` is required: a single digit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DettaglioPrescrizione {
    /// `codProdPrest`: AIC product code or specialist service code.
    pub cod_prod_prest: Option<String>,
    /// `descrProdPrest`.
    pub descr_prod_prest: Option<String>,
    /// `codGruppoEquival`: equivalence group code.
    pub cod_gruppo_equival: Option<String>,
    /// `descrGruppoEquival`.
    pub descr_gruppo_equival: Option<String>,
    /// `testoLibero`: only null is allowed by the specification.
    pub testo_libero: Option<String>,
    /// `descrTestoLiberoNote`.
    pub descr_testo_libero_note: Option<String>,
    /// `nonSost`: `1` = not substitutable (then `codMotivazione` is required).
    pub non_sost: Option<String>,
    /// `motivazNote`.
    pub motivaz_note: Option<String>,
    /// `codMotivazione`: reason for non-substitutability.
    pub cod_motivazione: Option<String>,
    /// `notaProd`: AIFA note.
    pub nota_prod: Option<String>,
    /// `quantita`: a single digit 0–9 (required).
    pub quantita: String,
    /// `prescrizione1` (e.g. `TV;` for a televisit).
    pub prescrizione1: Option<String>,
    /// `prescrizione2` (regional).
    pub prescrizione2: Option<String>,
    /// `codCatalogoPrescr`: regional catalogue code.
    pub cod_catalogo_prescr: Option<String>,
    /// `tipoAccesso`: `1` first access, `0` other.
    pub tipo_accesso: Option<String>,
    /// `numeroNota` (≤10).
    pub numero_nota: Option<String>,
    /// `condErogabilita` (≤10).
    pub cond_erogabilita: Option<String>,
    /// `approprPrescrittiva` (≤10).
    pub appropr_prescrittiva: Option<String>,
    /// `patologia` (≤10).
    pub patologia: Option<String>,
    /// `numsedute`: a single digit (cyclic services only).
    pub numsedute: Option<String>,
}

impl DettaglioPrescrizione {
    /// A line with only the quantity set.
    pub fn with_quantita(quantita: u8) -> Self {
        Self {
            quantita: quantita.to_string(),
            ..Self::default()
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "DettaglioPrescrizione");
        e.opt(p, "codProdPrest", self.cod_prod_prest.as_deref());
        e.opt(p, "descrProdPrest", self.descr_prod_prest.as_deref());
        e.opt(p, "codGruppoEquival", self.cod_gruppo_equival.as_deref());
        e.opt(
            p,
            "descrGruppoEquival",
            self.descr_gruppo_equival.as_deref(),
        );
        e.opt(p, "testoLibero", self.testo_libero.as_deref());
        e.opt(
            p,
            "descrTestoLiberoNote",
            self.descr_testo_libero_note.as_deref(),
        );
        e.opt(p, "nonSost", self.non_sost.as_deref());
        e.opt(p, "motivazNote", self.motivaz_note.as_deref());
        e.opt(p, "codMotivazione", self.cod_motivazione.as_deref());
        e.opt(p, "notaProd", self.nota_prod.as_deref());
        e.leaf(p, "quantita", &self.quantita);
        e.opt(p, "prescrizione1", self.prescrizione1.as_deref());
        e.opt(p, "prescrizione2", self.prescrizione2.as_deref());
        e.opt(p, "codCatalogoPrescr", self.cod_catalogo_prescr.as_deref());
        e.opt(p, "tipoAccesso", self.tipo_accesso.as_deref());
        e.opt(p, "numeroNota", self.numero_nota.as_deref());
        e.opt(p, "condErogabilita", self.cond_erogabilita.as_deref());
        e.opt(
            p,
            "approprPrescrittiva",
            self.appropr_prescrittiva.as_deref(),
        );
        e.opt(p, "patologia", self.patologia.as_deref());
        e.opt(p, "numsedute", self.numsedute.as_deref());
        e.close(p, "DettaglioPrescrizione");
    }

    /// Reads a line; with [`Ns::Strict`] a missing `quantita` is an error, with
    /// [`Ns::Any`] (receipts) it is read as empty.
    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Result<Self, DemError> {
        let quantita = match ns {
            Ns::Strict(_) => req(el, ns, "quantita")?,
            Ns::Any => raw(el, ns, "quantita").unwrap_or_default(),
        };
        Ok(Self {
            cod_prod_prest: opt(el, ns, "codProdPrest"),
            descr_prod_prest: opt(el, ns, "descrProdPrest"),
            cod_gruppo_equival: opt(el, ns, "codGruppoEquival"),
            descr_gruppo_equival: opt(el, ns, "descrGruppoEquival"),
            testo_libero: opt(el, ns, "testoLibero"),
            descr_testo_libero_note: opt(el, ns, "descrTestoLiberoNote"),
            non_sost: opt(el, ns, "nonSost"),
            motivaz_note: opt(el, ns, "motivazNote"),
            cod_motivazione: opt(el, ns, "codMotivazione"),
            nota_prod: opt(el, ns, "notaProd"),
            quantita,
            prescrizione1: opt(el, ns, "prescrizione1"),
            prescrizione2: opt(el, ns, "prescrizione2"),
            cod_catalogo_prescr: opt(el, ns, "codCatalogoPrescr"),
            tipo_accesso: opt(el, ns, "tipoAccesso"),
            numero_nota: opt(el, ns, "numeroNota"),
            cond_erogabilita: opt(el, ns, "condErogabilita"),
            appropr_prescrittiva: opt(el, ns, "approprPrescrittiva"),
            patologia: opt(el, ns, "patologia"),
            numsedute: opt(el, ns, "numsedute"),
        })
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        c.digit("quantita", &self.quantita);
        if let Some(n) = &self.numsedute {
            c.digit("numsedute", n);
        }
        if self.testo_libero.is_some() {
            c.report(
                "testoLibero",
                Problem::Rule("deve restare vuoto: usa descrTestoLiberoNote"),
            );
        }
        c.opt_one_of("nonSost", self.non_sost.as_deref(), &["1"]);
        if self.non_sost.as_deref() == Some("1") && self.cod_motivazione.is_none() {
            c.report(
                "codMotivazione",
                Problem::Rule(
                    "è obbligatorio quando nonSost è 1: indica il motivo della non sostituibilità",
                ),
            );
        }
        c.opt_one_of("tipoAccesso", self.tipo_accesso.as_deref(), &["0", "1"]);
        c.opt_max_len("numeroNota", self.numero_nota.as_deref(), 10);
        c.opt_max_len("condErogabilita", self.cond_erogabilita.as_deref(), 10);
        c.opt_max_len(
            "approprPrescrittiva",
            self.appropr_prescrittiva.as_deref(),
            10,
        );
        c.opt_max_len("patologia", self.patologia.as_deref(), 10);
        if self.cod_prod_prest.is_none()
            && self.cod_gruppo_equival.is_none()
            && self.descr_testo_libero_note.is_none()
            && self.descr_prod_prest.is_none()
        {
            c.report(
                "codProdPrest",
                Problem::Rule(
                    "indica il prodotto o la prestazione (codProdPrest, codGruppoEquival o una descrizione)",
                ),
            );
        }
    }
}
