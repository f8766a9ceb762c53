//! What identifies the A2F service and its operations: path, namespaces, SOAPActions,
//! element names and the wire values shared by requests and responses.
//!
//! Kept apart from the module root so that the codecs and outcomes use it without importing
//! the module that re-exports them.

/// Path of the A2F service, the same in every environment.
pub const SERVICE_PATH: &str = "/a2f-auth-ws/soap/v1/authentication-service";
/// Namespace of the request/response elements (prefix `aut` in the MEF examples).
pub const AUTH_NS: &str = "http://authservice.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
/// Namespace of the data-type children (prefix `dat`).
pub const DATATYPE_NS: &str = "http://datatype.xsd.wsdl.auth.a2f.sts.sanita.finanze.it";
/// WSDL target namespace; SOAPActions are this plus `/<operation>`.
pub const WSDL_NS: &str = "http://wsdl.auth.a2f.sts.sanita.finanze.it";
/// The `contesto` of the SSN dematerialised prescription.
pub const CONTEXT_RICETTA_DEM: &str = "RICETTA-DEM";
/// `identificativo/tipo` for an encrypted PIN code.
pub const IDENTIFIER_KIND_PIN: &str = "P";
/// Default `codSsa` for doctors.
pub const DEFAULT_SSA: &str = "000000";

/// `info/chiave` of a successful `create` in production.
pub const INFO_EMAIL_STATUS: &str = "emailStatus";
/// `info/chiave` of a successful `revoke`.
pub const INFO_REVOKE_STATUS: &str = "revokeStatus";
/// `info/chiave` of a `revoke` on a token already revoked.
pub const INFO_LAST_REVOKE: &str = "lastRevokePreviousDate";
/// `comunicazione/codice` carrying the new ID-SESSIONE in the test environment.
pub const COMM_TOKEN: &str = "token";

/// One of the three A2F operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `create`: request a new ID-SESSIONE (e-mailed, or returned in test).
    Create,
    /// `checkToken`: state and validity of an ID-SESSIONE.
    CheckToken,
    /// `revoke`: revoke an ID-SESSIONE.
    Revoke,
}

impl Operation {
    /// All operations.
    pub const ALL: [Operation; 3] = [Operation::Create, Operation::CheckToken, Operation::Revoke];

    /// WSDL operation name (`create`, `checkToken`, `revoke`).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::CheckToken => "checkToken",
            Operation::Revoke => "revoke",
        }
    }

    /// SOAPAction URI, unquoted (the HTTP header carries it in double quotes).
    pub fn soap_action(self) -> &'static str {
        match self {
            Operation::Create => "http://wsdl.auth.a2f.sts.sanita.finanze.it/create",
            Operation::CheckToken => "http://wsdl.auth.a2f.sts.sanita.finanze.it/checkToken",
            Operation::Revoke => "http://wsdl.auth.a2f.sts.sanita.finanze.it/revoke",
        }
    }

    /// The operation of a SOAPAction header value, quoted or not.
    pub fn from_soap_action(value: &str) -> Option<Operation> {
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value)
            .trim();
        Operation::ALL
            .into_iter()
            .find(|op| op.soap_action() == value)
    }

    /// Local name of the request element (`CreateAuthReq`, …).
    pub fn request_root(self) -> &'static str {
        match self {
            Operation::Create => "CreateAuthReq",
            Operation::CheckToken => "CheckTokenReq",
            Operation::Revoke => "RevokeAuthReq",
        }
    }

    /// Local name of the response element (`CreateAuthRes`, …).
    pub fn response_root(self) -> &'static str {
        match self {
            Operation::Create => "CreateAuthRes",
            Operation::CheckToken => "CheckTokenRes",
            Operation::Revoke => "RevokeAuthRes",
        }
    }

    /// The operation whose request element has this local name.
    pub fn from_request_root(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.request_root() == name)
    }
}

/// `applicazione`: where the ID-SESSIONE will be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Application {
    /// `PRESCRITTORE`: prescribing doctor.
    #[default]
    Prescriber,
    /// `EROGATORE`: pharmacy or other dispenser.
    Dispenser,
    /// Empty `applicazione` (allowed by the manual, not usable on DEM services).
    None,
}

impl Application {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Application::Prescriber => "PRESCRITTORE",
            Application::Dispenser => "EROGATORE",
            Application::None => "",
        }
    }

    /// Parses a wire value (case-sensitive as the service; surrounding spaces ignored).
    pub fn from_wire(value: &str) -> Option<Application> {
        match value.trim() {
            "PRESCRITTORE" => Some(Application::Prescriber),
            "EROGATORE" => Some(Application::Dispenser),
            "" => Some(Application::None),
            _ => None,
        }
    }
}

impl std::fmt::Display for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_actions_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_soap_action(op.soap_action()), Some(op));
            let quoted = format!("\"{}\"", op.soap_action());
            assert_eq!(Operation::from_soap_action(&quoted), Some(op));
            assert_eq!(Operation::from_request_root(op.request_root()), Some(op));
        }
        assert_eq!(Operation::from_soap_action("\"\""), None);
        assert_eq!(Operation::from_soap_action("create"), None);
        assert_eq!(
            Application::from_wire("EROGATORE"),
            Some(Application::Dispenser)
        );
        assert_eq!(Application::from_wire("x"), None);
    }
}
