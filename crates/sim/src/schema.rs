//! XSD validation of request payloads with libxml2, reported the way the SAC does
//! (Xerces-style `cvc-…` messages).
//!
//! The official XSDs are embedded and written once to a content-addressed folder under the
//! system temp dir, so that `xs:import schemaLocation` resolves. Compiled schemas are not
//! `Send`: each worker thread compiles its own on first use and keeps them in a
//! `thread_local!`, so no request ever pays for compilation after warm-up.
//!
//! Not on Windows: there is no libxml2 to link (docs/PACKAGING.md), so a Windows build
//! accepts every request here and leaves malformed ones to the parsers of each operation.

#[cfg(not(windows))]
use std::cell::RefCell;
#[cfg(not(windows))]
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

#[cfg(not(windows))]
use libxml::parser::{Parser, ParserOptions};
#[cfg(not(windows))]
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use sha2::{Digest as _, Sha256};

/// The request documents the simulator validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestSchema {
    /// A2F create/checkToken/revoke (one schema holds the three roots).
    A2f,
    /// InvioPrescrittoRichiesta.
    Invio,
    /// VisualizzaPrescrittoRichiesta.
    Visualizza,
    /// AnnullaPrescrittoRichiesta.
    Annulla,
    /// InterrogaNreUtilRichiesta.
    InterrogaNre,
    /// DichiarazioneSostituzioneMedicoRichiesta.
    Sostituzione,
    /// VisualizzaErogatoRichiesta (dispenser).
    VisualizzaErogato,
    /// InvioErogatoRichiesta (dispenser).
    InvioErogato,
    /// SospendiErogatoRichiesta (dispenser).
    SospendiErogato,
    /// AnnullaErogatoRichiesta (dispenser).
    AnnullaErogato,
}

#[cfg(not(windows))]
impl RequestSchema {
    fn main_file(self) -> &'static str {
        match self {
            Self::A2f => "sts-a2f-service.v0.1.xsd",
            Self::Invio => "InvioPrescrittoRichiesta.xsd",
            Self::Visualizza => "VisualizzaPrescrittoRichiesta.xsd",
            Self::Annulla => "AnnullaPrescrittoRichiesta.xsd",
            Self::InterrogaNre => "InterrogaNreUtilRichiesta.xsd",
            Self::Sostituzione => "DichiarazioneSostituzioneMedicoRichiesta.xsd",
            Self::VisualizzaErogato => "VisualizzaErogatoRichiesta.xsd",
            Self::InvioErogato => "InvioErogatoRichiesta.xsd",
            Self::SospendiErogato => "SospendiErogatoRichiesta.xsd",
            Self::AnnullaErogato => "AnnullaErogatoRichiesta.xsd",
        }
    }
}

/// (file name as imported, content): the request schemas the simulator validates with, and
/// the receipt schemas its answers follow (for tests and tools that check them). Fixes
/// applied to the official files:
/// - `TipiDatiInterrogaNreUtilizzati.xsd` has `minOccurs` on a named complexType (invalid XSD);
/// - `DichiarazioneSostituzioneMedico*.xsd` import `TipiDatiDichiarazioneSostituzioneMedico.xsd`
///   while the kit ships `TipiDatidichiarazioneSostituzioneMedico.xsd`.
fn schema_files() -> Vec<(&'static str, String)> {
    macro_rules! spec {
        ($name:literal) => {
            include_str!(concat!("../../../spec/", $name))
        };
    }
    macro_rules! unchanged {
        ($($name:literal),* $(,)?) => {
            [$(($name, spec!($name).to_owned())),*]
        };
    }
    let mut files = vec![
        (
            "TipiDatiInterrogaNreUtilizzati.xsd",
            spec!("TipiDatiInterrogaNreUtilizzati.xsd").replace(
                r#"<xs:complexType name="elencoNreUtilRecordType" minOccurs="0">"#,
                r#"<xs:complexType name="elencoNreUtilRecordType">"#,
            ),
        ),
        (
            "TipiDatiDichiarazioneSostituzioneMedico.xsd",
            spec!("TipiDatidichiarazioneSostituzioneMedico.xsd").to_owned(),
        ),
    ];
    files.extend(unchanged![
        "sts-a2f-service.v0.1.xsd",
        "sts-a2f-service-data-type.v0.1.xsd",
        "TipiDati.xsd",
        "InvioPrescrittoRichiesta.xsd",
        "VisualizzaPrescrittoRichiesta.xsd",
        "AnnullaPrescrittoRichiesta.xsd",
        "InterrogaNreUtilRichiesta.xsd",
        "DichiarazioneSostituzioneMedicoRichiesta.xsd",
        "InvioPrescrittoRicevuta.xsd",
        "VisualizzaPrescrittoRicevuta.xsd",
        "AnnullaPrescrittoRicevuta.xsd",
        "InterrogaNreUtilRicevuta.xsd",
        "DichiarazioneSostituzioneMedicoRicevuta.xsd",
    ]);
    // The dispenser kit (spec/erogatore/): each service imports its own TipiDati file, all in
    // the shared tipodati namespace; the names do not clash with the prescriber ones.
    macro_rules! erogatore {
        ($($name:literal),* $(,)?) => {
            [$(($name, include_str!(concat!("../../../spec/erogatore/", $name)).to_owned())),*]
        };
    }
    files.extend(erogatore![
        "TipiDatiVisualizzaErogato.xsd",
        "TipiDatiInvioErogato.xsd",
        "TipiDatiSospendiErogato.xsd",
        "TipiDatiAnnullaErogato.xsd",
        "VisualizzaErogatoRichiesta.xsd",
        "InvioErogatoRichiesta.xsd",
        "SospendiErogatoRichiesta.xsd",
        "AnnullaErogatoRichiesta.xsd",
        "VisualizzaErogatoRicevuta.xsd",
        "InvioErogatoRicevuta.xsd",
        "SospendiErogatoRicevuta.xsd",
        "AnnullaErogatoRicevuta.xsd",
    ]);
    files
}

