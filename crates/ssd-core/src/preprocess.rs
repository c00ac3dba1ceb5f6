//! Resizes an RGB frame to the network input and normalizes it straight into
//! the input tensor, with buffers reused from frame to frame.

use crate::boxes::InputMapping;
use crate::manifest::{ColorOrder, Layout, Manifest};

#[cfg(target_arch = "x86_64")]
mod avx2;

/// Errors preprocessing a frame.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The frame's buffer does not hold `width × height × 3` bytes.
    #[error("frame buffer has {got} bytes, a {width}x{height} RGB frame needs {need}")]
    BadFrame {
        /// Bytes present.
        got: usize,
        /// Bytes needed.
        need: usize,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
    /// The resizer refused the sizes.
    #[error(transparent)]
    Resize(#[from] crate::resize::ResizeError),
    /// The input tensor has the wrong size.
    #[error("input tensor holds {got} values, the model input needs {need}")]
    BadTensor {
        /// Values present.
        got: usize,
        /// Values needed.
        need: usize,
    },
}

/// Turns frames into network input.
#[derive(Clone)]
pub struct Preprocessor {
    in_w: u32,
    in_h: u32,
    layout: Layout,
    swap_rb: bool,
    affine: [(f32, f32); 3],
    /// Per network channel, the value of each source level: one load per
    /// value instead of a conversion, a multiply and an add.
    levels: Box<[[f32; 256]; 3]>,
    letterbox: bool,
    resizer: crate::resize::Resizer,
    scratch: Resized,
}

/// A frame resized to the model input (the part a letterbox fills), not yet
/// normalized: the capture thread makes it, the inference thread normalizes
/// it into the input tensor.
#[derive(Debug, Clone)]
pub struct Resized {
    /// RGB8, `size[0] × size[1] × 3` bytes.
    pub pixels: Vec<u8>,
    /// Width and height of `pixels`.
    pub size: [u32; 2],
    /// How boxes map back to the frame.
    pub mapping: InputMapping,
}

impl Default for Resized {
    fn default() -> Self {
        Resized { pixels: Vec::new(), size: [0, 0], mapping: InputMapping::stretch(1, 1, 1, 1) }
    }
}

impl std::fmt::Debug for Preprocessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preprocessor")
            .field("input", &(self.in_w, self.in_h))
            .field("layout", &self.layout)
            .field("letterbox", &self.letterbox)
            .finish_non_exhaustive()
    }
}

/// Grey used around a letterboxed frame.
const PAD: f32 = 127.5;

impl Preprocessor {
    /// A preprocessor for the manifest's input; `letterbox` keeps the frame's
    /// aspect ratio instead of stretching it (SSD is trained stretched).
    pub fn new(manifest: &Manifest, letterbox: bool) -> Self {
        let i = &manifest.input;
        let affine = i.normalize.affine();
        let levels = Box::new(affine.map(|(a, b)| std::array::from_fn(|v| f32::from(v as u8) * a + b)));
        Self {
            in_w: i.width,
            in_h: i.height,
            layout: i.layout,
            swap_rb: i.color == ColorOrder::Bgr,
            affine,
            levels,
            letterbox,
            resizer: crate::resize::Resizer::with_filter(i.resize),
            scratch: Resized::default(),
        }
    }

