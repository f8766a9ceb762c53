//! The ways a code picture is prepared for tesseract, and the order they are tried in.
//!
//! Tesseract's line reader drops, doubles or swaps a character of a long code now and
//! then, and which one depends on the size and stroke of the glyphs it is given; reading
//! the same picture scaled or emboldened differently gives mostly independent mistakes.
//! Only PNG pictures are prepared (decoded with the `png` crate); others are read as sent.

const WHITELIST: &str = "tessedit_char_whitelist=0123456789abcdef-";
/// One text line, UUID characters only: the usual layout of a code picture.
const LINE: &[&str] = &["--psm", "7", "-c", WHITELIST];
/// A block of text, UUID characters only.
const BLOCK: &[&str] = &["--psm", "6", "-c", WHITELIST];
/// A block of text, any character (look-alikes are mapped afterwards).
const FREE: &[&str] = &["--psm", "6"];

/// White border added around a prepared picture: tesseract misses glyphs touching the edge.
const BORDER: u32 = 30;
/// Pictures larger than this (pixels, after scaling) are not prepared.
const MAX_PIXELS: u64 = 4_000_000;

/// Prepares a decoded picture and encodes it as PNG (`None` when it cannot).
pub(super) type Prepare = fn(&Gray) -> Option<Vec<u8>>;

/// One way of reading a picture.
#[derive(Clone, Copy)]
pub(super) struct Reading {
    /// How the picture is prepared; `None` reads it as it came.
    pub(super) prepare: Option<Prepare>,
    /// tesseract's arguments.
    pub(super) args: &'static [&'static str],
}

impl Reading {
    /// In order: the two most accurate alone (measured on the simulator's pictures with
    /// `cargo bench -p tsgate-mailbox --bench ocr`), then the ones that fix their mistakes.
    pub(super) const ALL: [Reading; 8] = [
        Reading {
            prepare: Some(|g| g.scaled(2.0, false).framed().encode()),
            args: LINE,
        },
        Reading {
            prepare: None,
            args: LINE,
        },
        Reading {
            prepare: Some(|g| g.scaled(1.5, true).framed().encode()),
            args: LINE,
        },
        Reading {
            prepare: Some(|g| g.scaled(3.0, true).framed().encode()),
            args: LINE,
        },
        Reading {
            prepare: Some(|g| g.scaled(2.0, false).bolder().framed().encode()),
            args: LINE,
        },
        Reading {
            prepare: Some(|g| g.scaled(2.0, false).framed().encode()),
            args: BLOCK,
        },
        Reading {
            prepare: None,
            args: BLOCK,
        },
        Reading {
            prepare: None,
            args: FREE,
        },
    ];
}