static SCHEMA_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Writes the schemas (once per process) into `<tmp>/tsgate-sim-xsd-<digest>/` and returns the
/// folder. The digest of the content names the folder, so concurrent or later processes reuse
/// it instead of leaving one copy per run.
pub fn schema_dir() -> Result<&'static PathBuf, String> {
    SCHEMA_DIR
        .get_or_init(|| {
            let files = schema_files();
            let mut digest = Sha256::new();
            for (name, content) in &files {
                digest.update(name.as_bytes());
                digest.update(content.as_bytes());
            }
            let hex: String = digest.finalize()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let dir = std::env::temp_dir().join(format!("tsgate-sim-xsd-{hex}"));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for (name, content) in &files {
                let path = dir.join(name);
                if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
                    continue;
                }
                // Write then rename, so another process never reads half a file.
                let tmp = dir.join(format!(".{name}.{}", std::process::id()));
                std::fs::write(&tmp, content).map_err(|e| format!("{}: {e}", tmp.display()))?;
                std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(dir)
        })
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(not(windows))]
thread_local! {
    static VALIDATORS: RefCell<HashMap<RequestSchema, SchemaValidationContext>> =
        RefCell::new(HashMap::new());
}

#[cfg(not(windows))]
fn compile(schema: RequestSchema) -> Result<SchemaValidationContext, String> {
    let path = schema_dir()?.join(schema.main_file());
    let path = path.to_str().ok_or("non-UTF-8 temp path")?;
    let mut parser = SchemaParserContext::from_file(path);
    SchemaValidationContext::from_parser(&mut parser).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.message.as_deref().unwrap_or_default().trim().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

#[cfg(not(windows))]
/// Compiles every schema on the calling thread (at start, to fail fast on a broken schema).
pub fn warm_up() -> Result<(), String> {
    for schema in [
        RequestSchema::A2f,
        RequestSchema::Invio,
        RequestSchema::Visualizza,
        RequestSchema::Annulla,
        RequestSchema::InterrogaNre,
        RequestSchema::Sostituzione,
        RequestSchema::VisualizzaErogato,
        RequestSchema::InvioErogato,
        RequestSchema::SospendiErogato,
        RequestSchema::AnnullaErogato,
    ] {
        with_validator(schema, |_| Ok(()))?;
    }
    Ok(())
}

#[cfg(not(windows))]
fn with_validator<T>(
    schema: RequestSchema,
    f: impl FnOnce(&mut SchemaValidationContext) -> Result<T, String>,
) -> Result<T, String> {
    VALIDATORS.with(|cell| {
        let mut map = cell.borrow_mut();
        let validator = match map.entry(schema) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(compile(schema)?),
        };
        f(validator)
    })
}

/// Why a request was refused before any business logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not well-formed XML, or not a SOAP envelope with a body element.
    Malformed(String),
    /// Not valid against the XSD: the Xerces-style message (`cvc-…`).
    Schema(String),
}

#[cfg(not(windows))]
const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

