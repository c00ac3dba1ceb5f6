//! Camera and Y4M pixel formats to RGB8: YUYV (4:2:2 packed), NV12 (4:2:0
//! with interleaved chroma), planar YUV (Y4M) and MJPEG. The YUV layouts go
//! through yuvutils-rs's BT.601 kernels (SSE4.1/AVX2 on x86, NEON on ARM,
//! chosen at run time): several times the scalar fixed-point kernel that
//! stood here (BENCHMARKS.md, "The front end"), within two levels of it on
//! every colour a camera sends. [`Bt601::rgb`] stays as the per-pixel
//! reference the tests hold them to. YUYV on x86_64 with AVX2 has a kernel
//! of its own ([`avx2`]), faster there than yuvutils-rs's packed kernel.

#[cfg(target_arch = "x86_64")]
mod avx2;

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

    /// yuvutils-rs's name for this matrix's range.
    fn range(&self) -> yuvutils_rs::YuvRange {
        if *self == Self::FULL {
            yuvutils_rs::YuvRange::Full
        } else {
            yuvutils_rs::YuvRange::Limited
        }
    }

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
    /// The converter refused a frame the checks here let through.
    #[error("{format} frame of {width}x{height} cannot be converted: {message}")]
    Yuv {
        /// Pixel format name.
        format: &'static str,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
        /// What yuvutils-rs said.
        message: String,
    },
}

/// A yuvutils-rs error as a [`ConvertError`].
fn yuv_error(format: &'static str, width: u32, height: u32) -> impl Fn(yuvutils_rs::YuvError) -> ConvertError {
    move |e| ConvertError::Yuv { format, width, height, message: e.to_string() }
}

fn check(format: &'static str, data: &[u8], width: u32, height: u32, need: usize) -> Result<(), ConvertError> {
    if data.len() < need {
        return Err(ConvertError::Short { format, width, height, need, got: data.len() });
    }
    Ok(())
}

/// YUYV (YUY2): `Y0 U Y1 V` for each pair of pixels, rows of `2 × width` bytes.
pub fn yuyv_to_rgb(data: &[u8], width: u32, height: u32, m: Bt601, rgb: &mut Vec<u8>) -> Result<(), ConvertError> {
    if !width.is_multiple_of(2) || height == 0 || width == 0 {
        return Err(ConvertError::Size { format: "YUYV", width, height });
    }
    let pixels = width as usize * height as usize;
    check("YUYV", data, width, height, pixels * 2)?;
    rgb.resize(pixels * 3, 0);
    // Rows carry no padding and a pixel pair never crosses one: the frame
    // is one run of pairs.
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        let data = &data[..pixels * 2];
        let done = avx2::yuyv_to_rgb(data, rgb, &m);
        for (pair, out) in data[done * 2..].chunks_exact(4).zip(rgb[done * 3..].chunks_exact_mut(6)) {
            out[..3].copy_from_slice(&m.rgb(pair[0], pair[1], pair[3]));
            out[3..].copy_from_slice(&m.rgb(pair[2], pair[1], pair[3]));
        }
        return Ok(());
    }
    let image = yuvutils_rs::YuvPackedImage { yuy: &data[..pixels * 2], yuy_stride: width * 2, width, height };
    yuvutils_rs::yuyv422_to_rgb(&image, rgb, width * 3, m.range(), yuvutils_rs::YuvStandardMatrix::Bt601)
        .map_err(yuv_error("YUYV", width, height))
}

