//! Assigns ground-truth boxes to priors (SSD's matching strategy) and picks
//! hard negatives for the confidence loss.

use ssd_core::boxes::{BBox, BoxCoder};

/// One ground-truth object, normalized to the model input (0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Box, normalized.
    pub bbox: BBox,
    /// Class index on the model's class axis (never the background index).
    pub class: u32,
}

/// Training targets for every prior of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Matches {
    /// Class per prior; `background` where no object matched.
    pub labels: Vec<u32>,
    /// Encoded offsets per prior (meaningful where the label is not background).
    pub offsets: Vec<[f32; 4]>,
    /// Number of positive priors.
    pub positives: usize,
}

/// Matches objects to priors as in the SSD paper: every object first takes
/// its best-overlapping prior (even below the threshold), then every prior
/// whose IoU with some object exceeds `threshold` takes that object.
/// A prior claimed by several objects keeps the one it overlaps most, except
/// that an object's forced best prior always stays with that object.
pub fn match_priors(
    priors: &[[f32; 4]],
    targets: &[Target],
    threshold: f32,
    coder: &BoxCoder,
    background: u32,
) -> Matches {
    let n = priors.len();
    let mut labels = vec![background; n];
    let mut offsets = vec![[0.0; 4]; n];
    if targets.is_empty() {
        return Matches { labels, offsets, positives: 0 };
    }
    let corners: Vec<BBox> = priors.iter().map(|p| BBox::from_center(p[0], p[1], p[2], p[3])).collect();
    // Best object per prior.
    let mut best_obj = vec![0usize; n];
    let mut best_iou = vec![f32::NEG_INFINITY; n];
    // Best prior per object.
    let mut best_prior = vec![(0usize, f32::NEG_INFINITY); targets.len()];
    for (p, prior) in corners.iter().enumerate() {
        for (o, t) in targets.iter().enumerate() {
            let iou = prior.iou(&t.bbox);
            if iou > best_iou[p] {
                best_iou[p] = iou;
                best_obj[p] = o;
            }
            if iou > best_prior[o].1 {
                best_prior[o] = (p, iou);
            }
        }
    }
    // Forced matches win over threshold matches (2.0 exceeds any IoU).
    for (o, &(p, _)) in best_prior.iter().enumerate() {
        best_obj[p] = o;
        best_iou[p] = 2.0;
    }
    let mut positives = 0;
    for p in 0..n {
        if best_iou[p] > threshold {
            let t = &targets[best_obj[p]];
            labels[p] = t.class;
            offsets[p] = coder.encode(&priors[p], &t.bbox);
            positives += 1;
        }
    }
    Matches { labels, offsets, positives }
}

