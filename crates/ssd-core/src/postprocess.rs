//! Raw network outputs to detections: score activation with early rejection,
//! box decoding against the priors, per-class NMS, mapping to frame pixels.

use std::borrow::Cow;

use crate::boxes::{BBox, BoxCoder, InputMapping};
use crate::manifest::{Manifest, ScoreActivation, MAX_KEYPOINTS};
use crate::nms::{nms, NmsParams, Scored};

/// One detected object, in source-frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Detection {
    /// Index on the model's class axis.
    pub class_id: u32,
    /// Probability of the class.
    pub score: f32,
    /// Box in source-frame pixels.
    pub bbox: BBox,
    /// Landmarks, when the model has them (`outputs.keypoints`).
    pub keypoints: Keypoints,
}

/// A detection's landmarks in source-frame pixels, stored inline so that
/// detections stay `Copy` and decoding allocates nothing per frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Keypoints {
    len: u8,
    points: [[f32; 2]; MAX_KEYPOINTS],
}

impl Keypoints {
    /// The points, `[x, y]` each.
    pub fn as_slice(&self) -> &[[f32; 2]] {
        &self.points[..self.len as usize]
    }

    /// Appends a point; points beyond [`MAX_KEYPOINTS`] are ignored (the
    /// manifest check keeps models below it).
    pub fn push(&mut self, p: [f32; 2]) {
        if let Some(slot) = self.points.get_mut(self.len as usize) {
            *slot = p;
            self.len += 1;
        }
    }
}

/// Post-processing thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostParams {
    /// Minimum class probability.
    pub score_threshold: f32,
    /// NMS settings.
    pub nms: NmsParams,
}

impl From<crate::manifest::Thresholds> for PostParams {
    /// The manifest's default thresholds.
    fn from(d: crate::manifest::Thresholds) -> Self {
        Self {
            score_threshold: d.score_threshold,
            nms: NmsParams { iou_threshold: d.nms_iou, top_k_per_class: d.top_k_per_class, keep_top_k: d.keep_top_k },
        }
    }
}

/// The detections a user asked for: some classes only, boxes no smaller
/// than a size in source pixels, and per class the limits of
/// [`ShapeLimits`]. Applied before NMS, so unwanted classes and boxes never
/// take a place in the per-frame top-k.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectionFilter {
    /// Class indices to keep (on the model's class axis); `None` keeps all.
    pub classes: Option<Vec<u32>>,
    /// Smallest box side in source pixels (both width and height); 0 keeps all.
    pub min_size: f32,
    /// Limits for some classes (by class index).
    pub limits: Vec<(u32, ShapeLimits)>,
}

/// A box area: in source pixels, or as a fraction of the frame's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Area {
    /// Square pixels.
    Pixels(f32),
    /// A fraction of the frame (0 to 1).
    Fraction(f32),
}

impl Area {
    /// The area in square pixels in a frame of `frame` (width, height).
    pub fn pixels(self, frame: [f32; 2]) -> f32 {
        match self {
            Area::Pixels(p) => p,
            Area::Fraction(f) => f * frame[0] * frame[1],
        }
    }
}

/// What one class's detections must be to count at all (Frigate's object
/// filters): a person's box 3 px wide or a score of 0.51 is a false
/// detection the user knows to ignore for that camera.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShapeLimits {
    /// Least score.
    pub min_score: Option<f32>,
    /// Least box area.
    pub min_area: Option<Area>,
    /// Largest box area.
    pub max_area: Option<Area>,
    /// Least width / height.
    pub min_ratio: Option<f32>,
    /// Largest width / height.
    pub max_ratio: Option<f32>,
}

impl ShapeLimits {
    /// Whether a box `bbox` scoring `score` in a `frame`-sized frame passes.
    pub fn passes(&self, score: f32, bbox: &BBox, frame: [f32; 2]) -> bool {
        let (w, h) = (bbox.x2 - bbox.x1, bbox.y2 - bbox.y1);
        let (area, ratio) = (w * h, if h > 0.0 { w / h } else { f32::INFINITY });
        self.min_score.is_none_or(|m| score >= m)
            && self.min_area.is_none_or(|m| area >= m.pixels(frame))
            && self.max_area.is_none_or(|m| area <= m.pixels(frame))
            && self.min_ratio.is_none_or(|m| ratio >= m)
            && self.max_ratio.is_none_or(|m| ratio <= m)
    }
}

