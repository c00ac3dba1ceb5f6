//! Camera and Y4M pixel formats to RGB8: YUYV (4:2:2 packed), NV12 (4:2:0
//! with interleaved chroma), planar YUV (Y4M) and MJPEG. One BT.601
//! fixed-point kernel serves every YUV layout so they cannot drift apart.

/// The BT.601 YUV→RGB matrix in 16.16 fixed point, for limited (16–235,
/// what cameras and video files use unless they say otherwise) or full range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bt601 {
    ky: i32,
    kr: i32,
    kgu: i32,
    kgv: i32,
    kb: i32,
    y0: i32,
}

impl Bt601 {
    /// Luma 16–235, chroma 16–240.
    pub const LIMITED: Self = Self { ky: 76309, kr: 104597, kgu: 25675, kgv: 53279, kb: 132201, y0: 16 };
    /// Luma and chroma 0–255 (JPEG, `XYSCSS=...F` Y4M).
    pub const FULL: Self = Self { ky: 65536, kr: 91881, kgu: 22554, kgv: 46802, kb: 116130, y0: 0 };

    /// The matrix for a range.
    pub fn new(full_range: bool) -> Self {
        if full_range {
            Self::FULL
        } else {
            Self::LIMITED
        }
    }

    /// Converts one pixel.
    #[inline(always)]
    pub fn rgb(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let yv = (i32::from(y) - self.y0) * self.ky + 32768;
        let (u, v) = (i32::from(u) - 128, i32::from(v) - 128);
        let clamp = |x: i32| (x >> 16).clamp(0, 255) as u8;
        [clamp(yv + self.kr * v), clamp(yv - self.kgu * u - self.kgv * v), clamp(yv + self.kb * u)]
    }
}

/// Why a frame could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The buffer is shorter than the format and size need (a torn frame).
    #[error("{format} frame of {width}x{height} needs {need} bytes, got {got}")]
    Short {
        /// Pixel format name.
        format: &'static str,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// Bytes needed.
        need: usize,
        /// Bytes received.
        got: usize,
    },
    /// The size cannot hold this format (odd width for YUYV, odd size for NV12).
    #[error("{format} cannot be {width}x{height}")]
    Size {
        /// Pixel format name.
        format: &'static str,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
    /// The JPEG data does not decode.
    #[error("MJPEG frame does not decode: {0}")]
    Jpeg(String),
}

fn check(format: &'static str, data: &[u8], width: u32, height: u32, need: usize) -> Result<(), ConvertError> {
    if data.len() < need {
        return Err(ConvertError::Short { format, width, height, need, got: data.len() });
    }
    Ok(())
}

/// YUYV (YUY2): `Y0 U Y1 V` for each pair of pixels, rows of `2 × width` bytes.
pub fn yuyv_to_rgb(data: &[u8], width: u32, height: u32, m: Bt601, rgb: &mut Vec<u8>) -> Result<(), ConvertError> {
    if !width.is_multiple_of(2) {
        return Err(ConvertError::Size { format: "YUYV", width, height });
    }
    let pixels = width as usize * height as usize;
    check("YUYV", data, width, height, pixels * 2)?;
    rgb.resize(pixels * 3, 0);
    for (quad, out) in data[..pixels * 2].chunks_exact(4).zip(rgb.chunks_exact_mut(6)) {
        let (u, v) = (quad[1], quad[3]);
        out[..3].copy_from_slice(&m.rgb(quad[0], u, v));
        out[3..].copy_from_slice(&m.rgb(quad[2], u, v));
    }
    Ok(())
}

/// NV12: a full-size Y plane, then a half-size plane of interleaved `U V`.
pub fn nv12_to_rgb(data: &[u8], width: u32, height: u32, m: Bt601, rgb: &mut Vec<u8>) -> Result<(), ConvertError> {
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(ConvertError::Size { format: "NV12", width, height });
    }
    let (w, h) = (width as usize, height as usize);
    check("NV12", data, width, height, w * h * 3 / 2)?;
    rgb.resize(w * h * 3, 0);
    let (y_plane, uv_plane) = data.split_at(w * h);
    for (row, out) in rgb.chunks_exact_mut(w * 3).enumerate() {
        let ys = &y_plane[row * w..(row + 1) * w];
        let uv = &uv_plane[(row / 2) * w..(row / 2 + 1) * w];
        for ((y2, uv), out) in ys.chunks_exact(2).zip(uv.chunks_exact(2)).zip(out.chunks_exact_mut(6)) {
            out[..3].copy_from_slice(&m.rgb(y2[0], uv[0], uv[1]));
            out[3..].copy_from_slice(&m.rgb(y2[1], uv[0], uv[1]));
        }
    }
    Ok(())
}