    /// Writes the frame into `out` (the input tensor's values) and returns how
    /// to map boxes back to frame pixels: [`Preprocessor::resize`] then
    /// [`Preprocessor::normalize`] on one thread.
    pub fn run(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        out: &mut [f32],
    ) -> Result<InputMapping, PreprocessError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.resize(rgb, width, height, &mut scratch).and_then(|()| self.normalize(&scratch, out));
        self.scratch = scratch;
        result
    }

    /// Resizes the frame to the model input (stretched, or the letterbox's
    /// inner part) into `out`, whose buffer is reused.
    pub fn resize(&mut self, rgb: &[u8], width: u32, height: u32, out: &mut Resized) -> Result<(), PreprocessError> {
        let need = width as usize * height as usize * 3;
        if rgb.len() < need || width == 0 || height == 0 {
            return Err(PreprocessError::BadFrame { got: rgb.len(), need, width, height });
        }
        let (mapping, [rw, rh]) = if self.letterbox {
            InputMapping::letterbox(width, height, self.in_w, self.in_h)
        } else {
            (InputMapping::stretch(width, height, self.in_w, self.in_h), [self.in_w, self.in_h])
        };
        out.pixels.resize(rw as usize * rh as usize * 3, 0);
        if (rw, rh) == (width, height) {
            out.pixels.copy_from_slice(&rgb[..need]);
        } else {
            self.resizer.resize(&rgb[..need], width, height, &mut out.pixels, rw, rh)?;
        }
        out.size = [rw, rh];
        out.mapping = mapping;
        Ok(())
    }

    /// Resizes the crop `[x, y, width, height]` of the frame to the model
    /// input into `out`, with a mapping to the whole frame's pixels; `crop`
    /// holds the cut-out pixels between calls.
    pub fn resize_region(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        [x, y, w, h]: [u32; 4],
        crop: &mut Vec<u8>,
        out: &mut Resized,
    ) -> Result<(), PreprocessError> {
        let need = width as usize * height as usize * 3;
        let inside = x.checked_add(w).is_some_and(|r| r <= width) && y.checked_add(h).is_some_and(|b| b <= height);
        if rgb.len() < need || !inside || w == 0 || h == 0 {
            return Err(PreprocessError::BadFrame { got: rgb.len(), need, width, height });
        }
        crop.clear();
        let (x, w, stride) = (x as usize * 3, w as usize * 3, width as usize * 3);
        for row in rgb[..need].chunks_exact(stride).skip(y as usize).take(h as usize) {
            crop.extend_from_slice(&row[x..x + w]);
        }
        self.resize(crop, w as u32 / 3, h, out)?;
        let offset = [(x / 3) as f32, y as f32];
        out.mapping = out.mapping.in_frame(offset, [width as f32, height as f32]);
        Ok(())
    }

    /// Normalizes a resized frame into `out` (the input tensor's values) and
    /// returns how to map boxes back to frame pixels.
    pub fn normalize(&self, resized: &Resized, out: &mut [f32]) -> Result<InputMapping, PreprocessError> {
        let (iw, ih) = (self.in_w as usize, self.in_h as usize);
        if out.len() != iw * ih * 3 {
            return Err(PreprocessError::BadTensor { got: out.len(), need: iw * ih * 3 });
        }
        let Resized { pixels, size: [rw, rh], mapping } = resized;
        let (mapping, rw, rh) = (*mapping, *rw, *rh);
        let need = rw as usize * rh as usize * 3;
        if pixels.len() != need || rw > self.in_w || rh > self.in_h {
            return Err(PreprocessError::BadFrame { got: pixels.len(), need, width: rw, height: rh });
        }
        let (px, py) = (mapping.pad[0] as usize, mapping.pad[1] as usize);
        let (rw, rh) = (rw as usize, rh as usize);
        // Source channel feeding each network channel.
        let order = if self.swap_rb { [2, 1, 0] } else { [0, 1, 2] };
        let [(a0, b0), (a1, b1), (a2, b2)] = self.affine;
        let pad = [a0 * PAD + b0, a1 * PAD + b1, a2 * PAD + b2];
        if self.letterbox {
            match self.layout {
                Layout::Nchw => {
                    for (c, plane) in out.chunks_exact_mut(iw * ih).enumerate() {
                        plane.fill(pad[c]);
                    }
                }
                Layout::Nhwc => {
                    for px in out.chunks_exact_mut(3) {
                        px.copy_from_slice(&pad);
                    }
                }
            }
        }
        let [l0, l1, l2] = &*self.levels;
        match self.layout {
            Layout::Nchw => {
                let (p0, rest) = out.split_at_mut(iw * ih);
                let (p1, p2) = rest.split_at_mut(iw * ih);
                // The plane each source channel feeds and its table, so the
                // loop reads the pixel at constant positions.
                let (mut r, g, mut b) = ((p0, l0, self.affine[0]), (p1, l1, self.affine[1]), (p2, l2, self.affine[2]));
                if self.swap_rb {
                    std::mem::swap(&mut r, &mut b);
                }
                #[cfg(target_arch = "x86_64")]
                let vector = avx2::available();
                for y in 0..rh {
                    let src = &pixels[y * rw * 3..(y + 1) * rw * 3];
                    let o = (y + py) * iw + px;
                    let (rd, gd, bd) = (&mut r.0[o..o + rw], &mut g.0[o..o + rw], &mut b.0[o..o + rw]);
                    // The same values eight pixels at a time where AVX2 runs.
                    #[cfg(target_arch = "x86_64")]
                    let (src, rd, gd, bd) = if vector {
                        let done = avx2::normalize_row(src, [&mut *rd, &mut *gd, &mut *bd], [r.2, g.2, b.2]);
                        (&src[done * 3..], &mut rd[done..], &mut gd[done..], &mut bd[done..])
                    } else {
                        (src, rd, gd, bd)
                    };
                    for (((p, rv), gv), bv) in src.chunks_exact(3).zip(rd).zip(gd).zip(bd) {
                        *rv = r.1[usize::from(p[0])];
                        *gv = g.1[usize::from(p[1])];
                        *bv = b.1[usize::from(p[2])];
                    }
                }
            }
            Layout::Nhwc => {
                for y in 0..rh {
                    let src = &pixels[y * rw * 3..(y + 1) * rw * 3];
                    let o = ((y + py) * iw + px) * 3;
                    let dst = &mut out[o..o + rw * 3];
                    for (d, p) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3)) {
                        d[0] = l0[usize::from(p[order[0]])];
                        d[1] = l1[usize::from(p[order[1]])];
                        d[2] = l2[usize::from(p[order[2]])];
                    }
                }
            }
        }
        Ok(mapping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, Normalize};

    fn manifest(w: u32, h: u32, layout: Layout, color: ColorOrder) -> Manifest {
        let mut m = crate::manifest::ssd300_manifest(
            "t",
            "",
            vec!["bg".into(), "x".into()],
            crate::priors::ssd300_voc(),
            crate::manifest::ScoreActivation::Softmax,
        );
        m.input.width = w;
        m.input.height = h;
        m.input.layout = layout;
        m.input.color = color;
        m.input.normalize = Normalize::MeanStd { mean: [10.0, 20.0, 30.0], std: [2.0, 4.0, 5.0] };
        m
    }

    #[test]
    fn same_size_frame_is_normalized_per_channel_in_nchw() {
        let mut p = Preprocessor::new(&manifest(2, 1, Layout::Nchw, ColorOrder::Rgb), false);
        let rgb = [110, 120, 130, 10, 20, 30];
        let mut out = vec![0.0; 6];
        p.run(&rgb, 2, 1, &mut out).unwrap();
        assert_eq!(out, vec![50.0, 0.0, 25.0, 0.0, 20.0, 0.0]);
    }

    #[test]
    fn bgr_nhwc_swaps_channels_and_interleaves() {
        let mut p = Preprocessor::new(&manifest(1, 1, Layout::Nhwc, ColorOrder::Bgr), false);
        let mut out = vec![0.0; 3];
        p.run(&[40, 60, 80], 1, 1, &mut out).unwrap();
        // Network channel 0 is blue: (80 - 10) / 2; channel 2 is red: (40 - 30) / 5.
        assert_eq!(out, vec![35.0, 10.0, 2.0]);
    }

    #[test]
    fn bgr_nchw_puts_blue_in_the_first_plane_with_the_first_channels_normalizing() {
        let mut p = Preprocessor::new(&manifest(2, 1, Layout::Nchw, ColorOrder::Bgr), false);
        let mut out = vec![0.0; 6];
        p.run(&[40, 60, 80, 12, 24, 255], 2, 1, &mut out).unwrap();
        // Plane 0 is blue with mean 10, std 2; plane 2 is red with mean 30, std 5.
        assert_eq!(out, vec![35.0, 122.5, 10.0, 1.0, 2.0, -3.6]);
    }

    /// Widths around the eight pixels the AVX2 path takes at a time, both
    /// colour orders, stretched and letterboxed: every value is the
    /// formula's, bit for bit, whichever path wrote it.
    #[test]
    fn nchw_values_are_the_formulas_at_every_width_and_order() {
        let (a, b) = ([0.5f32, 0.25, 0.2], [-5.0f32, -5.0, -6.0]);
        for color in [ColorOrder::Rgb, ColorOrder::Bgr] {
            for (w, h, letterbox) in
                [(1, 1, false), (7, 3, false), (8, 2, false), (9, 2, false), (37, 5, false), (37, 20, true)]
            {
                let mut p = Preprocessor::new(&manifest(w, h, Layout::Nchw, color), letterbox);
                let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
                let (fw, fh) = if letterbox { (w, h / 2) } else { (w, h) };
                let frame: Vec<u8> = rgb[..(fw * fh * 3) as usize].to_vec();
                let mut out = vec![0.0; (w * h * 3) as usize];
                let m = p.run(&frame, fw, fh, &mut out).unwrap();
                let (px, py) = (m.pad[0] as usize, m.pad[1] as usize);
                let plane = (w * h) as usize;
                for (i, pixel) in frame.chunks_exact(3).enumerate() {
                    let (x, y) = (i % fw as usize + px, i / fw as usize + py);
                    for (c, &v) in pixel.iter().enumerate() {
                        let k = if color == ColorOrder::Bgr { 2 - c } else { c };
                        let want = f32::from(v) * a[k] + b[k];
                        let got = out[k * plane + y * w as usize + x];
                        assert_eq!(got.to_bits(), want.to_bits(), "{w}x{h} {color:?} pixel {i} channel {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn uniform_frame_stays_uniform_after_resizing() {
        let mut p = Preprocessor::new(&manifest(30, 30, Layout::Nchw, ColorOrder::Rgb), false);
        let rgb = vec![200u8; 64 * 48 * 3];
        let mut out = vec![0.0; 30 * 30 * 3];
        let m = p.run(&rgb, 64, 48, &mut out).unwrap();
        assert_eq!(m.scale, [64.0 / 30.0, 48.0 / 30.0]);
        assert!(out[..900].iter().all(|&v| v == 95.0));
        assert!(out[1800..].iter().all(|&v| v == 34.0));
    }

    #[test]
    fn letterbox_pads_top_and_bottom_of_a_wide_frame() {
        let mut p = Preprocessor::new(&manifest(30, 30, Layout::Nchw, ColorOrder::Rgb), true);
        let rgb = vec![10u8; 60 * 30 * 3];
        let mut out = vec![0.0; 30 * 30 * 3];
        let m = p.run(&rgb, 60, 30, &mut out).unwrap();
        assert_eq!(m.pad, [0.0, 7.0]);
        let red = &out[..900];
        let pad = (PAD - 10.0) / 2.0;
        assert!(red[..7 * 30].iter().all(|&v| v == pad), "top rows are padding");
        assert!(red[7 * 30..22 * 30].iter().all(|&v| v == 0.0), "frame rows are the frame");
        assert!(red[22 * 30..].iter().all(|&v| v == pad), "bottom rows are padding");
    }

    #[test]
    fn short_buffers_are_errors_not_panics() {
        let mut p = Preprocessor::new(&manifest(2, 2, Layout::Nchw, ColorOrder::Rgb), false);
        let mut out = vec![0.0; 12];
        assert!(matches!(p.run(&[0; 5], 2, 2, &mut out), Err(PreprocessError::BadFrame { .. })));
        assert!(matches!(p.run(&[0; 12], 2, 2, &mut out[..4]), Err(PreprocessError::BadTensor { .. })));
    }

    #[test]
    fn a_region_is_the_crop_resized_and_maps_back_to_frame_pixels() {
        let mut p = Preprocessor::new(&manifest(4, 4, Layout::Nchw, ColorOrder::Rgb), false);
        // An 8x6 frame whose pixel (x, y) holds x * 10 + y in every channel.
        let rgb: Vec<u8> = (0..6).flat_map(|y| (0..8).flat_map(move |x| [x * 10 + y; 3])).collect();
        let (mut crop, mut out) = (Vec::new(), Resized::default());
        p.resize_region(&rgb, 8, 6, [2, 1, 4, 4], &mut crop, &mut out).unwrap();
        let firsts: Vec<u8> = out.pixels.chunks_exact(3).map(|px| px[0]).collect();
        assert_eq!(&firsts[..4], &[21, 31, 41, 51], "same size: the crop itself");
        assert_eq!(firsts[12], 24);
        let whole = out.mapping.to_source(&crate::boxes::BBox::new(0.0, 0.0, 1.0, 1.0));
        assert_eq!([whole.x1, whole.y1, whole.x2, whole.y2], [2.0, 1.0, 6.0, 5.0]);
        let half = out.mapping.to_source(&crate::boxes::BBox::new(0.5, 0.5, 2.0, 2.0));
        assert_eq!([half.x1, half.y1, half.x2, half.y2], [4.0, 3.0, 8.0, 6.0], "clipped to the frame, not the crop");
        assert!(p.resize_region(&rgb, 8, 6, [6, 0, 4, 4], &mut crop, &mut out).is_err(), "outside the frame");
    }
}
