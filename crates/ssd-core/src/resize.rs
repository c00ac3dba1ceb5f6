//! Bilinear RGB8 resizing to the network input, by fast_image_resize
//! (SSE4.1/AVX2 on x86, NEON on ARM).
//!
//! An own scalar resizer with cached filter tables stood here until 0.2.0:
//! it allocated nothing per frame, where fast_image_resize rebuilds its
//! tables on every call (606 small allocations). Measured on the same frames
//! (`cargo bench -p ssd-core --bench resize`, BENCHMARKS.md "Resizer"), the
//! library is 2.6–5.5× faster, those allocations alone cost a few percent of
//! its time, and the output is byte for byte what the own resizer gave (it
//! was tested to be), so the shipped models' figures do not move.

use fast_image_resize as fr;

#[cfg(target_arch = "x86_64")]
mod avx2;

use crate::manifest::ResizeFilter;

/// Why a resize could not run.
#[derive(Debug, thiserror::Error)]
#[error("cannot resize {src_w}x{src_h} to {dst_w}x{dst_h}: {message}")]
pub struct ResizeError {
    /// Source width.
    pub src_w: u32,
    /// Source height.
    pub src_h: u32,
    /// Target width.
    pub dst_w: u32,
    /// Target height.
    pub dst_h: u32,
    /// What the resizer said.
    pub message: String,
}

/// A bilinear resizer kept from frame to frame (it keeps its scratch buffer).
pub struct Resizer {
    inner: fr::Resizer,
    options: fr::ResizeOptions,
    filter: ResizeFilter,
    /// TF legacy resize: per-column tables and row buffers.
    tf: TfTables,
}

impl std::fmt::Debug for Resizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resizer").field("filter", &"bilinear").finish()
    }
}

impl Default for Resizer {
    fn default() -> Self {
        Self::with_filter(ResizeFilter::Bilinear)
    }
}

impl Clone for Resizer {
    /// A fresh resizer with the same filter: nothing else is worth copying.
    fn clone(&self) -> Self {
        Self::with_filter(self.filter)
    }
}

impl Resizer {
    /// An antialiased bilinear resizer for any sizes.
    pub fn new() -> Resizer {
        Resizer::default()
    }

    /// A resizer with `filter`.
    pub fn with_filter(filter: ResizeFilter) -> Resizer {
        Self {
            inner: fr::Resizer::new(),
            options: fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
            filter,
            tf: TfTables::default(),
        }
    }

    /// Resizes the `sw × sh` RGB8 image `src` into `dst` (`dw × dh × 3` bytes).
    pub fn resize(
        &mut self,
        src: &[u8],
        sw: u32,
        sh: u32,
        dst: &mut [u8],
        dw: u32,
        dh: u32,
    ) -> Result<(), ResizeError> {
        let fail = |message: String| ResizeError { src_w: sw, src_h: sh, dst_w: dw, dst_h: dh, message };
        let (need_src, need_dst) = (sw as usize * sh as usize * 3, dw as usize * dh as usize * 3);
        let src =
            src.get(..need_src).ok_or_else(|| fail(format!("source holds {} bytes, needs {need_src}", src.len())))?;
        let got_dst = dst.len();
        let dst =
            dst.get_mut(..need_dst).ok_or_else(|| fail(format!("target holds {got_dst} bytes, needs {need_dst}")))?;
        if self.filter == ResizeFilter::TfLegacyBilinear {
            if sw == 0 || sh == 0 || dw == 0 || dh == 0 {
                return Err(fail("empty image".into()));
            }
            tf_legacy_bilinear(src, sw as usize, sh as usize, dst, dw as usize, dh as usize, &mut self.tf);
            return Ok(());
        }
        let s = fr::images::ImageRef::new(sw, sh, src, fr::PixelType::U8x3).map_err(|e| fail(e.to_string()))?;
        let mut d =
            fr::images::Image::from_slice_u8(dw, dh, dst, fr::PixelType::U8x3).map_err(|e| fail(e.to_string()))?;
        self.inner.resize(&s, &mut d, &self.options).map_err(|e| fail(e.to_string()))
    }
}

