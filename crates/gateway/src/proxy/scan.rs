//! Finding ErroreRicetta 9101 in a receipt while it streams to the workstation.
//!
//! Choice: a streaming scanner rather than buffering. Receipts are small, but
//! VisualizzaPrescritto and InterrogaNreUtilizzati answers can be large, and buffering would
//! delay the first byte of every answer. The scanner looks, across chunk boundaries, for an
//! element whose local name is exactly `codEsito` (any prefix, any attributes) and whose text,
//! trimmed, is `9101`. `codEsitoInserimento` and other names that merely start with
//! `codEsito` do not match. It keeps a few bytes of state, never the body.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

const NAME: &[u8] = b"codEsito";
const TARGET: &[u8] = b"9101";
/// Longest text kept between `>` and `<` (codes are four digits, plus some whitespace).
const MAX_TEXT: usize = 32;
/// Longest run of attributes tolerated inside the start tag.
const MAX_TAG: usize = 512;
/// Bytes stepped through before an occurrence of [`NAME`]: room for `</` and a prefix.
const CONTEXT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for `codEsito`; the value is how many bytes of it matched so far.
    Name(usize),
    /// Just after `codEsito`: `>`, whitespace (attributes) or anything else (another name).
    AfterName,
    /// Inside the start tag, skipping attributes; counts bytes.
    InTag(usize),
    /// Collecting the element text.
    Text,
}

/// Streaming detector of `<…codEsito …>9101</…codEsito>`.
#[derive(Debug, Clone)]
pub struct Dem9101Scanner {
    state: State,
    text: Vec<u8>,
    found: bool,
    /// The previous byte: a name starts only after `<` or `:`.
    last: u8,
    /// The current tag is an end tag (`</…`), whose following text is not the element's.
    closing: bool,
}

impl Default for Dem9101Scanner {
    fn default() -> Self {
        Self {
            state: State::Name(0),
            text: Vec::with_capacity(MAX_TEXT),
            found: false,
            last: 0,
            closing: false,
        }
    }
}

impl Dem9101Scanner {
    /// A scanner at the start of a document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether 9101 was seen so far.
    pub fn found(&self) -> bool {
        self.found
    }

    /// Feeds the next chunk; returns [`Dem9101Scanner::found`].
    ///
    /// Hot path: a receipt is mostly other tags, and a match must contain `codEsito`, so
    /// the bytes far before the next occurrence (found with SIMD by `memchr::memmem`) are
    /// skipped; the state machine steps only through the [`CONTEXT`] bytes before each
    /// occurrence (the `<` and prefix of its tag) and the tail of the chunk (a name cut by
    /// the chunk boundary).
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.found {
            return true;
        }
        let mut next_name: Option<usize> = None;
        let mut i = 0;
        while i < chunk.len() {
            if self.state == State::Name(0) {
                let next = match next_name {
                    Some(n) if n >= i => n,
                    _ => {
                        let n =
                            memchr::memmem::find(&chunk[i..], NAME).map_or(chunk.len(), |p| i + p);
                        next_name = Some(n);
                        n
                    }
                };
                let resume = next.saturating_sub(CONTEXT);
                if resume > i {
                    // Bring the tag context to `resume` as stepping would have: `closing`
                    // follows the last `<` skipped (a `<` at `resume - 1` is still ahead).
                    if self.last == b'<' {
                        self.closing = chunk[i] == b'/';
                    }
                    if let Some(p) = memchr::memrchr(b'<', &chunk[i..resume - 1]) {
                        self.closing = chunk[i + p + 1] == b'/';
                    }
                    self.last = chunk[resume - 1];
                    i = resume;
                }
            }
            let b = chunk[i];
            self.step_byte(b);
            if self.found {
                return true;
            }
            i += 1;
        }
        false
    }

    /// One byte through the state machine, with the tag context.
    fn step_byte(&mut self, b: u8) {
        if self.last == b'<' {
            self.closing = b == b'/';
        }
        self.step(b);
        self.last = b;
    }

    fn step(&mut self, b: u8) {
        match self.state {
            State::Name(n) => {
                self.state = if n > 0 && b == NAME[n] {
                    if n + 1 == NAME.len() {
                        State::AfterName
                    } else {
                        State::Name(n + 1)
                    }
                } else if b == NAME[0] && matches!(self.last, b'<' | b':') {
                    State::Name(1)
                } else {
                    State::Name(0)
                };
            }
            State::AfterName => match b {
                b'>' if self.closing => self.state = State::Name(0),
                b'>' => {
                    self.text.clear();
                    self.state = State::Text;
                }
                b' ' | b'\t' | b'\r' | b'\n' => self.state = State::InTag(0),
                _ => {
                    self.state = State::Name(0);
                    self.step(b);
                }
            },
            State::InTag(n) => match b {
                b'>' => {
                    self.text.clear();
                    self.state = State::Text;
                }
                // A `/>` empty element or a new tag: nothing to read.
                b'<' => self.state = State::Name(0),
                _ if n >= MAX_TAG => self.state = State::Name(0),
                _ => self.state = State::InTag(n + 1),
            },
            State::Text => {
                if b == b'<' {
                    if self.text.trim_ascii() == TARGET {
                        self.found = true;
                    }
                    self.state = State::Name(0);
                } else if self.text.len() >= MAX_TEXT {
                    self.state = State::Name(0);
                } else {
                    self.text.push(b);
                }
            }
        }
    }
}

