//! What the four dispenser messages share: the pharmacy's codes, the request header, the
//! receipt writer and a macro for the long runs of optional text elements.

use crate::dem::codec::{Emitter, Ns, opt, req};
use crate::dem::receipt::Comunicazione;
use crate::dem::validate::{Checker, Problem};
use crate::dem::{DemError, EncryptedValue, ErroreRicetta, Nre, Sensitive};
use crate::xml::Element;

use super::service::ErogatoreService;

/// The dispensing structure (pharmacy) as the SAC registers it: the three
/// `codice…Erogatore` elements every dispenser request starts with.
///
/// In A2F `create` the same pharmacy is `codRegione`, `codAslAo`, `codSsa`
/// ([`Erogatore::identity`]); that the two triples are the same codes is an inference
/// (PROTOCOL §5.12, LIKELY).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erogatore {
    /// `codiceRegioneErogatore` (e.g. `130`).
    pub codice_regione: String,
    /// `codiceAslErogatore` (e.g. `204`).
    pub codice_asl: String,
    /// `codiceSsaErogatore`: the pharmacy's SSA code (e.g. `78909`).
    pub codice_ssa: String,
}

impl Erogatore {
    /// A pharmacy by its three codes.
    pub fn new(
        codice_regione: impl Into<String>,
        codice_asl: impl Into<String>,
        codice_ssa: impl Into<String>,
    ) -> Self {
        Self {
            codice_regione: codice_regione.into(),
            codice_asl: codice_asl.into(),
            codice_ssa: codice_ssa.into(),
        }
    }

    /// The A2F identity of this pharmacy for `create`/`checkToken` with
    /// `applicazione=EROGATORE`: `user_id` is the pharmacy's Sistema TS user, `fiscal_code`
    /// the owner's or director's fiscal code.
    pub fn identity(
        &self,
        user_id: impl Into<String>,
        fiscal_code: impl Into<String>,
    ) -> crate::a2f::UserIdentity {
        let mut identity = crate::a2f::UserIdentity::new(
            user_id,
            fiscal_code,
            &self.codice_regione,
            &self.codice_asl,
        );
        identity.ssa = self.codice_ssa.clone();
        identity
    }
}

/// The header of every dispenser request, in XSD order: `pinCode`,
/// `codiceRegioneErogatore`, `codiceAslErogatore`, `codiceSsaErogatore`, `pwd`, `nre`,
/// `cfAssistito`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Testata {
    /// `pinCode`, encrypted with SanitelCF.
    pub pin_code: EncryptedValue,
    /// The three `codice…Erogatore`.
    pub erogatore: Erogatore,
    /// `pwd` (0..16): the XSD documents it as "identifier of the user who performed the
    /// operation". Masked in `Debug` because its name suggests a credential.
    pub pwd: Option<Sensitive>,
    /// `nre`.
    pub nre: String,
    /// `cfAssistito`: the patient's fiscal code read from the health card, encrypted with
    /// SanitelCF (as public clients do: LIKELY, PROTOCOL §5.12).
    pub cf_assistito: Option<EncryptedValue>,
}

impl Testata {
    /// A header for this NRE, without `pwd` and `cfAssistito`.
    pub fn new(pin_code: EncryptedValue, erogatore: Erogatore, nre: &Nre) -> Self {
        Self {
            pin_code,
            erogatore,
            pwd: None,
            nre: nre.as_str().to_owned(),
            cf_assistito: None,
        }
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        c.required("pinCode", self.pin_code.as_str());
        c.required("codiceRegioneErogatore", &self.erogatore.codice_regione);
        c.required("codiceAslErogatore", &self.erogatore.codice_asl);
        c.required("codiceSsaErogatore", &self.erogatore.codice_ssa);
        c.opt_max_len("pwd", self.pwd.as_ref().map(Sensitive::expose), 16);
        if c.required("nre", &self.nre) && Nre::parse(&self.nre).is_err() {
            c.report("nre", Problem::Format("un NRE di 15 caratteri"));
        }
        if let Some(cf) = &self.cf_assistito {
            c.required("cfAssistito", cf.as_str());
        }
    }

    pub(crate) fn write(&self, e: &mut Emitter, p: &str) {
        e.leaf(p, "pinCode", self.pin_code.as_str());
        e.leaf(p, "codiceRegioneErogatore", &self.erogatore.codice_regione);
        e.leaf(p, "codiceAslErogatore", &self.erogatore.codice_asl);
        e.leaf(p, "codiceSsaErogatore", &self.erogatore.codice_ssa);
        e.opt(p, "pwd", self.pwd.as_ref().map(Sensitive::expose));
        e.leaf(p, "nre", &self.nre);
        e.opt(
            p,
            "cfAssistito",
            self.cf_assistito.as_ref().map(EncryptedValue::as_str),
        );
    }

