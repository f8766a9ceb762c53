//! From the raw bytes of a mail to ID-SESSIONE candidates, with where they were found.
//!
//! Pure and synchronous: the watcher fetches mails and runs OCR on the images this module
//! returns; everything here is tested without a server.

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sistemats::secret::SessionCode;
use time::OffsetDateTime;

use crate::settings::MailboxSettings;

/// Where in the mail a code was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A `text/plain` part.
    Text,
    /// A `text/html` part.
    Html,
    /// A picture read by OCR.
    Image,
    /// Inside a certified-mail (PEC) envelope, i.e. an attached `postacert.eml`.
    Pec,
}

/// One candidate code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The code, normalized like a pasted one.
    pub code: SessionCode,
    /// Where it was found.
    pub via: Via,
}

/// A picture that may show the code, to be read by OCR.
#[derive(Clone, PartialEq, Eq)]
pub struct ImagePart {
    /// MIME type, e.g. `image/png`.
    pub content_type: String,
    /// Decoded bytes.
    pub bytes: Vec<u8>,
    /// Found inside a PEC envelope.
    pub in_pec: bool,
}

impl std::fmt::Debug for ImagePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagePart")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .field("in_pec", &self.in_pec)
            .finish()
    }
}

/// Which mails are worth reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFilter {
    /// Addresses or domains (a domain covers its sub-domains), lowercase.
    pub accepted_senders: Vec<String>,
    /// Subject words, lowercase.
    pub subject_keywords: Vec<String>,
}

impl Default for MailFilter {
    /// The default senders and subject words of a mailbox's settings
    /// ([`crate::settings::DEFAULT_SENDERS`], [`crate::settings::DEFAULT_KEYWORDS`]).
    fn default() -> Self {
        let lower = |list: &[&str]| list.iter().map(|s| s.to_lowercase()).collect();
        Self {
            accepted_senders: lower(crate::settings::DEFAULT_SENDERS),
            subject_keywords: lower(crate::settings::DEFAULT_KEYWORDS),
        }
    }
}

impl MailFilter {
    /// The filter of a mailbox's settings.
    pub fn from_settings(settings: &MailboxSettings) -> Self {
        Self {
            accepted_senders: settings
                .accepted_senders
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            subject_keywords: settings
                .subject_keywords
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// Whether `address` is an accepted sender.
    pub fn sender_accepted(&self, address: &str) -> bool {
        let address = address.trim().to_lowercase();
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        self.accepted_senders.iter().any(|entry| {
            if entry.contains('@') {
                *entry == address
            } else {
                let entry = entry.trim_start_matches('@');
                domain == entry
                    || domain
                        .strip_suffix(entry)
                        .is_some_and(|head| head.ends_with('.'))
            }
        })
    }

    /// Whether the subject carries one of the keywords.
    pub fn subject_matches(&self, subject: &str) -> bool {
        let subject = subject.to_lowercase();
        self.subject_keywords.iter().any(|k| subject.contains(k))
    }
}

/// What a mail holds for the watcher.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Sender address of the outer message (lowercase).
    pub from: Option<String>,
    /// Subject of the outer message.
    pub subject: Option<String>,
    /// `Date` header of the outer message.
    pub date: Option<OffsetDateTime>,
    /// Every recipient address seen (To, Cc, Delivered-To, X-Original-To, also inside a PEC
    /// envelope), lowercase, without duplicates: they tell whose code it is.
    pub recipients: Vec<String>,
    /// Whether the mail (or the message inside its PEC envelope) comes from an accepted
    /// sender or has an ID-SESSIONE subject.
    pub relevant: bool,
    /// The mail is a PEC envelope (it carries a message/rfc822 part).
    pub pec: bool,
    /// Candidates from text and HTML, best first.
    pub candidates: Vec<Candidate>,
    /// Pictures to read when the text holds no code.
    pub images: Vec<ImagePart>,
    /// Text parts that mention these words (lowercase); used to route by user id.
    pub text: String,
}

/// Pictures larger than this are not worth an OCR run.
const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// Pictures read per mail at most.
const MAX_IMAGES: usize = 6;
/// Nested envelopes followed at most (a PEC inside a PEC is already unusual).
const MAX_DEPTH: usize = 3;

/// Reads a raw RFC 5322 message. `None` when the bytes are not a mail at all.
pub fn analyze(raw: &[u8], filter: &MailFilter) -> Option<Analysis> {
    let message = MessageParser::default().parse(raw)?;
    let mut analysis = Analysis {
        from: first_address(message.from()),
        subject: message.subject().map(str::to_owned),
        date: message
            .date()
            .and_then(|d| OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok()),
        ..Analysis::default()
    };
    walk(&message, filter, &mut analysis, 0);
    Some(analysis)
}

/// Candidates in free text (also OCR output), normalized like a pasted code, best first.
pub fn find_codes(text: &str) -> Vec<SessionCode> {
    sistemats::code::find_codes(text)
}

/// Whether a mail received at `received_at` can answer a request made at `since`.
pub fn is_recent(received_at: OffsetDateTime, since: OffsetDateTime, margin_secs: u64) -> bool {
    received_at >= since - time::Duration::seconds(i64::try_from(margin_secs).unwrap_or(i64::MAX))
}

fn first_address(address: Option<&Address<'_>>) -> Option<String> {
    address?
        .first()
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
}

fn add_recipient(analysis: &mut Analysis, address: &str) {
    let address = address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    if address.contains('@') && !analysis.recipients.contains(&address) {
        analysis.recipients.push(address);
    }
}

fn collect_recipients(message: &Message<'_>, analysis: &mut Analysis) {
    let listed: Vec<String> = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(str::to_owned))
        .collect();
    for address in listed {
        add_recipient(analysis, &address);
    }
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Delivered-To",
    ] {
        let values: Vec<String> = message
            .header_values(name)
            .filter_map(header_text)
            .collect();
        for value in values {
            for address in value.split([',', ' ']) {
                add_recipient(analysis, address);
            }
        }
    }
}

