//! OCR of codes drawn as pictures, with the Debian `tesseract` program run as a subprocess.
//!
//! The picture goes to tesseract's standard input and the text comes back on its standard
//! output, so nothing touches the disk. The picture is read several times, prepared in
//! different ways (`picture`), until two readings agree.

use std::process::Stdio;
use std::time::Duration;

use sistemats::secret::SessionCode;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::extract::{Analysis, Via, find_codes};
use crate::status::text;

/// Why OCR could not run. Messages are Italian and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    /// The program is not installed.
    #[error(
        "Il codice è in un'immagine ma il programma di lettura (tesseract) non è installato \
         sul server: installa il pacchetto Debian «tesseract-ocr», oppure copia il codice a mano dalla mail."
    )]
    Missing,
    /// It ran longer than allowed.
    #[error(
        "La lettura dell'immagine con il codice ha richiesto troppo tempo: copia il codice a mano dalla mail."
    )]
    Timeout,
    /// It failed.
    #[error(
        "La lettura dell'immagine con il codice non è riuscita ({0}): copia il codice a mano dalla mail."
    )]
    Failed(String),
}

/// Runs tesseract.
#[derive(Debug, Clone)]
pub struct Ocr {
    program: String,
    timeout: Duration,
}

mod picture;

/// Readings that must agree on a code before the others are skipped.
const AGREEMENT: usize = 2;
/// At most this many codes are returned for one picture (each costs a `checkToken`).
const MAX_CODES: usize = 4;

impl Ocr {
    /// The candidates of an analysed mail: those of its text, or else those read from its
    /// pictures (stopping at the first that yields any), each with where it was found; and
    /// the last OCR problem met, for the diagnostics when nothing was found.
    pub async fn candidates(
        &self,
        analysis: &Analysis,
    ) -> (Vec<(SessionCode, Via)>, Option<OcrError>) {
        let mut candidates: Vec<(SessionCode, Via)> = analysis
            .candidates
            .iter()
            .map(|c| (c.code.clone(), c.via))
            .collect();
        let mut problem = None;
        if !candidates.is_empty() {
            return (candidates, problem);
        }
        for image in &analysis.images {
            match self.read_codes(&image.bytes).await {
                Ok(codes) => {
                    let via = if image.in_pec { Via::Pec } else { Via::Image };
                    for code in codes {
                        if !candidates.iter().any(|(c, _)| *c == code) {
                            candidates.push((code, via));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "OCR failed");
                    problem = Some(e);
                }
            }
            if !candidates.is_empty() {
                break;
            }
        }
        (candidates, problem)
    }

    /// OCR with `program` (usually `tesseract`), each pass limited to `timeout`.
    pub fn new(program: impl Into<String>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            timeout,
        }
    }

    /// Checks that the program runs (`tesseract --version`).
    pub async fn check(&self) -> Result<(), OcrError> {
        let run = Command::new(&self.program)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(self.timeout, run).await {
            Err(_) => Err(OcrError::Timeout),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(OcrError::Missing),
            Ok(Err(e)) => Err(OcrError::Failed(text::io_error(e.kind()).to_owned())),
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(OcrError::Failed(exit_text(status))),
        }
    }

    /// Reads the codes shown in a PNG, JPEG or GIF picture, best first (empty when none).
    ///
    /// One tesseract reading of a 36-character code is wrong now and then (a character
    /// dropped or doubled, `6` read as `b`: about 5% of the simulator's pictures on the
    /// best single pass, `cargo bench -p tsgate-mailbox --bench ocr`), and the errors of
    /// differently prepared pictures are mostly independent. So the picture is read in
    /// several ways, in [`picture::Reading`] order, until two readings agree; every code
    /// read is returned, the most often read first, since the caller verifies each one.
    pub async fn read_codes(&self, image: &[u8]) -> Result<Vec<SessionCode>, OcrError> {
        let decoded = picture::Gray::decode_png(image);
        let mut votes: Vec<(SessionCode, usize)> = Vec::new();
        for reading in picture::Reading::ALL {
            let prepared;
            let bytes = match (reading.prepare, &decoded) {
                (None, _) => image,
                (Some(prepare), Some(gray)) => match prepare(gray) {
                    Some(png) => {
                        prepared = png;
                        &prepared[..]
                    }
                    None => continue,
                },
                (Some(_), None) => continue,
            };
            for code in find_codes(&self.pass(bytes, reading.args).await?) {
                match votes.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((code, 1)),
                }
            }
            if votes.iter().any(|(_, n)| *n >= AGREEMENT) {
                break;
            }
        }
        // Stable: among equal counts, the code read first stays first.
        votes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        Ok(votes
            .into_iter()
            .take(MAX_CODES)
            .map(|(code, _)| code)
            .collect())
    }

    async fn pass(&self, image: &[u8], args: &[&str]) -> Result<String, OcrError> {
        let mut child = Command::new(&self.program)
            .args(["stdin", "stdout"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => OcrError::Missing,
                kind => OcrError::Failed(text::io_error(kind).to_owned()),
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| OcrError::Failed("stdin".into()))?;
        let image = image.to_vec();
        // Written from a task so that a full stdout pipe cannot block the write.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&image).await;
            let _ = stdin.shutdown().await;
        });
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| OcrError::Timeout)?
            .map_err(|e| OcrError::Failed(text::io_error(e.kind()).to_owned()))?;
        let _ = writer.await;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect::<String>();
            // tesseract speaks English: its words go to the log, the diagnosis stays Italian.
            tracing::debug!(stderr = %first, "tesseract failed");
            return Err(OcrError::Failed(exit_text(output.status)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// How tesseract ended, in Italian (`ExitStatus`'s own text is English).
fn exit_text(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("tesseract è terminato con il codice {code}"),
        None => "tesseract è stato interrotto".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_program_is_a_clear_error() {
        let ocr = Ocr::new("/nonexistent/tesseract-xyz", Duration::from_secs(5));
        assert_eq!(ocr.check().await, Err(OcrError::Missing));
        let err = ocr.read_codes(b"\x89PNG").await.unwrap_err();
        assert_eq!(err, OcrError::Missing);
        assert!(err.to_string().contains("tesseract-ocr"));
    }
}
