//! Shared parsing and writing helpers of the DEM codecs, and their error type.

use crate::soap::{self, Body, Fault, SoapError};
use crate::xml::{Element, escape};

/// Why a DEM message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemError {
    /// Not a SOAP envelope (or not XML at all).
    #[error(transparent)]
    Soap(#[from] SoapError),
    /// The server answered with a SOAP Fault (schema errors start with `cvc-`).
    #[error("il Sistema TS ha rifiutato il messaggio: {}", .0.string)]
    Fault(Fault),
    /// The body holds a different message than expected.
    #[error("messaggio inatteso: atteso {expected}, ricevuto {found}")]
    UnexpectedRoot {
        /// What was expected.
        expected: &'static str,
        /// Local name of the element found.
        found: String,
    },
    /// A required element is absent.
    #[error("manca l'elemento obbligatorio {0}")]
    MissingElement(&'static str),
    /// An element has a value that cannot be decoded (e.g. a PDF that is not base64).
    #[error("elemento {field} non valido: {reason}")]
    InvalidElement {
        /// Element name as in the XSD.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// The body payload of a SOAP envelope; a Fault becomes [`DemError::Fault`].
pub(crate) fn parse_payload(bytes: &[u8]) -> Result<Element, DemError> {
    match soap::parse(bytes)? {
        Body::Payload(payload) => Ok(payload),
        Body::Fault(fault) => Err(DemError::Fault(fault)),
    }
}

/// How children are looked up: by (namespace, name) for requests, by local name only for
/// receipts (whose namespaces vary between deployments).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ns<'a> {
    Strict(&'a str),
    Any,
}

pub(crate) fn child<'a>(el: &'a Element, ns: Ns<'_>, name: &str) -> Option<&'a Element> {
    match ns {
        Ns::Strict(ns) => el.child(ns, name),
        Ns::Any => el.child_local(name),
    }
}

pub(crate) fn children<'a>(
    el: &'a Element,
    ns: Ns<'a>,
    name: &'a str,
) -> impl Iterator<Item = &'a Element> + 'a {
    el.children.iter().filter(move |c| {
        c.name == name
            && match ns {
                Ns::Strict(ns) => c.namespace.as_deref() == Some(ns),
                Ns::Any => true,
            }
    })
}

/// Trimmed text of an optional element; `None` when absent or empty.
pub(crate) fn opt(el: &Element, ns: Ns<'_>, name: &str) -> Option<String> {
    child(el, ns, name)
        .map(|c| c.text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Trimmed text of an element, keeping "present but empty" (`Some("")`) apart from absent.
pub(crate) fn raw(el: &Element, ns: Ns<'_>, name: &str) -> Option<String> {
    child(el, ns, name).map(|c| c.text.trim().to_owned())
}

/// Trimmed text of a required element (may be empty: validation reports that).
pub(crate) fn req(el: &Element, ns: Ns<'_>, name: &'static str) -> Result<String, DemError> {
    raw(el, ns, name).ok_or(DemError::MissingElement(name))
}

/// Checks the root element of a payload.
pub(crate) fn expect_root(el: &Element, ns: Ns<'_>, name: &'static str) -> Result<(), DemError> {
    let ok = match ns {
        Ns::Strict(ns) => el.is(ns, name),
        Ns::Any => el.name == name,
    };
    if ok {
        Ok(())
    } else {
        Err(DemError::UnexpectedRoot {
            expected: name,
            found: el.name.clone(),
        })
    }
}

/// A small writer for prefixed elements, straight into a `String`.
#[derive(Debug, Default)]
pub(crate) struct Emitter {
    buf: String,
}

impl Emitter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: String::with_capacity(capacity),
        }
    }

    fn name(&mut self, prefix: &str, name: &str) {
        if !prefix.is_empty() {
            self.buf.push_str(prefix);
            self.buf.push(':');
        }
        self.buf.push_str(name);
    }

    /// `<p:name a="v"…>`.
    pub(crate) fn open_with(&mut self, prefix: &str, name: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.name(prefix, name);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            self.buf.push_str(&escape(v));
            self.buf.push('"');
        }
        self.buf.push('>');
    }

    pub(crate) fn open(&mut self, prefix: &str, name: &str) {
        self.open_with(prefix, name, &[]);
    }

    pub(crate) fn close(&mut self, prefix: &str, name: &str) {
        self.buf.push_str("</");
        self.name(prefix, name);
        self.buf.push('>');
    }

    /// `<p:name>text</p:name>`, or `<p:name/>` when empty.
    pub(crate) fn leaf(&mut self, prefix: &str, name: &str, text: &str) {
        if text.is_empty() {
            self.buf.push('<');
            self.name(prefix, name);
            self.buf.push_str("/>");
            return;
        }
        self.open(prefix, name);
        // Like the real services (JAXB), escape only `&`, `<` and `>` in text content.
        self.buf.push_str(&quick_xml::escape::partial_escape(text));
        self.close(prefix, name);
    }

    /// A leaf only when there is a value.
    pub(crate) fn opt(&mut self, prefix: &str, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(prefix, name, text);
        }
    }

    /// A leaf always: empty when there is no value.
    pub(crate) fn always(&mut self, prefix: &str, name: &str, text: Option<&str>) {
        self.leaf(prefix, name, text.unwrap_or_default());
    }

    pub(crate) fn raw(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

/// The envelope the real DEM services answer with: XML declaration, newline, and no
/// `soapenv:Header` (PROTOCOL §5.3, captured responses).
pub(crate) fn receipt_envelope(payload: &str) -> String {
    let mut out = String::with_capacity(payload.len() + 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"");
    out.push_str(soap::ENVELOPE_NS);
    out.push_str("\"><soapenv:Body>");
    out.push_str(payload);
    out.push_str("</soapenv:Body></soapenv:Envelope>");
    out
}