impl DetectionFilter {
    /// Whether a box of `class` at `bbox` (source pixels) scoring `score`
    /// in a `frame`-sized frame is wanted.
    pub fn keeps(&self, class: u32, score: f32, bbox: &BBox, frame: [f32; 2]) -> bool {
        self.classes.as_ref().is_none_or(|c| c.contains(&class))
            && bbox.x2 - bbox.x1 >= self.min_size
            && bbox.y2 - bbox.y1 >= self.min_size
            && self.limits.iter().filter(|(c, _)| *c == class).all(|(_, l)| l.passes(score, bbox, frame))
    }
}

/// Errors decoding outputs.
#[derive(Debug, thiserror::Error)]
#[error("output sizes {boxes} and {scores} do not match {priors} priors x ({row} box values, {classes} classes)")]
pub struct DecodeError {
    /// Length of the box output.
    pub boxes: usize,
    /// Box values per prior (4 plus 2 per keypoint).
    pub row: usize,
    /// Length of the score output.
    pub scores: usize,
    /// Number of priors.
    pub priors: usize,
    /// Number of classes.
    pub classes: usize,
}

/// Decodes one model's outputs frame after frame, reusing its buffers.
#[derive(Debug)]
pub struct Decoder {
    priors: Cow<'static, [[f32; 4]]>,
    coder: BoxCoder,
    activation: ScoreActivation,
    clip: f32,
    background: Option<usize>,
    classes: usize,
    keypoints: usize,
    params: PostParams,
    candidates: Vec<Scored>,
    kept: Vec<Scored>,
    filter: DetectionFilter,
}

impl Decoder {
    /// A decoder for `manifest`'s outputs against `priors`.
    pub fn new(manifest: &Manifest, priors: Cow<'static, [[f32; 4]]>, params: PostParams) -> Self {
        Self {
            priors,
            coder: manifest.box_coding,
            activation: manifest.score_activation,
            clip: manifest.score_clip.unwrap_or(f32::INFINITY),
            background: manifest.background_index,
            classes: manifest.num_classes(),
            keypoints: manifest.outputs.keypoints,
            params,
            candidates: Vec::new(),
            kept: Vec::new(),
            filter: DetectionFilter::default(),
        }
    }