    pub(crate) fn read(el: &Element, ns: Ns<'_>) -> Result<Self, DemError> {
        Ok(Self {
            pin_code: EncryptedValue::new(req(el, ns, "pinCode")?),
            erogatore: Erogatore {
                codice_regione: req(el, ns, "codiceRegioneErogatore")?,
                codice_asl: req(el, ns, "codiceAslErogatore")?,
                codice_ssa: req(el, ns, "codiceSsaErogatore")?,
            },
            pwd: opt(el, ns, "pwd").map(Sensitive::new),
            nre: req(el, ns, "nre")?,
            cf_assistito: opt(el, ns, "cfAssistito").map(EncryptedValue::new),
        })
    }
}

/// Opens a request element with its namespace (and the types namespace as `types`, when
/// the request has detail lines); the caller writes the children.
pub(crate) fn open_request(
    service: ErogatoreService,
    prefix: &str,
    types: Option<&str>,
    capacity: usize,
) -> Emitter {
    let mut e = Emitter::with_capacity(capacity);
    let own = format!("xmlns:{prefix}");
    let mut attrs = vec![(own.as_str(), service.request_namespace())];
    let types_attr = types.map(|t| format!("xmlns:{t}"));
    if let Some(attr) = &types_attr {
        attrs.push((attr.as_str(), service.types_namespace()));
    }
    e.open_with(prefix, service.request_root(), &attrs);
    e
}

/// A text element value: clear text or personal data (masked in `Debug`).
pub(crate) trait Text {
    fn from_text(text: String) -> Self;
    fn text(&self) -> &str;
}

impl Text for String {
    fn from_text(text: String) -> Self {
        text
    }
    fn text(&self) -> &str {
        self
    }
}

impl Text for Sensitive {
    fn from_text(text: String) -> Self {
        Sensitive::new(text)
    }
    fn text(&self) -> &str {
        self.expose()
    }
}

/// A struct of optional text elements in XSD order, with its reader and writer. Every
/// field is `Option<T>` (`T` = `String` or [`Sensitive`]); which ones a message requires is
/// checked by the validation of that message.
macro_rules! text_elements {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( #[doc = $doc:literal] $field:ident : $ty:ty = $xml:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( #[doc = $doc] pub $field: Option<$ty>, )*
        }

        impl $name {
            /// Reads the elements present (empty ones count as absent).
            pub(crate) fn read_elements(
                el: &$crate::xml::Element,
                ns: $crate::dem::codec::Ns<'_>,
            ) -> Self {
                use $crate::erogatore::common::Text as _;
                Self {
                    $( $field: $crate::dem::codec::opt(el, ns, $xml).map(<$ty>::from_text), )*
                }
            }

            /// Writes the elements that have a value, in XSD order.
            pub(crate) fn write_elements(
                &self,
                e: &mut $crate::dem::codec::Emitter,
                p: &str,
            ) {
                use $crate::erogatore::common::Text as _;
                $( e.opt(p, $xml, self.$field.as_ref().map(|v| v.text())); )*
            }
        }
    };
}
pub(crate) use text_elements;

/// Writes a dispenser receipt. No response of the real dispenser services has been
/// published, so the prefixes follow the prescriber services of the same shape
/// (PROTOCOL §5.12, UNKNOWN): Visualizza with an `ns2`-prefixed root and the types as the
/// default namespace, the others with an unprefixed root and `ns2` for the types.
pub(crate) struct ReceiptWriter {
    e: Emitter,
    service: ErogatoreService,
    own: &'static str,
    types: &'static str,
}

impl ReceiptWriter {
    pub(crate) fn open(service: ErogatoreService, capacity: usize) -> Self {
        let mut e = Emitter::with_capacity(capacity);
        let root = service.receipt_root();
        let (own, types) = if service == ErogatoreService::VisualizzaErogato {
            e.open_with(
                "ns2",
                root,
                &[
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

    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.e.leaf(self.own, name, text);
    }

    pub(crate) fn opt(&mut self, name: &str, text: Option<&str>) {
        self.e.opt(self.own, name, text);
    }

    /// Direct access for the `text_elements!` writers (receipt namespace).
    pub(crate) fn own(&mut self) -> (&mut Emitter, &'static str) {
        (&mut self.e, self.own)
    }

    /// A list in the receipt namespace whose items are in the types namespace.
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

    pub(crate) fn errori(&mut self, errori: &[ErroreRicetta]) {
        self.list("ElencoErroriRicette", errori, |err, e, p| {
            err.write(e, p, "ErroreRicetta", true);
        });
    }

    pub(crate) fn comunicazioni(&mut self, list: &[Comunicazione]) {
        self.list("ElencoComunicazioni", list, Comunicazione::write);
    }

    pub(crate) fn finish(mut self) -> String {
        self.e.close(self.own, self.service.receipt_root());
        self.e.finish()
    }
}

/// Operation code and entries of an operation that went through: `0000` with the
/// "operation done" entry, or `0001` with the warnings (e.g. a `9101`).
pub(crate) fn accepted(warnings: Vec<ErroreRicetta>) -> (String, Vec<ErroreRicetta>) {
    crate::dem::receipt::accepted_outcome(warnings, ErroreRicetta::ok())
}

/// The code of a refused operation.
pub(crate) const REFUSED: &str = "9999";