/// Chroma subsampling of planar YUV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planar {
    /// Chroma halved both ways.
    C420,
    /// Chroma halved horizontally.
    C422,
    /// Full-resolution chroma.
    C444,
    /// Luma only.
    Mono,
}

impl Planar {
    /// Width and height of each chroma plane (0 × 0 for mono).
    pub fn chroma_size(self, width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        match self {
            Self::C420 => (w.div_ceil(2), h.div_ceil(2)),
            Self::C422 => (w.div_ceil(2), h),
            Self::C444 => (w, h),
            Self::Mono => (0, 0),
        }
    }

    /// Bytes in one frame: Y plane, then U and V planes.
    pub fn frame_bytes(self, width: u32, height: u32) -> usize {
        let (cw, ch) = self.chroma_size(width, height);
        width as usize * height as usize + 2 * cw * ch
    }
}

/// Planar YUV (Y, then U, then V planes), as in Y4M and I420.
pub fn planar_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    layout: Planar,
    m: Bt601,
    rgb: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    let (w, h) = (width as usize, height as usize);
    check("planar YUV", data, width, height, layout.frame_bytes(width, height))?;
    rgb.resize(w * h * 3, 0);
    let (y_plane, rest) = data.split_at(w * h);
    let (cw, ch) = layout.chroma_size(width, height);
    let (u_plane, v_plane) = rest.split_at(cw * ch);
    for (row, out) in rgb.chunks_exact_mut(w * 3).enumerate() {
        let ys = &y_plane[row * w..(row + 1) * w];
        let crow = if layout == Planar::C420 { row / 2 } else { row };
        for (col, (&y, px)) in ys.iter().zip(out.chunks_exact_mut(3)).enumerate() {
            let (u, v) = match layout {
                Planar::Mono => (128, 128),
                Planar::C444 => (u_plane[crow * cw + col], v_plane[crow * cw + col]),
                Planar::C420 | Planar::C422 => (u_plane[crow * cw + col / 2], v_plane[crow * cw + col / 2]),
            };
            px.copy_from_slice(&m.rgb(y, u, v));
        }
    }
    Ok(())
}

