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
    /// TF legacy resize: each output column's source offsets and weight,
    /// refilled per call into the same buffer.
    columns: Vec<(usize, usize, f32)>,
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
            columns: Vec::new(),
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
            tf_legacy_bilinear(src, sw as usize, sh as usize, dst, dw as usize, dh as usize, &mut self.columns);
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
fn tf_legacy_bilinear(
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

#[cfg(test)]
mod tests {
    use super::*;

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
