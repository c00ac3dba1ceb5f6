//! Bilinear (triangle filter, widened when shrinking) RGB8 resizing whose
//! filter tables are built once per frame size and reused, so a video's
//! frames are resized without touching the allocator.
//!
//! The arithmetic is fast_image_resize's `Convolution(Bilinear)` for U8x3
//! (Pillow-SIMD's): f64 weights normalized per output pixel, quantized to
//! i16 with the largest precision that keeps them in range, integer sums
//! rounded and clamped; vertical pass first, then horizontal. The output is
//! byte-identical to fast_image_resize 6.1 (tested), which the shipped model
//! was evaluated with; fast_image_resize itself rebuilds its tables on every
//! call (hundreds of small allocations per frame).

/// One axis' filter: for each output position, the first input index and
/// its weights.
#[derive(Debug, Clone, Default)]
struct AxisFilter {
    starts: Vec<u32>,
    sizes: Vec<u32>,
    /// `window` weights per output position, the first `sizes[i]` used.
    weights: Vec<i16>,
    window: usize,
    precision: u8,
    /// No negative weight (true of the triangle filter): enables the
    /// two-channels-per-multiply horizontal pass.
    nonnegative: bool,
}

impl AxisFilter {
    /// The triangle filter from `input` to `output` samples, its support
    /// widened by the shrink factor (so every input contributes).
    fn new(input: u32, output: u32) -> AxisFilter {
        let scale = f64::from(input) / f64::from(output);
        let filter_scale = scale.max(1.0);
        let radius = filter_scale; // bilinear support 1.0
        let window = radius.ceil() as usize * 2 + 1;
        let recip = 1.0 / filter_scale;
        let mut values: Vec<f64> = Vec::with_capacity(window * output as usize);
        let (mut starts, mut sizes) = (Vec::with_capacity(output as usize), Vec::with_capacity(output as usize));
        for out in 0..output {
            let in_center = (f64::from(out) + 0.5) * scale;
            let x_min = (in_center - radius).floor().max(0.0) as u32;
            let x_max = (in_center + radius).ceil().min(f64::from(input)) as u32;
            let first = values.len();
            let center = in_center - 0.5;
            let (mut start, mut end, mut sum) = (x_min, x_max, 0.0);
            for x in x_min..x_max {
                let w = triangle((f64::from(x) - center) * recip);
                if x == start && w == 0.0 {
                    start += 1; // no leading zero weights
                } else {
                    values.push(w);
                    sum += w;
                }
            }
            for &w in values.iter().rev() {
                if end <= start || w != 0.0 {
                    break;
                }
                end -= 1; // nor trailing ones
            }
            if sum != 0.0 {
                values[first..].iter_mut().for_each(|w| *w /= sum);
            }
            values.resize(first + window, 0.0);
            starts.push(start);
            sizes.push(end - start);
        }
        // The largest precision at which the largest weight still fits i16.
        let max_weight = values.iter().copied().fold(f64::NEG_INFINITY, f64::max).max(0.0);
        let mut precision = 0u8;
        for p in 0..PRECISION_BITS {
            precision = p;
            if (max_weight * f64::from(1u32 << (p + 1))).round() as i32 >= 1 << 15 {
                break;
            }
        }
        let unit = f64::from(1u32 << precision);
        let weights: Vec<i16> = values.iter().map(|&w| (w * unit).round() as i16).collect();
        let nonnegative = weights.iter().all(|&w| w >= 0);
        AxisFilter { starts, sizes, weights, window, precision, nonnegative }
    }

    fn taps(&self, out: usize) -> (usize, &[i16]) {
        let w = &self.weights[out * self.window..out * self.window + self.sizes[out] as usize];
        (self.starts[out] as usize, w)
    }

    fn clip(&self, sum: i32) -> u8 {
        (sum >> self.precision).clamp(0, 255) as u8
    }

    fn initial(&self) -> i32 {
        1 << (self.precision - 1)
    }
}

/// 8 bits of result, 2 of headroom for filters with negative lobes, in i32.
const PRECISION_BITS: u8 = 32 - 8 - 2;

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// A resizer that keeps its filter tables and scratch rows between frames.
#[derive(Debug, Default, Clone)]
pub struct Resizer {
    sizes: Option<[u32; 4]>,
    horizontal: Option<AxisFilter>,
    vertical: Option<AxisFilter>,
    temp: Vec<u8>,
}

