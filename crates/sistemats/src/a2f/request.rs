//! A2F requests: `CreateAuthReq`, `CheckTokenReq`, `RevokeAuthReq`.
//!
//! Wire-level structs hold every element of the XSD, in XSD order. Builders from a
//! [`UserIdentity`] fill them for the RICETTA-DEM context, so callers never assemble XML.
//! [`CreateRequest::validate`] / [`TokenRequest::validate`] check every XSD facet before
//! anything is sent, and name the offending field.

use crate::error::{Error, FieldError, ParseError};
use crate::sanitel::SanitelCertificate;
use crate::secret::{Pin, SessionCode};
use crate::soap;
use crate::xml::{Element, XmlWriter};

use super::service::{
    AUTH_NS, Application, CONTEXT_RICETTA_DEM, DATATYPE_NS, DEFAULT_SSA, IDENTIFIER_KIND_PIN,
    Operation,
};

/// Largest number of `opzione` in `opzioni` / `infoAggiuntive`.
pub const MAX_OPTIONS: usize = 10;

/// `identificativo`: kind (`P` = PIN) and the encrypted, base64 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    /// `tipo` (1..2 characters).
    pub kind: String,
    /// `valore`: the identifier encrypted with SanitelCF, base64 (≤256 characters).
    pub value: String,
}

impl Identifier {
    /// A PIN identifier, encrypted with the SanitelCF certificate.
    pub fn pin(pin: &Pin, certificate: &SanitelCertificate) -> Result<Self, Error> {
        Ok(Self {
            kind: IDENTIFIER_KIND_PIN.to_owned(),
            value: certificate.encrypt(pin.expose_secret())?,
        })
    }
}

/// A `chiave`/`valore` pair (`opzione`, `info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// `chiave` (≤256).
    pub key: String,
    /// `valore` (≤256).
    pub value: String,
}

impl KeyValue {
    /// A new pair.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Who asks for an ID-SESSIONE: the data Sistema TS checks against its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    /// Sistema TS user id (the doctor's CF or a nickname), ≤16.
    pub user_id: String,
    /// The doctor's fiscal code, 16 characters.
    pub fiscal_code: String,
    /// Region code, 3 characters (e.g. `130`).
    pub region: String,
    /// ASL code, 3 characters (`000` if not applicable).
    pub asl: String,
    /// SSA code, 5..6 characters (`000000` for doctors).
    pub ssa: String,
    /// Facility code, 0..10 characters (usually empty).
    pub structure: String,
}

impl UserIdentity {
    /// A doctor's identity with the default SSA (`000000`) and no facility.
    pub fn new(
        user_id: impl Into<String>,
        fiscal_code: impl Into<String>,
        region: impl Into<String>,
        asl: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            fiscal_code: fiscal_code.into(),
            region: region.into(),
            asl: asl.into(),
            ssa: DEFAULT_SSA.to_owned(),
            structure: String::new(),
        }
    }
}

/// `CreateAuthReq`: ask for a new ID-SESSIONE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateRequest {
    /// `userId` (≤16).
    pub user_id: Option<String>,
    /// `identificativo`.
    pub identificativo: Option<Identifier>,
    /// `cfUtente` (=16).
    pub cf_utente: Option<String>,
    /// `codRegione` (=3).
    pub cod_regione: Option<String>,
    /// `codAslAo` (=3).
    pub cod_asl_ao: Option<String>,
    /// `codSsa` (5..6; omit rather than send empty).
    pub cod_ssa: Option<String>,
    /// `codiceStruttura` (0..10; empty is allowed).
    pub codice_struttura: Option<String>,
    /// `contesto` (1..30).
    pub contesto: Option<String>,
    /// `applicazione` (0..30).
    pub applicazione: Option<String>,
    /// `opzioni/opzione` (0..10; omitted when empty).
    pub opzioni: Vec<KeyValue>,
    /// `infoAggiuntive/opzione` (0..10; omitted when empty).
    pub info_aggiuntive: Vec<KeyValue>,
}

