//! A2F responses: `CreateAuthRes`, `CheckTokenRes`, `RevokeAuthRes` (one shape).
//!
//! [`Response::parse`] is namespace-tolerant: the real server writes the authservice elements
//! with prefix `ns2` and the data-type children in the default namespace, third-party
//! examples leave everything unqualified, so children are matched by local name.
//! [`Response::to_envelope`] writes exactly the production layout, for the simulator.

use std::fmt;

use time::OffsetDateTime;

use crate::error::ParseError;
use crate::soap::{self, Body};
use crate::xml::{Element, XmlWriter};

use super::codes::{A2fError, Severity};
use super::dates::{format_date_time, parse_date_time, to_rome};
use super::request::{KeyValue, text};
use super::service::{AUTH_NS, COMM_TOKEN, DATATYPE_NS, Operation};

/// `errore`: one error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errore {
    /// `tipoErrore` (`W`, `E`, `F`), optional.
    pub tipo_errore: Option<String>,
    /// `codEsito` of this error (`306`, `05`).
    pub cod_esito: String,
    /// `descrEsito`, optional.
    pub descr_esito: Option<String>,
}

impl Errore {
    /// A new error entry.
    pub fn new(
        code: impl Into<String>,
        severity: Severity,
        description: impl Into<String>,
    ) -> Self {
        Self {
            tipo_errore: severity.as_wire().map(str::to_owned),
            cod_esito: code.into(),
            descr_esito: Some(description.into()),
        }
    }

    /// Typed view with kind and Italian message.
    pub fn to_error(&self) -> A2fError {
        A2fError::new(
            &self.cod_esito,
            Severity::from_wire(self.tipo_errore.as_deref()),
            self.descr_esito.as_deref().unwrap_or_default(),
        )
    }
}

/// `infoToken`: state and validity of an ID-SESSIONE (checkToken only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoToken {
    /// `stato`: 0 Valido, 1 Revocato, 2 Scaduto.
    pub stato: i32,
    /// `descrizione` (`Valido`, `Revocato`, …).
    pub descrizione: String,
    /// `dataInizioValidita`.
    pub data_inizio_validita: OffsetDateTime,
    /// `dataFineValidita`: the expiry.
    pub data_fine_validita: OffsetDateTime,
}

/// `comunicazione`: a service message. In the test environment the code `token` carries the
/// new ID-SESSIONE, so `Debug` masks the message of that code.
#[derive(Clone, PartialEq, Eq)]
pub struct Comunicazione {
    /// `codice` (`token`, `working-mode`, `client-ip`, `execution-time-in-seconds`).
    pub codice: String,
    /// `messaggio`.
    pub messaggio: String,
}

impl Comunicazione {
    /// A new communication.
    pub fn new(codice: impl Into<String>, messaggio: impl Into<String>) -> Self {
        Self {
            codice: codice.into(),
            messaggio: messaggio.into(),
        }
    }
}

impl fmt::Debug for Comunicazione {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self.codice.trim().eq_ignore_ascii_case(COMM_TOKEN);
        f.debug_struct("Comunicazione")
            .field("codice", &self.codice)
            .field(
                "messaggio",
                &if secret {
                    "***"
                } else {
                    self.messaggio.as_str()
                },
            )
            .finish()
    }
}

/// A response of any A2F operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `codEsito`: `0` positive, `1` negative (details in `errori`).
    pub cod_esito: String,
    /// `errori/errore`.
    pub errori: Vec<Errore>,
    /// `infoToken` (checkToken only; ignored when writing other operations).
    pub info_token: Option<InfoToken>,
    /// `info` pairs. The XSD allows one; all are read, and written in order.
    pub info: Vec<KeyValue>,
    /// `comunicazioni/comunicazione`.
    pub comunicazioni: Vec<Comunicazione>,
}

impl Response {
    /// A positive response (`codEsito` 0) with nothing else.
    pub fn success() -> Self {
        Self {
            cod_esito: "0".into(),
            errori: Vec::new(),
            info_token: None,
            info: Vec::new(),
            comunicazioni: Vec::new(),
        }
    }

    /// A negative response (`codEsito` 1) with one error.
    pub fn failure(errore: Errore) -> Self {
        Self {
            cod_esito: "1".into(),
            errori: vec![errore],
            ..Self::success()
        }
    }

    /// Sets the `info` pair. The XSD allows at most one, so this replaces any earlier pair.
    pub fn with_info(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.info = vec![KeyValue::new(key, value)];
        self
    }

    /// Adds a `comunicazione`.
    pub fn with_comunicazione(
        mut self,
        codice: impl Into<String>,
        messaggio: impl Into<String>,
    ) -> Self {
        self.comunicazioni
            .push(Comunicazione::new(codice, messaggio));
        self
    }

    /// Sets `infoToken`.
    pub fn with_info_token(mut self, info: InfoToken) -> Self {
        self.info_token = Some(info);
        self
    }

    /// Whether `codEsito` is 0.
    pub fn is_positive(&self) -> bool {
        self.cod_esito.trim().parse::<u32>() == Ok(0)
    }

