//! TF's legacy bilinear resize eight output pixels at a time, on x86_64
//! CPUs with AVX2 (every x86 mini PC of the last ten years; checked at run
//! time, the portable path runs otherwise).
//!
//! The portable path copies every source pixel it reads into row buffers,
//! one four-byte copy each, because scalar code has no cheaper gather: 360,000
//! copies for a 1280×720 frame, most of its time. Here one `vpgatherdd`
//! loads eight columns' pixels straight from the frame, and the blend runs in
//! registers with no buffer in between. The f32 operations are the per-pixel
//! formula's (multiplies and adds, never fused, in its order) and the rounding
//! is [`super::round_level`]'s, so the output is bit for bit the same.

use std::arch::x86_64::{
    __m256, __m256i, _mm256_add_ps, _mm256_and_ps, _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmp_ps,
    _mm256_cvtepi32_ps, _mm256_cvtps_epi32, _mm256_extracti128_si256, _mm256_i32gather_epi32, _mm256_loadu_ps,
    _mm256_loadu_si256, _mm256_max_ps, _mm256_min_ps, _mm256_mul_ps, _mm256_or_si256, _mm256_permutevar8x32_epi32,
    _mm256_round_ps, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setr_epi8, _mm256_setzero_ps,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_sub_ps, _mm_storel_epi64, _mm_storeu_si128,
    _CMP_EQ_OQ, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT,
};

use super::{round_level, source_rows, TfTables};

/// Pixels per step.
const LANES: usize = 8;

/// Whether this CPU runs [`tf_legacy_bilinear`].
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// [`super::tf_legacy_bilinear`] for a CPU that [`available`] accepted, with
/// `t` filled for these sizes.
pub(super) fn tf_legacy_bilinear(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize, t: &TfTables) {
    let sy = sh as f32 / dh as f32;
    let row_len = sw * 3;
    for (y, out_row) in dst.chunks_exact_mut(dw * 3).take(dh).enumerate() {
        let (y0, y1, wy) = source_rows(y, sy, sh);
        // To the frame's end: a four-byte gather may read the next row's first byte.
        let (top, bottom) = (&src[y0 * row_len..], &src[y1 * row_len..]);
        // Columns whose right pixel leaves four bytes in the bottom row (the
        // top row, earlier in the frame, is no shorter): all but the frame's
        // last pixel, on its last row.
        let fits = t.right.partition_point(|&at| at as usize + 4 <= bottom.len());
        let vector = (fits / LANES) * LANES;
        // SAFETY: AVX2 is present (the caller checked `available`), and every
        // gathered column's four bytes lie inside `top` and `bottom` (`fits`).
        unsafe { row(top, bottom, wy, t, &mut out_row[..vector * 3]) };
        for x in vector..dw {
            let (l, r) = (t.left[x] as usize, t.right[x] as usize);
            let (wl, wr) = (t.col_left[x], t.col_right[x]);
            for c in 0..3 {
                let across = |row: &[u8]| f32::from(row[l + c]) * wl + f32::from(row[r + c]) * wr;
                out_row[x * 3 + c] = round_level(across(top) * (1.0 - wy) + across(bottom) * wy);
            }
        }
    }
}

/// One output row's first `out.len() / 24` groups of eight pixels.
///
/// # Safety
/// AVX2 must be present, and for each of those columns four bytes must be
/// readable at `t.left[x]` and `t.right[x]` in both `top` and `bottom`.
#[target_feature(enable = "avx2")]
unsafe fn row(top: &[u8], bottom: &[u8], wy: f32, t: &TfTables, out: &mut [u8]) {
    let (w_top, w_bottom) = (_mm256_set1_ps(1.0 - wy), _mm256_set1_ps(wy));
    // Each lane's three colour bytes first, then the next lane's: 24 bytes.
    let pack = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
    );
    let join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    for (x, out) in (0..).step_by(LANES).zip(out.chunks_exact_mut(LANES * 3)) {
        // SAFETY: `x + 8` columns exist in the tables (the caller sized `out`
        // by them) and the gathered bytes are in bounds (the caller's contract).
        let (tl, tr, bl, br, wl, wr) = unsafe {
            let left = _mm256_loadu_si256(t.left.as_ptr().add(x).cast::<__m256i>());
            let right = _mm256_loadu_si256(t.right.as_ptr().add(x).cast::<__m256i>());
            let (top, bottom) = (top.as_ptr().cast::<i32>(), bottom.as_ptr().cast::<i32>());
            (
                _mm256_i32gather_epi32::<1>(top, left),
                _mm256_i32gather_epi32::<1>(top, right),
                _mm256_i32gather_epi32::<1>(bottom, left),
                _mm256_i32gather_epi32::<1>(bottom, right),
                _mm256_loadu_ps(t.col_left.as_ptr().add(x)),
                _mm256_loadu_ps(t.col_right.as_ptr().add(x)),
            )
        };
        let (tl, tr, bl, br) = (channels(tl), channels(tr), channels(bl), channels(br));
        let mut packed = _mm256_set1_epi32(0);
        for c in 0..3 {
            let across_top = _mm256_add_ps(_mm256_mul_ps(tl[c], wl), _mm256_mul_ps(tr[c], wr));
            let across_bottom = _mm256_add_ps(_mm256_mul_ps(bl[c], wl), _mm256_mul_ps(br[c], wr));
            let v = _mm256_add_ps(_mm256_mul_ps(across_top, w_top), _mm256_mul_ps(across_bottom, w_bottom));
            let level = round_levels(v);
            packed = _mm256_or_si256(
                packed,
                match c {
                    0 => level,
                    1 => _mm256_slli_epi32::<8>(level),
                    _ => _mm256_slli_epi32::<16>(level),
                },
            );
        }
        let bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(packed, pack), join);
        // SAFETY: `out` is 24 bytes: 16 at its start, 8 after them.
        unsafe {
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(bytes));
            _mm_storel_epi64(out.as_mut_ptr().add(16).cast(), _mm256_extracti128_si256::<1>(bytes));
        }
    }
}

/// The three colour bytes of eight gathered pixels (one per 32-bit lane),
/// as eight floats per channel.
#[target_feature(enable = "avx2")]
fn channels(v: __m256i) -> [__m256; 3] {
    let byte = _mm256_set1_epi32(0xff);
    [
        _mm256_cvtepi32_ps(_mm256_and_si256(v, byte)),
        _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<8>(v), byte)),
        _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<16>(v), byte)),
    ]
}

/// [`round_level`] for eight values: clamped, rounded to the nearest whole
/// number with ties to even, and a tie that went down moved up.
#[target_feature(enable = "avx2")]
fn round_levels(v: __m256) -> __m256i {
    let v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0));
    let even = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
    let tie = _mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_sub_ps(v, even), _mm256_set1_ps(0.5));
    _mm256_cvtps_epi32(_mm256_add_ps(even, _mm256_and_ps(tie, _mm256_set1_ps(1.0))))
}