/// TF 1's `ResizeBilinear(align_corners=false)`: output pixel `(x, y)` reads
/// the source at `(x·sw/dw, y·sh/dh)` between its two nearest samples on
/// each axis, rounded to the nearest level at the end. No antialias: a
/// shrink skips source pixels, as TF did for the models trained with it.
///
/// Per output row: the two source pixels of every output column are copied
/// out of each of the two source rows into contiguous runs (three bytes per
/// pixel, no per-value gather), then both runs are blended across and the
/// two results blended down and rounded, each a flat loop over contiguous
/// values that the compiler vectorises. The f32 operations are the ones of
/// the per-pixel formula, in its order, so the output is bit for bit the
/// same (tested against it); a source row pair shared by consecutive output
/// rows (an enlargement) is interpolated once.
///
/// On x86_64 with AVX2, [`avx2::tf_legacy_bilinear`] runs instead: the same
/// values, gathered straight from the frame eight columns at a time.
fn tf_legacy_bilinear(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize, t: &mut TfTables) {
    t.fill(sw, dw);
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return avx2::tf_legacy_bilinear(src, sw, sh, dst, dw, dh, t);
    }
    tf_legacy_bilinear_portable(src, sw, sh, dst, dw, dh, t);
}

/// [`tf_legacy_bilinear`] in portable code, with `t` filled for these sizes.
fn tf_legacy_bilinear_portable(
    src: &[u8],
    sw: usize,
    sh: usize,
    dst: &mut [u8],
    dw: usize,
    dh: usize,
    t: &mut TfTables,
) {
    let sy = sh as f32 / dh as f32;
    let row_len = sw * 3;
    let mut have: Option<(usize, usize)> = None;
    for (y, out_row) in dst.chunks_exact_mut(dw * 3).take(dh).enumerate() {
        let (y0, y1, wy) = source_rows(y, sy, sh);
        if have != Some((y0, y1)) {
            // To the frame's end: the four-byte gather may read the next row's first byte.
            let row = |r: usize| &src[r * row_len..];
            if have.is_some_and(|(_, h1)| h1 == y0) {
                std::mem::swap(&mut t.top, &mut t.bottom);
            } else {
                t.across(row(y0), Half::Top);
            }
            t.across(row(y1), Half::Bottom);
            have = Some((y0, y1));
        }
        let (w_top, w_bottom) = (1.0 - wy, wy);
        for ((out, &top), &bottom) in out_row.iter_mut().zip(&t.top).zip(&t.bottom) {
            *out = round_level(top * w_top + bottom * w_bottom);
        }
    }
}

/// Output row `y`'s two source rows (the second clamped at the last) and
/// the second one's weight, for a vertical scale `sy` of an `sh`-row source;
/// the same for columns.
#[inline]
fn source_rows(y: usize, sy: f32, sh: usize) -> (usize, usize, f32) {
    let fy = y as f32 * sy;
    let y0 = (fy.floor() as usize).min(sh - 1);
    (y0, (y0 + 1).min(sh - 1), fy - y0 as f32)
}

/// `v.round().clamp(0.0, 255.0) as u8` for the `v ≥ 0` a blend of levels
/// gives, in operations that vectorise (`round`, half away from zero, is a
/// library call per value, and a saturating float-to-integer conversion is
/// scalar on SSE2): adding 2²³ rounds to a whole number, ties to even,
/// exactly, and leaves it in the low bits of the float; a tie that went
/// down is moved up.
#[inline]
fn round_level(v: f32) -> u8 {
    const TWO_POW_23: f32 = 8_388_608.0;
    let v = v.clamp(0.0, 255.0);
    let shifted = v + TWO_POW_23;
    let even = shifted - TWO_POW_23;
    (shifted.to_bits() as u8).saturating_add(u8::from(v - even == 0.5))
}

