//! Axis-aligned boxes, IoU and the SSD box coder: the one home of box maths
//! for the runtime, the trainer's matcher and the evaluator.

use serde::{Deserialize, Serialize};

/// A box by its corners. Units are whatever the caller works in (normalized
/// model coordinates or source pixels); `x2 >= x1` and `y2 >= y1` for a valid box.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BBox {
    /// A box from its corners.
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// A box from its centre and size.
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    /// `[cx, cy, w, h]`.
    pub fn to_center(&self) -> [f32; 4] {
        [(self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0, self.x2 - self.x1, self.y2 - self.y1]
    }

    /// Width, 0 for an inverted box.
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    /// Height, 0 for an inverted box.
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area, 0 for an empty or inverted box.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let iw = self.x2.min(other.x2) - self.x1.max(other.x1);
        let ih = self.y2.min(other.y2) - self.y1.max(other.y1);
        if iw <= 0.0 || ih <= 0.0 {
            return 0.0;
        }
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// The box clipped to `[0, w] × [0, h]`.
    pub fn clip(&self, w: f32, h: f32) -> BBox {
        BBox::new(self.x1.clamp(0.0, w), self.y1.clamp(0.0, h), self.x2.clamp(0.0, w), self.y2.clamp(0.0, h))
    }
}

/// `log(1000 / 16)`: torchvision's clamp on encoded width/height before `exp`.
pub const DEFAULT_WH_CLAMP: f32 = 4.135_166_6;

fn default_variances() -> [f32; 4] {
    [0.1, 0.1, 0.2, 0.2]
}

fn default_clamp() -> Option<f32> {
    Some(DEFAULT_WH_CLAMP)
}

/// Order of the four offsets in the network's box output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetOrder {
    /// `[dx, dy, dw, dh]` (Caffe SSD, torchvision, MediaPipe).
    #[default]
    Xywh,
    /// `[dy, dx, dh, dw]` (TensorFlow Object Detection API).
    Yxhw,
}

/// How the size offsets scale the prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeCoding {
    /// `w = p_w · exp(v2 · dw)` (SSD, torchvision, TF).
    #[default]
    Exp,
    /// `w = p_w · v2 · dw` (MediaPipe without `apply_exponential_on_box_size`,
    /// where unit anchors make `dw` a size in input pixels and v2 = 1 / input side).
    Linear,
}

/// Centre-size box coding with variances, as in the SSD paper.
///
/// Offsets are `[dx, dy, dw, dh]` with `dx = (cx - p_cx) / (v0 · p_w)` and
/// `dw = ln(w / p_w) / v2`. torchvision's BoxCoder weights (10, 10, 5, 5) and
/// TF's scale factors are the reciprocals of variances (0.1, 0.1, 0.2, 0.2);
/// MediaPipe's `x_scale` etc. are too (1 / 128 for a 128-pixel input).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxCoder {
    /// Per-coordinate variances `[vx, vy, vw, vh]`.
    #[serde(default = "default_variances")]
    pub variances: [f32; 4],
    /// Upper bound on `vw·dw` and `vh·dh` before `exp`, so that a wild output
    /// cannot overflow to an infinite box. `null` disables it.
    #[serde(default = "default_clamp")]
    pub clamp_log_wh: Option<f32>,
    /// Offset order in the output; variances always read `[x, y, w, h]`.
    #[serde(default)]
    pub order: OffsetOrder,
    /// Exponential (default) or linear size offsets.
    #[serde(default)]
    pub size: SizeCoding,
    /// Clip decoded boxes to the model input before NMS, as torchvision and
    /// TF do (NMS then compares the visible parts). Off by default, as in Caffe SSD.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clip: bool,
}

impl Default for BoxCoder {
    fn default() -> Self {
        Self {
            variances: default_variances(),
            clamp_log_wh: default_clamp(),
            order: OffsetOrder::default(),
            size: SizeCoding::default(),
            clip: false,
        }
    }
}