/// An 8-bit grayscale picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Gray {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Gray {
    /// The PNG in grayscale, transparent pixels shown on white as a mail reader does;
    /// `None` when it is not a PNG this code can decode or is too large.
    pub(super) fn decode_png(bytes: &[u8]) -> Option<Gray> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().ok()?;
        let (width, height) = {
            let info = reader.info();
            (info.width, info.height)
        };
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return None;
        }
        let mut buf = vec![0; reader.output_buffer_size()?];
        let frame = reader.next_frame(&mut buf).ok()?;
        let channels = frame.color_type.samples();
        let pixels: Vec<u8> = buf[..frame.buffer_size()]
            .chunks(channels)
            .map(|c| {
                let luma =
                    |r: u8, g: u8, b: u8| (u32::from(r) * 3 + u32::from(g) * 6 + u32::from(b)) / 10;
                let (value, alpha) = match *c {
                    [v] => (u32::from(v), 255),
                    [v, a] => (u32::from(v), u32::from(a)),
                    [r, g, b] => (luma(r, g, b), 255),
                    [r, g, b, a, ..] => (luma(r, g, b), u32::from(a)),
                    [] => (255, 255),
                };
                ((value * alpha + 255 * (255 - alpha)) / 255) as u8
            })
            .collect();
        (pixels.len() == (width * height) as usize).then_some(Gray {
            width,
            height,
            pixels,
        })
    }

    fn at(&self, x: u32, y: u32) -> u8 {
        self.pixels[(y.min(self.height - 1) * self.width + x.min(self.width - 1)) as usize]
    }

    /// Scaled by `factor`: each pixel copied (`smooth == false`, sharp edges) or
    /// interpolated between its four neighbours (bilinear).
    pub(super) fn scaled(&self, factor: f32, smooth: bool) -> Gray {
        let width = ((self.width as f32 * factor).round() as u32).max(1);
        let height = ((self.height as f32 * factor).round() as u32).max(1);
        if u64::from(width) * u64::from(height) > MAX_PIXELS || self.pixels.is_empty() {
            return self.clone();
        }
        let mut pixels = Vec::with_capacity((width * height) as usize);
        for y in 0..height {
            // Pixel centres of the result, in the source's coordinates.
            let sy = ((y as f32 + 0.5) / factor - 0.5).max(0.0);
            for x in 0..width {
                let sx = ((x as f32 + 0.5) / factor - 0.5).max(0.0);
                let value = if smooth {
                    let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
                    let (fx, fy) = (sx.fract(), sy.fract());
                    let top = f32::from(self.at(x0, y0)) * (1.0 - fx)
                        + f32::from(self.at(x0 + 1, y0)) * fx;
                    let bottom = f32::from(self.at(x0, y0 + 1)) * (1.0 - fx)
                        + f32::from(self.at(x0 + 1, y0 + 1)) * fx;
                    (top * (1.0 - fy) + bottom * fy).round() as u8
                } else {
                    self.at(
                        ((x as f32 + 0.5) / factor) as u32,
                        ((y as f32 + 0.5) / factor) as u32,
                    )
                };
                pixels.push(value);
            }
        }
        Gray {
            width,
            height,
            pixels,
        }
    }

    /// Strokes one pixel thicker: each pixel takes the darkest of its 3×3 neighbourhood.
    pub(super) fn bolder(&self) -> Gray {
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for y in 0..self.height {
            for x in 0..self.width {
                let mut darkest = 255u8;
                for (dx, dy) in (0..3).flat_map(|dx| (0..3).map(move |dy| (dx, dy))) {
                    if let (Some(nx), Some(ny)) = ((x + dx).checked_sub(1), (y + dy).checked_sub(1))
                    {
                        darkest = darkest.min(self.at(nx, ny));
                    }
                }
                pixels.push(darkest);
            }
        }
        Gray {
            pixels,
            ..self.clone()
        }
    }

    /// With a white border of [`BORDER`] pixels.
    pub(super) fn framed(&self) -> Gray {
        let (width, height) = (self.width + 2 * BORDER, self.height + 2 * BORDER);
        let mut pixels = vec![255u8; (width * height) as usize];
        for y in 0..self.height {
            let src = (y * self.width) as usize;
            let dst = ((y + BORDER) * width + BORDER) as usize;
            pixels[dst..dst + self.width as usize]
                .copy_from_slice(&self.pixels[src..src + self.width as usize]);
        }
        Gray {
            width,
            height,
            pixels,
        }
    }

    /// As an 8-bit grayscale PNG.
    pub(super) fn encode(&self) -> Option<Vec<u8>> {
        let mut encoded = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut encoded, self.width, self.height);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().ok()?;
            writer.write_image_data(&self.pixels).ok()?;
        }
        Some(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut e = png::Encoder::new(&mut bytes, width, height);
        e.set_color(color);
        e.set_depth(png::BitDepth::Eight);
        e.write_header().unwrap().write_image_data(data).unwrap();
        bytes
    }

    #[test]
    fn transparent_pixels_are_white_and_colours_gray() {
        // 3x2 RGBA: one black opaque pixel, one red opaque, the rest transparent.
        let mut rgba = vec![0u8; 3 * 2 * 4];
        rgba[3] = 255;
        rgba[4..8].copy_from_slice(&[255, 0, 0, 255]);
        let gray = Gray::decode_png(&png(3, 2, png::ColorType::Rgba, &rgba)).unwrap();
        assert_eq!(gray.pixels, vec![0, 76, 255, 255, 255, 255]);
        assert!(Gray::decode_png(b"GIF89a").is_none());
    }

    #[test]
    fn sharp_scaling_copies_and_smooth_scaling_blends() {
        let gray = Gray {
            width: 2,
            height: 1,
            pixels: vec![0, 200],
        };
        let sharp = gray.scaled(2.0, false);
        assert_eq!((sharp.width, sharp.height), (4, 2));
        assert_eq!(sharp.pixels, vec![0, 0, 200, 200, 0, 0, 200, 200]);
        let smooth = gray.scaled(2.0, true);
        assert_eq!(smooth.pixels[..4], [0, 50, 150, 200]);
        assert_eq!(gray.scaled(1.5, true).width, 3);
    }

    #[test]
    fn bolder_spreads_ink_and_framed_adds_white() {
        let mut pixels = vec![255u8; 25];
        pixels[12] = 0;
        let dot = Gray {
            width: 5,
            height: 5,
            pixels,
        };
        let bold = dot.bolder();
        let inked = bold.pixels.iter().filter(|&&p| p == 0).count();
        assert_eq!(inked, 9);
        assert_eq!(bold.pixels[0], 255);
        let framed = dot.framed();
        assert_eq!(
            (framed.width, framed.height),
            (5 + 2 * BORDER, 5 + 2 * BORDER)
        );
        assert_eq!(framed.at(BORDER + 2, BORDER + 2), 0);
        assert_eq!(framed.at(0, 0), 255);
        let back = Gray::decode_png(&framed.encode().unwrap()).unwrap();
        assert_eq!(back, framed);
    }
}