    /// Keeps only the detections `filter` wants (see [`DetectionFilter`]).
    pub fn with_filter(mut self, filter: DetectionFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The thresholds in use.
    pub fn params(&self) -> &PostParams {
        &self.params
    }

    /// Decodes `boxes` (`[P·(4 + 2·keypoints)]`) and `scores` (`[P·C]`) into
    /// `out` (cleared first), best first, in source pixels.
    pub fn decode(
        &mut self,
        boxes: &[f32],
        scores: &[f32],
        mapping: &InputMapping,
        out: &mut Vec<Detection>,
    ) -> Result<(), DecodeError> {
        let (p, c, stride) = (self.priors.len(), self.classes, 4 + 2 * self.keypoints);
        if boxes.len() != p * stride || scores.len() != p * c {
            return Err(DecodeError { boxes: boxes.len(), row: stride, scores: scores.len(), priors: p, classes: c });
        }
        self.candidates.clear();
        let t = self.params.score_threshold;
        let bg = self.background.unwrap_or(usize::MAX);
        for (i, row) in scores.chunks_exact(c).enumerate() {
            let first = self.candidates.len();
            match self.activation {
                ScoreActivation::Softmax => softmax_candidates(row, t, bg, &mut self.candidates),
                ScoreActivation::Sigmoid => {
                    let logit_t = (t / (1.0 - t)).ln();
                    for (k, &x) in row.iter().enumerate() {
                        let x = x.clamp(-self.clip, self.clip);
                        if k != bg && x > logit_t {
                            push(&mut self.candidates, k, 1.0 / (1.0 + (-x).exp()));
                        }
                    }
                }
                ScoreActivation::None => {
                    for (k, &x) in row.iter().enumerate() {
                        if k != bg && x > t {
                            push(&mut self.candidates, k, x);
                        }
                    }
                }
            }
            if self.candidates.len() > first {
                let r = i * stride;
                let d = [boxes[r], boxes[r + 1], boxes[r + 2], boxes[r + 3]];
                let mut b = self.coder.decode(&self.priors[i], &d);
                if self.coder.clip {
                    b = b.clip(1.0, 1.0);
                }
                for cand in &mut self.candidates[first..] {
                    cand.bbox = b;
                    cand.prior = i as u32;
                }
            }
        }
        let filter = &self.filter;
        self.candidates.retain(|c| {
            c.bbox.x1.is_finite()
                && c.bbox.y1.is_finite()
                && c.bbox.x2.is_finite()
                && c.bbox.y2.is_finite()
                && filter.keeps(c.class, c.score, &mapping.to_source(&c.bbox), mapping.source)
        });
        nms(&mut self.candidates, &self.params.nms, &mut self.kept);
        out.clear();
        out.extend(self.kept.iter().map(|k| {
            let mut keypoints = Keypoints::default();
            let (i, start) = (k.prior as usize, k.prior as usize * stride + 4);
            for pair in boxes[start..start + 2 * self.keypoints].chunks_exact(2) {
                let [x, y] = self.coder.decode_point(&self.priors[i], [pair[0], pair[1]]);
                keypoints.push(mapping.point_to_source(x, y));
            }
            Detection { class_id: k.class, score: k.score, bbox: mapping.to_source(&k.bbox), keypoints }
        }));
        Ok(())
    }
}

#[inline]
fn push(out: &mut Vec<Scored>, class: usize, score: f32) {
    out.push(Scored { bbox: BBox::default(), score, class: class as u32, prior: 0 });
}

/// Softmax over one prior's logits, computing exponentials only when some
/// class can pass: `p_k ≤ exp(l_k − max)`, so a class whose logit trails the
/// maximum by more than `−ln t` cannot reach the threshold.
#[inline]
fn softmax_candidates(row: &[f32], t: f32, bg: usize, out: &mut Vec<Scored>) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let cut = max + t.ln();
    let any = row.iter().enumerate().any(|(k, &x)| k != bg && x >= cut);
    if !any {
        return;
    }
    let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
    for (k, &x) in row.iter().enumerate() {
        if k != bg && x >= cut {
            let p = (x - max).exp() / sum;
            if p > t {
                push(out, k, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_wanted_classes_and_boxes_big_on_both_sides() {
        let f = DetectionFilter { classes: Some(vec![1, 3]), min_size: 10.0, limits: vec![] };
        let frame = [640.0, 480.0];
        assert!(f.keeps(1, 0.5, &BBox::new(0.0, 0.0, 10.0, 10.0), frame));
        assert!(!f.keeps(2, 0.5, &BBox::new(0.0, 0.0, 50.0, 50.0), frame), "class 2 not asked for");
        assert!(!f.keeps(3, 0.5, &BBox::new(0.0, 0.0, 50.0, 9.0), frame), "too flat");
        assert!(
            DetectionFilter::default().keeps(7, 0.0, &BBox::new(0.0, 0.0, 0.0, 0.0), frame),
            "the default keeps all"
        );
    }

    #[test]
    fn shape_limits_hold_for_their_class_only() {
        let limits = ShapeLimits {
            min_score: Some(0.6),
            min_area: Some(Area::Pixels(2000.0)),
            max_area: Some(Area::Fraction(0.5)),
            min_ratio: Some(0.2),
            max_ratio: Some(1.0),
        };
        let f = DetectionFilter { limits: vec![(1, limits)], ..DetectionFilter::default() };
        let frame = [200.0, 100.0]; // 20 000 px: max_area 10 000
        let person = BBox::new(0.0, 0.0, 40.0, 80.0); // 3200 px, ratio 0.5
        assert!(f.keeps(1, 0.7, &person, frame));
        assert!(!f.keeps(1, 0.59, &person, frame), "min_score");
        assert!(!f.keeps(1, 0.7, &BBox::new(0.0, 0.0, 30.0, 60.0), frame), "1800 px < min_area");
        assert!(f.keeps(1, 0.7, &BBox::new(0.0, 0.0, 100.0, 100.0), frame), "both at their limits");
        assert!(!f.keeps(1, 0.7, &BBox::new(0.0, 0.0, 100.0, 101.0), frame), "over half the frame");
        assert!(!f.keeps(1, 0.7, &BBox::new(0.0, 0.0, 80.0, 40.0), frame), "ratio 2 > max_ratio");
        assert!(!f.keeps(1, 0.7, &BBox::new(0.0, 0.0, 15.0, 100.0), frame), "ratio 0.15 < min_ratio");
        assert!(f.keeps(2, 0.1, &BBox::new(0.0, 0.0, 1.0, 1.0), frame), "class 2 has no limits");
    }

    use crate::manifest::ScoreActivation;

    fn decoder(activation: ScoreActivation, t: f32) -> Decoder {
        let priors = vec![[0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2], [0.26, 0.25, 0.2, 0.2]];
        let mut m = crate::manifest::ssd300_manifest(
            "t",
            "",
            vec!["bg".into(), "a".into(), "b".into()],
            crate::priors::ssd300_voc(),
            activation,
        );
        m.background_index = Some(0);
        let params = PostParams {
            score_threshold: t,
            nms: NmsParams { iou_threshold: 0.45, top_k_per_class: 400, keep_top_k: 200 },
        };
        Decoder::new(&m, Cow::Owned(priors), params)
    }

    fn map100() -> InputMapping {
        InputMapping::stretch(100, 100, 300, 300)
    }

    #[test]
    fn softmax_scores_decode_boxes_and_suppress_duplicates() {
        let mut d = decoder(ScoreActivation::Softmax, 0.3);
        let boxes = vec![0.0; 12];
        // Prior 0: class 1 with logit ln 8 against 0, 0 → p = 8 / 10.
        // Prior 1: background wins. Prior 2: class 1 again, slightly weaker, overlapping prior 0.
        let scores = vec![0.0, 8f32.ln(), 0.0, 5.0, 0.0, 0.0, 0.0, 7f32.ln(), 0.0];
        let mut out = Vec::new();
        d.decode(&boxes, &scores, &map100(), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class_id, 1);
        assert!((out[0].score - 0.8).abs() < 1e-6);
        let b = out[0].bbox;
        assert!((b.x1 - 15.0).abs() < 1e-4 && (b.x2 - 35.0).abs() < 1e-4, "{b:?}");
    }

    #[test]
    fn background_never_becomes_a_detection() {
        let mut d = decoder(ScoreActivation::Softmax, 0.01);
        let scores = vec![10.0, 0.0, 0.0, 10.0, 0.0, 0.0, 10.0, 0.0, 0.0];
        let mut out = Vec::new();
        d.decode(&[0.0; 12], &scores, &map100(), &mut out).unwrap();
        assert!(out.iter().all(|x| x.class_id != 0));
        // exp(0) / (exp(10) + 2) ≈ 4.5e-5 is below 0.01.
        assert!(out.is_empty());
    }

    #[test]
    fn sigmoid_and_identity_activations_threshold_each_class() {
        let mut d = decoder(ScoreActivation::Sigmoid, 0.5);
        let scores = vec![9.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut out = Vec::new();
        d.decode(&[0.0; 12], &scores, &map100(), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!((out[0].score - 1.0 / (1.0 + (-1f32).exp())).abs() < 1e-6);

        let mut d = decoder(ScoreActivation::None, 0.5);
        let scores = vec![0.0, 0.6, 0.4, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0];
        d.decode(&[0.0; 12], &scores, &map100(), &mut out).unwrap();
        let got: Vec<(u32, f32)> = out.iter().map(|x| (x.class_id, x.score)).collect();
        assert_eq!(got, vec![(2, 0.9), (1, 0.6)]);
    }

    #[test]
    fn early_rejection_agrees_with_full_softmax() {
        // Random logits: every class above the threshold by full softmax must be found.
        let mut state = 7u64;
        let mut rnd = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1000) as f32 / 100.0 - 5.0
        };
        for t in [0.01, 0.1, 0.3, 0.6] {
            for _ in 0..200 {
                let row: Vec<f32> = (0..6).map(|_| rnd()).collect();
                let mut got = Vec::new();
                softmax_candidates(&row, t, 0, &mut got);
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                let sum: f32 = row.iter().map(|x| (x - max).exp()).sum();
                let want: Vec<u32> = (1..6).filter(|&k| (row[k] - max).exp() / sum > t).map(|k| k as u32).collect();
                let got: Vec<u32> = got.iter().map(|s| s.class).collect();
                assert_eq!(got, want, "row {row:?} t {t}");
            }
        }
    }

    #[test]
    fn keypoints_follow_the_box_that_survives_nms_and_map_to_source_pixels() {
        // MediaPipe style: unit-size anchors, offsets in input pixels (1 / 300).
        let priors = vec![[0.25, 0.25, 1.0, 1.0], [0.26, 0.25, 1.0, 1.0]];
        let mut m = crate::manifest::ssd300_manifest(
            "t",
            "",
            vec!["face".into()],
            crate::priors::ssd300_voc(),
            ScoreActivation::Sigmoid,
        );
        m.background_index = None;
        m.outputs.keypoints = 2;
        m.box_coding.variances = [1.0 / 300.0; 4];
        m.box_coding.size = crate::boxes::SizeCoding::Linear;
        m.score_clip = Some(3.0);
        let params = PostParams {
            score_threshold: 0.5,
            nms: NmsParams { iou_threshold: 0.3, top_k_per_class: 400, keep_top_k: 200 },
        };
        let mut d = Decoder::new(&m, Cow::Owned(priors), params);
        // Row: dx dy w h, then (kx, ky) twice, all in input pixels.
        let boxes = vec![
            0.0, 0.0, 60.0, 60.0, -15.0, -6.0, 15.0, -6.0, // prior 0
            0.0, 0.0, 60.0, 60.0, 99.0, 99.0, 99.0, 99.0, // prior 1: weaker duplicate
        ];
        // Logit 50 clips to 3: the score is sigmoid(3), not 1.
        let scores = vec![50.0, 2.0];
        let mut out = Vec::new();
        d.decode(&boxes, &scores, &InputMapping::stretch(600, 600, 300, 300), &mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert!((out[0].score - 1.0 / (1.0 + (-3f32).exp())).abs() < 1e-6);
        // Centre 0.25·600 = 150, 60 input px = 120 source px wide.
        let b = out[0].bbox;
        assert!((b.x1 - 90.0).abs() < 1e-3 && (b.x2 - 210.0).abs() < 1e-3, "{b:?}");
        // Keypoints: (75 ∓ 15, 75 − 6) input px → ×2.
        assert_eq!(out[0].keypoints.as_slice().len(), 2);
        for (got, want) in out[0].keypoints.as_slice().iter().zip([[120.0, 138.0], [180.0, 138.0]]) {
            assert!((got[0] - want[0]).abs() < 1e-3 && (got[1] - want[1]).abs() < 1e-3, "{got:?} vs {want:?}");
        }
        // The row is 8 values: a 4-wide box output no longer fits.
        assert!(d.decode(&boxes[..8], &scores, &InputMapping::stretch(600, 600, 300, 300), &mut out).is_err());
    }

    #[test]
    fn clipping_before_nms_compares_the_visible_parts() {
        // A sticks out of the left edge (x −0.6..0.2), B is its visible part
        // (0..0.2): IoU 0.25 unclipped, 1 clipped.
        let priors = vec![[-0.2, 0.5, 0.8, 0.4], [0.1, 0.5, 0.2, 0.4]];
        let scores = vec![0.0, 0.9, 0.0, 0.0, 0.8, 0.0];
        let kept = |clip: bool| {
            let mut m = crate::manifest::ssd300_manifest(
                "t",
                "",
                vec!["bg".into(), "a".into(), "b".into()],
                crate::priors::ssd300_voc(),
                ScoreActivation::None,
            );
            m.box_coding.clip = clip;
            let params = PostParams {
                score_threshold: 0.5,
                nms: NmsParams { iou_threshold: 0.45, top_k_per_class: 400, keep_top_k: 200 },
            };
            let mut d = Decoder::new(&m, Cow::Owned(priors.clone()), params);
            let mut out = Vec::new();
            d.decode(&[0.0; 8], &scores, &InputMapping::stretch(100, 100, 300, 300), &mut out).unwrap();
            out.len()
        };
        assert_eq!(kept(false), 2);
        assert_eq!(kept(true), 1);
    }

    #[test]
    fn wrong_output_sizes_are_an_error() {
        let mut d = decoder(ScoreActivation::Softmax, 0.3);
        let mut out = Vec::new();
        assert!(d.decode(&[0.0; 8], &[0.0; 9], &map100(), &mut out).is_err());
    }

    #[test]
    fn non_finite_outputs_do_not_produce_boxes() {
        let mut d = decoder(ScoreActivation::Softmax, 0.3);
        let mut boxes = vec![0.0; 12];
        boxes[0] = f32::NAN;
        let scores = vec![0.0, 5.0, 0.0, f32::NAN, 0.0, 0.0, 5.0, 0.0, 0.0];
        let mut out = Vec::new();
        d.decode(&boxes, &scores, &map100(), &mut out).unwrap();
        // Prior 0 wins for class 1 but its box is NaN; prior 1's scores are NaN.
        assert!(out.is_empty(), "{out:?}");
    }
}
