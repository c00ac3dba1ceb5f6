//! Multi-object tracking: a stable id for each object across frames.
//!
//! SORT's design (Bewley et al. 2016): every track predicts its box with a
//! constant-velocity Kalman filter on centre and size, and detections are
//! associated with the predictions by IoU. ByteTrack's second pass (Zhang
//! et al. 2022): detections below the high-score threshold, which SORT
//! throws away, are matched to the tracks the first pass left alone, which
//! keeps the ids of partly hidden objects whose score dips. Tracks are per
//! class, ids are never reused, and the result depends only on the input.
//!
//! Association is greedy by IoU, largest first (ties by track id, then by
//! detection order), where SORT solves the assignment optimally: with boxes
//! of one class rarely overlapping two tracks at once the two agree, and
//! greedy is what keeps the cost at 50 objects in microseconds.

use crate::boxes::BBox;

/// How tracks follow their objects between detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// A track expects its last box (the IoU tracker of jetson-inference).
    Still,
    /// A constant-velocity Kalman filter predicts the box (SORT).
    Kalman,
}

/// Tracker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackParams {
    /// Least IoU between a prediction and a detection to associate them.
    pub iou: f32,
    /// Least IoU for the second pass over low-score detections.
    pub low_iou: f32,
    /// Frames a track survives without a detection.
    pub max_age: u32,
    /// Detections before a track is confirmed (and reported as new).
    pub min_hits: u32,
    /// Detections scoring at least this are first-pass and may start
    /// tracks; those below only continue tracks (second pass).
    pub high_score: f32,
    /// The second, low-score pass (ByteTrack); off (plain SORT) by default:
    /// on the demo scene it found more objects but added more false ones
    /// (BENCHMARKS.md, "Tracking").
    pub second_pass: bool,
    /// How tracks predict.
    pub motion: Motion,
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            iou: 0.3,
            low_iou: 0.5,
            max_age: 30,
            min_hits: 3,
            high_score: 0.5,
            second_pass: false,
            motion: Motion::Kalman,
        }
    }
}

/// Position and velocity of one box coordinate, with their covariance: the
/// 8-state constant-velocity filter of SORT splits exactly into four of
/// these when, as there, every noise covariance is diagonal.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    p: f32,
    v: f32,
    /// Covariance [[pp, pv], [pv, vv]].
    pp: f32,
    pv: f32,
    vv: f32,
}

impl Axis {
    fn new(p: f32, scale: f32) -> Self {
        // ByteTrack's initial uncertainty: 2·h/20 on position, 10·h/160 on velocity.
        let (sp, sv) = (2.0 * scale / 20.0, 10.0 * scale / 160.0);
        Self { p, v: 0.0, pp: sp * sp, pv: 0.0, vv: sv * sv }
    }

    fn predict(&mut self, scale: f32) {
        let (qp, qv) = ((scale / 20.0).powi(2), (scale / 160.0).powi(2));
        self.p += self.v;
        // P = F P Fᵀ + Q with F = [[1, 1], [0, 1]].
        self.pp += 2.0 * self.pv + self.vv + qp;
        self.pv += self.vv;
        self.vv += qv;
    }

    fn update(&mut self, z: f32, scale: f32) {
        let r = (scale / 20.0).powi(2);
        let s = self.pp + r;
        let (k0, k1) = (self.pp / s, self.pv / s);
        let y = z - self.p;
        self.p += k0 * y;
        self.v += k1 * y;
        // P = (I − K H) P with H = [1, 0].
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = (1.0 - k0) * pp;
        self.pv = (1.0 - k0) * pv;
        self.vv = vv - k1 * pv;
    }
}

/// One tracked object.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Its id: 1, 2, … in order of appearance, never reused.
    pub id: u64,
    /// Class index (tracks never change class).
    pub class_id: u32,
    /// The box the track holds now: the last detection's when it was
    /// detected this frame, else the prediction.
    pub bbox: BBox,
    /// Its last detection's score.
    pub score: f32,
    /// Best score seen.
    pub top_score: f32,
    /// Frames it was detected in.
    pub hits: u32,
    /// Frames since it was last detected (0: detected this frame).
    pub missed: u32,
    /// Detected `min_hits` times: a real object, not a flicker.
    pub confirmed: bool,
    axes: [Axis; 4],
}

impl Track {
    fn predicted(&self) -> BBox {
        let [cx, cy, w, h] = self.axes.map(|a| a.p);
        BBox::from_center(cx, cy, w.max(1.0), h.max(1.0))
    }
}

