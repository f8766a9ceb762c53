//! A small namespace-aware XML tree and an escaping writer, on top of `quick-xml`.
//!
//! Sistema TS messages are small (a few KiB, a PDF promemoria at most a few hundred KiB),
//! so parsing them into a tree and then reading typed values out of it keeps every codec
//! simple and tolerant: elements are found by (namespace, local name), whatever prefix the
//! server chose, and unknown elements are ignored.
//!
//! The parser never panics on any input (property-tested and fuzzed), rejects DTDs (no
//! entity expansion), and limits nesting depth and document size.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Largest document the parser accepts (bytes). Real receipts with a PDF are far smaller.
pub const MAX_DOCUMENT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting the parser accepts.
pub const MAX_DEPTH: usize = 64;

/// Why a document could not be read as XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML; the text says where and why.
    #[error("XML non valido: {0}")]
    Malformed(String),
    /// Larger than [`MAX_DOCUMENT_BYTES`] or deeper than [`MAX_DEPTH`].
    #[error("documento XML troppo grande o troppo annidato")]
    TooLarge,
    /// A `<!DOCTYPE>` was present; DTDs are refused.
    #[error("DTD non ammessa nel documento XML")]
    Doctype,
    /// The document has no root element.
    #[error("documento XML vuoto")]
    Empty,
}

/// An attribute of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI, if the attribute name was prefixed.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// An element with its resolved namespace, local name, attributes, children and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI (`None` when the element is in no namespace).
    pub namespace: Option<String>,
    /// Local name, without prefix.
    pub name: String,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own text (direct text and CDATA children, concatenated, unescaped).
    pub text: String,
}

impl Element {
    /// Whether this element has the given namespace and local name.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.name == name && self.namespace.as_deref() == Some(namespace)
    }

    /// First child with this namespace and local name.
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(namespace, name))
    }

    /// All children with this namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, name))
    }

    /// First child with this local name, in any namespace (for tolerant parsing of
    /// receipts whose namespaces vary between deployments).
    pub fn child_local(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name, in any namespace.
    pub fn children_local<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child with this namespace and local name.
    pub fn child_text(&self, namespace: &str, name: &str) -> Option<&str> {
        self.child(namespace, name).map(|c| c.text.as_str())
    }

    /// Text of the first child with this local name, in any namespace.
    pub fn child_text_local(&self, name: &str) -> Option<&str> {
        self.child_local(name).map(|c| c.text.as_str())
    }

    /// Trimmed text of the first child with this local name; `None` if absent or empty.
    pub fn child_value_local(&self, name: &str) -> Option<String> {
        self.child_text_local(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// Depth-first search for the first descendant (or self) with this local name.
    pub fn find_local(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find_local(name))
    }

    /// Value of an attribute by local name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// Parses a whole document and returns its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(XmlError::TooLarge);
    }
    let mut reader = NsReader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let (namespace, event) = match reader.read_resolved_event_into(&mut buf) {
            Ok((ns, event)) => (namespace_of(ns), event),
            Err(e) => {
                let at = reader.buffer_position();
                return Err(XmlError::Malformed(format!("posizione {at}: {e}")));
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::Malformed(
                    "contenuto dopo l'elemento radice".into(),
                ));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooLarge);
                }
                let element = element_from(&reader, namespace?, &start)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = element_from(&reader, namespace?, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("chiusura senza apertura".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                let decoded = text.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed(
                            "testo fuori dall'elemento radice".into(),
                        ));
                    }
                }
            }
            Event::CData(data) => {
                let decoded = data.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&decoded),
                    None => {
                        return Err(XmlError::Malformed(
                            "CDATA fuori dall'elemento radice".into(),
                        ));
                    }
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                match stack.last_mut() {
                    Some(el) => el.text.push(resolved),
                    None => {
                        return Err(XmlError::Malformed(
                            "riferimento fuori dall'elemento radice".into(),
                        ));
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed(
            "documento troncato: elementi non chiusi".into(),
        ));
    }
    root.ok_or(XmlError::Empty)
}

fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|e| XmlError::Malformed(e.to_string()))?
    {
        return Ok(c);
    }
    let name = reference.xml10_content();
    match name.as_ref() {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(XmlError::Malformed(format!("entità sconosciuta &{other};"))),
    }
}

fn element_from(
    reader: &NsReader<&[u8]>,
    namespace: Option<String>,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<Element, XmlError> {
    let name = start.local_name().as_ref().to_owned();
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (attr_ns, local) = reader.resolver().resolve_attribute(key);
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Malformed(e.to_string()))?
            .into_owned();
        attributes.push(Attribute {
            namespace: namespace_of(attr_ns)?,
            name: local.as_ref().to_owned(),
            value,
        });
    }
    Ok(Element {
        namespace,
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn namespace_of(ns: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(ns.as_ref().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "prefisso non dichiarato '{}'",
            prefix
        ))),
    }
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// A minimal writer for the fixed, small messages of this crate.
///
/// Element names are written as given (`"aut:userId"`); text is always escaped.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: String::with_capacity(capacity),
        }
    }

    /// `<name attr="value"…>`; attribute values are escaped.
    pub fn open_with(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        for (key, value) in attributes {
            let _ = write!(self.buf, " {key}=\"{}\"", escape(value));
        }
        self.buf.push('>');
        self
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.open_with(name, &[])
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>`, or `<name/>` when the text is empty.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        if text.is_empty() {
            return self.empty(name);
        }
        self.open(name);
        self.buf.push_str(&escape(text));
        self.close(name)
    }

    /// `<name>text</name>` if `Some`, nothing if `None`.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// `<name/>`.
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str("/>");
        self
    }

    /// Appends already-serialized XML (a fragment built by another writer).
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    /// The document written so far.
    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_not_prefixes() {
        let doc = br#"<a:root xmlns:a="urn:a" xmlns="urn:d"><x>1 &amp; 2</x><a:y><![CDATA[<z>]]></a:y></a:root>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:a", "root"));
        assert_eq!(root.child_text("urn:d", "x"), Some("1 & 2"));
        assert_eq!(root.child_text("urn:a", "y"), Some("<z>"));
        assert_eq!(root.child("urn:a", "x"), None);
    }

    #[test]
    fn refuses_doctype_and_garbage() {
        assert_eq!(
            parse(b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"),
            Err(XmlError::Doctype)
        );
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<p:a/>").is_err());
        assert!(parse(b"<a/><b/>").is_err());
    }

    #[test]
    fn writer_escapes() {
        let mut w = XmlWriter::new();
        w.open_with("a", &[("k", "\"<")])
            .leaf("b", "x<&>y")
            .empty("c")
            .close("a");
        let xml = w.finish();
        let root = parse(xml.as_bytes()).unwrap();
        assert_eq!(root.child_text_local("b"), Some("x<&>y"));
        assert_eq!(root.attribute("k"), Some("\"<"));
    }
}