/// Called once per response: `true` as soon as 9101 is seen, `false` at the end otherwise.
/// Not called when the workstation goes away before the end without a 9101 seen.
pub(crate) type ScanDone = Box<dyn FnOnce(bool) + Send>;

/// A response body that passes chunks through untouched while scanning them.
pub(crate) struct ScanBody {
    inner: Body,
    scanner: Dem9101Scanner,
    done: Option<ScanDone>,
}

impl std::fmt::Debug for ScanBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanBody")
            .field("found", &self.scanner.found())
            .finish_non_exhaustive()
    }
}

impl ScanBody {
    pub(crate) fn new(inner: Body, done: ScanDone) -> Self {
        Self {
            inner,
            scanner: Dem9101Scanner::new(),
            done: Some(done),
        }
    }

    fn finish(&mut self, found: bool) {
        if let Some(done) = self.done.take() {
            done(found);
        }
    }
}

impl http_body::Body for ScanBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && this.done.is_some()
                    && this.scanner.feed(data)
                {
                    this.finish(true);
                }
                // With a known length hyper stops polling after the last byte, so the end
                // is seen here rather than as `Ready(None)`.
                if this.inner.is_end_stream() {
                    let found = this.scanner.found();
                    this.finish(found);
                }
            }
            Poll::Ready(None) => {
                let found = this.scanner.found();
                this.finish(found);
            }
            // A broken upstream body: report what was seen (the caller logs the error).
            Poll::Ready(Some(Err(_))) => {
                let found = this.scanner.found();
                this.finish(found);
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(doc: &str) -> bool {
        Dem9101Scanner::new().feed(doc.as_bytes())
    }

    fn scan_split(doc: &str) -> bool {
        // Every chunk size from 1 byte up, to cover every boundary position.
        (1..=doc.len()).all(|size| {
            let mut s = Dem9101Scanner::new();
            doc.as_bytes().chunks(size).for_each(|c| {
                s.feed(c);
            });
            s.found()
        })
    }

    const WITH_9101: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns2:InvioPrescrittoRicevuta xmlns:ns2="http://invioprescrittoricevuta.xsd.dem.sanita.finanze.it" xmlns:ns3="http://tipodati.xsd.dem.sanita.finanze.it"><ns2:nre>1300A4019294836</ns2:nre><ns2:codEsitoInserimento>0001</ns2:codEsitoInserimento><ns2:ElencoErroriRicette><ns3:ErroreRicetta><ns3:codEsito>9101</ns3:codEsito><ns3:esito>id-sessione non presente o non valido</ns3:esito><ns3:progPresc>0</ns3:progPresc><ns3:tipoErrore/></ns3:ErroreRicetta></ns2:ElencoErroriRicette></ns2:InvioPrescrittoRicevuta></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn finds_9101_at_every_split() {
        assert!(scan_all(WITH_9101));
        assert!(scan_split(WITH_9101));
    }

    #[test]
    fn variants_that_match() {
        for doc in [
            "<codEsito>9101</codEsito>",
            "<a:codEsito xmlns:a=\"urn:x\">9101</a:codEsito>",
            "<codEsito>\n  9101\n</codEsito>",
            "<ccodEsito>0000</ccodEsito><codEsito>9101</codEsito>",
        ] {
            assert!(scan_all(doc), "{doc}");
            assert!(scan_split(doc), "{doc}");
        }
    }

    #[test]
    fn near_misses_do_not_match() {
        for doc in [
            "<codEsito>0000</codEsito><esito>9101 mentioned in text</esito>",
            "<codEsitoInserimento>9101</codEsitoInserimento>",
            "<codEsito>91011</codEsito>",
            "<codEsito/>9101<x/>",
            "<nre>9101</nre>",
            "<codEsito>0000</codEsito>9101",
            "<codEsito>0000</codEsito>9101<x/>",
            "<xcodEsito>9101</xcodEsito>",
        ] {
            assert!(!scan_all(doc), "{doc}");
        }
    }

    /// The state machine over every byte, without the skipping of `feed`.
    fn reference(chunks: &[&[u8]]) -> bool {
        let mut s = Dem9101Scanner::new();
        for chunk in chunks {
            for &b in *chunk {
                s.step_byte(b);
                if s.found {
                    return true;
                }
            }
        }
        false
    }

    proptest::proptest! {
        // Cheap cases; the rare shapes (an end tag with a long prefix) need many of them.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]

        /// Skipping never changes the verdict: random documents made of the fragments that
        /// matter (prefixes, end tags, near names, long runs before a name, whitespace),
        /// cut at random places.
        #[test]
        fn skipping_agrees_with_stepping_every_byte(
            parts in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["<", "</", "", ":"]),
                    proptest::sample::select(vec![
                        "",
                        "ns3:",
                        "a-long-namespace-prefix-of-more-than-sixty-four-bytes-for-the-skip:",
                    ]),
                    proptest::sample::select(vec![
                        "codEsito", "codEsitoInserimento", "xcodEsito", "nre", "codEs",
                    ]),
                    proptest::sample::select(vec!["", " a=\"1\"", "\n"]),
                    proptest::sample::select(vec![">", "/>", ""]),
                    proptest::sample::select(vec!["9101", " 9101\n", "0000", "", "91011"]),
                ),
                0..30,
            ),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let doc: String = parts
                .iter()
                .map(|(a, b, c, d, e, f)| [*a, *b, *c, *d, *e, *f].concat())
                .collect();
            let bytes = doc.as_bytes();
            let mut at: Vec<usize> = cuts.into_iter().filter(|c| *c < bytes.len()).collect();
            at.sort_unstable();
            at.dedup();
            let mut chunks = Vec::new();
            let mut from = 0;
            for c in at {
                chunks.push(&bytes[from..c]);
                from = c;
            }
            chunks.push(&bytes[from..]);
            let mut fast = Dem9101Scanner::new();
            for c in &chunks {
                fast.feed(c);
            }
            proptest::prop_assert_eq!(fast.found(), reference(&chunks), "{:?}", doc);
        }
    }

    #[tokio::test]
    async fn body_passes_bytes_through_and_reports_once() {
        use http_body_util::BodyExt;
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let chunks: Vec<Result<Bytes, std::io::Error>> = WITH_9101
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let inner = Body::from_stream(futures::stream::iter(chunks));
        let body = ScanBody::new(inner, Box::new(move |f| s2.lock().unwrap().push(f)));
        let out = body.collect().await.unwrap().to_bytes();
        assert_eq!(out, WITH_9101.as_bytes());
        assert_eq!(*seen.lock().unwrap(), vec![true]);

        let s3 = seen.clone();
        let body = ScanBody::new(
            Body::from("<codEsito>0000</codEsito>"),
            Box::new(move |f| s3.lock().unwrap().push(f)),
        );
        body.collect().await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![true, false]);
    }
}