impl BoxCoder {
    /// Decodes offsets against a prior `[cx, cy, w, h]` into a box in the
    /// prior's units.
    #[inline]
    pub fn decode(&self, prior: &[f32; 4], d: &[f32; 4]) -> BBox {
        let v = &self.variances;
        let d = match self.order {
            OffsetOrder::Xywh => *d,
            OffsetOrder::Yxhw => [d[1], d[0], d[3], d[2]],
        };
        let cx = prior[0] + v[0] * d[0] * prior[2];
        let cy = prior[1] + v[1] * d[1] * prior[3];
        let (mut lw, mut lh) = (v[2] * d[2], v[3] * d[3]);
        if self.size == SizeCoding::Linear {
            return BBox::from_center(cx, cy, prior[2] * lw, prior[3] * lh);
        }
        if let Some(c) = self.clamp_log_wh {
            lw = lw.min(c);
            lh = lh.min(c);
        }
        BBox::from_center(cx, cy, prior[2] * lw.exp(), prior[3] * lh.exp())
    }

    /// Decodes a keypoint offset pair `[dx, dy]` (in the output's offset
    /// order) like a box centre: MediaPipe's landmarks are coded this way.
    #[inline]
    pub fn decode_point(&self, prior: &[f32; 4], d: [f32; 2]) -> [f32; 2] {
        let [dx, dy] = match self.order {
            OffsetOrder::Xywh => d,
            OffsetOrder::Yxhw => [d[1], d[0]],
        };
        let v = &self.variances;
        [prior[0] + v[0] * dx * prior[2], prior[1] + v[1] * dy * prior[3]]
    }

    /// Encodes a box against a prior: the training target that `decode` inverts.
    /// Degenerate sizes are floored at 1e-6 so the logarithm stays finite.
    pub fn encode(&self, prior: &[f32; 4], b: &BBox) -> [f32; 4] {
        let v = &self.variances;
        let [cx, cy, w, h] = b.to_center();
        let (pw, ph) = (prior[2].max(1e-6), prior[3].max(1e-6));
        let (dw, dh) = match self.size {
            SizeCoding::Exp => ((w.max(1e-6) / pw).ln() / v[2], (h.max(1e-6) / ph).ln() / v[3]),
            SizeCoding::Linear => (w / pw / v[2], h / ph / v[3]),
        };
        let d = [(cx - prior[0]) / (v[0] * pw), (cy - prior[1]) / (v[1] * ph), dw, dh];
        match self.order {
            OffsetOrder::Xywh => d,
            OffsetOrder::Yxhw => [d[1], d[0], d[3], d[2]],
        }
    }
}

/// Maps normalized model-input coordinates back to source-frame pixels,
/// undoing a stretch or a letterbox resize.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputMapping {
    /// Model input width in pixels.
    pub input_w: f32,
    /// Model input height in pixels.
    pub input_h: f32,
    /// Source pixels per input pixel, horizontally and vertically.
    pub scale: [f32; 2],
    /// Padding in input pixels on the left and top (letterbox).
    pub pad: [f32; 2],
    /// Source frame size, for clipping.
    pub source: [f32; 2],
    /// Where the resized image starts in the source frame (a crop's corner;
    /// zero for the whole frame).
    pub offset: [f32; 2],
}

impl InputMapping {
    /// Stretch: the whole frame fills the whole input.
    pub fn stretch(src_w: u32, src_h: u32, in_w: u32, in_h: u32) -> Self {
        let (sw, sh, iw, ih) = (src_w as f32, src_h as f32, in_w as f32, in_h as f32);
        Self {
            input_w: iw,
            input_h: ih,
            scale: [sw / iw, sh / ih],
            pad: [0.0, 0.0],
            source: [sw, sh],
            offset: [0.0, 0.0],
        }
    }

    /// Letterbox: the frame is scaled to fit, keeping its aspect ratio, and
    /// centred; returns the mapping and the size of the resized frame.
    pub fn letterbox(src_w: u32, src_h: u32, in_w: u32, in_h: u32) -> (Self, [u32; 2]) {
        let (sw, sh, iw, ih) = (src_w as f32, src_h as f32, in_w as f32, in_h as f32);
        let k = (iw / sw).min(ih / sh);
        let rw = ((sw * k).round() as u32).clamp(1, in_w);
        let rh = ((sh * k).round() as u32).clamp(1, in_h);
        let pad = [((in_w - rw) / 2) as f32, ((in_h - rh) / 2) as f32];
        let mapping = Self {
            input_w: iw,
            input_h: ih,
            scale: [sw / rw as f32, sh / rh as f32],
            pad,
            source: [sw, sh],
            offset: [0.0, 0.0],
        };
        (mapping, [rw, rh])
    }

