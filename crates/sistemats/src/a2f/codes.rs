//! Official A2F error codes (manual §5.1, both tables) and what the doctor should do.

use std::fmt;

/// `tipoErrore`: how serious an `errore` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `W`: handled warning (e.g. token already revoked).
    Warning,
    /// `E`: recoverable error (inconsistent data).
    Error,
    /// `F`: fatal (system) error.
    Fatal,
    /// Absent or unknown letter.
    Unknown,
}

impl Severity {
    /// From the wire letter.
    pub fn from_wire(value: Option<&str>) -> Severity {
        match value.map(str::trim) {
            Some("W") => Severity::Warning,
            Some("E") => Severity::Error,
            Some("F") => Severity::Fatal,
            _ => Severity::Unknown,
        }
    }

    /// The wire letter (`None` for [`Severity::Unknown`]).
    pub fn as_wire(self) -> Option<&'static str> {
        match self {
            Severity::Warning => Some("W"),
            Severity::Error => Some("E"),
            Severity::Fatal => Some("F"),
            Severity::Unknown => None,
        }
    }
}

/// What an A2F error code means, grouped by what the user has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum A2fErrorKind {
    /// 01, 300: a mandatory input is missing.
    MissingParameter,
    /// 02: an input is too long.
    ParameterTooLong,
    /// 03: a date is not `yyyymmddhh24miss`.
    InvalidDate,
    /// 04, 19, 20, 603: no ID-SESSIONE for these parameters / it does not exist.
    NoCode,
    /// 05: the ID-SESSIONE to revoke is already revoked (warning).
    AlreadyRevoked,
    /// 06: the ID-SESSIONE queried is revoked (warning).
    Revoked,
    /// 07: the ID-SESSIONE queried is no longer valid (warning).
    Expired,
    /// 08–18: problem with `opzioni`.
    Options,
    /// 21, 303, 305: identifier type missing or not valid for this user.
    IdentifierType,
    /// 22, 9997, 9998: `contesto`/`applicazione` configuration error.
    Configuration,
    /// 600: Basic authentication missing.
    NotAuthenticated,
    /// 601: user unknown to Sistema TS.
    UnknownUser,
    /// 602: authenticated user differs from `userId`.
    UserMismatch,
    /// 301: PIN formally wrong.
    PinMalformed,
    /// 302: PIN not valid.
    PinInvalid,
    /// 304: user identifier not found.
    IdentifierNotFound,
    /// 306: wrong fiscal code.
    WrongFiscalCode,
    /// 307: region/ASL/SSA of the user wrong.
    WrongRegionAsl,
    /// 307 (second meaning in the official table): client IP address not obtainable.
    ClientAddress,
    /// 700: encryption/decryption error (PIN not encrypted with the right certificate).
    Encryption,
    /// 100: sending the e-mail failed.
    MailSendFailed,
    /// 200: no certified e-mail address.
    NoCertifiedMail,
    /// 99, 9999: system error.
    System,
    /// A code not in the official tables.
    Unknown,
}

impl A2fErrorKind {
    /// Kind of an official code. 307 has two meanings; the description tells them apart.
    pub fn from_code(code: &str, description: &str) -> A2fErrorKind {
        use A2fErrorKind::*;
        let code = code.trim();
        let numeric: Option<u32> = code.parse().ok();
        // "04" and "4" are the same code: leading zeros are not significant.
        match numeric {
            Some(1) | Some(300) => MissingParameter,
            Some(2) => ParameterTooLong,
            Some(3) => InvalidDate,
            Some(4) | Some(19) | Some(20) | Some(603) => NoCode,
            Some(5) => AlreadyRevoked,
            Some(6) => Revoked,
            Some(7) => Expired,
            Some(8..=18) => Options,
            Some(21) | Some(303) | Some(305) => IdentifierType,
            Some(22) | Some(9997) | Some(9998) => Configuration,
            Some(99) | Some(9999) => System,
            Some(600) => NotAuthenticated,
            Some(601) => UnknownUser,
            Some(602) => UserMismatch,
            Some(301) => PinMalformed,
            Some(302) => PinInvalid,
            Some(304) => IdentifierNotFound,
            Some(306) => WrongFiscalCode,
            Some(307) => {
                let d = description.to_ascii_lowercase();
                if d.contains("ip") && !d.contains("regione") && !d.contains("asl") {
                    ClientAddress
                } else {
                    WrongRegionAsl
                }
            }
            Some(700) => Encryption,
            Some(100) => MailSendFailed,
            Some(200) => NoCertifiedMail,
            _ => Unknown,
        }
    }

