//! The panic hook: a panic is reported through the log (target `panic`) with the thread and
//! the place (file:line:column), and a payload that went through [`redact`] first.
//!
//! Why the payload at all: the place alone often does not say what went wrong (one
//! `unwrap` line can fail on different values, and "index out of bounds: the len is 3 but
//! the index is 7" is the diagnosis), and a demanding operator wants it. Why redacted: the
//! payload is the one part an author does not control — `called Result::unwrap() on an Err
//! value: …` prints an error's `Debug`, which may quote a request (a Basic header, a code,
//! a patient's fiscal code, a URL with a workstation token). Passwords, PINs and codes are
//! `secrecy` types that print `***`, so they reach a payload only through an explicit
//! `expose_secret()` formatted into a message; [`redact`] masks everything that has the
//! shape of a secret anyway, the value after words such as `password` or `pin`, and long
//! runs of digits, and cuts the payload to [`MAX_PAYLOAD_CHARS`]. Over-masking (an id that
//! looks like a token) costs a little diagnosis; under-masking would cost a secret.
//!
//! The process behaves as with the default hook: a panic in a tokio task ends that task
//! (tokio catches it), a panic of the main thread ends the process with a non-zero code.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::Location;

/// Longest payload reported (after redaction), in characters.
pub const MAX_PAYLOAD_CHARS: usize = 300;

/// What replaces a secret.
const MASK: &str = "***";

/// Installs the hook for the whole process. Call it first thing in `main`: a panic before
/// the log is set up is still reported (on stderr).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        report(
            thread.name().unwrap_or("<unnamed>"),
            info.location(),
            info.payload_as_str(),
            &Backtrace::capture(),
        );
    }));
}

/// Reports one panic. Through the log when a subscriber takes `ERROR` events of the target
/// `panic`; on stderr otherwise (no subscriber yet, or a filter that drops it), so that a
/// panic is never silent.
pub fn report(
    thread: &str,
    location: Option<&Location<'_>>,
    payload: Option<&str>,
    backtrace: &Backtrace,
) {
    report_with(thread, location, payload, backtrace, &mut std::io::stderr());
}

