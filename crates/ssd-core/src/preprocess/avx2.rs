//! Normalizing RGB8 pixels into NCHW planes eight pixels at a time, on
//! x86_64 CPUs with AVX2 (checked at run time; the table path runs
//! otherwise).
//!
//! The table path reads one f32 per value from a 256-entry table: a load
//! the CPU cannot batch. Here each channel's eight bytes are picked out of
//! 24 pixel bytes with two shuffles, widened, and mapped by a multiply and
//! an add, not fused, so each value is the table's `f32::from(v) * a + b`.

use std::arch::x86_64::{
    __m128i, _mm256_add_ps, _mm256_cvtepi32_ps, _mm256_cvtepu8_epi32, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
    _mm_loadl_epi64, _mm_loadu_si128, _mm_or_si128, _mm_shuffle_epi8,
};

/// Whether this CPU runs [`normalize_row`].
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Writes `planes[c][x] = f32::from(src[3x + c]) * affine[c].0 + affine[c].1`
/// for the row's leading pixels, a multiple of eight, and returns how many
/// it wrote; the caller writes the rest. Call only where [`available`].
pub(super) fn normalize_row(src: &[u8], planes: [&mut [f32]; 3], affine: [(f32, f32); 3]) -> usize {
    let pixels = planes.iter().map(|p| p.len()).min().unwrap_or(0).min(src.len() / 3);
    let done = pixels / 8 * 8;
    // SAFETY: the caller checked AVX2; `done` pixels are in `src` and every plane.
    unsafe { rows_of_eight(&src[..done * 3], planes, affine) };
    done
}

/// Per channel, the shuffles that pick its eight bytes (c, c + 3, … c + 21
/// of 24) out of the low sixteen and out of the high eight (-1: none).
const PICKS: [[[i8; 16]; 2]; 3] = {
    let mut picks = [[[-1; 16]; 2]; 3];
    let mut c = 0;
    while c < 3 {
        let mut j = 0;
        while j < 8 {
            let at = 3 * j + c;
            if at < 16 {
                picks[c][0][j] = at as i8;
            } else {
                picks[c][1][j] = (at - 16) as i8;
            }
            j += 1;
        }
        c += 1;
    }
    picks
};

/// # Safety
/// AVX2 must be present, and every plane must hold `src.len() / 3` values.
#[target_feature(enable = "avx2")]
unsafe fn rows_of_eight(src: &[u8], planes: [&mut [f32]; 3], affine: [(f32, f32); 3]) {
    // SAFETY: each mask is 16 bytes.
    let picks = PICKS.map(|[low, high]| unsafe {
        (_mm_loadu_si128(low.as_ptr().cast::<__m128i>()), _mm_loadu_si128(high.as_ptr().cast::<__m128i>()))
    });
    let scale = affine.map(|(a, b)| (_mm256_set1_ps(a), _mm256_set1_ps(b)));
    for (i, pixels) in src.chunks_exact(24).enumerate() {
        // SAFETY: 16 bytes at the chunk's start and 8 after them are its 24.
        let (low, high) = unsafe {
            (_mm_loadu_si128(pixels.as_ptr().cast::<__m128i>()), _mm_loadl_epi64(pixels.as_ptr().add(16).cast()))
        };
        for c in 0..3 {
            let ((from_low, from_high), (a, b)) = (picks[c], scale[c]);
            let bytes = _mm_or_si128(_mm_shuffle_epi8(low, from_low), _mm_shuffle_epi8(high, from_high));
            let values = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), a), b);
            let out = &mut planes[c][i * 8..i * 8 + 8];
            // SAFETY: `out` is eight floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), values) };
        }
    }
}
