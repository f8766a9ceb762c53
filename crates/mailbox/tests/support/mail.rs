//! Mails like the ones Sistema TS (and the simulator) send.

use ab_glyph::{Font as _, FontArc, PxScale, ScaleFont as _, point};
use mail_builder::MessageBuilder;
use mail_builder::mime::MimePart;

/// Sender used by the simulator.
pub const SIM_SENDER: &str = "noreply@sistemats.sim.tsgate.test";
/// Subject used by the simulator.
pub const SUBJECT: &str = "Sistema TS - ID-SESSIONE";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Text mail with the code.
pub fn text(to: &str, user: &str, code: &str) -> Vec<u8> {
    MessageBuilder::new()
        .from(("Sistema TS - simulatore", SIM_SENDER))
        .to(to)
        .subject(SUBJECT)
        .date(now())
        .text_body(format!(
            "Gentile utente {user},\n\nè stato generato un nuovo ID-SESSIONE.\n\nID-SESSIONE: {code}\nValidità: 16 ore\n"
        ))
        .write_to_vec()
        .expect("mail")
}

/// HTML-only mail with the code split by tags.
pub fn html(to: &str, code: &str) -> Vec<u8> {
    let (a, b) = code.split_at(13);
    MessageBuilder::new()
        .from(("Sistema TS", "noreply@sistemats.it"))
        .to(to)
        .subject("Sistema TS - Notifica ID-SESSIONE")
        .date(now())
        .html_body(format!(
            "<html><body><p>Il tuo ID-SESSIONE &egrave;:</p><p><b>{a}</b><span>{b}</span></p></body></html>"
        ))
        .write_to_vec()
        .expect("mail")
}

/// Mail with the code drawn in an inline PNG (multipart/related, `cid:`), as SSN mails do.
pub fn image(to: &str, code: &str) -> Vec<u8> {
    let png = render_png(code);
    MessageBuilder::new()
        .from(("Sistema TS - simulatore", SIM_SENDER))
        .to(to)
        .subject(SUBJECT)
        .date(now())
        .text_body("L'ID-SESSIONE è riportato nell'immagine contenuta in questo messaggio.")
        .html_body(
            "<p>L'ID-SESSIONE è riportato nell'immagine:</p><p><img src=\"cid:idsessione\"></p>",
        )
        .inline("image/png", "idsessione", png)
        .write_to_vec()
        .expect("mail")
}

/// A PEC envelope (ricevuta di posta certificata) carrying the text mail as postacert.eml.
pub fn pec(to: &str, user: &str, code: &str) -> Vec<u8> {
    let inner = text(to, user, code);
    MessageBuilder::new()
        .from(("Per conto di: noreply@sistemats.it", "posta-certificata@pec.provider.test"))
        .to(to)
        .subject(format!("POSTA CERTIFICATA: {SUBJECT}"))
        .date(now())
        .header("X-Trasporto", mail_builder::headers::raw::Raw::new("posta-certificata"))
        .body(MimePart::new(
            "multipart/mixed",
            vec![
                MimePart::new(
                    "text/plain",
                    "Messaggio di posta certificata: il messaggio è stato inviato da noreply@sistemats.it",
                ),
                MimePart::new("application/xml", "<postacert tipo=\"posta-certificata\"/>")
                    .attachment("daticert.xml"),
                MimePart::new("message/rfc822", inner).attachment("postacert.eml"),
            ],
        ))
        .write_to_vec()
        .expect("mail")
}

/// An unrelated mail that happens to carry a UUID.
pub fn newsletter(to: &str, uuid: &str) -> Vec<u8> {
    MessageBuilder::new()
        .from(("Negozio", "offerte@negozio.test"))
        .to(to)
        .subject("Sconti")
        .date(now())
        .text_body(format!("Il tuo buono: {uuid}"))
        .write_to_vec()
        .expect("mail")
}

/// A filler mail of about `kb` kilobytes (to fill the quota).
pub fn filler(to: &str, kb: usize) -> Vec<u8> {
    let line = "x".repeat(76);
    let body: String = (0..(kb * 1024 / 78))
        .map(|_| format!("{line}\r\n"))
        .collect();
    MessageBuilder::new()
        .from("amico@esempio.test")
        .to(to)
        .subject("foto")
        .date(now())
        .text_body(body)
        .write_to_vec()
        .expect("mail")
}

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

/// Black code on white, DejaVu Sans Mono 40 px, grayscale PNG.
pub fn render_png(text: &str) -> Vec<u8> {
    let bytes =
        std::fs::read(FONT).unwrap_or_else(|e| panic!("{FONT}: {e} (install fonts-dejavu-core)"));
    let font = FontArc::try_from_vec(bytes).expect("font");
    let scale = 40.0;
    let margin = 24u32;
    let scaled = font.as_scaled(PxScale::from(scale));
    let advance: f32 = text
        .chars()
        .map(|c| scaled.h_advance(scaled.glyph_id(c)))
        .sum();
    let width = advance.ceil() as u32 + 2 * margin;
    let height = (scaled.ascent() - scaled.descent()).ceil() as u32 + 2 * margin;
    let mut pixels = vec![255u8; (width * height) as usize];
    let mut x = margin as f32;
    let baseline = margin as f32 + scaled.ascent();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, point(x, baseline));
        x += scaled.h_advance(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = b.min.x as i64 + gx as i64;
                let py = b.min.y as i64 + gy as i64;
                if px >= 0 && py >= 0 && (px as u32) < width && (py as u32) < height {
                    let i = (py as u32 * width + px as u32) as usize;
                    pixels[i] = pixels[i].min(255 - (coverage.clamp(0.0, 1.0) * 255.0) as u8);
                }
            });
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&pixels).expect("png data");
    }
    out
}