    /// The mapping of a crop at `offset` in a `frame`-sized frame, given the
    /// crop's own mapping: boxes come out in the frame's pixels, clipped to
    /// the frame.
    pub fn in_frame(self, offset: [f32; 2], frame: [f32; 2]) -> Self {
        Self { offset, source: frame, ..self }
    }

    /// A normalized point in model-input space to source pixels (not clipped:
    /// a landmark may lie outside the frame).
    pub fn point_to_source(&self, x: f32, y: f32) -> [f32; 2] {
        [
            (x * self.input_w - self.pad[0]) * self.scale[0] + self.offset[0],
            (y * self.input_h - self.pad[1]) * self.scale[1] + self.offset[1],
        ]
    }

    /// A normalized box in model-input space to source pixels, clipped to the frame.
    pub fn to_source(&self, b: &BBox) -> BBox {
        let [x1, y1] = self.point_to_source(b.x1, b.y1);
        let [x2, y2] = self.point_to_source(b.x2, b.y2);
        BBox::new(x1, y1, x2, y2).clip(self.source[0], self.source[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = BBox::new(0.0, 0.0, 2.0, 2.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(3.0, 3.0, 4.0, 4.0)), 0.0);
        // Touching edges share no area.
        assert_eq!(a.iou(&BBox::new(2.0, 0.0, 4.0, 2.0)), 0.0);
        // Intersection 2, union 6.
        assert!(close(a.iou(&BBox::new(1.0, 0.0, 3.0, 2.0)), 2.0 / 6.0, 1e-6));
        // Empty and inverted boxes never overlap anything.
        assert_eq!(BBox::new(1.0, 1.0, 1.0, 1.0).iou(&a), 0.0);
        assert_eq!(BBox::new(2.0, 2.0, 0.0, 0.0).iou(&a), 0.0);
    }

    #[test]
    fn decode_follows_the_paper_formula() {
        let c = BoxCoder::default();
        let prior = [0.5, 0.5, 0.2, 0.4];
        // Zero offsets give the prior itself.
        let b = c.decode(&prior, &[0.0; 4]);
        assert!(close(b.x1, 0.4, 1e-6) && close(b.x2, 0.6, 1e-6));
        assert!(close(b.y1, 0.3, 1e-6) && close(b.y2, 0.7, 1e-6));
        // cx = 0.5 + 0.1·1·0.2 = 0.52; w = 0.2·exp(0.2·ln 2 / 0.2) = 0.4.
        let b = c.decode(&prior, &[1.0, -1.0, 2f32.ln() / 0.2, 0.0]);
        let [cx, cy, w, h] = b.to_center();
        assert!(close(cx, 0.52, 1e-6) && close(cy, 0.46, 1e-6));
        assert!(close(w, 0.4, 1e-6) && close(h, 0.4, 1e-6));
    }

    #[test]
    fn tf_order_reads_offsets_as_y_x_h_w() {
        let tf = BoxCoder { order: OffsetOrder::Yxhw, ..BoxCoder::default() };
        let prior = [0.5, 0.5, 0.2, 0.4];
        // dy = 1 moves the centre down by 0.1 · 0.4; dx = 0 leaves x alone.
        let b = tf.decode(&prior, &[1.0, 0.0, 0.0, 0.0]);
        let [cx, cy, w, h] = b.to_center();
        assert!(close(cx, 0.5, 1e-6) && close(cy, 0.54, 1e-6) && close(w, 0.2, 1e-6) && close(h, 0.4, 1e-6));
        // dh = ln 2 / 0.2 doubles the height only.
        let b = tf.decode(&prior, &[0.0, 0.0, 2f32.ln() / 0.2, 0.0]);
        assert!(close(b.height(), 0.8, 1e-5) && close(b.width(), 0.2, 1e-6));
    }

    #[test]
    fn mediapipe_linear_sizes_are_pixels_over_unit_anchors() {
        // BlazeFace: 128-pixel input, unit anchors, scales 128 → variances 1/128.
        let mp = BoxCoder { variances: [1.0 / 128.0; 4], size: SizeCoding::Linear, ..BoxCoder::default() };
        let anchor = [0.25, 0.75, 1.0, 1.0];
        // Centre 16 px right and 8 px up of the anchor, 32 × 48 px.
        let b = mp.decode(&anchor, &[16.0, -8.0, 32.0, 48.0]);
        let [cx, cy, w, h] = b.to_center();
        assert!(close(cx, 0.375, 1e-6) && close(cy, 0.6875, 1e-6));
        assert!(close(w, 0.25, 1e-6) && close(h, 0.375, 1e-6));
    }

    #[test]
    fn every_coding_encodes_what_it_decodes() {
        let prior = [0.4, 0.6, 0.3, 0.2];
        let b = BBox::new(0.3, 0.45, 0.62, 0.71);
        for order in [OffsetOrder::Xywh, OffsetOrder::Yxhw] {
            for size in [SizeCoding::Exp, SizeCoding::Linear] {
                let c = BoxCoder { order, size, ..BoxCoder::default() };
                let back = c.decode(&prior, &c.encode(&prior, &b));
                for (x, y) in [(back.x1, b.x1), (back.y1, b.y1), (back.x2, b.x2), (back.y2, b.y2)] {
                    assert!(close(x, y, 1e-5), "{order:?} {size:?}: {back:?}");
                }
            }
        }
    }

    #[test]
    fn decode_clamps_log_size_before_exp() {
        let c = BoxCoder::default();
        let b = c.decode(&[0.5, 0.5, 0.1, 0.1], &[0.0, 0.0, 1e6, 1e6]);
        assert!(b.width().is_finite());
        assert!(close(b.width(), 0.1 * DEFAULT_WH_CLAMP.exp(), 1e-3));
        let unclamped = BoxCoder { clamp_log_wh: None, ..c };
        assert!(!unclamped.decode(&[0.5, 0.5, 0.1, 0.1], &[0.0, 0.0, 1e6, 0.0]).width().is_finite());
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let c = BoxCoder::default();
        let prior = [0.3, 0.6, 0.25, 0.1];
        let b = BBox::new(0.12, 0.5, 0.44, 0.81);
        let back = c.decode(&prior, &c.encode(&prior, &b));
        for (x, y) in [(back.x1, b.x1), (back.y1, b.y1), (back.x2, b.x2), (back.y2, b.y2)] {
            assert!(close(x, y, 1e-5), "{back:?} != {b:?}");
        }
    }

    #[test]
    fn stretch_mapping_scales_each_axis_for_non_square_frames() {
        let m = InputMapping::stretch(640, 480, 300, 300);
        let b = m.to_source(&BBox::new(0.25, 0.5, 0.75, 1.0));
        let want = BBox::new(160.0, 240.0, 480.0, 480.0);
        for (got, want) in [(b.x1, want.x1), (b.y1, want.y1), (b.x2, want.x2), (b.y2, want.y2)] {
            assert!(close(got, want, 1e-3), "{b:?}");
        }
    }

    #[test]
    fn letterbox_mapping_removes_padding() {
        // 640x480 into 300x300: scaled to 300x225, 37 px of padding on top.
        let (m, size) = InputMapping::letterbox(640, 480, 300, 300);
        assert_eq!(size, [300, 225]);
        let top = 37.0 / 300.0;
        let bottom = (37.0 + 225.0) / 300.0;
        let b = m.to_source(&BBox::new(0.0, top, 1.0, bottom));
        assert!(close(b.x1, 0.0, 1e-3) && close(b.x2, 640.0, 1e-3));
        assert!(close(b.y1, 0.0, 1e-3) && close(b.y2, 480.0, 1e-3), "{b:?}");
    }

    #[test]
    fn boxes_leaving_the_frame_are_clipped_to_it() {
        let m = InputMapping::stretch(100, 50, 300, 300);
        let b = m.to_source(&BBox::new(-0.5, -0.5, 1.5, 0.5));
        assert_eq!(b, BBox::new(0.0, 0.0, 100.0, 25.0));
    }
}
