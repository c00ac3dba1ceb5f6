//! YUYV to RGB8 32 pixels at a time on x86_64 CPUs with AVX2 (checked at run
//! time; yuvutils-rs's kernel runs otherwise).
//!
//! yuvutils-rs's packed-YUYV kernel took 0.45–0.50 ms for a 1280×720 frame
//! on this project's 2-core machine, three times its NV12 kernel for the
//! same pixels (BENCHMARKS.md, "The front end"). This one works in 16-bit
//! lanes: each value is scaled by 128 so that `vpmulhrsw` (a rounded
//! multiply by a Q15 factor) leaves it times the coefficient in 8.6 fixed
//! point, sums saturate (only for colours far outside the RGB cube, which
//! clamp the same way), and three shuffles per output register interleave
//! the planes into RGB. Within one level of [`Bt601::rgb`] (tested on every
//! 4th Y, U and V value in both ranges).

use std::arch::x86_64::{
    __m256i, _mm256_adds_epi16, _mm256_and_si256, _mm256_castsi256_si128, _mm256_extracti128_si256, _mm256_loadu_si256,
    _mm256_mulhrs_epi16, _mm256_or_si256, _mm256_packus_epi16, _mm256_permute4x64_epi64, _mm256_set1_epi16,
    _mm256_setr_epi8, _mm256_shuffle_epi8, _mm256_slli_epi16, _mm256_srai_epi16, _mm256_srli_epi16, _mm256_sub_epi16,
    _mm256_subs_epi16, _mm_storeu_si128,
};

use super::Bt601;

/// Pixels per step.
const PIXELS: usize = 32;

/// Whether this CPU runs [`yuyv_to_rgb`].
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Converts the leading pixels of `yuyv` into `rgb`, a multiple of 32 (a
/// pixel pair never straddles the cut: 32 is even), and returns how many;
/// the caller converts the rest. Call only where [`available`].
pub(super) fn yuyv_to_rgb(yuyv: &[u8], rgb: &mut [u8], m: &Bt601) -> usize {
    let pixels = (yuyv.len() / 2).min(rgb.len() / 3) / PIXELS * PIXELS;
    // SAFETY: the caller checked AVX2.
    unsafe { runs(&yuyv[..pixels * 2], &mut rgb[..pixels * 3], Factors::of(m)) };
    pixels
}

/// [`Bt601`]'s 16.16 coefficients as Q14 factors for values scaled by 128
/// (`vpmulhrsw` then gives the product in 8.6 fixed point). Blue's 2.017
/// (limited range) does not fit: it is `2 + kb`, the 2 an add.
struct Factors {
    y: i16,
    r: i16,
    gu: i16,
    gv: i16,
    b: i16,
    y0: i16,
}

impl Factors {
    fn of(m: &Bt601) -> Self {
        let q14 = |k: i32| ((k + 2) >> 2) as i16;
        Self { y: q14(m.ky), r: q14(m.kr), gu: q14(m.kgu), gv: q14(m.kgv), b: q14(m.kb - 131_072), y0: m.y0 as i16 }
    }
}

/// Per output register k (bytes 16k..16k + 16 of a 16-pixel run's 48) and
/// colour: which pixel's byte of that colour's register lands where (-1:
/// none). The same in both 128-bit lanes.
const INTERLEAVE: [[[i8; 32]; 3]; 3] = {
    let mut masks = [[[-1; 32]; 3]; 3];
    let mut k = 0;
    while k < 3 {
        let mut j = 0;
        while j < 16 {
            let n = 16 * k + j;
            masks[k][n % 3][j] = (n / 3) as i8;
            masks[k][n % 3][16 + j] = (n / 3) as i8;
            j += 1;
        }
        k += 1;
    }
    masks
};

/// # Safety
/// AVX2 must be present.
#[target_feature(enable = "avx2")]
unsafe fn runs(yuyv: &[u8], rgb: &mut [u8], f: Factors) {
    // SAFETY: each mask is 32 bytes.
    let masks = INTERLEAVE.map(|k| k.map(|c| unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }));
    for (src, dst) in yuyv.chunks_exact(PIXELS * 2).zip(rgb.chunks_exact_mut(PIXELS * 3)) {
        // SAFETY: `src` is 64 bytes.
        let (a, b) =
            unsafe { (_mm256_loadu_si256(src.as_ptr().cast()), _mm256_loadu_si256(src.as_ptr().add(32).cast())) };
        let (a, b) = (sixteen(a, &f), sixteen(b, &f));
        // Packing two runs interleaves their halves per lane; the permute
        // puts pixels 0–15 in the low lane, 16–31 in the high one.
        let plane = |c: usize| _mm256_permute4x64_epi64::<0xD8>(_mm256_packus_epi16(a[c], b[c]));
        let planes = [plane(0), plane(1), plane(2)];
        for (k, mask) in masks.iter().enumerate() {
            let out = _mm256_or_si256(
                _mm256_or_si256(_mm256_shuffle_epi8(planes[0], mask[0]), _mm256_shuffle_epi8(planes[1], mask[1])),
                _mm256_shuffle_epi8(planes[2], mask[2]),
            );
            // SAFETY: `dst` is 96 bytes: pixels 0–15 in its first 48, 16–31 after.
            unsafe {
                _mm_storeu_si128(dst.as_mut_ptr().add(16 * k).cast(), _mm256_castsi256_si128(out));
                _mm_storeu_si128(dst.as_mut_ptr().add(48 + 16 * k).cast(), _mm256_extracti128_si256::<1>(out));
            }
        }
    }
}

/// Sixteen pixels (32 YUYV bytes) to red, green and blue levels, one per
/// 16-bit lane (pixels 0–7 in the low 128 bits, 8–15 in the high).
#[target_feature(enable = "avx2")]
#[inline]
fn sixteen(v: __m256i, f: &Factors) -> [__m256i; 3] {
    let luma = _mm256_and_si256(v, _mm256_set1_epi16(0xff));
    let chroma = _mm256_srli_epi16::<8>(v); // U0 V0 U1 V1 … per lane
    let u = _mm256_shuffle_epi8(
        chroma,
        _mm256_setr_epi8(
            0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13,
        ),
    );
    let v = _mm256_shuffle_epi8(
        chroma,
        _mm256_setr_epi8(
            2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15, 2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14,
            15,
        ),
    );
    let scaled = |x: __m256i, zero: i16| _mm256_slli_epi16::<7>(_mm256_sub_epi16(x, _mm256_set1_epi16(zero)));
    let (y, u, v) = (scaled(luma, f.y0), scaled(u, 128), scaled(v, 128));
    let times = |x: __m256i, k: i16| _mm256_mulhrs_epi16(x, _mm256_set1_epi16(k));
    let y = times(y, f.y);
    let r = _mm256_adds_epi16(y, times(v, f.r));
    let g = _mm256_subs_epi16(_mm256_subs_epi16(y, times(u, f.gu)), times(v, f.gv));
    let b = _mm256_adds_epi16(_mm256_adds_epi16(y, u), times(u, f.b));
    let level = |x: __m256i| _mm256_srai_epi16::<6>(_mm256_adds_epi16(x, _mm256_set1_epi16(32)));
    [level(r), level(g), level(b)]
}
