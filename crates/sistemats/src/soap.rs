//! SOAP 1.1 envelopes and faults.

use crate::xml::{self, Element, XmlError, XmlWriter};

/// Namespace of the SOAP 1.1 envelope.
pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A SOAP 1.1 Fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode`, e.g. `soapenv:Client` (kept as sent, prefix included).
    pub code: String,
    /// `faultstring`: the human-readable reason (`cvc-…` for schema errors).
    pub string: String,
    /// Text of `detail`, if any.
    pub detail: Option<String>,
}

impl Fault {
    /// A client fault (`soapenv:Client`) with the given reason.
    pub fn client(reason: impl Into<String>) -> Self {
        Self {
            code: "soapenv:Client".into(),
            string: reason.into(),
            detail: None,
        }
    }

    /// A server fault (`soapenv:Server`) with the given reason.
    pub fn server(reason: impl Into<String>) -> Self {
        Self {
            code: "soapenv:Server".into(),
            string: reason.into(),
            detail: None,
        }
    }

    /// Whether this is an XML-schema validation fault (Sistema TS answers `cvc-…`).
    pub fn is_schema_error(&self) -> bool {
        self.string.trim_start().starts_with("cvc-")
    }

    /// The whole envelope carrying this fault.
    pub fn to_envelope(&self) -> String {
        let mut w = XmlWriter::with_capacity(256 + self.string.len());
        w.raw(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        w.open_with("soapenv:Envelope", &[("xmlns:soapenv", ENVELOPE_NS)]);
        w.open("soapenv:Body").open("soapenv:Fault");
        w.leaf("faultcode", &self.code)
            .leaf("faultstring", &self.string);
        if let Some(detail) = &self.detail {
            w.leaf("detail", detail);
        }
        w.close("soapenv:Fault")
            .close("soapenv:Body")
            .close("soapenv:Envelope");
        w.finish()
    }
}

/// Wraps a serialized payload element in a SOAP 1.1 envelope with an empty header.
///
/// `namespaces` are declared on the envelope (`("aut", "http://…")`), so the payload may use
/// those prefixes without declaring them itself.
pub fn envelope(namespaces: &[(&str, &str)], payload: &str) -> String {
    let mut attrs: Vec<(String, &str)> = vec![("xmlns:soapenv".to_owned(), ENVELOPE_NS)];
    attrs.extend(namespaces.iter().map(|(p, ns)| (format!("xmlns:{p}"), *ns)));
    let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut w = XmlWriter::with_capacity(payload.len() + 256);
    w.raw(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    w.open_with("soapenv:Envelope", &attrs);
    w.empty("soapenv:Header").open("soapenv:Body").raw(payload);
    w.close("soapenv:Body").close("soapenv:Envelope");
    w.finish()
}

/// What a SOAP message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The first element inside `Body` (the operation's request or response).
    Payload(Element),
    /// A SOAP Fault.
    Fault(Fault),
}

/// Why a SOAP message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// Not XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// XML, but not a SOAP 1.1 envelope with a body element.
    #[error("messaggio SOAP non valido: {0}")]
    NotSoap(&'static str),
}

/// Whether `bytes` is a well-formed XML document whose root element is a SOAP 1.1 or 1.2
/// `Envelope`, checked in one pass without building a tree (the proxy asks this of every
/// receipt before passing it on). No DTD is accepted, as in [`parse`].
pub fn is_envelope(bytes: &[u8]) -> bool {
    use quick_xml::events::Event;
    const SOAP_11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    const SOAP_12: &str = "http://www.w3.org/2003/05/soap-envelope";
    let mut reader = quick_xml::NsReader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut root_seen = false;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(x) => x,
            Err(_) => return false,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if !root_seen {
                    let is_soap = matches!(
                        ns,
                        quick_xml::name::ResolveResult::Bound(quick_xml::name::Namespace(n))
                            if *n == *SOAP_11 || *n == *SOAP_12
                    );
                    let local = e.local_name();
                    let local: &str = local.into_inner();
                    if !is_soap || local != "Envelope" {
                        return false;
                    }
                    root_seen = true;
                } else if depth == 0 {
                    return false; // a second root
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => return false,
            Event::Eof => return root_seen && depth == 0,
            Event::Text(ref t) if depth == 0 => {
                let raw: &str = t.as_ref();
                if !raw.trim().is_empty() {
                    return false;
                }
            }
            _ => {}
        }
    }
}

/// Parses a SOAP 1.1 envelope and returns its body payload or fault.
pub fn parse(bytes: &[u8]) -> Result<Body, SoapError> {
    let root = xml::parse(bytes)?;
    from_element(root)
}

/// Same as [`parse`], from an already parsed document.
pub fn from_element(root: Element) -> Result<Body, SoapError> {
    if !root.is(ENVELOPE_NS, "Envelope") {
        return Err(SoapError::NotSoap(
            "l'elemento radice non è soapenv:Envelope",
        ));
    }
    let body = root
        .children
        .into_iter()
        .find(|c| c.is(ENVELOPE_NS, "Body"))
        .ok_or(SoapError::NotSoap("manca soapenv:Body"))?;
    let payload = body
        .children
        .into_iter()
        .next()
        .ok_or(SoapError::NotSoap("soapenv:Body è vuoto"))?;
    if payload.is(ENVELOPE_NS, "Fault") {
        // faultcode/faultstring/detail are unqualified in SOAP 1.1, but some servers qualify them.
        let code = payload.child_value_local("faultcode").unwrap_or_default();
        let string = payload
            .child_text_local("faultstring")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let detail = payload
            .child_local("detail")
            .map(flatten_text)
            .filter(|s| !s.is_empty());
        return Ok(Body::Fault(Fault {
            code,
            string,
            detail,
        }));
    }
    Ok(Body::Payload(payload))
}

fn flatten_text(element: &Element) -> String {
    let mut out = element.text.trim().to_owned();
    for child in &element.children {
        let t = flatten_text(child);
        if !t.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_told_from_everything_else() {
        let ok = std::fs::read("../../spec/real-responses/invio_ok.xml").unwrap();
        assert!(is_envelope(&ok));
        assert!(is_envelope(Fault::client("x").to_envelope().as_bytes()));
        let cut = &ok[..ok.len() - 20];
        assert!(!is_envelope(cut), "cut off");
        for bad in [
            &b""[..],
            b"<html><body>500</body></html>",
            b"<Envelope/>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body></s:Envelope>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/><x/>",
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>trailing",
            b"<!DOCTYPE x><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
        ] {
            assert!(!is_envelope(bad), "{}", String::from_utf8_lossy(bad));
        }
        assert!(is_envelope(
            b"<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>\n"
        ));
    }

    #[test]
    fn fault_round_trip() {
        let fault = Fault::client("cvc-complex-type.2.4.a: Invalid content <x>");
        match parse(fault.to_envelope().as_bytes()).unwrap() {
            Body::Fault(f) => {
                assert_eq!(f, fault);
                assert!(f.is_schema_error());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn payload_found_by_namespace() {
        let env = envelope(&[("a", "urn:a")], "<a:x><a:y>1</a:y></a:x>");
        match parse(env.as_bytes()).unwrap() {
            Body::Payload(p) => assert!(p.is("urn:a", "x")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(parse(b"<x/>"), Err(SoapError::NotSoap(_))));
    }
}