#[cfg(not(windows))]
/// Parses the SOAP envelope and validates the first element of its Body against `schema`.
pub fn validate_envelope(bytes: &[u8], schema: RequestSchema) -> Result<(), Invalid> {
    let options = ParserOptions {
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..ParserOptions::default()
    };
    let doc = Parser::default()
        .parse_string_with_options(bytes, options)
        .map_err(|_| Invalid::Malformed("documento XML non ben formato".into()))?;
    let root = doc
        .get_root_element()
        .ok_or_else(|| Invalid::Malformed("documento vuoto".into()))?;
    let in_soap = |node: &libxml::tree::Node, name: &str| {
        node.get_name() == name
            && node.get_namespace().map(|ns| ns.get_href()).as_deref() == Some(SOAP_NS)
    };
    if !in_soap(&root, "Envelope") {
        return Err(Invalid::Malformed(
            "l'elemento radice non è un soapenv:Envelope".into(),
        ));
    }
    let body = root
        .get_child_elements()
        .into_iter()
        .find(|n| in_soap(n, "Body"))
        .ok_or_else(|| Invalid::Malformed("manca soapenv:Body".into()))?;
    let payload = body
        .get_first_element_child()
        .ok_or_else(|| Invalid::Malformed("soapenv:Body è vuoto".into()))?;
    let outcome = with_validator(schema, |validator| {
        Ok(validator.validate_node(&payload).map_err(|errors| {
            errors
                .first()
                .map(|e| xerces_message(e.code, e.message.as_deref().unwrap_or_default()))
                .unwrap_or_else(|| "cvc-elt.1: documento non valido".into())
        }))
    });
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(Invalid::Schema(message)),
        // A broken embedded schema is our bug, not the client's: say so plainly.
        Err(internal) => Err(Invalid::Malformed(format!(
            "schema non disponibile: {internal}"
        ))),
    }
}

/// Windows: nothing to compile (no libxml2).
#[cfg(windows)]
pub fn warm_up() -> Result<(), String> {
    tracing::warn!("requests are not validated against the XSDs in a Windows build (no libxml2)");
    Ok(())
}

/// Windows: every request passes (no libxml2); the operation's parser still refuses what it
/// cannot read.
#[cfg(windows)]
pub fn validate_envelope(_bytes: &[u8], _schema: RequestSchema) -> Result<(), Invalid> {
    Ok(())
}

/// Maps a libxml2 schema-validity error to the Xerces rule id the real SAC prints first.
#[cfg(not(windows))]
fn xerces_message(code: i32, message: &str) -> String {
    let rule = match code {
        1824 => "cvc-datatype-valid.1.2.1",
        1825 => "cvc-datatype-valid.1.2.2",
        1826 => "cvc-datatype-valid.1.2.3",
        1830 => "cvc-length-valid",
        1831 => "cvc-minLength-valid",
        1832 => "cvc-maxLength-valid",
        1833 => "cvc-minInclusive-valid",
        1834 => "cvc-maxInclusive-valid",
        1835 => "cvc-minExclusive-valid",
        1836 => "cvc-maxExclusive-valid",
        1837 => "cvc-totalDigits-valid",
        1838 => "cvc-fractionDigits-valid",
        1839 => "cvc-pattern-valid",
        1840 => "cvc-enumeration-valid",
        1841..=1843 => "cvc-complex-type.2.3",
        1844 | 1871 if message.contains("Missing child element") => "cvc-complex-type.2.4.b",
        1844 | 1871 => "cvc-complex-type.2.4.a",
        1845 | 1802 | 1801 => "cvc-elt.1",
        1827 | 1828 | 1875 | 1876 | 1822 | 1823 | 1829 => "cvc-type.3.1.3",
        1861..=1870 | 1873 | 1814 | 1820 | 1821 => "cvc-complex-type.3.2.2",
        _ => "cvc-complex-type.2.4.a",
    };
    format!("{rule}: {}", message.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(payload: &str) -> String {
        format!(
            r#"<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:aut="http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it" xmlns:dat="http://datatype.xsd.wsdl.auth.a2f.sts.sanita.finanze.it"><soapenv:Header/><soapenv:Body>{payload}</soapenv:Body></soapenv:Envelope>"#
        )
    }

    #[test]
    fn all_schemas_compile() {
        warm_up().unwrap();
    }

    #[test]
    fn a2f_valid_and_invalid() {
        let ok = env(
            "<aut:CreateAuthReq><aut:userId>X</aut:userId><aut:codRegione>130</aut:codRegione><aut:contesto>RICETTA-DEM</aut:contesto></aut:CreateAuthReq>",
        );
        assert_eq!(validate_envelope(ok.as_bytes(), RequestSchema::A2f), Ok(()));
        let bad = env(
            "<aut:CreateAuthReq><aut:userId>X</aut:userId><aut:codRegione>1300</aut:codRegione></aut:CreateAuthReq>",
        );
        match validate_envelope(bad.as_bytes(), RequestSchema::A2f) {
            Err(Invalid::Schema(m)) => {
                assert!(m.starts_with("cvc-") && m.contains("codRegione"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let wrong_root = env("<aut:Nope/>");
        match validate_envelope(wrong_root.as_bytes(), RequestSchema::A2f) {
            Err(Invalid::Schema(m)) => assert!(m.starts_with("cvc-elt.1"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            validate_envelope(b"<a><b></a>", RequestSchema::A2f),
            Err(Invalid::Malformed(_))
        ));
    }
}
