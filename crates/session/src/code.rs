//! Normalisation of a typed or pasted ID-SESSIONE.
//!
//! Doctors copy the code from a mail (sometimes an image read by eye), a PDF or a chat, so
//! what arrives carries spaces, line breaks, quotes, angle brackets, a leading `Bearer`,
//! typographic dashes, zero-width characters and capitals. Sistema TS issues lowercase
//! UUIDs; anything that becomes a UUID after cleaning is accepted. The input is never echoed
//! in errors: even a malformed paste may be most of a real code.

use sistemats::secret::SessionCode;

/// Why a pasted text is not an ID-SESSIONE. Messages are Italian and never quote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
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
}

fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
        )
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

/// Maps typographic dashes and full-width forms to ASCII.
fn fold(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
        // Full-width ASCII (U+FF01..U+FF5E), as typed with some input methods.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// Lowercase, with the letters a human confuses with digits mapped where a hex digit must be.
fn hex_lookalike(c: char) -> char {
    match c.to_ascii_lowercase() {
        'o' => '0',
        'i' | 'l' | '|' => '1',
        other => other,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn is_uuid_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

/// Cleans a typed or pasted code and returns it in the canonical form Sistema TS issued.
///
/// Accepted: a 36-character UUID in any case, surrounded or interrupted by whitespace and
/// zero-width characters, inside quotes or angle brackets, after `Bearer` or
/// `Authorization2F: Bearer`, with typographic dashes, `O`/`o` for `0` and `I`/`l` for `1`;
/// 32 hexadecimal digits without dashes (dashes are re-inserted). A 36-character value that
/// is not a UUID is kept exactly as given (the protocol only promises 36 characters).
pub fn normalize_code(input: &str) -> Result<SessionCode, FormatError> {
    let cleaned: String = input
        .chars()
        .filter(|&c| !is_invisible(c) && !is_wrapper(c))
        .map(fold)
        .collect();
    let mut rest = cleaned.as_str();
    if let Some(r) = strip_prefix_ignore_case(rest, "authorization2f:") {
        rest = r;
    }
    if let Some(r) = strip_prefix_ignore_case(rest, "bearer") {
        // "Bearer" is not hex, so stripping it can never eat part of a UUID; still, strip it
        // only if what follows is long enough to be a code.
        if r.chars().count() >= 32 {
            rest = r;
        }
    }
    if rest.is_empty() {
        return Err(FormatError::Empty);
    }
    let mapped: String = rest.chars().map(hex_lookalike).collect();
    if is_uuid_shape(&mapped) {
        return Ok(SessionCode::new(mapped));
    }
    if mapped.len() == 32 && mapped.bytes().all(|c| c.is_ascii_hexdigit()) {
        let with_dashes = format!(
            "{}-{}-{}-{}-{}",
            &mapped[0..8],
            &mapped[8..12],
            &mapped[12..16],
            &mapped[16..20],
            &mapped[20..32]
        );
        return Ok(SessionCode::new(with_dashes));
    }
    let len = rest.chars().count();
    if len == 36 {
        if rest.chars().all(|c| c.is_ascii_graphic()) {
            return Ok(SessionCode::new(rest));
        }
        return Err(FormatError::InvalidCharacters);
    }
    Err(FormatError::WrongLength { len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";

    fn ok(input: &str) -> String {
        normalize_code(input)
            .unwrap_or_else(|e| panic!("{input:?} refused: {e}"))
            .expose_secret()
            .to_owned()
    }

    #[test]
    fn accepts_the_usual_mess() {
        for input in [
            CODE,
            " 1f6a0702-2cfc-4903-8cfc-609a7e232920 \n",
            "1F6A0702-2CFC-4903-8CFC-609A7E232920",
            "\"1f6a0702-2cfc-4903-8cfc-609a7e232920\"",
            "“1f6a0702-2cfc-4903-8cfc-609a7e232920”",
            "‘1f6a0702-2cfc-4903-8cfc-609a7e232920’",
            "'1f6a0702-2cfc-4903-8cfc-609a7e232920'",
            "`1f6a0702-2cfc-4903-8cfc-609a7e232920`",
            "«1f6a0702-2cfc-4903-8cfc-609a7e232920»",
            "<1f6a0702-2cfc-4903-8cfc-609a7e232920>",
            "Bearer 1f6a0702-2cfc-4903-8cfc-609a7e232920",
            "bearer\t1f6a0702-2cfc-4903-8cfc-609a7e232920",
            "Authorization2F: Bearer 1f6a0702-2cfc-4903-8cfc-609a7e232920",
            "1f6a0702–2cfc—4903‐8cfc−609a7e232920",
            "1f6a0702-2cfc-49O3-8cfc-6O9a7e23292O",
            "1f6a07O2-2cfc-4903-8cfc-609a7e232920",
            "\u{200B}1f6a0702-2cfc-\u{FEFF}4903-8cfc-609a7e232920\u{200D}",
            "1f6a0702-2cfc-4903-\n8cfc-609a7e232920",
            "1f6a 0702-2cfc-4903-8cfc-609a 7e23 2920",
            "1f6a07022cfc49038cfc609a7e232920",
            "1F6A07022CFC49038CFC609A7E232920",
            "１f6a0702-2cfc-4903-8cfc-609a7e232920",
            "\u{00A0}1f6a0702-2cfc-4903-8cfc-609a7e232920\u{00A0}",
        ] {
            assert_eq!(ok(input), CODE, "{input:?}");
        }
    }

    #[test]
    fn lookalikes_for_one() {
        assert_eq!(
            ok("lf6a0702-2cfc-4903-8cfc-609a7e232920"),
            "1f6a0702-2cfc-4903-8cfc-609a7e232920"
        );
        assert_eq!(
            ok("If6a0702-2cfc-4903-8cfc-609a7e232920"),
            "1f6a0702-2cfc-4903-8cfc-609a7e232920"
        );
    }

    #[test]
    fn non_uuid_36_chars_kept_as_given() {
        let odd = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        assert_eq!(ok(odd), odd);
    }

    #[test]
    fn refuses_with_reasons_and_without_echo() {
        assert_eq!(normalize_code("  \n\t"), Err(FormatError::Empty));
        assert_eq!(normalize_code("\"\""), Err(FormatError::Empty));
        assert_eq!(
            normalize_code("1f6a0702-2cfc-4903-8cfc-609a7e23292"),
            Err(FormatError::WrongLength { len: 35 })
        );
        assert_eq!(
            normalize_code("PROVAX00X00X000Y-2026-11-RICETTA-DEM-PRESCRITTORE"),
            Err(FormatError::WrongLength { len: 49 })
        );
        assert_eq!(
            normalize_code("1f6a0702-2cfc-4903-8cfc-609a7e2329€€"),
            Err(FormatError::InvalidCharacters)
        );
        let e = normalize_code("77777777-2cfc-4903-8cfc-88888888888").unwrap_err();
        assert!(!e.to_string().contains("8888"));
    }

    proptest! {
        #[test]
        fn any_uuid_survives_decoration(
            bytes in any::<[u8; 16]>(),
            upper in any::<bool>(),
            quote in prop::sample::select(vec!["", "\"", "'", "`", "“", "«", "<"]),
            pad in prop::sample::select(vec!["", " ", "\n", "\t", " \r\n", "\u{200B}"]),
            bearer in any::<bool>(),
        ) {
            let uuid = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
            let mut s = if upper { uuid.to_uppercase() } else { uuid.clone() };
            s = format!("{pad}{quote}{s}{quote}{pad}");
            if bearer { s = format!("Bearer {s}"); }
            prop_assert_eq!(ok(&s), uuid);
        }

        #[test]
        fn output_is_always_36_chars(input in ".{0,80}") {
            if let Ok(code) = normalize_code(&input) {
                prop_assert_eq!(code.expose_secret().chars().count(), 36);
            }
        }
    }
}
