//! Normalisation of a typed or pasted ID-SESSIONE.
//!
//! Doctors copy the code from a mail (sometimes an image read by eye), a PDF or a chat, so
//! what arrives carries spaces, line breaks, quotes, angle brackets, a leading `Bearer`,
//! typographic dashes, zero-width characters and capitals. Sistema TS issues lowercase
//! UUIDs; anything that becomes a UUID after cleaning is accepted. The input is never echoed
//! in errors: even a malformed paste may be most of a real code.

use sistemats::secret::SessionCode;

/// Why a pasted text is not an ID-SESSIONE. Messages are Italian and never quote the input.
/// The rules live in [`sistemats::code`], shared with the mailbox watcher.
pub use sistemats::code::CodeFormatError as FormatError;

/// Cleans a typed or pasted code and returns it in the canonical form Sistema TS issued.
///
/// A thin wrapper over [`SessionCode::normalize`] (see [`sistemats::code`] for the rules):
/// a UUID in any case, with spaces, line breaks, quotes, angle brackets, `Bearer`,
/// typographic dashes and look-alike letters; 32 hexadecimal digits get their dashes back;
/// another 36-character value is kept as given.
pub fn normalize_code(input: &str) -> Result<SessionCode, FormatError> {
    SessionCode::normalize(input)
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
