//! The receipt of the three RBE services, read tolerantly and written for the simulator.
//!
//! Without an XSD the layout of the receipts is known only from what the third-party
//! client reads (PROTOCOL §5.10, LIKELY): the operation code (`codEsitoInserimento`,
//! `codEsitoVisualizzazione`), `nrbe`, `pinNrbe`, `protocolloTransazione`,
//! `dataInserimento`/`dataRicezione`, the doctor's names, `statoProcesso`, and error items
//! `erroreRicetta{codEsito, esito, tipoErrore}` and `comunicazione{codice, messaggio}`.
//! The parser therefore reads by local name only, finds error and communication items
//! wherever they are (their list elements are UNKNOWN), and accepts any `codEsito…`
//! child as the operation code when the expected one is absent.

use crate::dem::codec::{DemError, Emitter, Ns, expect_root, opt, parse_payload, receipt_envelope};
use crate::dem::{Comunicazione, DemOutcome, ErroreRicetta};
use crate::xml::Element;

use super::request::{DETTAGLIO, DettaglioRbe};
use super::service::RbeService;
use super::types::{Nrbe, PinNrbe};

/// List element of the error items the simulator writes (UNKNOWN in production).
const ERRORI: &str = "elencoErroriRicette";
/// List element of the communications the simulator writes (UNKNOWN in production).
const COMUNICAZIONI: &str = "elencoComunicazioni";

/// A receipt of an RBE service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbeReceipt {
    /// The service that answered.
    pub service: RbeService,
    /// The 4-digit operation code: `0000` done, `0001` done with warnings, `9999` refused
    /// (the DEM convention; for RBE LIKELY).
    pub cod_esito: String,
    /// `protocolloTransazione`.
    pub protocollo_transazione: Option<String>,
    /// `dataInserimento` (Invio).
    pub data_inserimento: Option<String>,
    /// `dataRicezione` (Visualizza).
    pub data_ricezione: Option<String>,
    /// `cfMedico` (Visualizza).
    pub cf_medico: Option<String>,
    /// `cognomeMedico`.
    pub cognome_medico: Option<String>,
    /// `nomeMedico`.
    pub nome_medico: Option<String>,
    /// `nrbe`: 12 characters.
    pub nrbe: Option<String>,
    /// `pinNrbe`: 5 characters, masked in `Debug`.
    pub pin_nrbe: Option<PinNrbe>,
    /// `statoProcesso` (Visualizza), with the DEM codes (3 to dispense, 4 cancelled).
    pub stato_processo: Option<String>,
    /// `dettaglioPrescrizioneRicettaBianca` lines (Visualizza).
    pub dettagli: Vec<DettaglioRbe>,
    /// Every `erroreRicetta` item, whatever list holds it.
    pub errori: Vec<ErroreRicetta>,
    /// Every `comunicazione` item, whatever list holds it.
    pub comunicazioni: Vec<Comunicazione>,
}

fn descendants<'a>(el: &'a Element, name: &str, out: &mut Vec<&'a Element>) {
    for c in &el.children {
        if c.name.eq_ignore_ascii_case(name) {
            out.push(c);
        } else {
            descendants(c, name, out);
        }
    }
}

/// RBE error items have no `progPresc` (the known client reads `identificativoProdPrest`
/// instead, whose content is UNKNOWN): the DEM constructors' `progPresc` is dropped.
fn without_prog(errori: Vec<ErroreRicetta>) -> Vec<ErroreRicetta> {
    errori
        .into_iter()
        .map(|e| ErroreRicetta {
            prog_presc: None,
            ..e
        })
        .collect()
}

impl RbeReceipt {
    /// An empty receipt of `service` with this operation code (for servers).
    pub fn new(service: RbeService, cod_esito: impl Into<String>) -> Self {
        Self {
            service,
            cod_esito: cod_esito.into(),
            protocollo_transazione: None,
            data_inserimento: None,
            data_ricezione: None,
            cf_medico: None,
            cognome_medico: None,
            nome_medico: None,
            nrbe: None,
            pin_nrbe: None,
            stato_processo: None,
            dettagli: Vec::new(),
            errori: Vec::new(),
            comunicazioni: Vec::new(),
        }
    }

    /// An operation that went through (for servers): `0000` with the "operation done"
    /// entry, or `0001` with the `warnings` (e.g. a `9101`).
    pub fn accepted(service: RbeService, warnings: Vec<ErroreRicetta>) -> Self {
        if warnings.is_empty() {
            let mut r = Self::new(service, "0000");
            r.errori = without_prog(vec![ErroreRicetta::ok()]);
            r
        } else {
            let mut r = Self::new(service, "0001");
            r.errori = without_prog(warnings);
            r
        }
    }

    /// A refused operation (for servers): `9999` with these errors.
    pub fn rejected(service: RbeService, errori: Vec<ErroreRicetta>) -> Self {
        let mut r = Self::new(service, "9999");
        r.errori = without_prog(errori);
        r
    }

