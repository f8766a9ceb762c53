//! Finding ID-SESSIONE candidates in free text (mail bodies, HTML turned into text, OCR
//! output).
//!
//! The character rules are those applied to a pasted code (see the parent module):
//! typographic dashes become `-`, zero-width characters and soft hyphens vanish, `O`/`o`
//! read as `0` and `I`/`l`/`|` as `1` where a hexadecimal digit must stand, 32 hexadecimal
//! digits get their dashes back.
//! Anything found is only a candidate: the caller verifies it with `checkToken`.

use super::{dashed, fold, hex_lookalike, is_uuid_shape, is_zero_width};
use crate::secret::SessionCode;

/// How a candidate looked in the text: used to rank candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Shape {
    /// A canonical UUID (the form Sistema TS issues).
    Uuid,
    /// A UUID once line breaks and spaces inside it are removed.
    SplitUuid,
    /// 32 hexadecimal digits without dashes.
    Hex32,
    /// Some other 36-character run of letters, digits and dashes.
    Other,
}

/// At most this many candidates per text: each costs a `checkToken`.
pub(crate) const MAX_PER_TEXT: usize = 4;

/// Whether `w` (36 chars, already mapped with `hex_lookalike`) is 8-4-4-4-12 hexadecimal.
fn uuid_at(w: &[char]) -> bool {
    w.len() == 36 && w[8] == '-' && is_uuid_shape(&w.iter().collect::<String>())
}

/// UUID-shaped windows of `chars` (look-alikes mapped), left to right, not overlapping.
fn uuids(chars: &[char]) -> Vec<String> {
    let mapped: Vec<char> = chars.iter().map(|&c| hex_lookalike(c)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 36 <= mapped.len() {
        if uuid_at(&mapped[i..i + 36]) {
            out.push(mapped[i..i + 36].iter().collect());
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

fn is_code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// Candidates in `text`, best first, without duplicates.
pub(crate) fn find(text: &str) -> Vec<(SessionCode, Shape)> {
    let chars: Vec<char> = text
        .chars()
        .filter(|&c| !is_zero_width(c))
        .map(fold)
        .collect();
    let mut found: Vec<(String, Shape)> = Vec::new();
    let push = |code: String, shape: Shape, found: &mut Vec<(String, Shape)>| {
        if !found.iter().any(|(c, _)| *c == code) {
            found.push((code, shape));
        }
    };
    for code in uuids(&chars) {
        push(code, Shape::Uuid, &mut found);
    }
    // A code broken over two lines (hard-wrapped text, `<br>` in HTML, OCR line split).
    let joined: Vec<char> = chars
        .iter()
        .copied()
        .filter(|c| !c.is_whitespace())
        .collect();
    for code in uuids(&joined) {
        push(code, Shape::SplitUuid, &mut found);
    }
    // Runs of letters, digits and dashes bounded by anything else.
    let mut runs: Vec<&[char]> = Vec::new();
    let mut start = None;
    for (i, &c) in chars.iter().enumerate() {
        match (is_code_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(&chars[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(&chars[s..]);
    }
    for run in &runs {
        if run.len() == 32
            && let Some(dashed) = dashed(&run.iter().collect::<String>())
        {
            push(dashed, Shape::Hex32, &mut found);
        }
    }
    // The protocol only promises 36 characters: accept other shapes, but only when nothing
    // better was found, so that a tracking token does not cost a verification.
    if found.is_empty() {
        for run in &runs {
            let has_digit = run.iter().any(|c| c.is_ascii_digit());
            let has_letter = run.iter().any(|c| c.is_ascii_alphabetic());
            if run.len() == 36 && has_digit && has_letter {
                push(run.iter().collect(), Shape::Other, &mut found);
            }
        }
    }
    found.sort_by_key(|(_, shape)| *shape);
    found.truncate(MAX_PER_TEXT);
    found
        .into_iter()
        .map(|(code, shape)| (SessionCode::new(code), shape))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";

    fn codes(text: &str) -> Vec<String> {
        find(text)
            .into_iter()
            .map(|(c, _)| c.expose_secret().to_owned())
            .collect()
    }

    #[test]
    fn plain_variants() {
        for text in [
            "ID-SESSIONE: 1f6a0702-2cfc-4903-8cfc-609a7e232920\nValidità: …",
            "Codice1f6a0702-2cfc-4903-8cfc-609a7e232920Validità",
            "ID-SESSIONE: 1F6A0702-2CFC-4903-8CFC-609A7E232920",
            "ID-SESSIONE: 1f6a0702–2cfc—4903‐8cfc−609a7e232920",
            "1f6a07O2-2cfc-49o3-8cfc-6O9a7e23292O",
            "lf6a0702-2cfc-49O3-8cfc-609a7e232920",
            "1f6a0702-2cfc-\u{200B}4903-8cfc-\u{00AD}609a7e232920",
            "codice:\n1f6a0702-2cfc-4903-\n8cfc-609a7e232920\n",
            "1f6a0702-2cfc-4903-8cfc-609a7e23\r\n2920",
            "1f6a07022cfc49038cfc609a7e232920",
            "１f6a0702-2cfc-4903-8cfc-609a7e232920",
            "1f6a0702 -2cfc- 4903-8cfc-609a 7e232920",
        ] {
            assert_eq!(
                codes(text).first().map(String::as_str),
                Some(CODE),
                "{text:?}"
            );
        }
    }

    #[test]
    fn nothing_in_ordinary_text() {
        assert!(codes("Gentile utente, il servizio è disponibile dalle 8 alle 20.").is_empty());
        assert!(codes("").is_empty());
        assert!(codes("Message-ID 1234-5678").is_empty());
    }

    #[test]
    fn two_codes_keep_their_order() {
        let other = "0b9d5a3e-7c1f-4e2a-9d8b-3f6c5e4d2a10";
        let text = format!("nuovo: {CODE}\nprecedente: {other}");
        assert_eq!(codes(&text), vec![CODE.to_owned(), other.to_owned()]);
    }

    #[test]
    fn other_36_char_codes_only_when_no_uuid() {
        let odd = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        assert_eq!(codes(&format!("codice {odd} fine")), vec![odd.to_owned()]);
        assert_eq!(
            codes(&format!("codice {odd} e {CODE}")),
            vec![CODE.to_owned()]
        );
        // 36 letters without digits are a word, not a code.
        assert!(codes("precipitevolissimevolmenteeeeeeeeeee").is_empty());
    }

    #[test]
    fn at_most_four_candidates() {
        let many: String = (0..10)
            .map(|i| format!("{i}f6a0702-2cfc-4903-8cfc-609a7e232920\n"))
            .collect();
        assert_eq!(codes(&many).len(), MAX_PER_TEXT);
    }
}