/// Copies the three bytes at each of `offsets` in `row` to `out`, one pixel
/// after another: four-byte copies, each overwriting the last one's spare
/// byte (`out` has one byte more than the pixels need). An offset is
/// clamped where four bytes would run past `row` (the frame's very last
/// pixel), which spares the loop its bounds checks and a branch; those
/// pixels are copied again, three bytes, after. (One eight-byte read for a
/// column's two adjacent pixels was measured no faster.)
fn gather_pixels(row: &[u8], offsets: &[u32], out: &mut [u8]) {
    // `out` must hold every pixel and the spare byte after the last.
    let out_end = out.len().checked_sub(4).filter(|_| out.len() > offsets.len() * 3);
    let (Some(row_end), Some(out_end)) = (row.len().checked_sub(4), out_end) else {
        return gather_pixels_by_three(row, offsets, 0, out);
    };
    for (i, &at) in offsets.iter().enumerate() {
        let (from, to) = ((at as usize).min(row_end), (i * 3).min(out_end));
        out[to..to + 4].copy_from_slice(&row[from..from + 4]);
    }
    let clamped = offsets.iter().rev().take_while(|&&at| at as usize > row_end).count();
    let first = offsets.len() - clamped;
    gather_pixels_by_three(row, &offsets[first..], first, out);
}

/// [`gather_pixels`] for `offsets` of pixels `first..`, three bytes each.
fn gather_pixels_by_three(row: &[u8], offsets: &[u32], first: usize, out: &mut [u8]) {
    for (i, &at) in (first..).zip(offsets) {
        let (at, to) = (at as usize, i * 3);
        if let (Some(from), Some(into)) = (row.get(at..at + 3), out.get_mut(to..to + 3)) {
            into.copy_from_slice(from);
        }
    }
}

/// Which of the two row buffers a source row is interpolated into.
#[derive(Clone, Copy)]
enum Half {
    Top,
    Bottom,
}

/// The TF legacy resize's per-column tables and row buffers, kept from
/// frame to frame.
#[derive(Debug, Default, Clone)]
struct TfTables {
    /// For the last call: source width, output width.
    sizes: (usize, usize),
    /// Per output column: the byte offsets in a source row of its left and
    /// right source pixels.
    left: Vec<u32>,
    right: Vec<u32>,
    /// Per output column: the weights of those pixels.
    col_left: Vec<f32>,
    col_right: Vec<f32>,
    /// Per output value (column × channel): the same weights, repeated.
    w_left: Vec<f32>,
    w_right: Vec<f32>,
    /// One source row's left and right pixels, gathered in output order.
    left_px: Vec<u8>,
    right_px: Vec<u8>,
    /// The two source rows interpolated across.
    top: Vec<f32>,
    bottom: Vec<f32>,
}

impl TfTables {
    fn fill(&mut self, sw: usize, dw: usize) {
        if self.sizes == (sw, dw) && !self.left.is_empty() {
            return;
        }
        self.sizes = (sw, dw);
        let (n, sx) = (dw * 3, sw as f32 / dw as f32);
        for v in [&mut self.left, &mut self.right] {
            v.clear();
        }
        for v in [&mut self.col_left, &mut self.col_right, &mut self.w_left, &mut self.w_right] {
            v.clear();
        }
        for x in 0..dw {
            let (x0, x1, wx) = source_rows(x, sx, sw);
            self.left.push((x0 * 3) as u32);
            self.right.push((x1 * 3) as u32);
            self.col_left.push(1.0 - wx);
            self.col_right.push(wx);
            for _ in 0..3 {
                self.w_left.push(1.0 - wx);
                self.w_right.push(wx);
            }
        }
        for v in [&mut self.left_px, &mut self.right_px] {
            v.resize(n + 1, 0);
        }
        self.top.resize(n, 0.0);
        self.bottom.resize(n, 0.0);
    }

