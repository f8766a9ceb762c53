//! NRBE and PIN NRBE, the two numbers an accepted RBE prescription gets.

use std::fmt;

/// Why a text is not an NRBE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NrbeError {
    /// Not 12 characters.
    #[error("l'NRBE deve avere 12 caratteri")]
    Length,
    /// A character other than a digit or an upper-case letter.
    #[error("l'NRBE può contenere solo cifre e lettere maiuscole")]
    Characters,
}

/// The number of a ricetta bianca elettronica: 12 characters (LIKELY, PROTOCOL §5.10).
///
/// Its inner structure is not public (UNKNOWN): only the length and the character set
/// are checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nrbe(String);

impl Nrbe {
    /// Length of an NRBE.
    pub const LEN: usize = 12;

    /// Parses an NRBE (surrounding spaces are ignored).
    pub fn parse(text: &str) -> Result<Self, NrbeError> {
        let text = text.trim();
        if text.chars().count() != Self::LEN {
            return Err(NrbeError::Length);
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            return Err(NrbeError::Characters);
        }
        Ok(Self(text.to_owned()))
    }

    /// The 12 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nrbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The PIN of an NRBE: 5 characters the patient gives the pharmacy with the NRBE (LIKELY,
/// PROTOCOL §5.10). Together with the NRBE it lets a pharmacy dispense the prescription,
/// so it is treated as a secret: `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct PinNrbe(String);

impl PinNrbe {
    /// Length of a PIN NRBE.
    pub const LEN: usize = 5;

    /// Wraps a value as received or to be sent (checked by request validation, not here).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PinNrbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinNrbe(***)")
    }
}
