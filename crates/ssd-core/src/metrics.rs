//! Detection accuracy: Pascal VOC mAP@0.5 (all-point interpolation, as the
//! VOC2010+ devkit) and COCO AP@[.5:.95] (101-point interpolation). One home
//! for the metric, used by `ssd-cam` output checks and by the trainer.

use crate::boxes::BBox;

/// One annotated object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundTruth {
    /// Which image it belongs to.
    pub image: usize,
    /// Class index.
    pub class: u32,
    /// Box in any consistent unit.
    pub bbox: BBox,
    /// VOC "difficult": neither rewarded when found nor penalised when missed.
    pub difficult: bool,
}

/// One detection to be scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Which image it was made on.
    pub image: usize,
    /// Class index.
    pub class: u32,
    /// Confidence.
    pub score: f32,
    /// Box in the ground truth's unit.
    pub bbox: BBox,
}

/// Accuracy of one class at one IoU threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAp {
    /// Class index.
    pub class: u32,
    /// Average precision in 0..1.
    pub ap: f64,
    /// Ground-truth objects counted (difficult ones excluded).
    pub positives: usize,
    /// Precision after each prediction, best score first.
    pub precision: Vec<f64>,
    /// Recall after each prediction, best score first.
    pub recall: Vec<f64>,
}

/// How a metric turns a precision-recall curve into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Area under the monotone precision envelope at every recall step (VOC2010+).
    AllPoints,
    /// Mean envelope precision at recall 0, 0.01, …, 1 (COCO).
    Points101,
}

/// Matching rule that differs between the two benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlap {
    /// IoU must exceed the threshold (VOC devkit: `ovmax > 0.5`).
    Above,
    /// IoU may equal the threshold (COCO).
    AtLeast,
}