/// Chooses the negatives the confidence loss is computed on: the
/// `ratio × positives` background priors with the highest loss (capped at
/// the number of background priors). Returns a mask over priors.
pub fn hard_negatives(conf_loss: &[f32], labels: &[u32], background: u32, ratio: usize) -> Vec<bool> {
    let positives = labels.iter().filter(|&&l| l != background).count();
    let mut negatives: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == background).collect();
    let keep = (ratio * positives).min(negatives.len());
    // Highest loss first; ties by index so the choice is deterministic.
    negatives.sort_by(|&a, &b| conf_loss[b].total_cmp(&conf_loss[a]).then(a.cmp(&b)));
    let mut mask = vec![false; labels.len()];
    for &i in &negatives[..keep] {
        mask[i] = true;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four priors in a row, 0.2 wide, centred at 0.1, 0.3, 0.5, 0.7.
    fn priors() -> Vec<[f32; 4]> {
        (0..4).map(|i| [0.1 + 0.2 * i as f32, 0.5, 0.2, 0.2]).collect()
    }

    #[test]
    fn threshold_matches_take_every_prior_above_it() {
        // One box equal to prior 0 and one equal to prior 2; neighbours do
        // not overlap them, so each object takes exactly its prior.
        let coder = BoxCoder::default();
        let t = [
            Target { bbox: BBox::new(0.0, 0.4, 0.2, 0.6), class: 3 },
            Target { bbox: BBox::new(0.4, 0.4, 0.6, 0.6), class: 5 },
        ];
        let m = match_priors(&priors(), &t, 0.5, &coder, 0);
        assert_eq!(m.labels, vec![3, 0, 5, 0]);
        assert_eq!(m.positives, 2);
        // Exact fit: zero offsets.
        assert!(m.offsets[0].iter().all(|v| v.abs() < 1e-5), "{:?}", m.offsets[0]);
    }

    #[test]
    fn an_object_below_the_threshold_still_gets_its_best_prior() {
        // A small box inside prior 3: IoU 0.04 / 0.04 … well below 0.5.
        let coder = BoxCoder::default();
        let t = [Target { bbox: BBox::new(0.68, 0.48, 0.72, 0.52), class: 2 }];
        let m = match_priors(&priors(), &t, 0.5, &coder, 0);
        assert_eq!(m.labels, vec![0, 0, 0, 2]);
        let back = coder.decode(&priors()[3], &m.offsets[3]);
        assert!((back.x1 - 0.68).abs() < 1e-5 && (back.x2 - 0.72).abs() < 1e-5);
    }

    /// Priors spanning x 0.2–0.4, 0.2–0.5 and 0.2–0.45, all y 0.4–0.6.
    fn nested_priors() -> Vec<[f32; 4]> {
        vec![[0.3, 0.5, 0.2, 0.2], [0.35, 0.5, 0.3, 0.2], [0.325, 0.5, 0.25, 0.2]]
    }

    #[test]
    fn a_contested_prior_goes_to_the_object_it_overlaps_most() {
        // A = prior 0 (IoU 1, 0.667, 0.8); B = prior 1 (IoU 0.667, 1, 0.833).
        // Prior 2 is above the threshold for both and goes to B.
        let a = Target { bbox: BBox::new(0.2, 0.4, 0.4, 0.6), class: 1 };
        let b = Target { bbox: BBox::new(0.2, 0.4, 0.5, 0.6), class: 2 };
        let m = match_priors(&nested_priors(), &[a, b], 0.5, &BoxCoder::default(), 0);
        assert_eq!(m.labels, vec![1, 2, 2]);
        assert_eq!(m.positives, 3);
    }

    #[test]
    fn a_forced_best_prior_beats_a_better_threshold_match() {
        // C is small: IoU 0.3 with prior 0 (its best), 0.2 with prior 1.
        // D overlaps prior 0 at 0.667 and prior 1 at 1, but prior 0 is C's.
        let c = Target { bbox: BBox::new(0.21, 0.4, 0.27, 0.6), class: 3 };
        let d = Target { bbox: BBox::new(0.2, 0.4, 0.5, 0.6), class: 4 };
        let m = match_priors(&nested_priors()[..2], &[c, d], 0.5, &BoxCoder::default(), 0);
        assert_eq!(m.labels, vec![3, 4]);
    }

    #[test]
    fn no_objects_means_all_background() {
        let m = match_priors(&priors(), &[], 0.5, &BoxCoder::default(), 0);
        assert_eq!(m.labels, vec![0; 4]);
        assert_eq!(m.positives, 0);
    }

    #[test]
    fn hard_negatives_keep_three_per_positive_by_loss() {
        let labels = vec![0, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        let loss = vec![0.1, 9.0, 0.5, 0.9, 0.2, 0.8, 0.05, 0.7, 0.3, 0.6];
        let mask = hard_negatives(&loss, &labels, 0, 3);
        let chosen: Vec<usize> = (0..10).filter(|&i| mask[i]).collect();
        assert_eq!(chosen, vec![3, 5, 7], "the three highest-loss background priors");
        assert!(!mask[1], "positives are never negatives");
    }

    #[test]
    fn hard_negatives_are_capped_and_vanish_without_positives() {
        let labels = vec![1, 1, 0, 0];
        let mask = hard_negatives(&[0.0, 0.0, 1.0, 2.0], &labels, 0, 3);
        assert_eq!(mask, vec![false, false, true, true]);
        let none = hard_negatives(&[1.0; 4], &[0; 4], 0, 3);
        assert!(none.iter().all(|&m| !m));
    }
}