/// [`report`], with the writer used when no subscriber takes the event.
fn report_with(
    thread: &str,
    location: Option<&Location<'_>>,
    payload: Option<&str>,
    backtrace: &Backtrace,
    fallback: &mut dyn std::io::Write,
) {
    let location = location.map_or_else(
        || "luogo sconosciuto".to_owned(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    let payload = redact(payload.unwrap_or("(messaggio non testuale)"));
    // A backtrace (only with RUST_BACKTRACE=1) holds function names and places, no data.
    let backtrace = match backtrace.status() {
        BacktraceStatus::Captured => format!("\n{backtrace}"),
        _ => String::new(),
    };
    if tracing::enabled!(target: "panic", tracing::Level::ERROR) {
        tracing::error!(
            target: "panic",
            thread,
            location = %location,
            payload = %payload,
            "errore interno (panic){backtrace}"
        );
    } else {
        // Not `eprintln!`: it would panic inside the hook if stderr is closed.
        let _ = writeln!(
            fallback,
            "tsgate: errore interno (panic) nel thread '{thread}' a {location}: {payload}{backtrace}"
        );
    }
}

/// Masks whatever in `text` could be a secret, and cuts it to [`MAX_PAYLOAD_CHARS`]:
/// - the credential after `Basic` and `Bearer` (any case);
/// - the value after a word that names a secret (`password`, `pwd`, `pin`, `token`,
///   `secret`, `authorization`…) followed by `:` or `=`, quoted or not;
/// - every run of letters, digits and `+/=_-` that contains a 16-character Italian fiscal
///   code (omocodia letters included), or is at least 16 characters long with both letters
///   and digits (ID-SESSIONE codes, base64, hexadecimal, tokens), or has 6 digits in a row
///   (PINs).
pub fn redact(text: &str) -> String {
    let masked = mask_runs(&mask_keyed_values(text));
    let mut out: String = masked.chars().take(MAX_PAYLOAD_CHARS).collect();
    if masked.chars().count() > MAX_PAYLOAD_CHARS {
        out.push('…');
    }
    out
}

/// Words after which the next value is a credential whatever its shape.
fn is_secret_word(word: &str) -> bool {
    const WORDS: [&str; 8] = [
        "password",
        "passwd",
        "pwd",
        "pin",
        "secret",
        "token",
        "authorization",
        "cookie",
    ];
    const ENDINGS: [&str; 8] = [
        "password", "passwd", "_pwd", "_pin", "pincode", "pin_code", "token", "secret",
    ];
    let word = word.to_ascii_lowercase();
    let word = word.trim_end_matches(|c: char| c.is_ascii_digit());
    WORDS.contains(&word) || ENDINGS.iter().any(|e| word.ends_with(e))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the value that follows a word ends: `Basic x`, `Bearer x` (spaces between), and
/// `password: x`, `pin=x`, `"token": "x"`, `password = 'x y'` (a `:` or `=` between; a
/// quoted value ends at its closing quote). `None` when no value follows.
fn value_after(chars: &[char], word: &str, mut j: usize) -> Option<(usize, usize)> {
    let blank = |c: char| c == ' ' || c == '\t';
    if word.eq_ignore_ascii_case("basic") || word.eq_ignore_ascii_case("bearer") {
        let start = (j..chars.len()).find(|&k| !blank(chars[k]))?;
        if start == j {
            return None;
        }
        j = start;
    } else if is_secret_word(word) {
        // The closing quote of a key: `"password": …`.
        if j < chars.len() && matches!(chars[j], '"' | '\'') {
            j += 1;
        }
        let sep = (j..chars.len()).find(|&k| !blank(chars[k]))?;
        if !matches!(chars[sep], ':' | '=') {
            return None;
        }
        j = sep + 1;
        // `=>` of a Debug map, `:=`, then spaces.
        while j < chars.len() && (blank(chars[j]) || matches!(chars[j], '>' | '=' | ':')) {
            j += 1;
        }
        if j < chars.len() && matches!(chars[j], '"' | '\'') {
            let quote = chars[j];
            let start = j + 1;
            let end = (start..chars.len())
                .find(|&k| chars[k] == quote)
                .unwrap_or(chars.len());
            return (end > start).then_some((start, end));
        }
    } else {
        return None;
    }
    let token_end = |from: usize| {
        (from..chars.len())
            .find(|&k| {
                chars[k].is_whitespace()
                    || matches!(chars[k], '"' | '\'' | ',' | ';' | ')' | '}' | ']' | '>')
            })
            .unwrap_or(chars.len())
    };
    let mut end = token_end(j);
    // `authorization: Basic x`: the scheme and its credential are one value.
    let value: String = chars[j..end].iter().collect();
    if value.eq_ignore_ascii_case("basic") || value.eq_ignore_ascii_case("bearer") {
        let next = (end..chars.len())
            .find(|&k| !blank(chars[k]))
            .unwrap_or(chars.len());
        end = token_end(next);
    }
    (end > j).then_some((j, end))
}

/// Masks the value after `Basic`, `Bearer` and the words of [`is_secret_word`].
fn mask_keyed_values(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_word = is_word_char(chars[i]) && (i == 0 || !is_word_char(chars[i - 1]));
        if !starts_word {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = (i..chars.len())
            .find(|&j| !is_word_char(chars[j]))
            .unwrap_or(chars.len());
        let word: String = chars[i..end].iter().collect();
        out.push_str(&word);
        i = end;
        if let Some((start, value_end)) = value_after(&chars, &word, end) {
            out.extend(&chars[end..start]);
            out.push_str(MASK);
            i = value_end;
        }
    }
    out
}

/// Characters of a token: base64 (standard and URL-safe), hexadecimal, UUIDs.
fn is_run_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-')
}

/// Masks every run of token characters that looks like a secret (see [`redact`]).
fn mask_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if is_run_char(c) {
            run.push(c);
            continue;
        }
        flush_run(&mut out, &mut run);
        out.push(c);
    }
    flush_run(&mut out, &mut run);
    out
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.is_empty() {
        return;
    }
    if looks_secret(run) {
        out.push_str(MASK);
    } else {
        out.push_str(run);
    }
    run.clear();
}

fn looks_secret(run: &str) -> bool {
    let letters = run.chars().any(|c| c.is_ascii_alphabetic());
    let digits = run.chars().any(|c| c.is_ascii_digit());
    let long_token = run.chars().count() >= 16 && letters && digits;
    let digit_run = run
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|d| d.len() >= 6);
    long_token || digit_run || contains_fiscal_code(run)
}