fn header_text(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(t) => Some(t.to_string()),
        HeaderValue::TextList(list) => Some(list.join(",")),
        HeaderValue::Address(a) => Some(
            a.iter()
                .filter_map(|x| x.address())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

fn is_image(part: &mail_parser::MessagePart<'_>) -> Option<String> {
    let by_type = part.content_type().and_then(|ct| {
        let sub = ct.subtype().unwrap_or("").to_lowercase();
        (ct.ctype().eq_ignore_ascii_case("image")
            && matches!(sub.as_str(), "png" | "jpeg" | "jpg" | "gif"))
        .then(|| format!("image/{sub}"))
    });
    by_type.or_else(|| {
        let name = part.attachment_name()?.to_lowercase();
        [".png", ".jpg", ".jpeg", ".gif"]
            .iter()
            .find(|ext| name.ends_with(*ext))
            .map(|ext| format!("image/{}", ext.trim_start_matches('.')))
    })
}

fn walk(message: &Message<'_>, filter: &MailFilter, analysis: &mut Analysis, depth: usize) {
    let nested = depth > 0;
    collect_recipients(message, analysis);
    let sender_ok = message
        .from()
        .into_iter()
        .chain(message.sender())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .any(|a| filter.sender_accepted(a));
    let subject_ok = message.subject().is_some_and(|s| filter.subject_matches(s));
    analysis.relevant |= sender_ok || subject_ok;

    for part in &message.parts {
        let (text, via) = match &part.body {
            PartType::Text(text) => (text.to_string(), Via::Text),
            PartType::Html(html) => (mail_parser::decoders::html::html_to_text(html), Via::Html),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                if let Some(content_type) = is_image(part)
                    && bytes.len() <= MAX_IMAGE_BYTES
                    && analysis.images.len() < MAX_IMAGES
                {
                    analysis.images.push(ImagePart {
                        content_type,
                        bytes: bytes.to_vec(),
                        in_pec: nested,
                    });
                }
                continue;
            }
            PartType::Message(inner) => {
                analysis.pec = true;
                if depth < MAX_DEPTH {
                    walk(inner, filter, analysis, depth + 1);
                }
                continue;
            }
            PartType::Multipart(_) => continue,
        };
        let via = if nested { Via::Pec } else { via };
        analysis.text.push_str(&text.to_lowercase());
        analysis.text.push('\n');
        for code in sistemats::code::find_codes(&text) {
            if !analysis.candidates.iter().any(|c| c.code == code) {
                analysis.candidates.push(Candidate { code, via });
            }
        }
    }
}

#[cfg(test)]
mod tests;
