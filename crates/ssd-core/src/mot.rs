//! Multi-object tracking accuracy: CLEAR MOT (MOTA, identity switches) and
//! the identity F1 score (IDF1), as py-motmetrics and the MOTChallenge
//! compute them, with IoU ≥ a threshold as the match criterion.

use crate::boxes::BBox;

/// Tracking accuracy over a whole sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct MotSummary {
    /// 1 − (misses + false positives + identity switches) / ground-truth boxes.
    pub mota: f64,
    /// 2·IDTP / (ground-truth boxes + predicted boxes), after the best
    /// one-to-one mapping of ground-truth ids to predicted ids.
    pub idf1: f64,
    /// Times a ground-truth object was matched to another id than before.
    pub id_switches: u64,
    /// Predicted boxes matching no ground truth.
    pub false_positives: u64,
    /// Ground-truth boxes matching no prediction.
    pub misses: u64,
    /// Ground-truth boxes.
    pub ground_truth: u64,
    /// Predicted boxes.
    pub predictions: u64,
}

/// Collects a sequence frame by frame.
#[derive(Debug, Clone)]
pub struct MotAccumulator {
    iou: f32,
    /// Last predicted id each ground-truth id was matched to.
    last: std::collections::HashMap<u64, u64>,
    /// Frames in which each (ground truth, prediction) pair overlapped.
    overlaps: std::collections::HashMap<(u64, u64), u64>,
    summary: MotSummary,
}

impl MotAccumulator {
    /// An empty sequence; boxes match at IoU ≥ `iou` (0.5 in MOTChallenge).
    pub fn new(iou: f32) -> Self {
        Self { iou, last: Default::default(), overlaps: Default::default(), summary: MotSummary::default() }
    }