    /// Value of the first `info` with this key.
    pub fn info_value(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_str())
    }

    /// Message of the first `comunicazione` with this code (case-insensitive).
    pub fn comunicazione(&self, codice: &str) -> Option<&str> {
        self.comunicazioni
            .iter()
            .find(|c| c.codice.trim().eq_ignore_ascii_case(codice))
            .map(|c| c.messaggio.as_str())
    }

    /// Parses a whole SOAP envelope. A Fault gives [`ParseError::Fault`].
    pub fn parse(op: Operation, bytes: &[u8]) -> Result<Self, ParseError> {
        match soap::parse(bytes)? {
            Body::Payload(payload) => Self::from_payload(op, &payload),
            Body::Fault(fault) => Err(ParseError::Fault(fault)),
        }
    }

    /// Reads the response element of `op` (matched by local name, any namespace).
    pub fn from_payload(op: Operation, element: &Element) -> Result<Self, ParseError> {
        let expected = op.response_root();
        if element.name != expected {
            return Err(ParseError::UnexpectedRoot {
                expected,
                found: element.name.clone(),
            });
        }
        let cod_esito = text(element, "codEsito")
            .filter(|c| !c.is_empty())
            .ok_or(ParseError::Missing("codEsito"))?;
        let errori = element
            .child_local("errori")
            .map(|e| {
                e.children_local("errore")
                    .map(|x| Errore {
                        tipo_errore: text(x, "tipoErrore").filter(|t| !t.is_empty()),
                        cod_esito: text(x, "codEsito").unwrap_or_default(),
                        descr_esito: text(x, "descrEsito"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let info_token = element
            .child_local("infoToken")
            .map(read_info_token)
            .transpose()?;
        let info = element
            .children_local("info")
            .map(|i| KeyValue {
                key: text(i, "chiave").unwrap_or_default(),
                value: text(i, "valore").unwrap_or_default(),
            })
            .collect();
        let comunicazioni = element
            .child_local("comunicazioni")
            .map(|c| {
                c.children_local("comunicazione")
                    .map(|x| Comunicazione {
                        codice: text(x, "codice").unwrap_or_default(),
                        messaggio: text(x, "messaggio").unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            cod_esito,
            errori,
            info_token,
            info,
            comunicazioni,
        })
    }

    /// The response element as production writes it:
    /// `<ns2:CreateAuthRes xmlns:ns2="…authservice…" xmlns="…datatype…">`, dates in Italian
    /// time with milliseconds (`2025-05-30T19:51:31.000+02:00`).
    pub fn to_payload(&self, op: Operation) -> String {
        let root = match op {
            Operation::Create => "ns2:CreateAuthRes",
            Operation::CheckToken => "ns2:CheckTokenRes",
            Operation::Revoke => "ns2:RevokeAuthRes",
        };
        let mut w = XmlWriter::with_capacity(1024);
        w.open_with(root, &[("xmlns:ns2", AUTH_NS), ("xmlns", DATATYPE_NS)]);
        w.leaf("ns2:codEsito", &self.cod_esito);
        if !self.errori.is_empty() {
            w.open("ns2:errori");
            for e in &self.errori {
                w.open("errore");
                w.opt_leaf("tipoErrore", e.tipo_errore.as_deref());
                w.leaf("codEsito", &e.cod_esito);
                w.opt_leaf("descrEsito", e.descr_esito.as_deref());
                w.close("errore");
            }
            w.close("ns2:errori");
        }
        if let (Operation::CheckToken, Some(t)) = (op, &self.info_token) {
            w.open("ns2:infoToken");
            w.leaf("stato", &t.stato.to_string());
            w.leaf("descrizione", &t.descrizione);
            w.leaf(
                "dataInizioValidita",
                &format_date_time(to_rome(t.data_inizio_validita)),
            );
            w.leaf(
                "dataFineValidita",
                &format_date_time(to_rome(t.data_fine_validita)),
            );
            w.close("ns2:infoToken");
        }
        for kv in &self.info {
            w.open("ns2:info");
            w.leaf("chiave", &kv.key).leaf("valore", &kv.value);
            w.close("ns2:info");
        }
        if !self.comunicazioni.is_empty() {
            w.open("ns2:comunicazioni");
            for c in &self.comunicazioni {
                w.open("comunicazione");
                w.leaf("codice", &c.codice).leaf("messaggio", &c.messaggio);
                w.close("comunicazione");
            }
            w.close("ns2:comunicazioni");
        }
        w.close(root);
        w.finish()
    }

    /// The whole SOAP envelope around [`Response::to_payload`].
    pub fn to_envelope(&self, op: Operation) -> String {
        soap::envelope(&[], &self.to_payload(op))
    }
}

fn read_info_token(element: &Element) -> Result<InfoToken, ParseError> {
    let stato = text(element, "stato").ok_or(ParseError::Missing("stato"))?;
    let stato = stato.parse::<i32>().map_err(|_| ParseError::Invalid {
        field: "stato",
        reason: "non è un numero intero".into(),
    })?;
    let date = |field: &'static str| -> Result<OffsetDateTime, ParseError> {
        let raw = text(element, field).ok_or(ParseError::Missing(field))?;
        parse_date_time(&raw).ok_or_else(|| ParseError::Invalid {
            field,
            reason: format!("data non riconosciuta '{raw}'"),
        })
    };
    Ok(InfoToken {
        stato,
        descrizione: text(element, "descrizione").unwrap_or_default(),
        data_inizio_validita: date("dataInizioValidita")?,
        data_fine_validita: date("dataFineValidita")?,
    })
}