    /// One source row interpolated at every output column and channel.
    fn across(&mut self, row: &[u8], half: Half) {
        for (px, offsets) in [(&mut self.left_px, &self.left), (&mut self.right_px, &self.right)] {
            gather_pixels(row, offsets, px);
        }
        let out = match half {
            Half::Top => &mut self.top,
            Half::Bottom => &mut self.bottom,
        };
        let weights = self.w_left.iter().zip(&self.w_right);
        for ((o, (&a, &b)), (&wl, &wr)) in out.iter_mut().zip(self.left_px.iter().zip(&self.right_px)).zip(weights) {
            *o = f32::from(a) * wl + f32::from(b) * wr;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-pixel formula the fast version must equal bit for bit.
    /// TF 1's `ResizeBilinear(align_corners=false)`: output pixel `(x, y)` reads
    /// the source at `(x·sw/dw, y·sh/dh)` between its two nearest samples on
    /// each axis, rounded to the nearest level at the end. No antialias: a
    /// shrink skips source pixels, as TF did for the models trained with it.
    fn tf_legacy_reference(
        src: &[u8],
        sw: usize,
        sh: usize,
        dst: &mut [u8],
        dw: usize,
        dh: usize,
        columns: &mut Vec<(usize, usize, f32)>,
    ) {
        let (sx, sy) = (sw as f32 / dw as f32, sh as f32 / dh as f32);
        // Each column's source pixels and weight, computed once per call rather
        // than once per row: the same f32 steps, so the output is unchanged.
        columns.clear();
        columns.extend((0..dw).map(|x| {
            let fx = x as f32 * sx;
            let x0 = (fx.floor() as usize).min(sw - 1);
            (x0 * 3, (x0 + 1).min(sw - 1) * 3, fx - x0 as f32)
        }));
        for (y, out_row) in dst.chunks_exact_mut(dw * 3).take(dh).enumerate() {
            let fy = y as f32 * sy;
            let y0 = (fy.floor() as usize).min(sh - 1);
            let y1 = (y0 + 1).min(sh - 1);
            let wy = fy - y0 as f32;
            let (row0, row1) = (&src[y0 * sw * 3..(y0 + 1) * sw * 3], &src[y1 * sw * 3..(y1 + 1) * sw * 3]);
            for (out, &(x0, x1, wx)) in out_row.chunks_exact_mut(3).zip(columns.iter()) {
                let (a0, a1, b0, b1) = (&row0[x0..x0 + 3], &row0[x1..x1 + 3], &row1[x0..x0 + 3], &row1[x1..x1 + 3]);
                for c in 0..3 {
                    let top = f32::from(a0[c]) * (1.0 - wx) + f32::from(a1[c]) * wx;
                    let bottom = f32::from(b0[c]) * (1.0 - wx) + f32::from(b1[c]) * wx;
                    out[c] = (top * (1.0 - wy) + bottom * wy).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn tf_legacy_equals_the_per_pixel_formula_bit_for_bit(
            sw in 1usize..70, sh in 1usize..50, dw in 1usize..90, dh in 1usize..60, seed in 0u32..1000,
        ) {
            let src: Vec<u8> = (0..sw * sh * 3).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) >> 13) as u8).collect();
            let (mut fast, mut slow) = (vec![0u8; dw * dh * 3], vec![0u8; dw * dh * 3]);
            let mut resizer = Resizer::with_filter(ResizeFilter::TfLegacyBilinear);
            // Twice: the second call reuses the tables the first one built.
            for _ in 0..2 {
                resizer.resize(&src, sw as u32, sh as u32, &mut fast, dw as u32, dh as u32).unwrap();
            }
            tf_legacy_reference(&src, sw, sh, &mut slow, dw, dh, &mut Vec::new());
            proptest::prop_assert_eq!(&fast, &slow);
            // The portable path too, where the call above took AVX2.
            let mut portable = vec![0u8; dw * dh * 3];
            let mut t = TfTables::default();
            t.fill(sw, dw);
            tf_legacy_bilinear_portable(&src, sw, sh, &mut portable, dw, dh, &mut t);
            proptest::prop_assert_eq!(portable, slow);
        }
    }

    /// The dispatching path above runs AVX2 where the CPU has it; this pins
    /// the two paths to each other on camera-sized frames, including the
    /// frame's last pixel (left to the per-pixel tail) and widths that leave
    /// a remainder of columns.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_portable_paths_give_the_same_bytes() {
        if !avx2::available() {
            return;
        }
        for (sw, sh, dw, dh) in [(1280, 720, 300, 300), (640, 480, 300, 300), (97, 61, 301, 299), (300, 300, 300, 300)]
        {
            let src: Vec<u8> = (0..sw * sh * 3).map(|i| ((i as u32).wrapping_mul(2654435761) >> 11) as u8).collect();
            let (mut vector, mut portable) = (vec![0u8; dw * dh * 3], vec![0u8; dw * dh * 3]);
            let mut t = TfTables::default();
            t.fill(sw, dw);
            avx2::tf_legacy_bilinear(&src, sw, sh, &mut vector, dw, dh, &t);
            tf_legacy_bilinear_portable(&src, sw, sh, &mut portable, dw, dh, &mut t);
            let differ = vector.iter().zip(&portable).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "{sw}x{sh} -> {dw}x{dh}: {differ} bytes differ");
        }
    }