impl Resizer {
    /// A resizer with nothing cached yet.
    pub fn new() -> Resizer {
        Resizer::default()
    }

    /// Resizes the `sw × sh` RGB8 image `src` into `dst` (`dw × dh × 3` bytes).
    /// Sizes must be non-zero and the slices at least that long.
    pub fn resize(&mut self, src: &[u8], sw: u32, sh: u32, dst: &mut [u8], dw: u32, dh: u32) {
        let (sw_, sh_, dw_, dh_) = (sw as usize, sh as usize, dw as usize, dh as usize);
        if sw == 0 || sh == 0 || dw == 0 || dh == 0 || src.len() < sw_ * sh_ * 3 || dst.len() < dw_ * dh_ * 3 {
            return;
        }
        if self.sizes != Some([sw, sh, dw, dh]) {
            self.horizontal = (sw != dw).then(|| AxisFilter::new(sw, dw));
            self.vertical = (sh != dh).then(|| AxisFilter::new(sh, dh));
            self.sizes = Some([sw, sh, dw, dh]);
        }
        let (src, dst) = (&src[..sw_ * sh_ * 3], &mut dst[..dw_ * dh_ * 3]);
        match (&self.horizontal, &self.vertical) {
            (Some(h), Some(v)) => {
                // Vertical first over the columns the horizontal pass reads.
                let x_first = h.starts[0] as usize;
                let x_last = h.starts[dw_ - 1] as usize + h.sizes[dw_ - 1] as usize;
                let temp_w = x_last - x_first;
                self.temp.resize(temp_w * dh_ * 3, 0);
                vertical(v, src, sw_, x_first, temp_w, &mut self.temp);
                horizontal(h, &self.temp, temp_w, x_first, dh_, dst, dw_);
            }
            (Some(h), None) => horizontal(h, src, sw_, 0, sh_, dst, dw_),
            (None, Some(v)) => vertical(v, src, sw_, 0, sw_, dst),
            (None, None) => dst.copy_from_slice(src),
        }
    }
}

/// Each output row: the weighted sum of input rows, over columns
/// `x_first..x_first + width` of the `src_w`-wide source. Column blocks of
/// [`BLOCK`] keep the sums in registers across the taps.
fn vertical(f: &AxisFilter, src: &[u8], src_w: usize, x_first: usize, width: usize, dst: &mut [u8]) {
    let n = width * 3;
    for (out, dst_row) in dst.chunks_exact_mut(n).enumerate() {
        let (start, taps) = f.taps(out);
        let first = (start * src_w + x_first) * 3;
        let rows = |i: usize| first + i * src_w * 3;
        let mut x = 0;
        while x + BLOCK <= n {
            let mut sums = [f.initial(); BLOCK];
            for (i, &k) in taps.iter().enumerate() {
                let k = i32::from(k);
                let row: &[u8; BLOCK] = match src[rows(i) + x..rows(i) + x + BLOCK].try_into() {
                    Ok(row) => row,
                    Err(_) => continue, // unreachable: the slice is BLOCK long
                };
                for (s, &p) in sums.iter_mut().zip(row) {
                    *s += i32::from(p) * k;
                }
            }
            for (d, s) in dst_row[x..x + BLOCK].iter_mut().zip(sums) {
                *d = f.clip(s);
            }
            x += BLOCK;
        }
        for (j, d) in dst_row[x..].iter_mut().enumerate() {
            let mut s = f.initial();
            for (i, &k) in taps.iter().enumerate() {
                s += i32::from(src[rows(i) + x + j]) * i32::from(k);
            }
            *d = f.clip(s);
        }
    }
}

/// Columns summed together in the vertical pass.
const BLOCK: usize = 64;

