//! OCR of codes drawn as pictures, with the Debian `tesseract` program run as a subprocess.
//!
//! The picture goes to tesseract's standard input and the text comes back on its standard
//! output, so nothing touches the disk. A first pass reads one text line with only the
//! characters of a UUID allowed; if it yields no code, a block pass and a pass without the
//! character list follow (the look-alike rules then fix `O`/`l`).

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

const WHITELIST: &str = "tessedit_char_whitelist=0123456789abcdef-";
/// One text line, UUID characters only: the usual layout of a code picture.
const LINE: &[&str] = &["--psm", "7", "-c", WHITELIST];
/// A block of text, UUID characters only.
const BLOCK: &[&str] = &["--psm", "6", "-c", WHITELIST];
/// A block of text, any character (look-alikes are mapped afterwards).
const FREE: &[&str] = &["--psm", "6"];

/// Pictures larger than this (pixels) are not upscaled.
const MAX_UPSCALE_PIXELS: u64 = 4_000_000;

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
    /// Tesseract reads small monospaced digits better at twice the size (measured on
    /// DejaVu Sans Mono 40 px: the leading slashed zero is lost at 1×, read at 2×), so a
    /// PNG is read both upscaled and as is; differing readings are both returned, since
    /// the caller verifies each one anyway.
    pub async fn read_codes(&self, image: &[u8]) -> Result<Vec<SessionCode>, OcrError> {
        let upscaled = upscale_png(image);
        let mut codes: Vec<SessionCode> = Vec::new();
        let add = |found: Vec<SessionCode>, codes: &mut Vec<SessionCode>| {
            for code in found {
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
        };
        if let Some(big) = &upscaled {
            add(find_codes(&self.pass(big, LINE).await?), &mut codes);
        }
        add(find_codes(&self.pass(image, LINE).await?), &mut codes);
        if !codes.is_empty() {
            return Ok(codes);
        }
        for (picture, args) in [
            (upscaled.as_deref(), BLOCK),
            (Some(image), BLOCK),
            (Some(image), FREE),
        ] {
            if let Some(picture) = picture {
                add(find_codes(&self.pass(picture, args).await?), &mut codes);
                if !codes.is_empty() {
                    break;
                }
            }
        }
        Ok(codes)
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

/// The PNG in grayscale, twice as large, with a white border; `None` when it is not a
/// PNG this code can decode or is too large.
fn upscale_png(bytes: &[u8]) -> Option<Vec<u8>> {
    const FACTOR: u32 = 2;
    const BORDER: u32 = 30;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let (w, h) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if u64::from(w) * u64::from(h) * u64::from(FACTOR * FACTOR) > MAX_UPSCALE_PIXELS {
        return None;
    }
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    let channels = frame.color_type.samples();
    let gray: Vec<u8> = buf[..frame.buffer_size()]
        .chunks(channels)
        .map(|c| {
            let (value, alpha) = match channels {
                1 => (u32::from(c[0]), 255),
                2 => (u32::from(c[0]), u32::from(c[1])),
                3 => (
                    (u32::from(c[0]) * 3 + u32::from(c[1]) * 6 + u32::from(c[2])) / 10,
                    255,
                ),
                _ => (
                    (u32::from(c[0]) * 3 + u32::from(c[1]) * 6 + u32::from(c[2])) / 10,
                    u32::from(c[3]),
                ),
            };
            // Transparent pixels are shown on white, as a mail reader does.
            ((value * alpha + 255 * (255 - alpha)) / 255) as u8
        })
        .collect();
    if gray.len() != (w * h) as usize {
        return None;
    }
    let (nw, nh) = (w * FACTOR + 2 * BORDER, h * FACTOR + 2 * BORDER);
    let mut out = vec![255u8; (nw * nh) as usize];
    for y in 0..h * FACTOR {
        let src = ((y / FACTOR) * w) as usize;
        let dst = ((y + BORDER) * nw + BORDER) as usize;
        for x in 0..(w * FACTOR) as usize {
            out[dst + x] = gray[src + x / FACTOR as usize];
        }
    }
    let mut encoded = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut encoded, nw, nh);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&out).ok()?;
    }
    Some(encoded)
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

    #[test]
    fn upscaling_keeps_the_picture() {
        // 3x2 RGBA: one black opaque pixel, the rest transparent.
        let mut rgba = vec![0u8; 3 * 2 * 4];
        rgba[3] = 255;
        let mut png_bytes = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png_bytes, 3, 2);
            e.set_color(png::ColorType::Rgba);
            e.set_depth(png::BitDepth::Eight);
            e.write_header().unwrap().write_image_data(&rgba).unwrap();
        }
        let big = upscale_png(&png_bytes).expect("decodable");
        let mut d = png::Decoder::new(std::io::Cursor::new(big));
        d.set_transformations(png::Transformations::EXPAND);
        let mut r = d.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (66, 64));
        let at = |x: u32, y: u32| buf[(y * info.width + x) as usize];
        assert_eq!(at(30, 30), 0, "black pixel, scaled");
        assert_eq!(at(31, 31), 0);
        assert_eq!(at(32, 30), 255, "transparent shown as white");
        assert_eq!(at(0, 0), 255, "border");
        assert!(upscale_png(b"GIF89a").is_none());
    }
}