/// MJPEG: each frame a JPEG image; returns its size (which the JPEG, not
/// the negotiated format, decides).
pub fn mjpeg_to_rgb(data: &[u8], rgb: &mut Vec<u8>) -> Result<(u32, u32), ConvertError> {
    use image::ImageDecoder;
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(data))
        .map_err(|e| ConvertError::Jpeg(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if decoder.color_type() != image::ColorType::Rgb8 {
        // Greyscale or CMYK JPEGs are rare from cameras; take the slow path.
        let img = image::DynamicImage::from_decoder(decoder).map_err(|e| ConvertError::Jpeg(e.to_string()))?;
        let img = img.into_rgb8();
        rgb.clear();
        rgb.extend_from_slice(img.as_raw());
        return Ok((width, height));
    }
    rgb.resize(decoder.total_bytes() as usize, 0);
    decoder.read_image(rgb).map_err(|e| ConvertError::Jpeg(e.to_string()))?;
    Ok((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook BT.601 formulas in floating point: the reference the
    /// fixed-point kernel must match to within one level.
    fn reference(y: u8, u: u8, v: u8, full: bool) -> [f32; 3] {
        let (y, u, v) = (f32::from(y), f32::from(u) - 128.0, f32::from(v) - 128.0);
        let (yv, cu, cv) =
            if full { (y, 1.0, 1.0) } else { ((y - 16.0) * 255.0 / 219.0, 255.0 / 224.0, 255.0 / 224.0) };
        let (u, v) = (u * cu, v * cv);
        [yv + 1.402 * v, yv - 0.344_136 * u - 0.714_136 * v, yv + 1.772 * u].map(|c| c.clamp(0.0, 255.0))
    }

    fn assert_close(got: &[u8], want: [f32; 3], what: &str) {
        for c in 0..3 {
            assert!((f32::from(got[c]) - want[c]).abs() <= 1.0, "{what}: channel {c}: got {got:?}, want {want:?}");
        }
    }

    /// A fixture frame: a Y gradient with chroma sweeping its whole range,
    /// so every corner of the colour space (and clamping) is exercised.
    fn fixture(width: usize, height: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let y = (0..width * height).map(|i| ((i * 7 + i / width * 13) % 256) as u8).collect();
        let u = (0..width * height).map(|i| ((i * 11 + 3) % 256) as u8).collect();
        let v = (0..width * height).map(|i| ((i * 5 + i / width * 29) % 256) as u8).collect();
        (y, u, v)
    }

    #[test]
    fn every_yuv_value_matches_the_float_reference_in_both_ranges() {
        for full in [false, true] {
            let m = Bt601::new(full);
            for y in (0..=255).step_by(5) {
                for u in (0..=255).step_by(15) {
                    for v in (0..=255).step_by(15) {
                        let got = m.rgb(y, u, v);
                        assert_close(&got, reference(y, u, v, full), &format!("yuv {y} {u} {v} full {full}"));
                    }
                }
            }
        }
    }

    #[test]
    fn yuyv_frame_matches_reference_with_shared_chroma_per_pair() {
        let (w, h) = (8, 4);
        let (ys, us, vs) = fixture(w, h);
        let mut data = Vec::new();
        for i in (0..w * h).step_by(2) {
            data.extend_from_slice(&[ys[i], us[i], ys[i + 1], vs[i]]);
        }
        let mut rgb = Vec::new();
        yuyv_to_rgb(&data, w as u32, h as u32, Bt601::LIMITED, &mut rgb).unwrap();
        assert_eq!(rgb.len(), w * h * 3);
        for i in 0..w * h {
            let pair = i - i % 2;
            assert_close(&rgb[i * 3..i * 3 + 3], reference(ys[i], us[pair], vs[pair], false), &format!("pixel {i}"));
        }
    }

    #[test]
    fn nv12_frame_matches_reference_with_chroma_per_2x2_block() {
        let (w, h) = (6, 4);
        let (ys, us, vs) = fixture(w, h);
        let mut data = ys.clone();
        for row in (0..h).step_by(2) {
            for col in (0..w).step_by(2) {
                data.extend_from_slice(&[us[row * w + col], vs[row * w + col]]);
            }
        }
        let mut rgb = Vec::new();
        nv12_to_rgb(&data, w as u32, h as u32, Bt601::LIMITED, &mut rgb).unwrap();
        for row in 0..h {
            for col in 0..w {
                let i = row * w + col;
                let c = (row - row % 2) * w + col - col % 2;
                assert_close(&rgb[i * 3..i * 3 + 3], reference(ys[i], us[c], vs[c], false), &format!("({col},{row})"));
            }
        }
    }

    #[test]
    fn planar_420_odd_size_rounds_chroma_up() {
        let (w, h) = (3u32, 3u32);
        let layout = Planar::C420;
        assert_eq!(layout.chroma_size(w, h), (2, 2));
        let mut data = vec![100u8; 9];
        data.extend_from_slice(&[90, 90, 90, 200]); // U: bottom-right block differs
        data.extend_from_slice(&[128, 128, 128, 60]);
        let mut rgb = Vec::new();
        planar_to_rgb(&data, w, h, layout, Bt601::LIMITED, &mut rgb).unwrap();
        assert_close(&rgb[0..3], reference(100, 90, 128, false), "top-left");
        assert_close(&rgb[8 * 3..9 * 3], reference(100, 200, 60, false), "bottom-right");
    }

    #[test]
    fn short_and_impossible_frames_are_errors_not_panics() {
        let mut rgb = Vec::new();
        assert!(matches!(
            yuyv_to_rgb(&[0; 10], 4, 2, Bt601::LIMITED, &mut rgb),
            Err(ConvertError::Short { need: 16, got: 10, .. })
        ));
        assert!(matches!(yuyv_to_rgb(&[0; 64], 3, 2, Bt601::LIMITED, &mut rgb), Err(ConvertError::Size { .. })));
        assert!(matches!(nv12_to_rgb(&[0; 64], 4, 3, Bt601::LIMITED, &mut rgb), Err(ConvertError::Size { .. })));
        assert!(matches!(nv12_to_rgb(&[0; 11], 4, 2, Bt601::LIMITED, &mut rgb), Err(ConvertError::Short { .. })));
        assert!(matches!(mjpeg_to_rgb(&[0xFF, 0xD8, 0, 1, 2], &mut rgb), Err(ConvertError::Jpeg(_))));
    }

    #[test]
    fn mjpeg_frame_decodes_to_its_pixels() {
        let (w, h) = (32u32, 16u32);
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 8) as u8, (y * 16) as u8, 128]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(&img).unwrap();
        let mut rgb = vec![1, 2, 3];
        assert_eq!(mjpeg_to_rgb(&jpeg, &mut rgb).unwrap(), (w, h));
        assert_eq!(rgb.len(), (w * h * 3) as usize);
        let worst = rgb.iter().zip(img.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 12, "JPEG at quality 95 should be within a few levels, worst {worst}");
    }
}