/// The tracker: feed it each frame's detections, in order.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackParams,
    tracks: Vec<Track>,
    next_id: u64,
    pairs: Vec<(f32, usize, usize)>,
    matched_track: Vec<bool>,
    shadowed: Vec<bool>,
}

impl Tracker {
    /// A tracker with no tracks yet.
    pub fn new(params: TrackParams) -> Self {
        Self {
            params,
            tracks: Vec::new(),
            next_id: 1,
            pairs: Vec::new(),
            matched_track: Vec::new(),
            shadowed: Vec::new(),
        }
    }

    /// Its settings.
    pub fn params(&self) -> &TrackParams {
        &self.params
    }

    /// The live tracks (confirmed or not), in order of id.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Advances one frame. `detections` are `(class, score, box)`; `ids`
    /// receives, for each, the id of the track it joined or started, or
    /// `None` for a low-score detection no track wanted. Tracks that go
    /// unseen longer than `max_age` end and are appended to `ended`.
    pub fn update(&mut self, detections: &[(u32, f32, BBox)], ids: &mut Vec<Option<u64>>, ended: &mut Vec<Track>) {
        self.update_holding(detections, &[], ids, ended);
    }

    /// [`Tracker::update`] for a frame the model did not look at everywhere:
    /// the tracks in `held` (ids) were not looked for, so unless a detection
    /// joins one anyway it keeps its box and does not age. A stationary
    /// object checked only now and then lives on between its checks.
    pub fn update_holding(
        &mut self,
        detections: &[(u32, f32, BBox)],
        held: &[u64],
        ids: &mut Vec<Option<u64>>,
        ended: &mut Vec<Track>,
    ) {
        let p = self.params;
        for t in &mut self.tracks {
            if p.motion == Motion::Kalman && !held.contains(&t.id) {
                let scale = t.axes[3].p.max(1.0);
                for a in &mut t.axes {
                    a.predict(scale);
                }
                t.bbox = t.predicted();
            }
        }
        ids.clear();
        ids.resize(detections.len(), None);
        self.matched_track.clear();
        self.matched_track.resize(self.tracks.len(), false);
        self.associate(detections, ids, true, p.iou);
        if p.second_pass {
            // A low-score box lying on a first-pass one is that object's
            // runner-up class (per-class NMS keeps both), not a hidden
            // object: it must not keep another class's track alive.
            self.shadowed.clear();
            self.shadowed.extend(detections.iter().map(|&(_, score, bbox)| {
                score < p.high_score
                    && detections.iter().any(|&(_, s, b)| s >= p.high_score && b.iou(&bbox) >= p.low_iou)
            }));
            self.associate(detections, ids, false, p.low_iou);
        }
        // Tracks not seen this frame age; unconfirmed ones end at once (a
        // flicker), confirmed ones after max_age frames. Compacted in place,
        // in id order, so a frame allocates nothing.
        let mut k = 0;
        for i in 0..self.tracks.len() {
            let t = &mut self.tracks[i];
            let seen = self.matched_track[i] || held.contains(&t.id);
            if !seen {
                t.missed += 1;
            }
            if !seen && (!t.confirmed || t.missed > p.max_age) {
                ended.push(t.clone());
            } else {
                self.tracks.swap(k, i);
                k += 1;
            }
        }
        self.tracks.truncate(k);
        // First-pass detections no track took start tracks.
        for (i, &(class_id, score, bbox)) in detections.iter().enumerate() {
            if ids[i].is_some() || score < p.high_score {
                continue;
            }
            let [cx, cy, w, h] = bbox.to_center();
            let scale = h.max(1.0);
            let id = self.next_id;
            self.next_id += 1;
            ids[i] = Some(id);
            self.tracks.push(Track {
                id,
                class_id,
                bbox,
                score,
                top_score: score,
                hits: 1,
                missed: 0,
                confirmed: p.min_hits <= 1,
                axes: [cx, cy, w, h].map(|v| Axis::new(v, scale)),
            });
        }
    }

