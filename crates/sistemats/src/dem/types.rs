//! Value types of the DEM messages: NRE, codAutenticazione, encrypted and personal values,
//! the promemoria PDF, the prescription state and the prescription line.

use std::fmt;

/// A value encrypted with the SanitelCF certificate, base64 (`pinCode`, `codiceAss`).
///
/// Build it with `sanitel::SanitelCertificate::encrypt`; this module never sees clear PINs.
/// `Debug` shows only the length.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptedValue(String);

impl EncryptedValue {
    /// Wraps an already encrypted, base64-encoded value.
    pub fn new(base64: impl Into<String>) -> Self {
        Self(base64.into())
    }

    /// The base64 text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for EncryptedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedValue({} caratteri)", self.0.len())
    }
}

impl From<String> for EncryptedValue {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for EncryptedValue {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Personal data of a patient in clear (fiscal code, name, address, card numbers).
///
/// `Debug` prints a mask, so a request or receipt can be logged without leaking it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value. Call only where it is needed (display to the doctor, the wire).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

impl From<String> for Sensitive {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Sensitive {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The promemoria PDF returned by InvioPrescritto (decoded from base64).
///
/// It carries the patient's data, so `Debug` shows only its size.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Promemoria(pub Vec<u8>);

impl Promemoria {
    /// The PDF bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the bytes start like a PDF file.
    pub fn looks_like_pdf(&self) -> bool {
        self.0.starts_with(b"%PDF")
    }
}

impl fmt::Debug for Promemoria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Promemoria({} byte)", self.0.len())
    }
}

/// Why a text is not an NRE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NreError {
    /// Not 15 characters.
    #[error("l'NRE deve avere 15 caratteri")]
    Length,
    /// Right length, wrong structure.
    #[error("NRE non valido: {0}")]
    Structure(&'static str),
}

/// A *Numero di Ricetta Elettronica*: 15 characters `AAA BB C DDDDDDDDD`
/// (region, grouping code `0A`…`Z9`, lot type, lot code + progressive), PROTOCOL §5.8.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nre(String);

impl Nre {
    /// Checks the structure of an NRE (surrounding spaces are ignored).
    pub fn parse(text: &str) -> Result<Self, NreError> {
        let text = text.trim();
        if text.chars().count() != 15 || !text.is_ascii() {
            return Err(NreError::Length);
        }
        let b = text.as_bytes();
        if !b[0..3].iter().all(u8::is_ascii_digit) {
            return Err(NreError::Structure(
                "i primi 3 caratteri (regione) devono essere cifre",
            ));
        }
        if !b[3..5]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            return Err(NreError::Structure(
                "il codice di raggruppamento (caratteri 4-5) deve essere alfanumerico maiuscolo",
            ));
        }
        if !(b'0'..=b'7').contains(&b[5]) {
            return Err(NreError::Structure(
                "il tipo lotto (carattere 6) deve essere una cifra da 0 a 7",
            ));
        }
        if !b[6..].iter().all(u8::is_ascii_digit) {
            return Err(NreError::Structure(
                "gli ultimi 9 caratteri (lotto e progressivo) devono essere cifre",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Builds an NRE from its parts (for the simulator): `region` 3 digits, `group` 2
    /// characters, `lot_type` 0–7, `number` the last 9 digits (taken modulo 10⁹).
    pub fn from_parts(
        region: &str,
        group: &str,
        lot_type: u8,
        number: u64,
    ) -> Result<Self, NreError> {
        Self::parse(&format!(
            "{region}{group}{lot_type}{:09}",
            number % 1_000_000_000
        ))
    }

    /// The 15 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region code (first 3 characters).
    pub fn region(&self) -> &str {
        &self.0[..3]
    }
}

impl fmt::Display for Nre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Nre {
    type Err = NreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The `codAutenticazione` the SAC returns on a successful InvioPrescritto: 30 digits,
/// never all zeros (the promemoria may be handed over only once it is received).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodAutenticazione(String);

impl CodAutenticazione {
    /// Checks a received code; `None` if it is not 30 digits or is all zeros.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        (text.len() == 30
            && text.bytes().all(|b| b.is_ascii_digit())
            && text.bytes().any(|b| b != b'0'))
        .then(|| Self(text.to_owned()))
    }

    /// Builds a code like the real SAC does (for the simulator): insertion time
    /// `ddMMyyyyHHmmss` followed by 16 digits of `serial` (modulo 10¹⁶, at least 1).
    pub fn generate(inserted: time::PrimitiveDateTime, serial: u64) -> Self {
        let serial = (serial % 10_000_000_000_000_000).max(1);
        Self(format!(
            "{:02}{:02}{:04}{:02}{:02}{:02}{serial:016}",
            inserted.day(),
            u8::from(inserted.month()),
            inserted.year().rem_euclid(10_000),
            inserted.hour(),
            inserted.minute(),
            inserted.second(),
        ))
    }

    /// The 30 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CodAutenticazione {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Formats a date and time as the DEM services expect (`yyyy-MM-dd HH:mm:ss`).
pub fn format_data_ora(at: time::PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// `statoProcesso` of a prescription (PROTOCOL §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatoProcesso {
    /// 1: lot requested.
    LottoRichiesto,
    /// 2: lot associated to the doctor.
    LottoAssociato,
    /// 3: to be dispensed (the only state that can be cancelled).
    DaErogare,
    /// 4: cancelled by the prescriber.
    Annullata,
    /// 5: being dispensed (taken in charge), or dispensed outside the SSN.
    InErogazione,
    /// 6: suspended.
    Sospesa,
    /// 7: one line dispensed.
    ErogataParzialmente,
    /// 8: dispensed.
    Erogata,
    /// 9: dispensing cancelled.
    ErogazioneAnnullata,
    /// 10: expired without dispensing.
    Scaduta,
}

impl StatoProcesso {
    /// From the numeric code sent by the SAC.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "1" => Self::LottoRichiesto,
            "2" => Self::LottoAssociato,
            "3" => Self::DaErogare,
            "4" => Self::Annullata,
            "5" => Self::InErogazione,
            "6" => Self::Sospesa,
            "7" => Self::ErogataParzialmente,
            "8" => Self::Erogata,
            "9" => Self::ErogazioneAnnullata,
            "10" => Self::Scaduta,
            _ => return None,
        })
    }

