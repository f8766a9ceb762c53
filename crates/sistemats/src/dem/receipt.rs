//! What every DEM receipt shares: `Comunicazione`, `Nota`, the [`DemReceipt`] trait and
//! the writer and readers of the common lists (`ErroreRicetta` is in [`super::errore`], any
//! receipt in [`super::any`]).

use crate::xml::Element;

use super::codec::{
    DemError, Emitter, Ns, child, children, opt, parse_payload, raw, receipt_envelope,
};
use super::errore::{ErroreRicetta, OK};
use super::outcome::DemOutcome;
use super::service::Service;

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
