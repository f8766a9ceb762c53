//! PNG rendering of an ID-SESSIONE, like the SSN mails that show the code as a picture.

use ab_glyph::{Font as _, FontArc, PxScale, ScaleFont as _, point};

/// Embedded DejaVu Sans Mono (Bitstream Vera licence, see `assets/DejaVu-LICENSE.txt`),
/// used when the system copy is missing.
static EMBEDDED_FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");
/// Usual Debian/Ubuntu location of the same font.
const SYSTEM_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

/// Pixel scale: digits and capitals come out about 29 px tall, comfortable for OCR.
const SCALE: f32 = 40.0;
const MARGIN: u32 = 24;

/// Loads the font once: `path`, else the system DejaVu Sans Mono, else the embedded copy.
pub fn load_font(path: Option<&std::path::Path>) -> anyhow::Result<FontArc> {
    let candidates = path
        .map(std::path::Path::to_path_buf)
        .into_iter()
        .chain(std::iter::once(std::path::PathBuf::from(SYSTEM_FONT)));
    for candidate in candidates {
        if let Ok(bytes) = std::fs::read(&candidate)
            && let Ok(font) = FontArc::try_from_vec(bytes)
        {
            return Ok(font);
        }
    }
    Ok(FontArc::try_from_slice(EMBEDDED_FONT)?)
}

/// Draws `text` black on white with margins and returns the PNG bytes (8-bit grayscale).
pub fn render_png(font: &FontArc, text: &str) -> anyhow::Result<Vec<u8>> {
    let scaled = font.as_scaled(PxScale::from(SCALE));
    let advance: f32 = text
        .chars()
        .map(|c| scaled.h_advance(scaled.glyph_id(c)))
        .sum();
    let line_height = scaled.ascent() - scaled.descent();
    let width = advance.ceil() as u32 + 2 * MARGIN;
    let height = line_height.ceil() as u32 + 2 * MARGIN;
    let mut pixels = vec![255u8; (width * height) as usize];
    let mut x = MARGIN as f32;
    let baseline = MARGIN as f32 + scaled.ascent();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(SCALE, point(x, baseline));
        x += scaled.h_advance(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + gx as i64;
                let py = bounds.min.y as i64 + gy as i64;
                if px >= 0 && py >= 0 && (px as u32) < width && (py as u32) < height {
                    let index = (py as u32 * width + px as u32) as usize;
                    let ink = (coverage.clamp(0.0, 1.0) * 255.0) as u8;
                    pixels[index] = pixels[index].min(255 - ink);
                }
            });
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_decodable_png_with_ink() {
        let font = load_font(None).unwrap();
        let bytes = render_png(&font, "1f6a0702-2cfc-4903-8cfc-609a7e232920").unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert!(info.width > 600 && info.height > 60);
        let dark = buf.iter().filter(|&&p| p < 128).count();
        assert!(dark > 1000, "too little ink: {dark}");
        // Margins stay white.
        assert!(buf[..info.width as usize * 10].iter().all(|&p| p == 255));
    }
}
