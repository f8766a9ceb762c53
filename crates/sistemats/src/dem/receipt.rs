//! What every DEM receipt shares: `ErroreRicetta`, `Comunicazione`, `Nota`, the
//! [`DemReceipt`] trait, and [`Receipt`] for any of them.

use crate::xml::Element;

use super::codec::{
    DemError, Emitter, Ns, child, children, opt, parse_payload, raw, receipt_envelope,
};
use super::outcome::DemOutcome;
use super::{
    AnnullaPrescrittoReceipt, DichiarazioneSostituzioneMedicoReceipt,
    InterrogaNreUtilizzatiReceipt, InvioPrescrittoReceipt, Service, VisualizzaPrescrittoReceipt,
};

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

/// A service communication (`Comunicazione{codice, messaggio}`), e.g. `0199 COGNOME_MEDICO=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comunicazione {
    /// `codice` (`0100`…`0400` "Nessuna comunicazione.", `0199`, `0198`, `0197`, `0196`).
    pub codice: String,
    /// `messaggio`.
    pub messaggio: String,
}

impl Comunicazione {
    /// A communication.
    pub fn new(codice: impl Into<String>, messaggio: impl Into<String>) -> Self {
        Self {
            codice: codice.into(),
            messaggio: messaggio.into(),
        }
    }

    /// The "Nessuna comunicazione." entry of a service (`0100` for invio, …).
    pub fn nessuna(service: Service) -> Self {
        Self::new(service.no_communication_code(), "Nessuna comunicazione.")
    }

    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self {
            codice: opt(el, ns, "codice").unwrap_or_default(),
            messaggio: raw(el, ns, "messaggio").unwrap_or_default(),
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "Comunicazione");
        e.leaf(p, "codice", &self.codice);
        e.leaf(p, "messaggio", &self.messaggio);
        e.close(p, "Comunicazione");
    }
}

/// A DPCM 12/01/2017 note (`Nota{progrPresc, codProdPrest, tipoAmbulatorio}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nota {
    /// `progrPresc`: detail line number.
    pub progr_presc: Option<String>,
    /// `codProdPrest`.
    pub cod_prod_prest: Option<String>,
    /// `tipoAmbulatorio` (≤10).
    pub tipo_ambulatorio: Option<String>,
}

impl Nota {
    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Self {
        Self {
            progr_presc: opt(el, ns, "progrPresc"),
            cod_prod_prest: opt(el, ns, "codProdPrest"),
            tipo_ambulatorio: opt(el, ns, "tipoAmbulatorio"),
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str) {
        e.open(p, "Nota");
        e.opt(p, "progrPresc", self.progr_presc.as_deref());
        e.opt(p, "codProdPrest", self.cod_prod_prest.as_deref());
        e.opt(p, "tipoAmbulatorio", self.tipo_ambulatorio.as_deref());
        e.close(p, "Nota");
    }
}

/// Code of an operation that went through with remarks (`0001`).
pub(crate) const OK_WITH_WARNINGS: &str = "0001";
/// Code of a refused operation (`9999`).
pub(crate) const REFUSED: &str = "9999";

/// Operation code and error entries of an operation that went through, as the SAC writes
/// them (for servers): `0000` with the "operation done" entry `ok` when there is nothing to
/// remark, `0001` with the remarks (e.g. a `9101` warning) otherwise.
pub(crate) fn accepted_outcome(
    warnings: Vec<ErroreRicetta>,
    ok: ErroreRicetta,
) -> (String, Vec<ErroreRicetta>) {
    if warnings.is_empty() {
        (OK.into(), vec![ok])
    } else {
        (OK_WITH_WARNINGS.into(), warnings)
    }
}

/// Writes one receipt element with the prefixes the real service uses:
///
/// - Invio, Annulla, Interroga (and Dichiarazione, of which no capture exists): unprefixed
///   root in the receipt namespace, `ns2` = types, `ns3` = request namespace (declared,
///   unused);
/// - Visualizza: `ns2` = receipt namespace, the types namespace as default.
pub(crate) struct ReceiptWriter {
    e: Emitter,
    service: Service,
    /// Prefix of the receipt namespace ("" = default namespace).
    own: &'static str,
    /// Prefix of the types namespace ("" = default namespace).
    types: &'static str,
}

impl ReceiptWriter {
    /// Opens the root element with the namespace declarations in the real order.
    pub(crate) fn open(service: Service, capacity: usize) -> Self {
        let mut e = Emitter::with_capacity(capacity);
        let root = service.receipt_root();
        let (own, types) = if service == Service::VisualizzaPrescritto {
            e.open_with(
                "ns2",
                root,
                &[
                    ("xmlns:ns3", service.request_namespace()),
                    ("xmlns", service.types_namespace()),
                    ("xmlns:ns2", service.receipt_namespace()),
                ],
            );
            ("ns2", "")
        } else {
            e.open_with(
                "",
                root,
                &[
                    ("xmlns:ns3", service.request_namespace()),
                    ("xmlns:ns2", service.types_namespace()),
                    ("xmlns", service.receipt_namespace()),
                ],
            );
            ("", "ns2")
        };
        Self {
            e,
            service,
            own,
            types,
        }
    }