/// NV12: a full-size Y plane, then a half-size plane of interleaved `U V`.
pub fn nv12_to_rgb(data: &[u8], width: u32, height: u32, m: Bt601, rgb: &mut Vec<u8>) -> Result<(), ConvertError> {
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) || width == 0 || height == 0 {
        return Err(ConvertError::Size { format: "NV12", width, height });
    }
    let (w, h) = (width as usize, height as usize);
    check("NV12", data, width, height, w * h * 3 / 2)?;
    rgb.resize(w * h * 3, 0);
    let (y_plane, uv_plane) = data[..w * h * 3 / 2].split_at(w * h);
    let image = yuvutils_rs::YuvBiPlanarImage { y_plane, y_stride: width, uv_plane, uv_stride: width, width, height };
    yuvutils_rs::yuv_nv12_to_rgb(
        &image,
        rgb,
        width * 3,
        m.range(),
        yuvutils_rs::YuvStandardMatrix::Bt601,
        yuvutils_rs::YuvConversionMode::Balanced,
    )
    .map_err(yuv_error("NV12", width, height))
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
    if w == 0 || h == 0 {
        return Err(ConvertError::Size { format: "planar YUV", width, height });
    }
    check("planar YUV", data, width, height, layout.frame_bytes(width, height))?;
    rgb.resize(w * h * 3, 0);
    let (y_plane, rest) = data.split_at(w * h);
    let (cw, ch) = layout.chroma_size(width, height);
    let (u_plane, rest) = rest.split_at(cw * ch);
    let v_plane = &rest[..cw * ch];
    let (range, matrix, stride) = (m.range(), yuvutils_rs::YuvStandardMatrix::Bt601, width * 3);
    let fail = yuv_error("planar YUV", width, height);
    if layout == Planar::Mono {
        let image = yuvutils_rs::YuvGrayImage { y_plane, y_stride: width, width, height };
        return yuvutils_rs::yuv400_to_rgb(&image, rgb, stride, range, matrix).map_err(fail);
    }
    let image = yuvutils_rs::YuvPlanarImage {
        y_plane,
        y_stride: width,
        u_plane,
        u_stride: cw as u32,
        v_plane,
        v_stride: cw as u32,
        width,
        height,
    };
    match layout {
        Planar::C420 => yuvutils_rs::yuv420_to_rgb(&image, rgb, stride, range, matrix),
        Planar::C422 => yuvutils_rs::yuv422_to_rgb(&image, rgb, stride, range, matrix),
        Planar::C444 | Planar::Mono => yuvutils_rs::yuv444_to_rgb(&image, rgb, stride, range, matrix),
    }
    .map_err(fail)
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

    /// How far a whole frame's conversion may be from the textbook formulas:
    /// yuvutils-rs's SIMD kernels round in 8.6 fixed point, within two
    /// levels of the 16.16 per-pixel kernel on every colour a camera can
    /// send. (YUV outside the RGB cube, which no camera sends, saturates
    /// their 16-bit intermediates and may land further off before clamping.)
    const FRAME_LEVELS: f32 = 2.0;

    fn assert_frame_close(got: &[u8], want: [f32; 3], what: &str) {
        for c in 0..3 {
            let off = (f32::from(got[c]) - want[c]).abs();
            assert!(off <= FRAME_LEVELS + 0.5, "{what}: channel {c}: got {got:?}, want {want:?}");
        }
    }

    /// A fixture frame of real colours: pseudo-random RGB turned into YUV
    /// by the BT.601 forward formulas (limited or full range).
    fn fixture(width: usize, height: usize, full: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut ys, mut us, mut vs) = (Vec::new(), Vec::new(), Vec::new());
        let mut seed = 12345u32;
        for _ in 0..width * height {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let [r, g, b] = [8, 16, 24].map(|s| f32::from((seed >> s) as u8));
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            let (u, v) = ((b - y) / 1.772, (r - y) / 1.402);
            let (y, u, v) = if full {
                (y, u + 128.0, v + 128.0)
            } else {
                (16.0 + y * 219.0 / 255.0, 128.0 + u * 224.0 / 255.0, 128.0 + v * 224.0 / 255.0)
            };
            let level = |x: f32| x.round().clamp(0.0, 255.0) as u8;
            ys.push(level(y));
            us.push(level(u));
            vs.push(level(v));
        }
        (ys, us, vs)
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
        let (ys, us, vs) = fixture(w, h, false);
        let mut data = Vec::new();
        for i in (0..w * h).step_by(2) {
            data.extend_from_slice(&[ys[i], us[i], ys[i + 1], vs[i]]);
        }
        let mut rgb = Vec::new();
        yuyv_to_rgb(&data, w as u32, h as u32, Bt601::LIMITED, &mut rgb).unwrap();
        assert_eq!(rgb.len(), w * h * 3);
        for i in 0..w * h {
            let pair = i - i % 2;
            assert_frame_close(
                &rgb[i * 3..i * 3 + 3],
                reference(ys[i], us[pair], vs[pair], false),
                &format!("pixel {i}"),
            );
        }
    }

    #[test]
    fn nv12_frame_matches_reference_with_chroma_per_2x2_block() {
        let (w, h) = (6, 4);
        let (ys, us, vs) = fixture(w, h, false);
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
                assert_frame_close(
                    &rgb[i * 3..i * 3 + 3],
                    reference(ys[i], us[c], vs[c], false),
                    &format!("({col},{row})"),
                );
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
        assert_frame_close(&rgb[0..3], reference(100, 90, 128, false), "top-left");
        assert_frame_close(&rgb[8 * 3..9 * 3], reference(100, 200, 60, false), "bottom-right");
    }

    /// Every layout, on frames of odd and even sizes of real colours, within
    /// two levels of the per-pixel kernel in both ranges.
    #[test]
    fn every_layout_stays_within_two_levels_of_the_per_pixel_kernel() {
        let within = |got: &[u8], want: [u8; 3], what: &str| {
            assert!(got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 2), "{what}: got {got:?}, want {want:?}");
        };
        for full in [false, true] {
            let m = Bt601::new(full);
            for (w, h) in [(64usize, 48usize), (34, 18), (7, 5)] {
                let (ys, us, vs) = fixture(w, h, full);
                for layout in [Planar::C420, Planar::C422, Planar::C444, Planar::Mono] {
                    let (cw, ch) = layout.chroma_size(w as u32, h as u32);
                    let mut data = ys.clone();
                    data.extend(&us[..cw * ch]);
                    data.extend(&vs[..cw * ch]);
                    let mut rgb = Vec::new();
                    planar_to_rgb(&data, w as u32, h as u32, layout, m, &mut rgb).unwrap();
                    for (i, px) in rgb.chunks_exact(3).enumerate() {
                        let (row, col) = (i / w, i % w);
                        let c = match layout {
                            Planar::C420 => (row / 2) * cw + col / 2,
                            Planar::C422 => row * cw + col / 2,
                            _ => row * cw + col,
                        };
                        let (u, v) = if layout == Planar::Mono { (128, 128) } else { (us[c], vs[c]) };
                        within(px, m.rgb(ys[i], u, v), &format!("{layout:?} {w}x{h} full {full} pixel {i}"));
                    }
                }
                if w % 2 == 0 {
                    let mut yuyv = Vec::new();
                    for i in (0..w * h).step_by(2) {
                        yuyv.extend_from_slice(&[ys[i], us[i], ys[i + 1], vs[i]]);
                    }
                    let mut rgb = Vec::new();
                    yuyv_to_rgb(&yuyv, w as u32, h as u32, m, &mut rgb).unwrap();
                    for (i, px) in rgb.chunks_exact(3).enumerate() {
                        let pair = i - i % 2;
                        within(px, m.rgb(ys[i], us[pair], vs[pair]), &format!("YUYV {w}x{h} full {full} pixel {i}"));
                    }
                }
            }
        }
    }

    /// Every 4th Y, U and V value in both ranges, as one YUYV frame (each
    /// pair one U, V and two Ys), 32-pixel runs and a per-pixel tail: within
    /// one level of the per-pixel kernel.
    #[test]
    fn yuyv_every_fourth_value_stays_within_one_level_of_the_per_pixel_kernel() {
        for full in [false, true] {
            let m = Bt601::new(full);
            let mut yuyv = Vec::new();
            for y in (0..=255u8).step_by(4) {
                for u in (0..=255u8).step_by(4) {
                    for v in (0..=255u8).step_by(4) {
                        yuyv.extend_from_slice(&[y, u, y.saturating_add(2), v]);
                    }
                }
            }
            // 64 × 64 × 64 pairs, and 3 more pairs so the tail runs too.
            yuyv.extend_from_slice(&[235, 16, 16, 240, 16, 240, 235, 16, 128, 128, 129, 128]);
            let pixels = yuyv.len() / 2;
            let mut rgb = Vec::new();
            yuyv_to_rgb(&yuyv, pixels as u32, 1, m, &mut rgb).unwrap();
            for (pair, out) in yuyv.chunks_exact(4).zip(rgb.chunks_exact(6)) {
                let want = [m.rgb(pair[0], pair[1], pair[3]), m.rgb(pair[2], pair[1], pair[3])].concat();
                let off = out.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                assert!(off <= 1, "full {full}: yuyv {pair:?} gave {out:?}, want {want:?}");
            }
            assert_eq!(rgb.len(), pixels * 3);
        }
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