/// Whether `run` contains an Italian fiscal code: 6 letters, 2 digits, a letter, 2 digits,
/// a letter, 3 digits, a check letter; any digit may be an omocodia letter (`LMNPQRSTUV`).
fn contains_fiscal_code(run: &str) -> bool {
    const SHAPE: &[u8; 16] = b"AAAAAA99A99A999A";
    let bytes = run.as_bytes();
    bytes.windows(16).any(|w| {
        w.iter().zip(SHAPE).all(|(c, kind)| {
            let c = c.to_ascii_uppercase();
            match kind {
                b'A' => c.is_ascii_uppercase(),
                _ => c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    const CODE: &str = "1f6a0702-2cfc-4903-8cfc-609a7e232920";
    const CF: &str = "RSSMRA80A01H501U";
    /// `Basic` of `PROVAX00X00X000Y:Salve123`.
    const BASIC: &str = "UFJPVkFYMDBYMDBYMDAwWTpTYWx2ZTEyMw==";

    #[test]
    fn shapes_of_secrets_are_masked() {
        for (input, secret) in [
            (format!("codice {CODE} rifiutato"), CODE),
            (format!("Authorization: Basic {BASIC}"), BASIC),
            (
                "authorization: basic cHJvdmE6cHdk".to_owned(),
                "cHJvdmE6cHdk",
            ),
            (format!("Authorization2F: Bearer {CODE}"), CODE),
            ("Bearer abc.def".to_owned(), "abc.def"),
            (format!("paziente {CF}, ricetta"), CF),
            ("omocodia RSSMRA80A01H5LMU".to_owned(), "RSSMRA80A01H5LMU"),
            (format!("cf=\"{}\"", CF.to_lowercase()), &CF.to_lowercase()),
            (
                "GET /ts/x7Hq2mPz9KvR3tWc8LnB5yDf/Dem".to_owned(),
                "x7Hq2mPz9KvR3tWc8LnB5yDf",
            ),
            ("pin 1234567890".to_owned(), "1234567890"),
            ("password: Sbagliata.2026 e poi".to_owned(), "Sbagliata"),
            ("Settings { password: \"segreta!\" }".to_owned(), "segreta"),
            ("{\"password\": \"s3 gr\"}".to_owned(), "s3"),
            ("pwd=abc;".to_owned(), "abc"),
            ("pin_code = '4321'".to_owned(), "4321"),
            ("imap_password: x".to_owned(), " x"),
        ] {
            let out = redact(&input);
            assert!(!out.contains(secret), "{input:?} → {out:?}");
            assert!(out.contains(MASK), "{input:?} → {out:?}");
        }
    }

    #[test]
    fn ordinary_messages_are_kept() {
        for text in [
            "called `Option::unwrap()` on a `None` value",
            "index out of bounds: the len is 3 but the index is 7",
            "attempt to subtract with overflow",
            "proxy_upstream_timeout_seconds must be positive",
            "cannot open crates/tsgate/src/main.rs",
            "the pin of the doctor is missing",
            "errore 9101 dal servizio DEM",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn long_payloads_are_cut() {
        let out = redact(&"parola ".repeat(100));
        assert_eq!(out.chars().count(), MAX_PAYLOAD_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    /// A writer into a shared buffer, for a test subscriber.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn subscriber(buffer: &Buffer) -> impl tracing::Subscriber + Send + Sync {
        let buffer = buffer.clone();
        tracing_subscriber::fmt()
            .with_writer(move || buffer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish()
    }

    fn planted() -> String {
        format!(
            "called `Result::unwrap()` on an `Err` value: Upstream {{ header: \"Authorization: \
             Basic {BASIC}\", code: \"{CODE}\", patient: \"{CF}\" }}"
        )
    }

    fn assert_clean(log: &str) {
        for secret in [BASIC, CODE, CF] {
            assert!(!log.contains(secret), "{secret} in the log: {log}");
        }
    }

    #[test]
    fn report_logs_place_and_thread_but_no_secret() {
        let buffer = Buffer::default();
        let location = Location::caller();
        let payload = planted();
        tracing::subscriber::with_default(subscriber(&buffer), || {
            report(
                "tokio-runtime-worker",
                Some(location),
                Some(&payload),
                &Backtrace::disabled(),
            );
        });
        let log = buffer.text();
        assert!(log.contains("ERROR"), "{log}");
        assert!(log.contains("panic"), "{log}");
        assert!(
            log.contains(&format!("{}:{}", location.file(), location.line())),
            "{log}"
        );
        assert!(log.contains("tokio-runtime-worker"), "{log}");
        // What is not secret stays, so that the operator reads what went wrong.
        assert!(log.contains("Result::unwrap()"), "{log}");
        assert_clean(&log);
    }

    #[test]
    fn the_installed_hook_reports_a_real_panic() {
        let buffer = Buffer::default();
        let previous = std::panic::take_hook();
        install();
        let (lines, outcome) = {
            let buffer = buffer.clone();
            std::thread::Builder::new()
                .name("pannello".into())
                .spawn(move || {
                    tracing::subscriber::with_default(subscriber(&buffer), || {
                        let before = line!();
                        let outcome = std::panic::catch_unwind(|| panic!("{}", planted()));
                        (before..line!(), outcome.is_err())
                    })
                })
                .unwrap()
                .join()
                .unwrap()
        };
        std::panic::set_hook(previous);
        assert!(outcome, "the panic still unwinds");
        let log = buffer.text();
        let place = format!("{}:", file!());
        let line: u32 = log
            .split_once(&place)
            .and_then(|(_, rest)| rest.split(':').next())
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("no {place} in {log}"));
        assert!(lines.contains(&line), "{line} not in {lines:?}: {log}");
        assert!(log.contains("pannello"), "{log}");
        assert!(
            log.contains("Result::unwrap()"),
            "the message is kept: {log}"
        );
        assert_clean(&log);
    }

    #[test]
    fn without_a_subscriber_the_report_goes_to_stderr() {
        // No subscriber on this thread: the report takes the stderr path.
        assert!(!tracing::enabled!(target: "panic", tracing::Level::ERROR));
        let mut stderr = Vec::new();
        let location = Location::caller();
        let payload = planted();
        report_with(
            "main",
            Some(location),
            Some(&payload),
            &Backtrace::disabled(),
            &mut stderr,
        );
        let text = String::from_utf8(stderr).unwrap();
        assert!(text.starts_with("tsgate: errore interno (panic) nel thread 'main' a "));
        assert!(
            text.contains(&format!("{}:{}", location.file(), location.line())),
            "{text}"
        );
        assert_clean(&text);
    }
}