    /// A leaf in the receipt namespace (`<x/>` when empty).
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.e.leaf(self.own, name, text);
    }

    /// A leaf in the receipt namespace, only when there is a value.
    pub(crate) fn opt(&mut self, name: &str, text: Option<&str>) {
        self.e.opt(self.own, name, text);
    }

    /// A leaf in the receipt namespace, empty when there is no value.
    pub(crate) fn always(&mut self, name: &str, text: Option<&str>) {
        self.e.always(self.own, name, text);
    }

    /// A leaf whose text needs no escaping (base64), only when there is a value.
    pub(crate) fn opt_unescaped(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.e.open(self.own, name);
            self.e.raw(text);
            self.e.close(self.own, name);
        }
    }

    /// A list element in the receipt namespace whose items are in the types namespace;
    /// nothing at all when there are no items.
    pub(crate) fn list<T>(
        &mut self,
        name: &str,
        items: &[T],
        write: impl Fn(&T, &mut Emitter, &'static str),
    ) {
        if items.is_empty() {
            return;
        }
        self.e.open(self.own, name);
        for item in items {
            write(item, &mut self.e, self.types);
        }
        self.e.close(self.own, name);
    }

    /// `ElencoErroriRicette`.
    pub(crate) fn errori(&mut self, errori: &[ErroreRicetta]) {
        self.list("ElencoErroriRicette", errori, |err, e, p| {
            err.write(e, p, "ErroreRicetta", true);
        });
    }

    /// `ElencoComunicazioni`.
    pub(crate) fn comunicazioni(&mut self, list: &[Comunicazione]) {
        self.list("ElencoComunicazioni", list, Comunicazione::write);
    }

    /// `ElencoNota`.
    pub(crate) fn note(&mut self, list: &[Nota]) {
        self.list("ElencoNota", list, Nota::write);
    }

    /// Closes the root element.
    pub(crate) fn finish(mut self) -> String {
        self.e.close(self.own, self.service.receipt_root());
        self.e.finish()
    }
}

pub(crate) fn read_errors(root: &Element) -> Vec<ErroreRicetta> {
    read_list(
        root,
        "ElencoErroriRicette",
        "ErroreRicetta",
        ErroreRicetta::read,
    )
}

pub(crate) fn read_comunicazioni(root: &Element) -> Vec<Comunicazione> {
    read_list(
        root,
        "ElencoComunicazioni",
        "Comunicazione",
        Comunicazione::read,
    )
}

pub(crate) fn read_note(root: &Element) -> Vec<Nota> {
    read_list(root, "ElencoNota", "Nota", Nota::read)
}

pub(crate) fn read_list<T>(
    root: &Element,
    list: &str,
    item: &str,
    read: impl Fn(&Element, Ns<'_>) -> T,
) -> Vec<T> {
    child(root, Ns::Any, list)
        .map(|l| {
            children(l, Ns::Any, item)
                .map(|i| read(i, Ns::Any))
                .collect()
        })
        .unwrap_or_default()
}

/// Implements the accessors of [`DemReceipt`] for a receipt whose operation code is the
/// field `$code` and whose lists are the fields `errori` and `comunicazioni` (all five are).
macro_rules! receipt_accessors {
    ($code:ident) => {
        fn operation_code(&self) -> &str {
            &self.$code
        }

        fn errors(&self) -> &[ErroreRicetta] {
            &self.errori
        }

        fn comunicazioni(&self) -> &[Comunicazione] {
            &self.comunicazioni
        }
    };
}
pub(crate) use receipt_accessors;

/// A receipt of one of the DEM services.
pub trait DemReceipt: Sized {
    /// The service this receipt answers.
    const SERVICE: Service;

    /// The 4-digit operation code (`codEsitoInserimento`, `codEsitoVisualizzazione`, …):
    /// `0000` done, `0001` done with warnings, `9999` refused.
    fn operation_code(&self) -> &str;

    /// `ElencoErroriRicette` (including the `0000` "operation done" entry).
    fn errors(&self) -> &[ErroreRicetta];

    /// `ElencoComunicazioni`.
    fn comunicazioni(&self) -> &[Comunicazione];

    /// Accepted / accepted with warnings / rejected, with Italian messages.
    fn outcome(&self) -> DemOutcome {
        DemOutcome::from_parts(self.operation_code(), self.errors())
    }

    /// Whether the receipt reports `9101`: the ID-SESSIONE is missing or invalid and the
    /// doctor must get a new one.
    fn second_factor_problem(&self) -> bool {
        self.errors()
            .iter()
            .any(ErroreRicetta::is_second_factor_problem)
    }

    /// Reads the receipt from a SOAP body payload (tolerant: prefixes and namespaces may vary).
    fn from_payload(payload: &Element) -> Result<Self, DemError>;

    /// The receipt element as the real service writes it, with its namespace declarations.
    fn to_xml(&self) -> String;

    /// The whole SOAP envelope as the real service writes it.
    fn to_envelope(&self) -> String {
        receipt_envelope(&self.to_xml())
    }

    /// Reads the receipt from a whole SOAP envelope; a SOAP Fault is [`DemError::Fault`].
    fn parse(bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(&parse_payload(bytes)?)
    }
}

/// Any DEM receipt, for code that inspects answers of every service (the proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// InvioPrescritto.
    Invio(Box<InvioPrescrittoReceipt>),
    /// VisualizzaPrescritto.
    Visualizza(Box<VisualizzaPrescrittoReceipt>),
    /// AnnullaPrescritto.
    Annulla(AnnullaPrescrittoReceipt),
    /// InterrogaNreUtilizzati.
    Interroga(InterrogaNreUtilizzatiReceipt),
    /// DichiarazioneSostituzioneMedico.
    Sostituzione(DichiarazioneSostituzioneMedicoReceipt),
}

