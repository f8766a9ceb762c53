//! DEM receipts serialized like the real SAC (spec/real-responses): unprefixed root with
//! `ns2` = tipodati for Invio/Annulla/Interroga, `ns2:` root with tipodati as default
//! namespace for Visualizza; `tipoErrore` `Bloccante` on errors, empty on success.

use sistemats::xml::XmlWriter;

use crate::ops::TIPODATI_NS;

/// One `ErroreRicetta`.
#[derive(Debug, Clone)]
pub struct ErroreRicetta {
    /// 4-digit code.
    pub code: String,
    /// Text.
    pub esito: String,
    /// `tipoErrore`: `Some("")` → empty element, `None` → omitted.
    pub tipo: Option<&'static str>,
}

impl ErroreRicetta {
    /// `0000 Operazione eseguita correttamente`.
    pub fn ok(tipo: Option<&'static str>) -> Self {
        Self {
            code: "0000".into(),
            esito: "Operazione eseguita correttamente".into(),
            tipo,
        }
    }

    /// A blocking error.
    pub fn blocking(code: &str, esito: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            esito: esito.into(),
            tipo: Some("Bloccante"),
        }
    }

    /// A warning (the prescription is accepted).
    pub fn warning(code: &str, esito: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            esito: esito.into(),
            tipo: Some("W"),
        }
    }
}

/// The namespaces of one receipt.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptNs {
    /// Root local name.
    pub root: &'static str,
    /// Ricevuta namespace.
    pub ricevuta: &'static str,
    /// Richiesta namespace (declared as `ns3`, as the SAC does).
    pub richiesta: &'static str,
}

/// Invio receipt names.
pub const INVIO: ReceiptNs = ReceiptNs {
    root: "InvioPrescrittoRicevuta",
    ricevuta: "http://invioprescrittoricevuta.xsd.dem.sanita.finanze.it",
    richiesta: "http://invioprescrittorichiesta.xsd.dem.sanita.finanze.it",
};
/// Visualizza receipt names.
pub const VISUALIZZA: ReceiptNs = ReceiptNs {
    root: "VisualizzaPrescrittoRicevuta",
    ricevuta: "http://visualizzaprescrittoricevuta.xsd.dem.sanita.finanze.it",
    richiesta: "http://visualizzaprescrittorichiesta.xsd.dem.sanita.finanze.it",
};
/// Annulla receipt names.
pub const ANNULLA: ReceiptNs = ReceiptNs {
    root: "AnnullaPrescrittoRicevuta",
    ricevuta: "http://annullaprescrittoricevuta.xsd.dem.sanita.finanze.it",
    richiesta: "http://annullaprescrittorichiesta.xsd.dem.sanita.finanze.it",
};
/// InterrogaNreUtilizzati receipt names.
pub const INTERROGA: ReceiptNs = ReceiptNs {
    root: "InterrogaNreUtilRicevuta",
    ricevuta: "http://interroganreutilricevuta.xsd.dem.sanita.finanze.it",
    richiesta: "http://interroganreutilrichiesta.xsd.dem.sanita.finanze.it",
};
/// Dichiarazione receipt names (its own types namespace).
pub const SOSTITUZIONE: ReceiptNs = ReceiptNs {
    root: "DichiarazioneSostituzioneMedicoRicevuta",
    ricevuta: "http://dichiarazionesostituzionemedicoricevuta.xsd.dem.sanita.finanze.it",
    richiesta: "http://dichiarazionesostituzionemedicorichiesta.xsd.dem.sanita.finanze.it",
};
const SOSTITUZIONE_TYPES: &str =
    "http://tipodatidichiarazionesostituzionemedico.xsd.dem.sanita.finanze.it";

/// Writes a receipt. `visualizza_style` selects the `ns2:`-root serialization; `body` writes
/// the receipt's own elements through the [`Writer`].
pub fn envelope(ns: ReceiptNs, visualizza_style: bool, body: impl FnOnce(&mut Writer)) -> String {
    let mut w = XmlWriter::with_capacity(2048);
    w.raw(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    w.open_with(
        "soapenv:Envelope",
        &[("xmlns:soapenv", sistemats::soap::ENVELOPE_NS)],
    );
    w.open("soapenv:Body");
    let types = if ns.root == SOSTITUZIONE.root {
        SOSTITUZIONE_TYPES
    } else {
        TIPODATI_NS
    };
    let (root, own, td) = if visualizza_style {
        w.open_with(
            &format!("ns2:{}", ns.root),
            &[
                ("xmlns:ns3", ns.richiesta),
                ("xmlns", types),
                ("xmlns:ns2", ns.ricevuta),
            ],
        );
        (format!("ns2:{}", ns.root), "ns2:", "")
    } else {
        w.open_with(
            ns.root,
            &[
                ("xmlns:ns3", ns.richiesta),
                ("xmlns:ns2", types),
                ("xmlns", ns.ricevuta),
            ],
        );
        (ns.root.to_owned(), "", "ns2:")
    };
    let mut writer = Writer { w, own, td };
    body(&mut writer);
    let mut w = writer.w;
    w.close(&root)
        .close("soapenv:Body")
        .close("soapenv:Envelope");
    w.finish()
}

/// Writes receipt elements with the right prefixes.
#[derive(Debug)]
pub struct Writer {
    w: XmlWriter,
    own: &'static str,
    td: &'static str,
}

impl Writer {
    /// A leaf in the ricevuta namespace (empty text → empty element).
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.w.leaf(&format!("{}{name}", self.own), text);
        self
    }

    /// Opens an element in the ricevuta namespace.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.w.open(&format!("{}{name}", self.own));
        self
    }

    /// Closes an element in the ricevuta namespace.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.w.close(&format!("{}{name}", self.own));
        self
    }

    /// A leaf in the types namespace.
    pub fn td_leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.w.leaf(&format!("{}{name}", self.td), text);
        self
    }

    /// Opens an element in the types namespace.
    pub fn td_open(&mut self, name: &str) -> &mut Self {
        self.w.open(&format!("{}{name}", self.td));
        self
    }

    /// Closes an element in the types namespace.
    pub fn td_close(&mut self, name: &str) -> &mut Self {
        self.w.close(&format!("{}{name}", self.td));
        self
    }

    /// `ElencoErroriRicette` (or `ElencoErrori` with `item` = `Errore` for the substitute
    /// declaration, which has no `progPresc`).
    pub fn errors(&mut self, list: &str, item: &str, errors: &[ErroreRicetta], prog: bool) {
        if errors.is_empty() {
            return;
        }
        self.open(list);
        for e in errors {
            self.td_open(item);
            self.td_leaf("codEsito", &e.code).td_leaf("esito", &e.esito);
            if prog {
                self.td_leaf("progPresc", "0");
            }
            if let Some(tipo) = e.tipo {
                self.td_leaf("tipoErrore", tipo);
            }
            self.td_close(item);
        }
        self.close(list);
    }

    /// `ElencoComunicazioni`.
    pub fn communications(&mut self, items: &[(&str, String)]) {
        if items.is_empty() {
            return;
        }
        self.open("ElencoComunicazioni");
        for (code, message) in items {
            self.td_open("Comunicazione")
                .td_leaf("codice", code)
                .td_leaf("messaggio", message)
                .td_close("Comunicazione");
        }
        self.close("ElencoComunicazioni");
    }
}