    #[test]
    fn round_level_rounds_half_away_from_zero_like_f32_round() {
        for v in [0.0f32, 0.49999997, 0.5, 1.5, 2.5, 127.49999, 254.5, 255.0, 255.00002, 300.0] {
            assert_eq!(round_level(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
        }
        // Every level's tie and the 64 floats either side of it, and of it.
        for k in 0..=255u32 {
            for centre in [k as f32, k as f32 + 0.5] {
                let mut v = centre;
                for _ in 0..64 {
                    v = f32::from_bits(v.to_bits() - u32::from(v > 0.0));
                }
                for _ in 0..129 {
                    assert_eq!(round_level(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
                    v = f32::from_bits(v.to_bits() + 1);
                }
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let src = vec![77u8; 97 * 61 * 3];
        let mut out = vec![0u8; 300 * 300 * 3];
        Resizer::new().resize(&src, 97, 61, &mut out, 300, 300).unwrap();
        assert!(out.iter().all(|&v| v == 77));
    }

    #[test]
    fn a_horizontal_ramp_stays_a_ramp() {
        let (w, h) = (640u32, 480u32);
        let src: Vec<u8> = (0..w * h).flat_map(|i| [((i % w) * 255 / (w - 1)) as u8; 3]).collect();
        let mut out = vec![0u8; 300 * 300 * 3];
        Resizer::new().resize(&src, w, h, &mut out, 300, 300).unwrap();
        let row: Vec<u8> = out[..300 * 3].chunks_exact(3).map(|p| p[0]).collect();
        assert!(row.windows(2).all(|p| p[0] <= p[1]), "{row:?}");
        assert!(row[0] < 3 && row[299] > 252, "{} {}", row[0], row[299]);
    }

    #[test]
    fn tf_legacy_bilinear_samples_at_x_times_scale_without_antialias() {
        // 4x1 -> 2x1: TF reads source x = 0 and x = 2 exactly (scale 2), so a
        // spike at x = 1 or 3 vanishes, where an antialiased filter keeps it.
        let src: Vec<u8> = [10u8, 250, 30, 250].iter().flat_map(|&v| [v; 3]).collect();
        let mut out = vec![0u8; 2 * 3];
        Resizer::with_filter(ResizeFilter::TfLegacyBilinear).resize(&src, 4, 1, &mut out, 2, 1).unwrap();
        assert_eq!(out, vec![10, 10, 10, 30, 30, 30]);
        // 2x1 -> 4x1: x·0.5 = 0, 0.5, 1, 1.5 -> 0, midpoint, 1, clamped at the edge.
        let src: Vec<u8> = [0u8, 200].iter().flat_map(|&v| [v; 3]).collect();
        let mut out = vec![0u8; 4 * 3];
        Resizer::with_filter(ResizeFilter::TfLegacyBilinear).resize(&src, 2, 1, &mut out, 4, 1).unwrap();
        let firsts: Vec<u8> = out.chunks_exact(3).map(|p| p[0]).collect();
        assert_eq!(firsts, vec![0, 100, 200, 200]);
    }

    #[test]
    fn short_buffers_are_errors_not_panics() {
        let mut out = vec![0u8; 10];
        let e = Resizer::new().resize(&[0u8; 12], 2, 2, &mut out, 300, 300).unwrap_err();
        assert!(e.to_string().contains("target holds 10 bytes"), "{e}");
        let e = Resizer::new().resize(&[0u8; 5], 2, 2, &mut [0u8; 27], 3, 3).unwrap_err();
        assert!(e.to_string().contains("source holds 5 bytes"), "{e}");
    }
}
