//! Object events from the tracker: what a service wants instead of a line
//! per frame. An object's life is `new` (its track is confirmed), `update`
//! (its label's score moved by `score_step` or more, or `every_ms` passed
//! since the last word on it) and `end` (its track ended, or the run did).
//!
//! The JSON form, one object per line (`schema` names its version):
//!
//! ```json
//! {"schema":"ssd-cam.event/1","type":"end","id":7,"source":"door.mp4","label":"person",
//!  "class_id":1,"frame":412,"first_ms":1795337900492.8,"last_ms":1795337913790.1,
//!  "duration_ms":13297.3,"score":0.81,"top_score":0.93,
//!  "bbox":{"x1":120.5,"y1":80.0,"x2":210.3,"y2":330.9}}
//! ```

use std::collections::HashMap;

use ssd_core::boxes::BBox;
use ssd_core::track::Track;

/// The schema version written in every event.
pub const SCHEMA: &str = "ssd-cam.event/1";

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Its track was confirmed: a real object, not a flicker.
    New,
    /// Something worth telling changed, or time passed.
    Update,
    /// It is gone (its track ended) or the run ended.
    End,
}

/// One event about one tracked object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The track id.
    pub id: u64,
    /// Class index.
    pub class_id: u32,
    /// Frame index of the event.
    pub frame: u64,
    /// When the object was first detected (ms since the Unix epoch).
    pub first_ms: f64,
    /// When it was last detected.
    pub last_ms: f64,
    /// Its last detection's score.
    pub score: f32,
    /// Its best score.
    pub top_score: f32,
    /// Its box (last detection or prediction), source pixels.
    pub bbox: BBox,
}

/// When updates are told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventParams {
    /// A score change at least this big since the last event is an update.
    pub score_step: f32,
    /// An update at least this often while the object stays (ms).
    pub every_ms: f64,
}

impl Default for EventParams {
    fn default() -> Self {
        Self { score_step: 0.1, every_ms: 10_000.0 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Life {
    first_ms: f64,
    last_ms: f64,
    /// Confirmed and told as new.
    told: bool,
    /// Score and time of the last event.
    said_score: f32,
    said_ms: f64,
}

/// Turns the tracker's state, frame by frame, into events.
#[derive(Debug, Clone, Default)]
pub struct Events {
    params: EventParams,
    lives: HashMap<u64, Life>,
}

impl Events {
    /// No objects yet.
    pub fn new(params: EventParams) -> Self {
        Self { params, lives: HashMap::new() }
    }

    /// One frame at `now_ms`: the live `tracks` and the tracks that `ended`
    /// in it. Events are appended to `out`, ends first, then by id.
    pub fn frame(&mut self, frame: u64, now_ms: f64, tracks: &[Track], ended: &[Track], out: &mut Vec<Event>) {
        for t in ended {
            if let Some(life) = self.lives.remove(&t.id) {
                if life.told {
                    out.push(self.event(EventKind::End, t, frame, &life));
                }
            }
        }
        for t in tracks {
            let seen = t.missed == 0;
            let life = self.lives.entry(t.id).or_insert(Life {
                first_ms: now_ms,
                last_ms: now_ms,
                told: false,
                said_score: t.score,
                said_ms: now_ms,
            });
            if seen {
                life.last_ms = now_ms;
            }
            let kind = if t.confirmed && !life.told {
                Some(EventKind::New)
            } else if life.told
                && seen
                && ((t.score - life.said_score).abs() >= self.params.score_step
                    || now_ms - life.said_ms >= self.params.every_ms)
            {
                Some(EventKind::Update)
            } else {
                None
            };
            if let Some(kind) = kind {
                life.told = true;
                life.said_score = t.score;
                life.said_ms = now_ms;
                let life = *life;
                out.push(self.event(kind, t, frame, &life));
            }
        }
    }

    /// The run ended: an `end` for every object told as new and not ended.
    pub fn finish(&mut self, frame: u64, tracks: &[Track], out: &mut Vec<Event>) {
        for t in tracks {
            if let Some(life) = self.lives.remove(&t.id) {
                if life.told {
                    out.push(self.event(EventKind::End, t, frame, &life));
                }
            }
        }
    }

    fn event(&self, kind: EventKind, t: &Track, frame: u64, life: &Life) -> Event {
        Event {
            kind,
            id: t.id,
            class_id: t.class_id,
            frame,
            first_ms: life.first_ms,
            last_ms: life.last_ms,
            score: t.score,
            top_score: t.top_score,
            bbox: t.bbox,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssd_core::track::{TrackParams, Tracker};

    /// Runs the tracker and the events over frames of one object's score
    /// (`None`: not detected), 100 ms apart; returns (frame, kind, id).
    fn life_of(scores: &[Option<f32>], params: EventParams) -> Vec<(u64, EventKind, u64)> {
        let mut tracker = Tracker::new(TrackParams { max_age: 2, ..TrackParams::default() });
        let mut events = Events::new(params);
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (f, s) in scores.iter().enumerate() {
            let dets: Vec<(u32, f32, BBox)> = s.iter().map(|&s| (1, s, BBox::new(10.0, 10.0, 50.0, 90.0))).collect();
            ended.clear();
            tracker.update(&dets, &mut ids, &mut ended);
            events.frame(f as u64, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        events.finish(scores.len() as u64, tracker.tracks(), &mut out);
        out.iter().map(|e| (e.frame, e.kind, e.id)).collect()
    }

    #[test]
    fn an_object_is_new_once_confirmed_and_ends_after_max_age() {
        let mut scores = vec![Some(0.9); 5];
        scores.extend([None, None, None]);
        let got = life_of(&scores, EventParams::default());
        assert_eq!(got, vec![(2, EventKind::New, 1), (7, EventKind::End, 1)]);
    }

    #[test]
    fn a_flicker_says_nothing_and_the_run_end_closes_what_is_open() {
        let got = life_of(&[Some(0.9), None, Some(0.9), Some(0.9), Some(0.9)], EventParams::default());
        // Track 1 flickered and ended unconfirmed; track 2 is new at its third hit.
        assert_eq!(got, vec![(4, EventKind::New, 2), (5, EventKind::End, 2)]);
    }

    #[test]
    fn updates_come_on_score_steps_and_with_time() {
        let scores = [0.9, 0.9, 0.9, 0.85, 0.75, 0.75, 0.75, 0.75].map(Some);
        let got = life_of(&scores, EventParams { score_step: 0.1, every_ms: 250.0 });
        assert_eq!(
            got,
            vec![
                (2, EventKind::New, 1),
                (4, EventKind::Update, 1), // 0.9 -> 0.75
                (7, EventKind::Update, 1), // 300 ms later
                (8, EventKind::End, 1),
            ]
        );
    }
}