    /// The numeric code.
    pub fn code(self) -> &'static str {
        match self {
            Self::LottoRichiesto => "1",
            Self::LottoAssociato => "2",
            Self::DaErogare => "3",
            Self::Annullata => "4",
            Self::InErogazione => "5",
            Self::Sospesa => "6",
            Self::ErogataParzialmente => "7",
            Self::Erogata => "8",
            Self::ErogazioneAnnullata => "9",
            Self::Scaduta => "10",
        }
    }

    /// Italian description for the doctor.
    pub fn descrizione(self) -> &'static str {
        match self {
            Self::LottoRichiesto => "lotto richiesto",
            Self::LottoAssociato => "lotto associato al medico",
            Self::DaErogare => "da erogare",
            Self::Annullata => "annullata dal medico",
            Self::InErogazione => "in erogazione",
            Self::Sospesa => "sospesa",
            Self::ErogataParzialmente => "erogata parzialmente",
            Self::Erogata => "erogata",
            Self::ErogazioneAnnullata => "erogazione annullata",
            Self::Scaduta => "scaduta senza erogazione",
        }
    }

    /// Whether AnnullaPrescritto may cancel a prescription in this state.
    pub fn can_cancel(self) -> bool {
        self == Self::DaErogare
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nre_structure() {
        let nre = Nre::parse("1300A4019294836").unwrap();
        assert_eq!(nre.region(), "130");
        assert_eq!(Nre::parse("1300A401929483"), Err(NreError::Length));
        assert!(matches!(
            Nre::parse("A300A4019294836"),
            Err(NreError::Structure(_))
        ));
        assert!(matches!(
            Nre::parse("1300a4019294836"),
            Err(NreError::Structure(_))
        ));
        assert!(matches!(
            Nre::parse("1300A8019294836"),
            Err(NreError::Structure(_))
        ));
        assert!(matches!(
            Nre::parse("1300A401929483X"),
            Err(NreError::Structure(_))
        ));
        assert_eq!(
            Nre::from_parts("130", "0A", 4, 19294836).unwrap().as_str(),
            "1300A4019294836"
        );
        assert_eq!(Nre::parse("1300A40192948è6"), Err(NreError::Length));
    }

    #[test]
    fn cod_autenticazione() {
        assert!(CodAutenticazione::parse("300920261644168700000050622782").is_some());
        assert!(CodAutenticazione::parse("000000000000000000000000000000").is_none());
        assert!(CodAutenticazione::parse("30092026164416870000005062278").is_none());
        let at = time::macros::datetime!(2026-09-30 16:44:16);
        let code = CodAutenticazione::generate(at, 8_700_000_050_622_782);
        assert_eq!(code.as_str(), "300920261644168700000050622782");
        assert!(CodAutenticazione::parse(code.as_str()).is_some());
        assert_eq!(format_data_ora(at), "2026-09-30 16:44:16");
    }

    #[test]
    fn sensitive_is_masked() {
        let s = Sensitive::new("RSSMRA80A01H501U");
        assert!(!format!("{s:?}").contains("RSS"));
        let p = EncryptedValue::new("abc");
        assert_eq!(format!("{p:?}"), "EncryptedValue(3 caratteri)");
    }
}
