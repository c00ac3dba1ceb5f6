//! JPEG encoding, in one place for every output that writes JPEG (the web
//! viewer's frames, `--save`, `--snapshots`). jpeg-encoder, not the image
//! crate's encoder: 2.4x faster on this machine's frames (BENCHMARKS.md,
//! "Web viewer"), and encoding shares the board's cores with inference.

/// Encodes an RGB frame at `quality` (1-100) into `out` (cleared first).
pub fn encode(rgb: &[u8], width: u32, height: u32, quality: u8, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(format!("{width}x{height} is larger than JPEG allows"));
    };
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(format!("{} bytes are not a {width}x{height} RGB frame", rgb.len()));
    }
    jpeg_encoder::Encoder::new(out, quality.clamp(1, 100))
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())
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
        assert!(encode(&[], 70_000, 1, 90, &mut out).is_err());
    }
}