fn class_ap(
    class: u32,
    preds: &[Prediction],
    gts: &[GroundTruth],
    iou_threshold: f32,
    overlap: Overlap,
    interp: Interpolation,
    area: Option<(f32, f32)>,
) -> ClassAp {
    let gts: Vec<&GroundTruth> = gts.iter().filter(|g| g.class == class).collect();
    let positives = gts.iter().filter(|g| !g.difficult).count();
    let mut preds: Vec<&Prediction> = preds.iter().filter(|p| p.class == class).collect();
    preds.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut used = vec![false; gts.len()];
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut precision, mut recall) = (Vec::new(), Vec::new());
    for p in preds {
        // The best-overlapping ground truth of the same image.
        let best = gts
            .iter()
            .enumerate()
            .filter(|(_, g)| g.image == p.image)
            .map(|(i, g)| (i, g.bbox.iou(&p.bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let hit = best.filter(|&(_, iou)| match overlap {
            Overlap::Above => iou > iou_threshold,
            Overlap::AtLeast => iou >= iou_threshold,
        });
        match hit {
            Some((i, _)) if gts[i].difficult => continue,
            Some((i, _)) if !used[i] => {
                used[i] = true;
                tp += 1;
            }
            // COCO's size ranges: an unmatched detection of another size is ignored.
            None if area.is_some_and(|(lo, hi)| !(lo..hi).contains(&p.bbox.area())) => continue,
            _ => fp += 1,
        }
        precision.push(tp as f64 / (tp + fp) as f64);
        recall.push(if positives > 0 { tp as f64 / positives as f64 } else { 0.0 });
    }
    let ap = if positives == 0 { 0.0 } else { interpolate(&precision, &recall, interp) };
    ClassAp { class, ap, positives, precision, recall }
}

fn interpolate(precision: &[f64], recall: &[f64], interp: Interpolation) -> f64 {
    // Monotone envelope: best precision at this recall or any higher one.
    let mut envelope = precision.to_vec();
    for i in (0..envelope.len().saturating_sub(1)).rev() {
        envelope[i] = envelope[i].max(envelope[i + 1]);
    }
    match interp {
        Interpolation::AllPoints => {
            let mut ap = 0.0;
            let mut prev_recall = 0.0;
            for (r, p) in recall.iter().zip(&envelope) {
                ap += (r - prev_recall) * p;
                prev_recall = *r;
            }
            ap
        }
        Interpolation::Points101 => {
            let mut sum = 0.0;
            for k in 0..=100 {
                let r = k as f64 / 100.0;
                // First point whose recall reaches r (recall never decreases).
                let idx = recall.partition_point(|&x| x < r - 1e-12);
                sum += envelope.get(idx).copied().unwrap_or(0.0);
            }
            sum / 101.0
        }
    }
}

/// Per-class results and their mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// One entry per class that has ground truth.
    pub per_class: Vec<ClassAp>,
    /// Mean AP over those classes.
    pub map: f64,
}

fn classes_with_truth(gts: &[GroundTruth]) -> Vec<u32> {
    let mut classes: Vec<u32> = gts.iter().filter(|g| !g.difficult).map(|g| g.class).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Pascal VOC mAP at IoU > `iou_threshold` (0.5 for the benchmark), all-point
/// interpolation, over the classes that have ground truth.
pub fn voc_map(preds: &[Prediction], gts: &[GroundTruth], iou_threshold: f32) -> Report {
    let per_class: Vec<ClassAp> = classes_with_truth(gts)
        .into_iter()
        .map(|c| class_ap(c, preds, gts, iou_threshold, Overlap::Above, Interpolation::AllPoints, None))
        .collect();
    let map = mean(per_class.iter().map(|c| c.ap));
    Report { per_class, map }
}

/// COCO AP@[.5:.95]: the mean over IoU thresholds 0.50, 0.55, …, 0.95 of the
/// 101-point interpolated AP averaged over classes. Difficult flags are
/// honoured like COCO's "ignore" regions.
pub fn coco_map(preds: &[Prediction], gts: &[GroundTruth]) -> f64 {
    coco_map_in(preds, gts, None)
}

fn coco_map_in(preds: &[Prediction], gts: &[GroundTruth], area: Option<(f32, f32)>) -> f64 {
    let classes = classes_with_truth(gts);
    mean((0..10).map(|k| {
        let t = 0.5 + 0.05 * k as f32;
        mean(classes.iter().map(|&c| class_ap(c, preds, gts, t, Overlap::AtLeast, Interpolation::Points101, area).ap))
    }))
}

/// COCO's object size ranges by box area in pixels: small below 32², medium
/// up to 96², large above.
pub const SIZES: [(&str, f32, f32); 3] =
    [("small", 0.0, 32.0 * 32.0), ("medium", 32.0 * 32.0, 96.0 * 96.0), ("large", 96.0 * 96.0, f32::INFINITY)];

/// VOC mAP@`iou_threshold` and COCO AP@[.5:.95] on the objects whose area
/// lies in `[lo, hi)`, as COCO scores sizes: other objects are ignored (like
/// difficult ones), and so are unmatched detections of other sizes. `None`
/// when no object has that size.
pub fn map_by_size(
    preds: &[Prediction],
    gts: &[GroundTruth],
    iou_threshold: f32,
    lo: f32,
    hi: f32,
) -> Option<(f64, f64)> {
    let in_range = |b: &BBox| (lo..hi).contains(&b.area());
    let sized: Vec<GroundTruth> =
        gts.iter().map(|g| GroundTruth { difficult: g.difficult || !in_range(&g.bbox), ..*g }).collect();
    let classes = classes_with_truth(&sized);
    if classes.is_empty() {
        return None;
    }
    let area = Some((lo, hi));
    let voc = mean(
        classes
            .iter()
            .map(|&c| class_ap(c, preds, &sized, iou_threshold, Overlap::Above, Interpolation::AllPoints, area).ap),
    );
    Some((voc, coco_map_in(preds, &sized, area)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(image: usize, class: u32, x: f32) -> GroundTruth {
        GroundTruth { image, class, bbox: BBox::new(x, 0.0, x + 10.0, 10.0), difficult: false }
    }

    fn pred(image: usize, class: u32, x: f32, score: f32) -> Prediction {
        Prediction { image, class, score, bbox: BBox::new(x, 0.0, x + 10.0, 10.0) }
    }

    #[test]
    fn perfect_detections_score_one() {
        let gts = vec![gt(0, 1, 0.0), gt(1, 1, 50.0), gt(1, 2, 20.0)];
        let preds = vec![pred(0, 1, 0.0, 0.9), pred(1, 1, 50.0, 0.8), pred(1, 2, 20.0, 0.7)];
        assert_eq!(voc_map(&preds, &gts, 0.5).map, 1.0);
        assert!((coco_map(&preds, &gts) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn all_point_interpolation_matches_a_hand_computed_curve() {
        // Two objects. Ranked: hit (P 1, R .5), miss (P .5, R .5), hit (P 2/3, R 1).
        // Envelope: 1 up to R .5, 2/3 up to R 1 → AP = .5·1 + .5·2/3 = 5/6.
        let gts = vec![gt(0, 1, 0.0), gt(0, 1, 100.0)];
        let preds = vec![pred(0, 1, 0.0, 0.9), pred(0, 1, 50.0, 0.8), pred(0, 1, 100.0, 0.7)];
        let r = voc_map(&preds, &gts, 0.5);
        assert!((r.map - 5.0 / 6.0).abs() < 1e-12, "{}", r.map);
        assert_eq!(r.per_class[0].precision, vec![1.0, 0.5, 2.0 / 3.0]);
        assert_eq!(r.per_class[0].recall, vec![0.5, 0.5, 1.0]);
    }

    #[test]
    fn duplicates_are_false_positives_and_misses_cost_recall() {
        // One object found twice: the second is a false positive. AP stays 1
        // because the hit came first; the missed object halves it.
        let gts = vec![gt(0, 1, 0.0), gt(1, 1, 0.0)];
        let preds = vec![pred(0, 1, 0.0, 0.9), pred(0, 1, 0.5, 0.8)];
        let r = voc_map(&preds, &gts, 0.5);
        assert_eq!(r.per_class[0].precision, vec![1.0, 0.5]);
        assert!((r.map - 0.5).abs() < 1e-12);
    }

    #[test]
    fn difficult_objects_are_neither_required_nor_penalised() {
        let mut hard = gt(0, 1, 100.0);
        hard.difficult = true;
        let gts = vec![gt(0, 1, 0.0), hard];
        let preds = vec![pred(0, 1, 100.0, 0.95), pred(0, 1, 0.0, 0.9)];
        let r = voc_map(&preds, &gts, 0.5);
        assert_eq!(r.per_class[0].positives, 1);
        assert_eq!(r.map, 1.0);
    }

    #[test]
    fn wrong_class_or_image_never_matches() {
        let gts = vec![gt(0, 1, 0.0), gt(0, 2, 40.0)];
        let preds = vec![pred(0, 2, 0.0, 0.9), pred(1, 1, 0.0, 0.9)];
        assert_eq!(voc_map(&preds, &gts, 0.5).map, 0.0);
    }

    #[test]
    fn coco_averages_over_iou_thresholds() {
        // The box is shifted by 1.5 px: IoU = 8.5·10 / (11.5·10) = 0.739,
        // a hit at .50 … .70 (5 thresholds) and a miss at .75 … .95: AP = 0.5.
        let gts = vec![gt(0, 1, 0.0)];
        let preds = vec![pred(0, 1, 1.5, 0.9)];
        assert!((coco_map(&preds, &gts) - 0.5).abs() < 1e-12);
        assert_eq!(voc_map(&preds, &gts, 0.5).map, 1.0);
    }

    #[test]
    fn voc_needs_iou_strictly_above_the_threshold() {
        // Shifted by 10/3 px: IoU = (20/3) / (40/3) = 0.5 exactly.
        let gts = vec![gt(0, 1, 0.0)];
        let preds = vec![pred(0, 1, 10.0 / 3.0, 0.9)];
        let iou = gts[0].bbox.iou(&preds[0].bbox);
        assert!((iou - 0.5).abs() < 1e-6);
        let strict = voc_map(&preds, &gts, iou).map;
        assert_eq!(strict, 0.0);
    }

    #[test]
    fn size_ranges_score_only_their_objects() {
        // A 10×10 object found, a 40×40 object missed, and a 40×40 false
        // alarm elsewhere: small AP 1 (the big box is out of range), medium 0.
        let big = |x: f32| BBox::new(x, 0.0, x + 40.0, 40.0);
        let gts = vec![gt(0, 1, 0.0), GroundTruth { image: 0, class: 1, bbox: big(100.0), difficult: false }];
        let preds = vec![pred(0, 1, 0.0, 0.9), Prediction { image: 0, class: 1, score: 0.95, bbox: big(200.0) }];
        let (small_voc, small_coco) = map_by_size(&preds, &gts, 0.5, 0.0, 32.0 * 32.0).unwrap();
        assert_eq!(small_voc, 1.0);
        assert!((small_coco - 1.0).abs() < 1e-12);
        let (medium_voc, _) = map_by_size(&preds, &gts, 0.5, SIZES[1].1, SIZES[1].2).unwrap();
        assert_eq!(medium_voc, 0.0);
        assert!(map_by_size(&preds, &gts, 0.5, SIZES[2].1, SIZES[2].2).is_none(), "no large objects");
        // Over all sizes the false alarm ranks first and one object is
        // missed: precision ½ up to recall ½, AP = ¼.
        assert!((voc_map(&preds, &gts, 0.5).map - 0.25).abs() < 1e-12);
    }

    #[test]
    fn classes_without_ground_truth_do_not_dilute_the_mean() {
        let gts = vec![gt(0, 1, 0.0)];
        let preds = vec![pred(0, 1, 0.0, 0.9), pred(0, 3, 50.0, 0.9)];
        let r = voc_map(&preds, &gts, 0.5);
        assert_eq!(r.per_class.len(), 1);
        assert_eq!(r.map, 1.0);
    }
}
