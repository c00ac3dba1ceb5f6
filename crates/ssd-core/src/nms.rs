//! Per-class greedy non-maximum suppression, best score first.

use std::cmp::Ordering;

use crate::boxes::BBox;

/// A box with its class and score, before or after suppression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The box.
    pub bbox: BBox,
    /// Confidence in 0..1.
    pub score: f32,
    /// Index on the model's class axis.
    pub class: u32,
    /// Index of the prior the box was decoded from (0 where it does not apply).
    pub prior: u32,
}

/// Suppression settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NmsParams {
    /// A box is dropped when its IoU with a better box of its class exceeds this.
    pub iou_threshold: f32,
    /// Candidates considered per class, best first (before suppression).
    pub top_k_per_class: usize,
    /// Boxes kept over all classes, best first (after suppression).
    pub keep_top_k: usize,
}

/// Best score first; ties broken by the box so that the result does not
/// depend on the order candidates arrived in.
fn by_score_desc(a: &Scored, b: &Scored) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(a.bbox.x1.total_cmp(&b.bbox.x1))
        .then(a.bbox.y1.total_cmp(&b.bbox.y1))
        .then(a.bbox.x2.total_cmp(&b.bbox.x2))
        .then(a.bbox.y2.total_cmp(&b.bbox.y2))
}

/// Runs greedy NMS class by class and writes the kept boxes to `out`, best
/// first. `candidates` is reordered in place; `out` is cleared first, so both
/// buffers can be reused from frame to frame without allocating.
pub fn nms(candidates: &mut [Scored], params: &NmsParams, out: &mut Vec<Scored>) {
    out.clear();
    candidates.sort_unstable_by(|a, b| a.class.cmp(&b.class).then_with(|| by_score_desc(a, b)));
    let mut start = 0;
    while start < candidates.len() {
        let class = candidates[start].class;
        let end = start + candidates[start..].iter().take_while(|c| c.class == class).count();
        let kept_from = out.len();
        for cand in candidates[start..end].iter().take(params.top_k_per_class) {
            let suppressed = out[kept_from..].iter().any(|k| k.bbox.iou(&cand.bbox) > params.iou_threshold);
            if !suppressed {
                out.push(*cand);
            }
        }
        start = end;
    }
    out.sort_unstable_by(|a, b| by_score_desc(a, b).then(a.class.cmp(&b.class)));
    out.truncate(params.keep_top_k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(x1: f32, y1: f32, x2: f32, y2: f32, score: f32, class: u32) -> Scored {
        Scored { bbox: BBox::new(x1, y1, x2, y2), score, class, prior: 0 }
    }

    const P: NmsParams = NmsParams { iou_threshold: 0.45, top_k_per_class: 400, keep_top_k: 200 };

    #[test]
    fn keeps_the_best_of_overlapping_boxes_and_separate_ones() {
        let mut c = vec![
            s(0.0, 0.0, 10.0, 10.0, 0.6, 1),
            s(1.0, 1.0, 11.0, 11.0, 0.9, 1), // IoU with the first: 81/119 = 0.68
            s(20.0, 20.0, 30.0, 30.0, 0.5, 1),
        ];
        let mut out = Vec::new();
        nms(&mut c, &P, &mut out);
        assert_eq!(out, vec![s(1.0, 1.0, 11.0, 11.0, 0.9, 1), s(20.0, 20.0, 30.0, 30.0, 0.5, 1)]);
    }

    #[test]
    fn overlap_at_exactly_the_threshold_is_kept() {
        // Intersection 1·10, union 30: IoU 1/3.
        let mut c = vec![s(0.0, 0.0, 2.0, 10.0, 0.9, 0), s(1.0, 0.0, 3.0, 10.0, 0.8, 0)];
        let mut out = Vec::new();
        let at = NmsParams { iou_threshold: 1.0 / 3.0, ..P };
        nms(&mut c, &at, &mut out);
        assert_eq!(out.len(), 2);
        let below = NmsParams { iou_threshold: 0.33, ..P };
        nms(&mut c, &below, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn classes_do_not_suppress_each_other() {
        let mut c = vec![s(0.0, 0.0, 10.0, 10.0, 0.9, 1), s(0.0, 0.0, 10.0, 10.0, 0.8, 2)];
        let mut out = Vec::new();
        nms(&mut c, &P, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].class, out[1].class), (1, 2));
    }

    #[test]
    fn top_k_limits_apply_before_and_after_suppression() {
        let mut c: Vec<Scored> =
            (0..10).map(|i| s(i as f32 * 20.0, 0.0, i as f32 * 20.0 + 10.0, 10.0, i as f32 / 10.0, 0)).collect();
        let mut out = Vec::new();
        nms(&mut c, &NmsParams { top_k_per_class: 3, ..P }, &mut out);
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8, 0.7]);
        nms(&mut c, &NmsParams { keep_top_k: 2, ..P }, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let mut out = vec![s(0.0, 0.0, 1.0, 1.0, 1.0, 0)];
        nms(&mut [], &P, &mut out);
        assert!(out.is_empty());
    }

    fn arb_candidates() -> impl Strategy<Value = Vec<Scored>> {
        prop::collection::vec((0f32..90.0, 0f32..90.0, 1f32..40.0, 1f32..40.0, 0f32..1.0, 0u32..3), 0..60)
            .prop_map(|v| v.into_iter().map(|(x, y, w, h, sc, c)| s(x, y, x + w, y + h, sc, c)).collect())
    }

    proptest! {
        #[test]
        fn no_two_kept_boxes_of_a_class_overlap_above_the_threshold(mut c in arb_candidates(), t in 0.1f32..0.9) {
            let mut out = Vec::new();
            let p = NmsParams { iou_threshold: t, ..P };
            nms(&mut c, &p, &mut out);
            for (i, a) in out.iter().enumerate() {
                for b in &out[i + 1..] {
                    prop_assert!(a.class != b.class || a.bbox.iou(&b.bbox) <= t);
                }
            }
            // Best first, and every kept box was a candidate.
            prop_assert!(out.windows(2).all(|w| w[0].score >= w[1].score));
            prop_assert!(out.iter().all(|k| c.contains(k)));
        }

        #[test]
        fn result_does_not_depend_on_input_order(c in arb_candidates(), seed in any::<u64>()) {
            let mut shuffled = c.clone();
            // A deterministic Fisher-Yates shuffle driven by the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let (mut a, mut b) = (c, shuffled);
            let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
            nms(&mut a, &P, &mut out_a);
            nms(&mut b, &P, &mut out_b);
            prop_assert_eq!(out_a, out_b);
        }
    }
}