    /// Adds one frame: ground truth and predictions as `(id, box)`.
    pub fn frame(&mut self, truth: &[(u64, BBox)], predicted: &[(u64, BBox)]) {
        let iou = |g: usize, p: usize| truth[g].1.iou(&predicted[p].1);
        for &(gid, gb) in truth {
            for &(pid, pb) in predicted {
                if gb.iou(&pb) >= self.iou {
                    *self.overlaps.entry((gid, pid)).or_default() += 1;
                }
            }
        }
        // CLEAR MOT: correspondences of the last frame hold while they still
        // overlap; the rest are matched for the largest total IoU.
        let mut matched_g = vec![None; truth.len()];
        let mut taken_p = vec![false; predicted.len()];
        for (g, &(gid, _)) in truth.iter().enumerate() {
            let Some(&pid) = self.last.get(&gid) else { continue };
            if let Some(p) = predicted.iter().position(|&(id, _)| id == pid) {
                if !taken_p[p] && iou(g, p) >= self.iou {
                    matched_g[g] = Some(p);
                    taken_p[p] = true;
                }
            }
        }
        let free_g: Vec<usize> = (0..truth.len()).filter(|&g| matched_g[g].is_none()).collect();
        let free_p: Vec<usize> = (0..predicted.len()).filter(|&p| !taken_p[p]).collect();
        let gain: Vec<Vec<f64>> = free_g
            .iter()
            .map(|&g| {
                free_p
                    .iter()
                    .map(|&p| {
                        let v = iou(g, p);
                        if v >= self.iou {
                            f64::from(v)
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        for (i, j) in best_assignment(&gain) {
            if gain[i][j] > 0.0 {
                matched_g[free_g[i]] = Some(free_p[j]);
                taken_p[free_p[j]] = true;
            }
        }
        let s = &mut self.summary;
        s.ground_truth += truth.len() as u64;
        s.predictions += predicted.len() as u64;
        s.false_positives += taken_p.iter().filter(|t| !**t).count() as u64;
        for (g, m) in matched_g.iter().enumerate() {
            let gid = truth[g].0;
            match m {
                None => s.misses += 1,
                Some(p) => {
                    let pid = predicted[*p].0;
                    if self.last.insert(gid, pid).is_some_and(|before| before != pid) {
                        s.id_switches += 1;
                    }
                }
            }
        }
    }

    /// The figures so far.
    pub fn summary(&self) -> MotSummary {
        let mut s = self.summary;
        if s.ground_truth > 0 {
            s.mota = 1.0 - (s.misses + s.false_positives + s.id_switches) as f64 / s.ground_truth as f64;
        }
        // IDF1: the one-to-one id mapping that keeps the most overlapping frames.
        let mut gids: Vec<u64> = self.overlaps.keys().map(|k| k.0).collect();
        let mut pids: Vec<u64> = self.overlaps.keys().map(|k| k.1).collect();
        gids.sort_unstable();
        gids.dedup();
        pids.sort_unstable();
        pids.dedup();
        let gain: Vec<Vec<f64>> = gids
            .iter()
            .map(|g| pids.iter().map(|p| self.overlaps.get(&(*g, *p)).copied().unwrap_or(0) as f64).collect())
            .collect();
        let idtp: f64 = best_assignment(&gain).iter().map(|&(i, j)| gain[i][j]).sum();
        let all = (s.ground_truth + s.predictions) as f64;
        if all > 0.0 {
            s.idf1 = 2.0 * idtp / all;
        }
        s
    }
}

/// The rows-to-columns assignment with the largest total `gain` (Hungarian
/// method on the padded square matrix); pairs `(row, column)`, each row and
/// column at most once.
pub fn best_assignment(gain: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let rows = gain.len();
    let cols = gain.iter().map(Vec::len).max().unwrap_or(0);
    let n = rows.max(cols);
    if n == 0 {
        return Vec::new();
    }
    let top = gain.iter().flatten().copied().fold(0.0, f64::max);
    let cost = |i: usize, j: usize| top - gain.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0.0);
    // Potentials u (rows), v (columns); way[j] the column before j on the
    // augmenting path; p[j] the row assigned to column j (1-based, 0 = none).
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let (i0, mut delta, mut j1) = (p[j0], f64::INFINITY, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=n).filter(|&j| p[j] > 0 && p[j] <= rows && j <= cols).map(|j| (p[j] - 1, j - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> BBox {
        BBox::new(x, 0.0, x + 10.0, 10.0)
    }

    #[test]
    fn the_assignment_is_the_best_not_the_greedy_one() {
        // Greedy takes 9 and is left with 1 (total 10); the best is 8 + 8.
        let pairs = best_assignment(&[vec![9.0, 8.0], vec![8.0, 1.0]]);
        assert_eq!(pairs, vec![(1, 0), (0, 1)]);
        let rect = best_assignment(&[vec![1.0, 5.0, 2.0]]);
        assert_eq!(rect, vec![(0, 1)]);
        assert!(best_assignment(&[]).is_empty());
    }

    #[test]
    fn a_perfect_tracker_scores_one_and_a_swap_is_counted_once() {
        let mut perfect = MotAccumulator::new(0.5);
        for _ in 0..4 {
            perfect.frame(&[(1, b(0.0)), (2, b(50.0))], &[(7, b(0.0)), (8, b(50.0))]);
        }
        let s = perfect.summary();
        assert_eq!((s.mota, s.idf1, s.id_switches), (1.0, 1.0, 0));

        // Ids swap after two of four frames: two switches (one per object),
        // IDF1 keeps half the frames.
        let mut swapped = MotAccumulator::new(0.5);
        for f in 0..4 {
            let (a, c) = if f < 2 { (7, 8) } else { (8, 7) };
            swapped.frame(&[(1, b(0.0)), (2, b(50.0))], &[(a, b(0.0)), (c, b(50.0))]);
        }
        let s = swapped.summary();
        assert_eq!(s.id_switches, 2);
        assert!((s.mota - (1.0 - 2.0 / 8.0)).abs() < 1e-9, "{s:?}");
        assert!((s.idf1 - 0.5).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn misses_and_false_positives_lower_mota() {
        let mut acc = MotAccumulator::new(0.5);
        acc.frame(&[(1, b(0.0)), (2, b(50.0))], &[(7, b(0.0)), (9, b(200.0))]);
        let s = acc.summary();
        assert_eq!((s.misses, s.false_positives, s.id_switches), (1, 1, 0));
        assert!((s.mota - 0.0).abs() < 1e-9);
        assert!((s.idf1 - 0.5).abs() < 1e-9);
    }
}
