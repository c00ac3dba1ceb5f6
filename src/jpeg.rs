//! JPEG encoding, in one place for every output that writes JPEG (the web
//! viewer's frames, `--save`, `--snapshots`). jpeg-encoder, not the image
//! crate's encoder: 2.4x faster on this machine's frames (BENCHMARKS.md,
//! "Web viewer"), and encoding shares the board's cores with inference.

/// How colour is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// Colour at half resolution (4:2:0) under quality 90: smaller, for
    /// streaming.
    Halved,
    /// Colour at full resolution (4:4:4): one-pixel box lines keep their
    /// class colour, for files people look at closely.
    Full,
}

/// Encodes an RGB frame at `quality` (1-100) into `out` (cleared first).
pub fn encode(rgb: &[u8], width: u32, height: u32, quality: u8, out: &mut Vec<u8>) -> Result<(), String> {
    encode_with(rgb, width, height, quality, Chroma::Halved, out)
}

/// [`encode`], choosing how colour is kept.
pub fn encode_with(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    chroma: Chroma,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.clear();
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(format!("{width}x{height} is larger than JPEG allows"));
    };
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(format!("{} bytes are not a {width}x{height} RGB frame", rgb.len()));
    }
    let mut encoder = jpeg_encoder::Encoder::new(out, quality.clamp(1, 100));
    // Under quality 90 the encoder halves colour by itself.
    if chroma == Chroma::Full {
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    }
    encoder.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_decodes_back_to_its_size_and_colours() {
        let (w, h) = (64u32, 48u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|_| [200u8, 30, 40]).collect();
        let mut out = Vec::new();
        encode(&rgb, w, h, 90, &mut out).unwrap();
        let img = image::load_from_memory(&out).unwrap().into_rgb8();
        assert_eq!(img.dimensions(), (w, h));
        let p = img.get_pixel(10, 10).0;
        assert!(p.iter().zip([200u8, 30, 40]).all(|(a, b)| a.abs_diff(b) < 8), "{p:?}");
        assert!(encode(&rgb[1..], w, h, 90, &mut out).is_err());
        // A one-pixel line keeps its colour at full chroma, not at half.
        let mut lined = vec![128u8; (w * h * 3) as usize];
        for y in 0..h {
            lined[((y * w + 20) * 3) as usize..][..3].copy_from_slice(&[55, 113, 255]);
        }
        let error = |chroma| {
            let mut jpeg = Vec::new();
            encode_with(&lined, w, h, 85, chroma, &mut jpeg).unwrap();
            let img = image::load_from_memory(&jpeg).unwrap().into_rgb8();
            img.get_pixel(20, 24).0.iter().zip([55u8, 113, 255]).map(|(a, b)| a.abs_diff(b)).max().unwrap()
        };
        let (full, halved) = (error(Chroma::Full), error(Chroma::Halved));
        assert!(full < halved, "{full} vs {halved}");
        assert!(full <= 25, "{full}");
        assert!(encode(&[], 70_000, 1, 90, &mut out).is_err());
    }
}