impl Receipt {
    /// Reads any DEM receipt, recognised by the local name of its root.
    pub fn from_payload(payload: &Element) -> Result<Self, DemError> {
        let service = Service::ALL
            .into_iter()
            .find(|s| s.receipt_root() == payload.name)
            .ok_or_else(|| DemError::UnexpectedRoot {
                expected: "una ricevuta DEM",
                found: payload.name.clone(),
            })?;
        Ok(match service {
            Service::InvioPrescritto => {
                Receipt::Invio(Box::new(InvioPrescrittoReceipt::from_payload(payload)?))
            }
            Service::VisualizzaPrescritto => Receipt::Visualizza(Box::new(
                VisualizzaPrescrittoReceipt::from_payload(payload)?,
            )),
            Service::AnnullaPrescritto => {
                Receipt::Annulla(AnnullaPrescrittoReceipt::from_payload(payload)?)
            }
            Service::InterrogaNreUtilizzati => {
                Receipt::Interroga(InterrogaNreUtilizzatiReceipt::from_payload(payload)?)
            }
            Service::DichiarazioneSostituzioneMedico => Receipt::Sostituzione(
                DichiarazioneSostituzioneMedicoReceipt::from_payload(payload)?,
            ),
        })
    }

    /// Reads any DEM receipt from a whole SOAP envelope; a Fault is [`DemError::Fault`].
    pub fn parse(bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(&parse_payload(bytes)?)
    }

    /// The service that produced the receipt.
    pub fn service(&self) -> Service {
        match self {
            Receipt::Invio(_) => Service::InvioPrescritto,
            Receipt::Visualizza(_) => Service::VisualizzaPrescritto,
            Receipt::Annulla(_) => Service::AnnullaPrescritto,
            Receipt::Interroga(_) => Service::InterrogaNreUtilizzati,
            Receipt::Sostituzione(_) => Service::DichiarazioneSostituzioneMedico,
        }
    }

    /// The 4-digit operation code.
    pub fn operation_code(&self) -> &str {
        match self {
            Receipt::Invio(r) => r.operation_code(),
            Receipt::Visualizza(r) => r.operation_code(),
            Receipt::Annulla(r) => r.operation_code(),
            Receipt::Interroga(r) => r.operation_code(),
            Receipt::Sostituzione(r) => r.operation_code(),
        }
    }

    /// The error entries.
    pub fn errors(&self) -> &[ErroreRicetta] {
        match self {
            Receipt::Invio(r) => r.errors(),
            Receipt::Visualizza(r) => r.errors(),
            Receipt::Annulla(r) => r.errors(),
            Receipt::Interroga(r) => r.errors(),
            Receipt::Sostituzione(r) => r.errors(),
        }
    }

    /// See [`DemReceipt::outcome`].
    pub fn outcome(&self) -> DemOutcome {
        DemOutcome::from_parts(self.operation_code(), self.errors())
    }

    /// See [`DemReceipt::second_factor_problem`].
    pub fn second_factor_problem(&self) -> bool {
        self.errors()
            .iter()
            .any(ErroreRicetta::is_second_factor_problem)
    }

    /// The envelope as the real service writes it.
    pub fn to_envelope(&self) -> String {
        match self {
            Receipt::Invio(r) => r.to_envelope(),
            Receipt::Visualizza(r) => r.to_envelope(),
            Receipt::Annulla(r) => r.to_envelope(),
            Receipt::Interroga(r) => r.to_envelope(),
            Receipt::Sostituzione(r) => r.to_envelope(),
        }
    }
}
