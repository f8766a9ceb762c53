//! The one set of rules that turns text into an ID-SESSIONE.
//!
//! Codes reach tsgate typed or pasted by a doctor (from a mail, a PDF, a chat) and read by
//! the mailbox watcher from mail bodies, HTML and OCR output. Both paths share these rules:
//! zero-width characters and soft hyphens vanish, typographic dashes and full-width forms
//! become ASCII, `O`/`o` read as `0` and `I`/`l`/`|` as `1` where a hexadecimal digit must
//! stand, and 32 hexadecimal digits get their dashes back. Sistema TS issues lowercase
//! UUIDs. The input is never echoed in errors: even a malformed paste may be most of a code.
//!
//! [`SessionCode::normalize`] reads one code; [`find_codes`] finds candidates in free text;
//! [`find_in_paste`] does the same for a whole mail pasted where a code was expected (its
//! source too: quoted-printable, base64).

use crate::secret::SessionCode;

mod paste;
mod scan;

pub use paste::find_in_paste;

/// Candidates in free text (a mail body, HTML turned into text, OCR output), normalized like
/// a pasted code, best first, at most four. Each is still to be verified with `checkToken`.
pub fn find_codes(text: &str) -> Vec<SessionCode> {
    scan::find(text).into_iter().map(|(code, _)| code).collect()
}

/// Why a text is not an ID-SESSIONE. Messages are Italian and never quote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeFormatError {
    /// Nothing left after removing spaces and quotes.
    #[error("Nessun codice inserito: incolla il codice di 36 caratteri ricevuto per e-mail.")]
    Empty,
    /// Not 36 characters (or 32 hexadecimal digits).
    #[error(
        "Il codice deve avere 36 caratteri (es. 1f6a0702-2cfc-4903-8cfc-609a7e232920), ne sono stati inseriti {len}: ricopialo dalla mail."
    )]
    WrongLength {
        /// Characters left after cleaning.
        len: usize,
    },
    /// 36 characters, but with characters a code cannot contain.
    #[error(
        "Il codice contiene caratteri non validi: sono ammessi solo cifre, lettere da a a f e trattini. Ricopialo dalla mail."
    )]
    InvalidCharacters,
    /// A longer text (a pasted mail) in which no code was found.
    #[error(
        "Nel testo incollato non c'è un codice ID-SESSIONE: incolla il codice di 36 caratteri (es. 1f6a0702-2cfc-4903-8cfc-609a7e232920) o la mail intera che lo contiene."
    )]
    NotInText,
}

/// Characters that are invisible in a mail or a paste and never part of a code.
pub fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Maps typographic dashes and full-width forms to ASCII, and no-break spaces to a space.
pub fn fold(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        // Full-width ASCII (U+FF01..U+FF5E), as typed with some input methods.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        '\u{00A0}' | '\u{202F}' | '\u{2007}' => ' ',
        _ => c,
    }
}

/// Lowercase, with the characters a human or an OCR confuses with digits read as the
/// hexadecimal digit they resemble.
pub fn hex_lookalike(c: char) -> char {
    match c.to_ascii_lowercase() {
        'o' => '0',
        'i' | 'l' | '|' => '1',
        other => other,
    }
}

/// Whether `s` is a canonical (lowercase, dashed 8-4-4-4-12) UUID.
pub fn is_uuid_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// 32 hexadecimal digits as a lowercase dashed UUID; `None` for anything else.
pub fn dashed(hex: &str) -> Option<String> {
    if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn is_invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_zero_width(c)
}

fn is_wrapper(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '`'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201A}'
            | '\u{201B}'
            | '\u{201C}'
            | '\u{201D}'
            | '\u{201E}'
            | '\u{00AB}'
            | '\u{00BB}'
            | '\u{2039}'
            | '\u{203A}'
            | '<'
            | '>'
            | '\u{2329}'
            | '\u{232A}'
            | '\u{27E8}'
            | '\u{27E9}'
    )
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl SessionCode {
    /// Cleans a typed, pasted or mailed code into the canonical form Sistema TS issued.
    ///
    /// Accepted: a 36-character UUID in any case, surrounded or interrupted by whitespace
    /// and zero-width characters, inside quotes or angle brackets, after `Bearer` or
    /// `Authorization2F: Bearer`, with typographic dashes, `O`/`o` for `0` and `I`/`l` for
    /// `1`; 32 hexadecimal digits without dashes (dashes are re-inserted). A 36-character
    /// value that is not a UUID is kept exactly as given (the protocol only promises 36
    /// characters).
    pub fn normalize(input: &str) -> Result<SessionCode, CodeFormatError> {
        let cleaned: String = input
            .chars()
            .map(fold)
            .filter(|&c| !is_invisible(c) && !is_wrapper(c))
            .collect();
        let mut rest = cleaned.as_str();
        if let Some(r) = strip_prefix_ignore_case(rest, "authorization2f:") {
            rest = r;
        }
        if let Some(r) = strip_prefix_ignore_case(rest, "bearer") {
            // "Bearer" is not hex, so stripping it can never eat part of a UUID; still,
            // strip it only if what follows is long enough to be a code.
            if r.chars().count() >= 32 {
                rest = r;
            }
        }
        if rest.is_empty() {
            return Err(CodeFormatError::Empty);
        }
        let mapped: String = rest.chars().map(hex_lookalike).collect();
        if is_uuid_shape(&mapped) {
            return Ok(SessionCode::new(mapped));
        }
        if let Some(with_dashes) = dashed(&mapped) {
            return Ok(SessionCode::new(with_dashes));
        }
        let len = rest.chars().count();
        if len == 36 {
            if rest.chars().all(|c| c.is_ascii_graphic()) {
                return Ok(SessionCode::new(rest));
            }
            return Err(CodeFormatError::InvalidCharacters);
        }
        Err(CodeFormatError::WrongLength { len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";

    #[test]
    fn shared_rules() {
        for input in [
            CODE,
            " «1F6A0702–2CFC—4903‐8CFC−609A7E232920» ",
            "Bearer 1f6a07O2-2cfc-49o3-8cfc-6O9a7e23292O",
            "\u{200B}１f6a0702-2cfc-4903-\n8cfc-609a7e232920\u{00A0}",
            "1f6a07022cfc49038cfc609a7e232920",
        ] {
            let code = SessionCode::normalize(input).unwrap();
            assert_eq!(code.expose_secret(), CODE, "{input:?}");
        }
        assert_eq!(SessionCode::normalize(" \" "), Err(CodeFormatError::Empty));
        let e = SessionCode::normalize("77777777-2cfc-4903-8cfc-88888888888").unwrap_err();
        assert_eq!(e, CodeFormatError::WrongLength { len: 35 });
        assert!(!e.to_string().contains("8888"));
        assert_eq!(
            dashed("ABCDEF0123456789abcdef0123456789").as_deref(),
            Some("abcdef01-2345-6789-abcd-ef0123456789")
        );
        assert_eq!(dashed("xyz"), None);
        assert!(is_uuid_shape(CODE) && !is_uuid_shape(&CODE.to_uppercase()));
    }
}