    /// Whether the same request may succeed later without changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            A2fErrorKind::System | A2fErrorKind::MailSendFailed | A2fErrorKind::ClientAddress
        )
    }

    /// Whether repeating the request risks locking the account (wrong PIN, wrong identity):
    /// callers must not retry automatically.
    pub fn must_not_retry(self) -> bool {
        matches!(
            self,
            A2fErrorKind::PinInvalid
                | A2fErrorKind::PinMalformed
                | A2fErrorKind::UnknownUser
                | A2fErrorKind::UserMismatch
                | A2fErrorKind::WrongFiscalCode
                | A2fErrorKind::IdentifierNotFound
        )
    }

    /// The Italian message for the doctor, with the next step.
    pub fn message(self) -> &'static str {
        use A2fErrorKind::*;
        match self {
            MissingParameter => {
                "Manca un dato obbligatorio nella richiesta a Sistema TS. Completare i dati dell'utente in tsgate (codice utente, codice fiscale, regione, ASL) e riprovare"
            }
            ParameterTooLong => {
                "Un dato inviato a Sistema TS è troppo lungo. Controllare i dati dell'utente in tsgate e riprovare"
            }
            InvalidDate => {
                "Sistema TS ha rifiutato il formato di una data. Segnalare il problema all'assistenza tsgate"
            }
            NoCode => "Sistema TS non trova questo ID-SESSIONE per l'utente. Richiederne uno nuovo",
            AlreadyRevoked => {
                "L'ID-SESSIONE era già stato revocato. Non serve altro; per continuare a prescrivere richiederne uno nuovo"
            }
            Revoked => {
                "L'ID-SESSIONE è stato revocato (forse dalla richiesta di un nuovo codice o dal portale). Richiederne uno nuovo"
            }
            Expired => "L'ID-SESSIONE è scaduto. Richiederne uno nuovo",
            Options => {
                "Sistema TS ha rifiutato le opzioni della richiesta. Segnalare il problema all'assistenza tsgate"
            }
            IdentifierType => {
                "Sistema TS non accetta il tipo di identificativo per questo utente. Verificare che l'utenza sia abilitata alla ricetta dematerializzata e segnalarlo all'assistenza"
            }
            Configuration => {
                "Errore di configurazione del contesto (RICETTA-DEM) o dell'applicazione (PRESCRITTORE/EROGATORE). Verificare il ruolo dell'utente in tsgate"
            }
            NotAuthenticated => {
                "Sistema TS richiede l'autenticazione con codice utente e password. Verificare le credenziali configurate in tsgate"
            }
            UnknownUser => {
                "Utente non autorizzato: Sistema TS non conosce questo codice utente. Verificare il codice utente configurato in tsgate"
            }
            UserMismatch => {
                "Il codice utente della richiesta non corrisponde a quello autenticato. Verificare in tsgate che codice utente e credenziali siano dello stesso medico"
            }
            PinMalformed => {
                "Il PIN (codice di identificazione) ha un formato errato. Correggerlo in tsgate; non riprovare prima di averlo corretto"
            }
            PinInvalid => {
                "Il PIN (codice di identificazione) non è corretto. Correggerlo in tsgate prima di riprovare: tentativi ripetuti possono bloccare l'utenza"
            }
            IdentifierNotFound => {
                "Sistema TS non trova l'identificativo dell'utente. Verificare il PIN e il codice utente configurati in tsgate"
            }
            WrongFiscalCode => {
                "Il codice fiscale del medico non corrisponde all'utente Sistema TS. Correggerlo in tsgate"
            }
            WrongRegionAsl => {
                "Regione, ASL o codice SSA del medico non corrispondono a quelli registrati in Sistema TS. Correggerli in tsgate"
            }
            ClientAddress => {
                "Sistema TS non è riuscito a determinare l'indirizzo di rete della richiesta. Riprovare tra qualche minuto"
            }
            Encryption => {
                "Sistema TS non è riuscito a decifrare il PIN: il certificato SanitelCF configurato potrebbe essere errato o scaduto. Aggiornare il certificato in tsgate"
            }
            MailSendFailed => {
                "Sistema TS non è riuscito a inviare l'e-mail con l'ID-SESSIONE. Riprovare più tardi e verificare l'indirizzo certificato sul portale Sistema TS"
            }
            NoCertifiedMail => {
                "Nessun indirizzo e-mail certificato per ricevere l'ID-SESSIONE. Accedere al portale Sistema TS con SPID o CIE, menu Sicurezza → Certifica mail, registrare l'indirizzo e poi riprovare"
            }
            System => "Errore di sistema di Sistema TS. Riprovare tra qualche minuto",
            Unknown => {
                "Sistema TS ha restituito un errore non documentato. Riprovare più tardi; se persiste, segnalare il codice all'assistenza"
            }
        }
    }
}