impl CreateRequest {
    /// The RICETTA-DEM request for a user, with the PIN encrypted now (fresh randomness).
    /// Validated before returning.
    pub fn new(
        identity: &UserIdentity,
        pin: &Pin,
        application: Application,
        certificate: &SanitelCertificate,
    ) -> Result<Self, Error> {
        let request = Self {
            user_id: Some(identity.user_id.clone()),
            identificativo: Some(Identifier::pin(pin, certificate)?),
            cf_utente: Some(identity.fiscal_code.clone()),
            cod_regione: Some(identity.region.clone()),
            cod_asl_ao: Some(identity.asl.clone()),
            cod_ssa: (!identity.ssa.is_empty()).then(|| identity.ssa.clone()),
            codice_struttura: Some(identity.structure.clone()),
            contesto: Some(CONTEXT_RICETTA_DEM.to_owned()),
            applicazione: Some(application.as_str().to_owned()),
            opzioni: Vec::new(),
            info_aggiuntive: Vec::new(),
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks every XSD facet; the error names the first offending field.
    pub fn validate(&self) -> Result<(), FieldError> {
        opt(self.user_id.as_deref(), "userId", 0, 16)?;
        if let Some(id) = &self.identificativo {
            validate_identifier(id)?;
        }
        opt(self.cf_utente.as_deref(), "cfUtente", 16, 16)?;
        opt(self.cod_regione.as_deref(), "codRegione", 3, 3)?;
        opt(self.cod_asl_ao.as_deref(), "codAslAo", 3, 3)?;
        opt(self.cod_ssa.as_deref(), "codSsa", 5, 6)?;
        opt(self.codice_struttura.as_deref(), "codiceStruttura", 0, 10)?;
        opt(self.contesto.as_deref(), "contesto", 1, 30)?;
        opt(self.applicazione.as_deref(), "applicazione", 0, 30)?;
        validate_options("opzioni", &self.opzioni)?;
        validate_options("infoAggiuntive", &self.info_aggiuntive)
    }

    /// The `aut:CreateAuthReq` element, declaring `aut` and `dat` on itself (self-contained).
    pub fn to_payload(&self) -> String {
        let mut w = XmlWriter::with_capacity(1024);
        self.write(&mut w, true);
        w.finish()
    }

    /// The whole SOAP envelope (namespaces declared on the envelope, as in the MEF examples).
    pub fn to_envelope(&self) -> String {
        let mut w = XmlWriter::with_capacity(1024);
        self.write(&mut w, false);
        soap::envelope(&[("aut", AUTH_NS), ("dat", DATATYPE_NS)], &w.finish())
    }

    fn write(&self, w: &mut XmlWriter, declare: bool) {
        let root = "aut:CreateAuthReq";
        open_root(w, root, declare);
        w.opt_leaf("aut:userId", self.user_id.as_deref());
        write_identifier(w, self.identificativo.as_ref());
        w.opt_leaf("aut:cfUtente", self.cf_utente.as_deref());
        w.opt_leaf("aut:codRegione", self.cod_regione.as_deref());
        w.opt_leaf("aut:codAslAo", self.cod_asl_ao.as_deref());
        w.opt_leaf("aut:codSsa", self.cod_ssa.as_deref());
        w.opt_leaf("aut:codiceStruttura", self.codice_struttura.as_deref());
        w.opt_leaf("aut:contesto", self.contesto.as_deref());
        w.opt_leaf("aut:applicazione", self.applicazione.as_deref());
        write_options(w, "aut:opzioni", &self.opzioni);
        write_options(w, "aut:infoAggiuntive", &self.info_aggiuntive);
        w.close(root);
    }

    /// Reads a `CreateAuthReq` element (for the simulator). Children are matched by local
    /// name; the root must be in the authservice namespace. Facets are not checked here:
    /// call [`CreateRequest::validate`] (or validate against the XSD) for that.
    pub fn from_payload(element: &Element) -> Result<Self, ParseError> {
        expect_root(element, Operation::Create.request_root())?;
        Ok(Self {
            user_id: text(element, "userId"),
            identificativo: read_identifier(element)?,
            cf_utente: text(element, "cfUtente"),
            cod_regione: text(element, "codRegione"),
            cod_asl_ao: text(element, "codAslAo"),
            cod_ssa: text(element, "codSsa"),
            codice_struttura: text(element, "codiceStruttura"),
            contesto: text(element, "contesto"),
            applicazione: text(element, "applicazione"),
            opzioni: read_options(element, "opzioni"),
            info_aggiuntive: read_options(element, "infoAggiuntive"),
        })
    }
}

/// `CheckTokenReq` / `RevokeAuthReq` (same shape): act on an existing ID-SESSIONE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `userId` (≤16).
    pub user_id: Option<String>,
    /// `identificativo`.
    pub identificativo: Option<Identifier>,
    /// `cfUtente` (=16).
    pub cf_utente: Option<String>,
    /// `token`: the ID-SESSIONE (required, exactly 36 characters).
    pub token: SessionCode,
    /// `contesto` (1..30).
    pub contesto: Option<String>,
    /// `applicazione` (0..30): the value used at creation.
    pub applicazione: Option<String>,
    /// `opzioni/opzione` (0..10).
    pub opzioni: Vec<KeyValue>,
    /// `infoAggiuntive/opzione` (0..10).
    pub info_aggiuntive: Vec<KeyValue>,
}

impl TokenRequest {
    /// The RICETTA-DEM check/revoke request for a user's code, with the PIN encrypted now.
    /// Validated before returning (a code that is not 36 characters is refused here).
    pub fn new(
        identity: &UserIdentity,
        pin: &Pin,
        code: &SessionCode,
        application: Application,
        certificate: &SanitelCertificate,
    ) -> Result<Self, Error> {
        let request = Self {
            user_id: Some(identity.user_id.clone()),
            identificativo: Some(Identifier::pin(pin, certificate)?),
            cf_utente: Some(identity.fiscal_code.clone()),
            token: code.clone(),
            contesto: Some(CONTEXT_RICETTA_DEM.to_owned()),
            applicazione: Some(application.as_str().to_owned()),
            opzioni: Vec::new(),
            info_aggiuntive: Vec::new(),
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks every XSD facet; the error names the first offending field.
    pub fn validate(&self) -> Result<(), FieldError> {
        opt(self.user_id.as_deref(), "userId", 0, 16)?;
        if let Some(id) = &self.identificativo {
            validate_identifier(id)?;
        }
        opt(self.cf_utente.as_deref(), "cfUtente", 16, 16)?;
        check("token", self.token.expose_secret(), 36, 36)?;
        opt(self.contesto.as_deref(), "contesto", 1, 30)?;
        opt(self.applicazione.as_deref(), "applicazione", 0, 30)?;
        validate_options("opzioni", &self.opzioni)?;
        validate_options("infoAggiuntive", &self.info_aggiuntive)
    }

    /// The request element for `op` (`CheckTokenReq` or `RevokeAuthReq`), self-contained.
    ///
    /// [`Operation::Create`] is not a token operation and is written as `CheckTokenReq`.
    pub fn to_payload(&self, op: Operation) -> String {
        let mut w = XmlWriter::with_capacity(1024);
        self.write(&mut w, op, true);
        w.finish()
    }

    /// The whole SOAP envelope for `op` ([`Operation::CheckToken`] or [`Operation::Revoke`]).
    pub fn to_envelope(&self, op: Operation) -> String {
        let mut w = XmlWriter::with_capacity(1024);
        self.write(&mut w, op, false);
        soap::envelope(&[("aut", AUTH_NS), ("dat", DATATYPE_NS)], &w.finish())
    }

    fn write(&self, w: &mut XmlWriter, op: Operation, declare: bool) {
        let root = match op {
            Operation::Revoke => "aut:RevokeAuthReq",
            Operation::CheckToken | Operation::Create => "aut:CheckTokenReq",
        };
        open_root(w, root, declare);
        w.opt_leaf("aut:userId", self.user_id.as_deref());
        write_identifier(w, self.identificativo.as_ref());
        w.opt_leaf("aut:cfUtente", self.cf_utente.as_deref());
        w.leaf("aut:token", self.token.expose_secret());
        w.opt_leaf("aut:contesto", self.contesto.as_deref());
        w.opt_leaf("aut:applicazione", self.applicazione.as_deref());
        write_options(w, "aut:opzioni", &self.opzioni);
        write_options(w, "aut:infoAggiuntive", &self.info_aggiuntive);
        w.close(root);
    }

    /// Reads a `CheckTokenReq` or `RevokeAuthReq` element (for the simulator) and tells
    /// which one it was.
    pub fn from_payload(element: &Element) -> Result<(Operation, Self), ParseError> {
        let op = if element.is(AUTH_NS, Operation::Revoke.request_root()) {
            Operation::Revoke
        } else {
            expect_root(element, Operation::CheckToken.request_root())?;
            Operation::CheckToken
        };
        let token = text(element, "token").ok_or(ParseError::Missing("token"))?;
        Ok((
            op,
            Self {
                user_id: text(element, "userId"),
                identificativo: read_identifier(element)?,
                cf_utente: text(element, "cfUtente"),
                token: SessionCode::new(token),
                contesto: text(element, "contesto"),
                applicazione: text(element, "applicazione"),
                opzioni: read_options(element, "opzioni"),
                info_aggiuntive: read_options(element, "infoAggiuntive"),
            },
        ))
    }
}

fn open_root(w: &mut XmlWriter, root: &str, declare: bool) {
    if declare {
        w.open_with(root, &[("xmlns:aut", AUTH_NS), ("xmlns:dat", DATATYPE_NS)]);
    } else {
        w.open(root);
    }
}

fn write_identifier(w: &mut XmlWriter, id: Option<&Identifier>) {
    if let Some(id) = id {
        w.open("aut:identificativo");
        w.leaf("dat:tipo", &id.kind).leaf("dat:valore", &id.value);
        w.close("aut:identificativo");
    }
}

fn write_options(w: &mut XmlWriter, wrapper: &str, items: &[KeyValue]) {
    if items.is_empty() {
        return;
    }
    w.open(wrapper);
    for item in items {
        w.open("dat:opzione");
        w.leaf("dat:chiave", &item.key)
            .leaf("dat:valore", &item.value);
        w.close("dat:opzione");
    }
    w.close(wrapper);
}

pub(crate) fn expect_root(element: &Element, expected: &'static str) -> Result<(), ParseError> {
    if element.is(AUTH_NS, expected) {
        Ok(())
    } else {
        Err(ParseError::UnexpectedRoot {
            expected,
            found: element.name.clone(),
        })
    }
}

/// Trimmed text of a child by local name; `Some("")` for an empty element.
pub(crate) fn text(element: &Element, name: &str) -> Option<String> {
    element.child_text_local(name).map(|t| t.trim().to_owned())
}

fn read_identifier(element: &Element) -> Result<Option<Identifier>, ParseError> {
    let Some(id) = element.child_local("identificativo") else {
        return Ok(None);
    };
    Ok(Some(Identifier {
        kind: text(id, "tipo").ok_or(ParseError::Missing("tipo"))?,
        value: text(id, "valore").ok_or(ParseError::Missing("valore"))?,
    }))
}

pub(crate) fn read_options(element: &Element, wrapper: &str) -> Vec<KeyValue> {
    element
        .child_local(wrapper)
        .map(|w| {
            w.children_local("opzione")
                .map(|o| KeyValue {
                    key: text(o, "chiave").unwrap_or_default(),
                    value: text(o, "valore").unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn validate_identifier(id: &Identifier) -> Result<(), FieldError> {
    check("tipo", &id.kind, 1, 2)?;
    check("valore", &id.value, 0, 256)
}

fn validate_options(field: &'static str, items: &[KeyValue]) -> Result<(), FieldError> {
    if items.len() > MAX_OPTIONS {
        return Err(FieldError::new(
            field,
            format!(
                "al massimo {MAX_OPTIONS} opzioni (ricevute {})",
                items.len()
            ),
        ));
    }
    for item in items {
        check("chiave", &item.key, 0, 256)?;
        check("valore", &item.value, 0, 256)?;
    }
    Ok(())
}

fn opt(value: Option<&str>, field: &'static str, min: usize, max: usize) -> Result<(), FieldError> {
    match value {
        Some(v) => check(field, v, min, max),
        None => Ok(()),
    }
}

/// Length in characters (as XSD counts) and no control characters (XML cannot carry most of
/// them, and none belongs in these fields). Leading/trailing spaces are refused because the
/// reader trims them.
pub(crate) fn check(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), FieldError> {
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "contiene caratteri di controllo"));
    }
    if value.trim() != value {
        return Err(FieldError::new(field, "contiene spazi iniziali o finali"));
    }
    let len = value.chars().count();
    if len < min || len > max {
        let rule = if min == max {
            format!("deve essere lungo {min} caratteri")
        } else if min == 0 {
            format!("deve essere lungo al massimo {max} caratteri")
        } else {
            format!("deve essere lungo da {min} a {max} caratteri")
        };
        return Err(FieldError::new(field, format!("{rule} (ricevuti {len})")));
    }
    Ok(())
}
