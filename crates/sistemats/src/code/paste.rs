//! A whole mail pasted where a code was expected.
//!
//! Doctors copy "the mail" rather than the code: as their client shows it (headers, the
//! text, a forwarded message quoting an older one), as HTML, or as its source with
//! quoted-printable soft line breaks (`=\n`, `=3D`) or a base64 body. Each of those views is
//! decoded and scanned with the same rules as the mailbox watcher; what comes out are
//! candidates, in the order they appear (a forward puts the newest code first), still to be
//! verified with `checkToken`.

use base64::Engine as _;

use super::scan;
use crate::secret::SessionCode;

/// Candidates in a pasted text, best first, without duplicates, at most four.
pub fn find_in_paste(text: &str) -> Vec<SessionCode> {
    let mut views = vec![text.to_owned()];
    if looks_quoted_printable(text) {
        views.push(decode_qp(text));
    }
    for block in base64_blocks(text) {
        let decoded = String::from_utf8_lossy(&block).into_owned();
        if looks_quoted_printable(&decoded) {
            views.push(decode_qp(&decoded));
        }
        views.push(decoded);
    }
    let mut found: Vec<SessionCode> = Vec::new();
    for view in &views {
        for (code, _) in scan::find(view) {
            if !found
                .iter()
                .any(|c| c.expose_secret() == code.expose_secret())
            {
                found.push(code);
            }
        }
    }
    found.truncate(scan::MAX_PER_TEXT);
    found
}

/// Soft line breaks or encoded `=`/`-` are the marks of a quoted-printable source.
fn looks_quoted_printable(text: &str) -> bool {
    text.contains("=\n") || text.contains("=\r\n") || text.contains("=3D") || text.contains("=2D")
}

fn decode_qp(text: &str) -> String {
    match quoted_printable::decode(text, quoted_printable::ParseMode::Robust) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => text.to_owned(),
    }
}

/// The bodies of base64 parts: runs of at least two lines made only of base64 characters,
/// as a mail source shows them under `Content-Transfer-Encoding: base64`.
fn base64_blocks(text: &str) -> Vec<Vec<u8>> {
    let b64_chars = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut lines = 0;
    let mut flush = |current: &mut String, lines: &mut usize| {
        if *lines >= 2
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(current.as_bytes())
        {
            blocks.push(bytes);
        }
        current.clear();
        *lines = 0;
    };
    for line in text.lines().map(str::trim) {
        // A block starts with a full line; a shorter one is its last.
        if b64_chars(line) && (line.len() >= 16 || lines > 0) {
            current.push_str(line);
            lines += 1;
            if line.len() < 16 {
                flush(&mut current, &mut lines);
            }
        } else {
            flush(&mut current, &mut lines);
        }
    }
    flush(&mut current, &mut lines);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
    const OLD: &str = "0b9d5a3e-7c1f-4e2a-9d8b-3f6c5e4d2a10";

    fn codes(text: &str) -> Vec<String> {
        find_in_paste(text)
            .into_iter()
            .map(|c| c.expose_secret().to_owned())
            .collect()
    }

    #[test]
    fn mail_as_a_client_shows_it() {
        let text = format!(
            "Da: noreply@sistemats.it\nA: rossi@pec.it\nData: lunedì 7 dicembre 2026 08:01\n\
             Oggetto: ID-SESSIONE\n\nGentile utente,\nil codice ID-SESSIONE richiesto è:\n\
             {CODE}\nValido fino al 08/12/2026 00:01.\n\nCordiali saluti"
        );
        assert_eq!(codes(&text), vec![CODE]);
    }

    #[test]
    fn forwarded_mail_keeps_the_newest_first() {
        let text = format!(
            "Ecco il codice: {CODE}\n\n---------- Messaggio inoltrato ----------\n\
             Da: noreply@sistemats.it\nOggetto: ID-SESSIONE\n> il codice è {OLD}\n"
        );
        assert_eq!(codes(&text), vec![CODE, OLD]);
    }

    #[test]
    fn quoted_printable_source_with_a_soft_break_inside_the_code() {
        let text = "Content-Type: text/html; charset=\"utf-8\"\r\n\
                    Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                    <p style=3D\"font-family:Arial\">Il codice =C3=A8: <b>1f6a0702-2cfc-49=\r\n\
                    03-8cfc-609a7e232920</b></p>\r\n";
        assert_eq!(codes(text), vec![CODE]);
    }

    #[test]
    fn base64_part_of_a_source() {
        let body = format!("Gentile utente,\r\nil codice ID-SESSIONE è: {CODE}\r\nSaluti\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let text = format!(
            "Subject: ID-SESSIONE\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            wrapped.join("\r\n")
        );
        assert_eq!(codes(&text), vec![CODE]);
    }

    #[test]
    fn html_copy() {
        let text = format!(
            "<html><body><table><tr><td>ID-SESSIONE</td><td><span>{}</span></td></tr></table></body></html>",
            CODE.to_uppercase()
        );
        assert_eq!(codes(&text), vec![CODE]);
    }

    #[test]
    fn nothing_to_find() {
        assert!(codes("Gentile utente, la sua richiesta è stata ricevuta.").is_empty());
        assert!(codes("").is_empty());
    }
}