    /// Reads the receipt of `service` from a SOAP body payload.
    pub fn from_payload(service: RbeService, el: &Element) -> Result<Self, DemError> {
        let ns = Ns::Any;
        expect_root(el, ns, service.receipt_root())?;
        let cod_esito = opt(el, ns, service.operation_code_element())
            .or_else(|| {
                el.children
                    .iter()
                    .find(|c| c.name.starts_with("codEsito") && c.name != "codEsito")
                    .map(|c| c.text.trim().to_owned())
            })
            .ok_or(DemError::MissingElement("codEsito"))?;
        let mut errori = Vec::new();
        descendants(el, "erroreRicetta", &mut errori);
        let mut comunicazioni = Vec::new();
        descendants(el, "comunicazione", &mut comunicazioni);
        Ok(Self {
            service,
            cod_esito,
            protocollo_transazione: opt(el, ns, "protocolloTransazione"),
            data_inserimento: opt(el, ns, "dataInserimento"),
            data_ricezione: opt(el, ns, "dataRicezione"),
            cf_medico: opt(el, ns, "cfMedico"),
            cognome_medico: opt(el, ns, "cognomeMedico"),
            nome_medico: opt(el, ns, "nomeMedico"),
            nrbe: opt(el, ns, "nrbe"),
            pin_nrbe: opt(el, ns, "pinNrbe").map(PinNrbe::new),
            stato_processo: opt(el, ns, "statoProcesso"),
            dettagli: el
                .children
                .iter()
                .filter(|c| c.name == DETTAGLIO)
                .map(|d| DettaglioRbe::read(d, ns))
                .collect(),
            errori: errori
                .into_iter()
                .map(|e| ErroreRicetta::read(e, ns))
                .collect(),
            comunicazioni: comunicazioni
                .into_iter()
                .map(|c| Comunicazione::read(c, ns))
                .collect(),
        })
    }

    /// Reads the receipt of `service` from a whole SOAP envelope (a Fault is an error).
    pub fn parse(service: RbeService, bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(service, &parse_payload(bytes)?)
    }

    /// Accepted / accepted with warnings / rejected, with Italian messages (the DEM rules).
    pub fn outcome(&self) -> DemOutcome {
        DemOutcome::from_parts(&self.cod_esito, &self.errori)
    }

    /// Whether the receipt reports `9101`: the ID-SESSIONE is missing or invalid.
    pub fn second_factor_problem(&self) -> bool {
        self.errori
            .iter()
            .any(ErroreRicetta::is_second_factor_problem)
    }

    /// The NRBE, when the receipt has a well-formed one.
    pub fn nrbe(&self) -> Option<Nrbe> {
        self.nrbe.as_deref().and_then(|n| Nrbe::parse(n).ok())
    }

    /// The receipt element as the simulator writes it: unprefixed root in the receipt
    /// namespace, items in the types namespace (`ns2`), like the DEM Invio receipt.
    pub fn to_xml(&self) -> String {
        let service = self.service;
        let root = service.receipt_root();
        let (own, types) = ("", "ns2");
        let mut e = Emitter::with_capacity(1200 + 300 * self.dettagli.len());
        e.open_with(
            own,
            root,
            &[
                ("xmlns:ns2", service.types_namespace()),
                ("xmlns", service.receipt_namespace()),
            ],
        );
        e.opt(
            own,
            "protocolloTransazione",
            self.protocollo_transazione.as_deref(),
        );
        e.opt(own, "dataInserimento", self.data_inserimento.as_deref());
        e.opt(own, "dataRicezione", self.data_ricezione.as_deref());
        e.opt(own, "cfMedico", self.cf_medico.as_deref());
        e.opt(own, "cognomeMedico", self.cognome_medico.as_deref());
        e.opt(own, "nomeMedico", self.nome_medico.as_deref());
        e.opt(own, "nrbe", self.nrbe.as_deref());
        e.opt(own, "pinNrbe", self.pin_nrbe.as_ref().map(PinNrbe::expose));
        e.opt(own, "statoProcesso", self.stato_processo.as_deref());
        e.leaf(own, service.operation_code_element(), &self.cod_esito);
        for d in &self.dettagli {
            e.open(own, DETTAGLIO);
            d.write(&mut e, types);
            e.close(own, DETTAGLIO);
        }
        if !self.errori.is_empty() {
            e.open(own, ERRORI);
            for err in &self.errori {
                err.write(&mut e, types, "erroreRicetta", false);
            }
            e.close(own, ERRORI);
        }
        if !self.comunicazioni.is_empty() {
            e.open(own, COMUNICAZIONI);
            for c in &self.comunicazioni {
                e.open(types, "comunicazione");
                e.leaf(types, "codice", &c.codice);
                e.leaf(types, "messaggio", &c.messaggio);
                e.close(types, "comunicazione");
            }
            e.close(own, COMUNICAZIONI);
        }
        e.close(own, root);
        e.finish()
    }

    /// The whole SOAP envelope as the simulator writes it.
    pub fn to_envelope(&self) -> String {
        receipt_envelope(&self.to_xml())
    }
}