    /// One association pass: detections on one side of the high-score
    /// threshold against the tracks not matched yet, greedy by IoU.
    fn associate(&mut self, detections: &[(u32, f32, BBox)], ids: &mut [Option<u64>], high: bool, least: f32) {
        self.pairs.clear();
        for (ti, t) in self.tracks.iter().enumerate() {
            if self.matched_track[ti] {
                continue;
            }
            // Low-score detections only continue confirmed tracks: a flicker
            // kept alive by them is a false positive that lasts.
            if !high && !t.confirmed {
                continue;
            }
            for (di, &(class_id, score, bbox)) in detections.iter().enumerate() {
                if class_id != t.class_id
                    || (score >= self.params.high_score) != high
                    || ids[di].is_some()
                    || (!high && self.shadowed[di])
                {
                    continue;
                }
                let iou = t.bbox.iou(&bbox);
                if iou >= least {
                    self.pairs.push((iou, ti, di));
                }
            }
        }
        // Largest IoU first; ties by track (older first), then detection.
        self.pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        for k in 0..self.pairs.len() {
            let (_, ti, di) = self.pairs[k];
            if self.matched_track[ti] || ids[di].is_some() {
                continue;
            }
            self.matched_track[ti] = true;
            let (_, score, bbox) = detections[di];
            let t = &mut self.tracks[ti];
            ids[di] = Some(t.id);
            t.hits += 1;
            t.missed = 0;
            t.confirmed |= t.hits >= self.params.min_hits;
            t.score = score;
            t.top_score = t.top_score.max(score);
            t.bbox = bbox;
            let [cx, cy, w, h] = bbox.to_center();
            if self.params.motion == Motion::Kalman {
                let scale = t.axes[3].p.max(1.0);
                for (a, z) in t.axes.iter_mut().zip([cx, cy, w, h]) {
                    a.update(z, scale);
                }
            } else {
                t.axes = [cx, cy, w, h].map(|v| Axis::new(v, h.max(1.0)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(cx: f32, cy: f32) -> BBox {
        BBox::from_center(cx, cy, 40.0, 40.0)
    }

    /// Runs `frames` of `(class, score, box)` lists; returns each frame's ids.
    fn run(params: TrackParams, frames: &[Vec<(u32, f32, BBox)>]) -> Vec<Vec<Option<u64>>> {
        let mut t = Tracker::new(params);
        let (mut ids, mut ended) = (Vec::new(), Vec::new());
        frames
            .iter()
            .map(|f| {
                t.update(f, &mut ids, &mut ended);
                ids.clone()
            })
            .collect()
    }

    #[test]
    fn a_held_track_neither_ages_nor_drifts_until_it_is_looked_for_again() {
        let params = TrackParams { max_age: 3, ..TrackParams::default() };
        let mut t = Tracker::new(params);
        let (mut ids, mut ended) = (Vec::new(), Vec::new());
        // Walks in (5 px a frame), so the Kalman filter has a velocity.
        for i in 0..6 {
            t.update(&[(1, 0.9, boxed(50.0 + 5.0 * i as f32, 60.0))], &mut ids, &mut ended);
        }
        let at = t.tracks()[0].bbox;
        // 100 frames not looked at: still there, same box.
        for _ in 0..100 {
            t.update_holding(&[], &[1], &mut ids, &mut ended);
        }
        assert!(ended.is_empty());
        assert_eq!((t.tracks()[0].missed, t.tracks()[0].bbox), (0, at));
        // A look that finds it joins it; looks that miss age it and end it.
        t.update_holding(&[(1, 0.9, at)], &[], &mut ids, &mut ended);
        assert_eq!(ids, [Some(1)]);
        for _ in 0..4 {
            t.update_holding(&[], &[], &mut ids, &mut ended);
        }
        assert_eq!(ended.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn crossing_objects_keep_their_ids() {
        // Two 40 px boxes of one class on one line, moving towards each
        // other at 15 px a frame: at frames 10 and 11 each is where the
        // other just was, then they part.
        let frames: Vec<_> = (0..30)
            .map(|i| {
                let x = i as f32 * 15.0;
                vec![(0, 0.9, boxed(40.0 + x, 100.0)), (0, 0.9, boxed(355.0 - x, 100.0))]
            })
            .collect();
        let ids = run(TrackParams::default(), &frames);
        assert!(ids.iter().all(|f| f == &ids[0]), "{ids:?}");
        assert_eq!(ids[0], vec![Some(1), Some(2)]);
        // Without motion the IoU tracker swaps them where they overlap.
        let still = run(TrackParams { motion: Motion::Still, ..TrackParams::default() }, &frames);
        assert!(still.iter().any(|f| f != &still[0]), "the IoU-only tracker kept up: {still:?}");
    }

    #[test]
    fn an_object_hidden_for_less_than_max_age_keeps_its_id_and_ids_are_never_reused() {
        let params = TrackParams { max_age: 5, ..TrackParams::default() };
        let mut frames: Vec<Vec<(u32, f32, BBox)>> =
            (0..10).map(|i| vec![(1, 0.8, boxed(50.0 + 3.0 * i as f32, 60.0))]).collect();
        // Hidden 4 frames (moving on), then seen again where it should be.
        frames.extend((10..14).map(|_| Vec::new()));
        frames.extend((14..18).map(|i| vec![(1, 0.8, boxed(50.0 + 3.0 * i as f32, 60.0))]));
        // Hidden 8 frames: longer than max_age, so it comes back as a new object.
        frames.extend((18..26).map(|_| Vec::new()));
        frames.push(vec![(1, 0.8, boxed(50.0 + 3.0 * 26.0, 60.0))]);
        let ids = run(params, &frames);
        assert_eq!(ids[9], vec![Some(1)]);
        assert_eq!(ids[14], vec![Some(1)], "{ids:?}");
        assert_eq!(ids[26], vec![Some(2)], "{ids:?}");
    }

    #[test]
    fn a_score_dip_is_bridged_by_the_second_pass_only() {
        // A confirmed object whose score falls under the high threshold for
        // a few frames (occlusion), then recovers.
        let score = |i: usize| if (8..12).contains(&i) { 0.3 } else { 0.8 };
        let frames: Vec<_> = (0..16).map(|i| vec![(0, score(i), boxed(30.0 + 4.0 * i as f32, 50.0))]).collect();
        let byte = run(TrackParams { second_pass: true, ..TrackParams::default() }, &frames);
        assert!(byte.iter().all(|f| f == &vec![Some(1)]), "{byte:?}");
        let sort = run(TrackParams { max_age: 2, ..TrackParams::default() }, &frames);
        assert_eq!(sort[9], vec![None], "SORT drops low scores");
        assert_eq!(sort[12], vec![Some(2)], "and, past max_age, the object gets a new id: {sort:?}");
    }

    #[test]
    fn a_runner_up_class_under_a_confident_box_does_not_keep_its_track() {
        // Class 1 confirmed, then the object reads as class 0 (high) with
        // class 1 as a low-score runner-up on the same box: that is one
        // object, so class 1's track must not be kept alive by it.
        let params = TrackParams { second_pass: true, max_age: 0, ..TrackParams::default() };
        let mut frames: Vec<Vec<(u32, f32, BBox)>> = (0..4).map(|_| vec![(1, 0.9, boxed(50.0, 50.0))]).collect();
        frames.push(vec![(0, 0.9, boxed(50.0, 50.0)), (1, 0.3, boxed(51.0, 50.0))]);
        let ids = run(params, &frames);
        assert_eq!(ids[4], vec![Some(2), None], "{ids:?}");
        // The same low-score box alone is a hidden object: the track goes on.
        let mut frames: Vec<Vec<(u32, f32, BBox)>> = (0..4).map(|_| vec![(1, 0.9, boxed(50.0, 50.0))]).collect();
        frames.push(vec![(1, 0.3, boxed(51.0, 50.0))]);
        assert_eq!(run(params, &frames)[4], vec![Some(1)]);
    }

    #[test]
    fn classes_never_share_a_track_and_low_scores_never_start_one() {
        let frames = vec![
            vec![(0, 0.9, boxed(50.0, 50.0)), (1, 0.9, boxed(52.0, 50.0)), (2, 0.2, boxed(200.0, 50.0))],
            vec![(1, 0.9, boxed(50.0, 50.0)), (0, 0.9, boxed(52.0, 50.0))],
        ];
        let ids = run(TrackParams { second_pass: true, ..TrackParams::default() }, &frames);
        assert_eq!(ids[0], vec![Some(1), Some(2), None]);
        assert_eq!(ids[1], vec![Some(2), Some(1)]);
    }

    #[test]
    fn unconfirmed_flickers_end_at_once_and_confirmed_tracks_report_when_they_end() {
        let mut t = Tracker::new(TrackParams { max_age: 1, ..TrackParams::default() });
        let (mut ids, mut ended) = (Vec::new(), Vec::new());
        t.update(&[(0, 0.9, boxed(10.0, 10.0))], &mut ids, &mut ended);
        t.update(&[], &mut ids, &mut ended);
        assert_eq!(ended.iter().map(|e| (e.id, e.confirmed)).collect::<Vec<_>>(), vec![(1, false)]);
        for _ in 0..3 {
            t.update(&[(0, 0.9, boxed(100.0, 10.0))], &mut ids, &mut ended);
        }
        assert!(t.tracks()[0].confirmed);
        t.update(&[], &mut ids, &mut ended);
        assert_eq!(t.tracks().len(), 1, "missed once: within max_age");
        t.update(&[], &mut ids, &mut ended);
        assert_eq!(ended.last().map(|e| (e.id, e.hits)), Some((2, 3)));
        assert!(t.tracks().is_empty());
    }
}