/// One error reported by the A2F service, with its kind and the server's own description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A2fError {
    /// What it means.
    pub kind: A2fErrorKind,
    /// The code as sent (`"306"`, `"05"`).
    pub code: String,
    /// `tipoErrore`.
    pub severity: Severity,
    /// The server's `descrEsito` (may name the doctor's CF for 306; never a secret).
    pub description: String,
}

impl A2fError {
    /// An error from the wire fields.
    pub fn new(code: &str, severity: Severity, description: &str) -> Self {
        Self {
            kind: A2fErrorKind::from_code(code, description),
            code: code.trim().to_owned(),
            severity,
            description: description.trim().to_owned(),
        }
    }

    /// The Italian message for the doctor (next step included), with the code.
    pub fn message(&self) -> String {
        format!("{} (codice {})", self.kind.message(), self.code)
    }
}

impl fmt::Display for A2fError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for A2fError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of both official tables (MAN-A2F §5.1).
    const OFFICIAL: &[(&str, A2fErrorKind)] = &[
        ("01", A2fErrorKind::MissingParameter),
        ("02", A2fErrorKind::ParameterTooLong),
        ("03", A2fErrorKind::InvalidDate),
        ("04", A2fErrorKind::NoCode),
        ("05", A2fErrorKind::AlreadyRevoked),
        ("06", A2fErrorKind::Revoked),
        ("07", A2fErrorKind::Expired),
        ("08", A2fErrorKind::Options),
        ("09", A2fErrorKind::Options),
        ("10", A2fErrorKind::Options),
        ("11", A2fErrorKind::Options),
        ("12", A2fErrorKind::Options),
        ("13", A2fErrorKind::Options),
        ("14", A2fErrorKind::Options),
        ("15", A2fErrorKind::Options),
        ("16", A2fErrorKind::Options),
        ("17", A2fErrorKind::Options),
        ("18", A2fErrorKind::Options),
        ("19", A2fErrorKind::NoCode),
        ("20", A2fErrorKind::NoCode),
        ("21", A2fErrorKind::IdentifierType),
        ("22", A2fErrorKind::Configuration),
        ("99", A2fErrorKind::System),
        ("9999", A2fErrorKind::System),
        ("9998", A2fErrorKind::Configuration),
        ("9997", A2fErrorKind::Configuration),
        ("600", A2fErrorKind::NotAuthenticated),
        ("601", A2fErrorKind::UnknownUser),
        ("602", A2fErrorKind::UserMismatch),
        ("603", A2fErrorKind::NoCode),
        ("300", A2fErrorKind::MissingParameter),
        ("301", A2fErrorKind::PinMalformed),
        ("302", A2fErrorKind::PinInvalid),
        ("303", A2fErrorKind::IdentifierType),
        ("304", A2fErrorKind::IdentifierNotFound),
        ("305", A2fErrorKind::IdentifierType),
        ("306", A2fErrorKind::WrongFiscalCode),
        ("307", A2fErrorKind::WrongRegionAsl),
        ("700", A2fErrorKind::Encryption),
        ("100", A2fErrorKind::MailSendFailed),
        ("200", A2fErrorKind::NoCertifiedMail),
    ];

    #[test]
    fn every_official_code_has_a_kind() {
        for (code, kind) in OFFICIAL {
            assert_eq!(A2fErrorKind::from_code(code, ""), *kind, "code {code}");
            assert_ne!(*kind, A2fErrorKind::Unknown);
        }
        assert_eq!(A2fErrorKind::from_code("4", ""), A2fErrorKind::NoCode);
        assert_eq!(A2fErrorKind::from_code("12345", ""), A2fErrorKind::Unknown);
        assert_eq!(A2fErrorKind::from_code("abc", ""), A2fErrorKind::Unknown);
    }

    #[test]
    fn duplicate_307_told_apart_by_description() {
        assert_eq!(
            A2fErrorKind::from_code("307", "Impossibile ottenere l'indirizzo IP del client"),
            A2fErrorKind::ClientAddress
        );
        assert_eq!(
            A2fErrorKind::from_code("307", "Codici regione/asl/ssa dell'utente errati"),
            A2fErrorKind::WrongRegionAsl
        );
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = A2fError::new("200", Severity::Error, "Nessun contatto");
        assert!(e.message().contains("Certifica mail"));
        assert!(e.message().contains("SPID"));
        assert!(e.message().ends_with("(codice 200)"));
        let pin = A2fError::new("302", Severity::Error, "");
        assert!(pin.message().contains("tsgate"));
        assert!(pin.kind.must_not_retry());
        assert!(
            A2fError::new("9999", Severity::Fatal, "")
                .kind
                .is_transient()
        );
        let unknown = A2fError::new("4242", Severity::Unknown, "boh");
        assert!(unknown.to_string().contains("4242"));
    }
}
