//! Any DEM request or receipt, for code that handles every service: the simulator routes
//! requests by their body, the proxy inspects receipts of every service.
//!
//! This sits above the five service modules (it names each of their types), so that the
//! shared request and receipt traits below them do not have to.

use crate::xml::Element;

use super::annulla::{AnnullaPrescrittoReceipt, AnnullaPrescrittoRequest};
use super::codec::{DemError, parse_payload};
use super::errore::ErroreRicetta;
use super::interroga::{InterrogaNreUtilizzatiReceipt, InterrogaNreUtilizzatiRequest};
use super::invio::{InvioPrescrittoReceipt, InvioPrescrittoRequest};
use super::outcome::DemOutcome;
use super::receipt::DemReceipt;
use super::service::{DemRequest, Service};
use super::sostituzione::{
    DichiarazioneSostituzioneMedicoReceipt, DichiarazioneSostituzioneMedicoRequest,
};
use super::types::EncryptedValue;
use super::validate::ValidationError;
use super::visualizza::{VisualizzaPrescrittoReceipt, VisualizzaPrescrittoRequest};

/// Any DEM request, for servers that route by the body (the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// InvioPrescritto.
    Invio(Box<InvioPrescrittoRequest>),
    /// VisualizzaPrescritto.
    Visualizza(VisualizzaPrescrittoRequest),
    /// AnnullaPrescritto.
    Annulla(AnnullaPrescrittoRequest),
    /// InterrogaNreUtilizzati.
    Interroga(InterrogaNreUtilizzatiRequest),
    /// DichiarazioneSostituzioneMedico.
    Sostituzione(DichiarazioneSostituzioneMedicoRequest),
}

impl Request {
    /// The request's service.
    pub fn service(&self) -> Service {
        match self {
            Request::Invio(_) => Service::InvioPrescritto,
            Request::Visualizza(_) => Service::VisualizzaPrescritto,
            Request::Annulla(_) => Service::AnnullaPrescritto,
            Request::Interroga(_) => Service::InterrogaNreUtilizzati,
            Request::Sostituzione(_) => Service::DichiarazioneSostituzioneMedico,
        }
    }

    /// Reads any DEM request from a SOAP body payload, by its root element.
    pub fn from_payload(payload: &Element) -> Result<Self, DemError> {
        let service = Service::ALL
            .into_iter()
            .find(|s| payload.is(s.request_namespace(), s.request_root()))
            .ok_or_else(|| DemError::UnexpectedRoot {
                expected: "una richiesta DEM",
                found: payload.name.clone(),
            })?;
        Ok(match service {
            Service::InvioPrescritto => {
                Request::Invio(Box::new(InvioPrescrittoRequest::from_payload(payload)?))
            }
            Service::VisualizzaPrescritto => {
                Request::Visualizza(VisualizzaPrescrittoRequest::from_payload(payload)?)
            }
            Service::AnnullaPrescritto => {
                Request::Annulla(AnnullaPrescrittoRequest::from_payload(payload)?)
            }
            Service::InterrogaNreUtilizzati => {
                Request::Interroga(InterrogaNreUtilizzatiRequest::from_payload(payload)?)
            }
            Service::DichiarazioneSostituzioneMedico => Request::Sostituzione(
                DichiarazioneSostituzioneMedicoRequest::from_payload(payload)?,
            ),
        })
    }

    /// Reads any DEM request from a whole SOAP envelope.
    pub fn parse(bytes: &[u8]) -> Result<Self, DemError> {
        Self::from_payload(&parse_payload(bytes)?)
    }

    /// Every problem of the request (see [`DemRequest::problems`]).
    pub fn problems(&self) -> Vec<ValidationError> {
        match self {
            Request::Invio(r) => r.problems(),
            Request::Visualizza(r) => r.problems(),
            Request::Annulla(r) => r.problems(),
            Request::Interroga(r) => r.problems(),
            Request::Sostituzione(r) => r.problems(),
        }
    }

    /// The PIN as sent (encrypted), common to every request.
    pub fn pin_code(&self) -> &EncryptedValue {
        match self {
            Request::Invio(r) => &r.pin_code,
            Request::Visualizza(r) => &r.pin_code,
            Request::Annulla(r) => &r.pin_code,
            Request::Interroga(r) => &r.pin_code,
            Request::Sostituzione(r) => &r.pin_code,
        }
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