/// Each output pixel: the weighted sum of input pixels along its row;
/// `offset` is subtracted from the filter's input positions (the columns a
/// previous pass left out).
fn horizontal(f: &AxisFilter, src: &[u8], src_w: usize, offset: usize, rows: usize, dst: &mut [u8], dst_w: usize) {
    let initial = f.initial();
    for y in 0..rows {
        let src_row = &src[y * src_w * 3..(y + 1) * src_w * 3];
        let dst_row = &mut dst[y * dst_w * 3..(y + 1) * dst_w * 3];
        for (x, px) in dst_row.chunks_exact_mut(3).enumerate() {
            let (start, taps) = f.taps(x);
            let from = (start - offset) * 3;
            let pixels = &src_row[from..from + 3 * taps.len()];
            if f.nonnegative {
                // Red and blue share one u64 (32 bits each): the weights are
                // nonnegative and a sum stays below 2^29 (255 × 2^21), so no
                // carry crosses from red into blue.
                let (mut rb, mut g) = (0u64, 0u32);
                for (&k, p) in taps.iter().zip(pixels.chunks_exact(3)) {
                    let k = k as u16;
                    rb += (u64::from(p[0]) | u64::from(p[2]) << 32) * u64::from(k);
                    g += u32::from(p[1]) * u32::from(k);
                }
                let r = initial + (rb & 0xffff_ffff) as i32;
                let b = initial + (rb >> 32) as i32;
                px.copy_from_slice(&[f.clip(r), f.clip(initial + g as i32), f.clip(b)]);
            } else {
                let mut s = [initial; 3];
                for (&k, p) in taps.iter().zip(pixels.chunks_exact(3)) {
                    let k = i32::from(k);
                    s[0] += i32::from(p[0]) * k;
                    s[1] += i32::from(p[1]) * k;
                    s[2] += i32::from(p[2]) * k;
                }
                px.copy_from_slice(&s.map(|v| f.clip(v)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fast_image_resize as fr;

    fn reference(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
        let mut out = vec![0u8; (dw * dh * 3) as usize];
        let s = fr::images::ImageRef::new(sw, sh, src, fr::PixelType::U8x3).unwrap();
        let mut d = fr::images::Image::from_slice_u8(dw, dh, &mut out, fr::PixelType::U8x3).unwrap();
        let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
        fr::Resizer::new().resize(&s, &mut d, &options).unwrap();
        out
    }

    fn image(w: u32, h: u32, seed: u64) -> Vec<u8> {
        let mut rng = crate::rng::SplitMix::new(seed);
        // Smooth regions, edges and noise: every weight matters somewhere.
        (0..w * h * 3)
            .map(|i| {
                let (x, y) = ((i / 3) % w, (i / 3) / w);
                let base = if (x / 7 + y / 5) % 2 == 0 { 40 } else { 200 };
                (base + (rng.next_u64() % 40) as u32 + x % 16) as u8
            })
            .collect()
    }

    #[test]
    fn byte_identical_to_fast_image_resize() {
        let cases = [
            (640, 480, 300, 300),
            (1280, 720, 300, 300),
            (1920, 1080, 320, 320),
            (300, 300, 300, 300),
            (128, 128, 300, 300),
            (201, 97, 300, 300),
            (640, 300, 300, 300),
            (300, 480, 300, 300),
            (5, 3, 300, 300),
            (480, 360, 128, 128),
            (640, 480, 300, 225),
        ];
        let mut resizer = Resizer::new();
        for (i, &(sw, sh, dw, dh)) in cases.iter().enumerate() {
            let src = image(sw, sh, i as u64);
            let mut out = vec![0u8; (dw * dh * 3) as usize];
            resizer.resize(&src, sw, sh, &mut out, dw, dh);
            let want = reference(&src, sw, sh, dw, dh);
            let differ = out.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "{sw}x{sh} -> {dw}x{dh}: {differ} bytes differ");
        }
    }

    #[test]
    fn tables_are_rebuilt_when_the_size_changes() {
        let mut resizer = Resizer::new();
        let (a, b) = (image(640, 480, 1), image(320, 200, 2));
        let mut out = vec![0u8; 300 * 300 * 3];
        resizer.resize(&a, 640, 480, &mut out, 300, 300);
        resizer.resize(&b, 320, 200, &mut out, 300, 300);
        assert_eq!(out, reference(&b, 320, 200, 300, 300));
        resizer.resize(&a, 640, 480, &mut out, 300, 300);
        assert_eq!(out, reference(&a, 640, 480, 300, 300));
    }

    #[test]
    fn a_flat_image_stays_flat() {
        let src = vec![77u8; 97 * 61 * 3];
        let mut out = vec![0u8; 300 * 300 * 3];
        Resizer::new().resize(&src, 97, 61, &mut out, 300, 300);
        assert!(out.iter().all(|&v| v == 77));
    }
}
