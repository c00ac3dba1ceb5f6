//! Object events from the tracker: what a service wants instead of a line
//! per frame. An object's life is `new` (its track is confirmed), `update`
//! (when something a user cares about changed, each named in its
//! `reasons`: `score`, its score beat the best told so far by `score_step`
//! (a clearly better view, never a swing down and back up) at least
//! `score_every_ms` after the last word on it; `zone`, it
//! entered or left a zone; `line`, it crossed a counting line;
//! `stationary`, its box has stayed put for `stationary_ms`; `active`, a
//! stationary object moved again; `heartbeat`, `every_ms` passed since the
//! last word on it) and `end` (its track ended, or the run did). Zones and lines
//! ([`crate::zones`]) see an object at its box's bottom centre. A class's
//! [`CountRule`] (a filter's `threshold` and `required_zones`,
//! [`crate::filters`]) holds its objects' `new` back until they pass it;
//! objects that never do are never told.
//!
//! The JSON form, one object per line (`schema` names its version):
//!
//! ```json
//! {"schema":"ssd-cam.event/1","type":"end","id":7,"source":"door.mp4","label":"person",
//!  "class_id":1,"frame":412,"first_ms":1795337900492.8,"last_ms":1795337913790.1,
//!  "duration_ms":13297.3,"score":0.81,"top_score":0.93,
//!  "bbox":{"x1":120.5,"y1":80.0,"x2":210.3,"y2":330.9},"zones":[],"entered_zones":["door"],
//!  "stationary":false}
//! ```
//!
//! A crossing adds `"crossed":[{"line":"gate","direction":"left_to_right",
//! "left_to_right":3,"right_to_left":1}]` (the line's totals so far; the
//! direction is the user's name for it when the line names its ways), and
//! `--snapshots` adds `"snapshot":"1795337900492-7.jpg"` (the object's
//! picture, [`crate::sink::snapshot`]) and `--clips` adds
//! `"clip":"1795337900492-7.mp4"` ([`crate::clips`]). Version 1 only ever
//! gains fields.

use std::collections::HashMap;

use ssd_core::boxes::BBox;
use ssd_core::track::Track;

use crate::zones::{anchor, Direction, Line, Zone};

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

impl EventKind {
    /// The kind's name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Update => "update",
            EventKind::End => "end",
        }
    }
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
    /// Its box where it was last detected, source pixels (never the
    /// tracker's prediction: an `end` comes `--track-max-age` frames after
    /// the last sighting, when the prediction may have left the picture).
    pub bbox: BBox,
    /// Zones it is in now.
    pub zones: Vec<String>,
    /// Zones it has been in.
    pub entered_zones: Vec<String>,
    /// Lines it crossed in this frame.
    pub crossed: Vec<Crossing>,
    /// Why an update was told: `score`, `zone`, `line`, `stationary`,
    /// `active`, `heartbeat`.
    pub reasons: Vec<&'static str>,
    /// Its box has stayed put for the params' `stationary_ms`.
    pub stationary: bool,
    /// The clip it is in (`--clips`).
    pub clip: Option<crate::clips::ClipId>,
}

/// An object crossing a counting line.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Crossing {
    /// The line's name.
    pub line: String,
    /// Which way, by the user's name for it (`in`, `out`: `--line
    /// NAME=x1,y1,x2,y2,IN,OUT`) or `left_to_right` / `right_to_left`.
    pub direction: String,
    /// The line's count of left-to-right crossings so far, this one included.
    pub left_to_right: u64,
    /// Its count of right-to-left crossings so far.
    pub right_to_left: u64,
    /// Whether this crossing went left to right (`direction` may be the
    /// user's name for it).
    #[serde(skip)]
    pub direction_is_left_to_right: bool,
}

impl Crossing {
    /// The count of crossings the way this one went, this one included.
    pub fn way_count(&self) -> u64 {
        if self.direction_is_left_to_right {
            self.left_to_right
        } else {
            self.right_to_left
        }
    }
}

/// When updates are told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventParams {
    /// A score this much above the best told so far is an update...
    pub score_step: f32,
    /// ...once this long has passed since the last event on the object
    /// (ms): a person walking into view scores higher frame by frame, and
    /// each step would be a message.
    pub score_every_ms: f64,
    /// An update at least this often while the object stays (ms).
    pub every_ms: f64,
    /// An object whose box stays put this long is stationary (ms; 0: never).
    pub stationary_ms: f64,
}

impl Default for EventParams {
    fn default() -> Self {
        Self { score_step: 0.1, score_every_ms: 5_000.0, every_ms: 10_000.0, stationary_ms: 10_000.0 }
    }
}

/// A box overlapping the box where an object stopped this much has not
/// moved: a standing person's boxes jitter by a few pixels (IoU about 0.9),
/// a walking one's fall below this within a second.
const STILL_IOU: f32 = 0.7;

#[derive(Debug, Clone, Copy)]
struct Life {
    first_ms: f64,
    last_ms: f64,
    /// Confirmed and told as new.
    told: bool,
    /// The best score told so far, and the time of the last event.
    said_score: f32,
    said_ms: f64,
    /// Which zones it is in (by index), and has been in.
    inside: u64,
    entered: u64,
    /// Where it stood when last seen.
    at: Option<[f32; 2]>,
    /// Its box when last seen.
    seen_box: BBox,
    /// The box where it stopped moving, and since when.
    still: Option<(BBox, f64)>,
    /// Told as stationary.
    stationary: bool,
    /// Its clip, once told as new (`--clips`).
    clip: Option<crate::clips::ClipId>,
    /// Its last scores (while seen), for the median a filter's
    /// `threshold` asks of it.
    scores: [f32; SCORES],
    seen: usize,
}

/// Scores a median is taken over (Frigate keeps as many).
const SCORES: usize = 10;

impl Life {
    /// The median of its last [`SCORES`] scores.
    fn median(&self) -> f32 {
        let mut s = self.scores;
        let s = &mut s[..self.seen.min(SCORES)];
        s.sort_by(f32::total_cmp);
        match s.len() {
            0 => 0.0,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        }
    }

    /// Whether it passes its class's rule (once it does, it counts for
    /// good: a person who steps out of the required zone is still there).
    fn counts(&self, rule: CountRule) -> bool {
        self.median() >= rule.threshold && (rule.required == 0 || self.entered & rule.required != 0)
    }
}

/// When an object of one class counts (its `new` is told): a filter's
/// `threshold` and `required_zones` ([`crate::filters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CountRule {
    /// The median of its recent scores must reach this.
    pub threshold: f32,
    /// It must have entered one of these zones (a bit per zone, by index;
    /// 0: no zone needed).
    pub required: u64,
}

/// Turns the tracker's state, frame by frame, into events.
#[derive(Debug, Clone, Default)]
pub struct Events {
    params: EventParams,
    lives: HashMap<u64, Life>,
    zones: Vec<Zone>,
    lines: Vec<Line>,
    /// Per line: left-to-right and right-to-left crossings.
    counts: Vec<[u64; 2]>,
    /// Per class: when its objects count.
    rules: HashMap<u32, CountRule>,
    /// Per zone: the classes it counts (`None`: all).
    zone_classes: Vec<Option<Vec<u32>>>,
    /// Which clip each object is in (`--clips`).
    clips: Option<crate::clips::ClipPlan>,
}

pub use crate::zones::MAX_ZONES;

impl Events {
    /// No objects yet.
    pub fn new(params: EventParams) -> Self {
        Self { params, ..Self::default() }
    }

    /// Zones (at most [`MAX_ZONES`]; the caller refuses more) and counting
    /// lines to report.
    pub fn with_places(mut self, mut zones: Vec<Zone>, lines: Vec<Line>) -> Self {
        zones.truncate(MAX_ZONES);
        self.counts = vec![[0, 0]; lines.len()];
        self.zone_classes = vec![None; zones.len()];
        self.zones = zones;
        self.lines = lines;
        self
    }

    /// When objects of each class count, and which classes each zone (in
    /// the order given to [`Events::with_places`]) counts (`None`: all).
    pub fn with_rules(mut self, rules: HashMap<u32, CountRule>, zone_classes: Vec<Option<Vec<u32>>>) -> Self {
        self.rules = rules;
        for (i, classes) in zone_classes.into_iter().enumerate().take(self.zones.len()) {
            self.zone_classes[i] = classes;
        }
        self
    }

    /// Names each told object's clip (`--clips`), while `health` says
    /// clips are made.
    pub fn with_clips(
        mut self,
        capture: crate::clips::Capture,
        health: std::sync::Arc<crate::clips::ClipHealth>,
    ) -> Self {
        self.clips = Some(crate::clips::ClipPlan::new(capture, health));
        self
    }

    /// The zones and lines, with each line's crossings so far (left to
    /// right, right to left), for drawing.
    pub fn places(&self) -> crate::zones::Places<'_> {
        crate::zones::Places { zones: &self.zones, lines: &self.lines, counts: &self.counts }
    }

    /// One frame at `now_ms`: the live `tracks` and the tracks that `ended`
    /// in it. Events are appended to `out`, ends first, then by id.
    pub fn frame(&mut self, frame: u64, now_ms: f64, tracks: &[Track], ended: &[Track], out: &mut Vec<Event>) {
        for t in ended {
            self.end(t, frame, out);
        }
        for t in tracks {
            let seen = t.missed == 0;
            let rule = self.rules.get(&t.class_id).copied().unwrap_or_default();
            let life = self.lives.entry(t.id).or_insert(Life {
                first_ms: now_ms,
                last_ms: now_ms,
                told: false,
                said_score: t.score,
                said_ms: now_ms,
                inside: 0,
                entered: 0,
                at: None,
                seen_box: t.bbox,
                still: None,
                stationary: false,
                clip: None,
                scores: [0.0; SCORES],
                seen: 0,
            });
            let mut crossed = Vec::new();
            let mut moved_zones = false;
            if seen {
                life.last_ms = now_ms;
                life.scores[life.seen % SCORES] = t.score;
                life.seen += 1;
                let at = anchor(&t.bbox);
                let zone_classes = &self.zone_classes;
                let counts_in = |i: usize| zone_classes[i].as_ref().is_none_or(|c| c.contains(&t.class_id));
                let inside = self
                    .zones
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, z)| m | (u64::from(counts_in(i) && z.contains(at)) << i));
                moved_zones = inside != life.inside;
                life.inside = inside;
                life.entered |= inside;
                // Crossings count for objects that count, not flickers or
                // what the filters leave out.
                let counts = life.told || (t.confirmed && life.counts(rule));
                if let Some(from) = life.at.filter(|_| counts) {
                    for (i, line) in self.lines.iter().enumerate() {
                        if let Some(direction) = line.crossed(from, at) {
                            self.counts[i][usize::from(direction == Direction::RightToLeft)] += 1;
                            crossed.push(Crossing {
                                line: line.name.clone(),
                                direction: line.way_name(direction).to_owned(),
                                left_to_right: self.counts[i][0],
                                right_to_left: self.counts[i][1],
                                direction_is_left_to_right: direction == Direction::LeftToRight,
                            });
                        }
                    }
                }
                life.at = Some(at);
                life.seen_box = t.bbox;
            }
            let (mut stopped, mut moved) = (false, false);
            if seen {
                match life.still {
                    Some((still, since)) if t.bbox.iou(&still) >= STILL_IOU => {
                        stopped = !life.stationary
                            && self.params.stationary_ms > 0.0
                            && now_ms - since >= self.params.stationary_ms;
                    }
                    _ => {
                        life.still = Some((t.bbox, now_ms));
                        moved = life.stationary;
                    }
                }
            }
            let mut reasons = Vec::new();
            if life.told && seen {
                // Only a clearly better score is news: score jitter swings
                // down and back up and would flood every subscriber.
                let reasons_now = [
                    (
                        "score",
                        t.score >= life.said_score + self.params.score_step
                            && now_ms - life.said_ms >= self.params.score_every_ms,
                    ),
                    ("zone", moved_zones),
                    ("line", !crossed.is_empty()),
                    ("stationary", stopped),
                    ("active", moved),
                    ("heartbeat", now_ms - life.said_ms >= self.params.every_ms),
                ];
                reasons.extend(reasons_now.iter().filter(|(_, due)| *due).map(|(why, _)| *why));
            }
            let kind = if t.confirmed && !life.told && life.counts(rule) {
                Some(EventKind::New)
            } else if !reasons.is_empty() {
                Some(EventKind::Update)
            } else {
                None
            };
            if life.told || kind.is_some() {
                // Said only once told: a new object that stood still before
                // it was confirmed is new and stationary, not an update.
                life.stationary = (life.stationary || stopped) && !moved;
            }
            if let Some(kind) = kind {
                life.told = true;
                life.said_score = if kind == EventKind::New { t.score } else { life.said_score.max(t.score) };
                life.said_ms = now_ms;
                if kind == EventKind::New {
                    life.clip = self.clips.as_mut().and_then(|plan| plan.join(t.id, life.first_ms, now_ms));
                }
                let life = *life;
                let mut event = self.event(kind, t, frame, &life);
                event.crossed = crossed;
                event.reasons = reasons;
                out.push(event);
            }
        }
    }

    /// How long the object with track `id` has stood still at `now_ms`
    /// (its box staying put since it was last seen moving); 0 while it
    /// moves or when unknown.
    pub fn still_for_ms(&self, id: u64, now_ms: f64) -> f64 {
        self.lives.get(&id).and_then(|l| l.still).map_or(0.0, |(_, since)| (now_ms - since).max(0.0))
    }

    /// Whether the object with track `id` is stationary (told as such).
    pub fn is_stationary(&self, id: u64) -> bool {
        self.lives.get(&id).is_some_and(|l| l.stationary)
    }

    /// The run ended: an `end` for every object told as new and not ended.
    pub fn finish(&mut self, frame: u64, tracks: &[Track], out: &mut Vec<Event>) {
        for t in tracks {
            self.end(t, frame, out);
        }
    }

    /// Track `t` ended: its `end` if it was told.
    fn end(&mut self, t: &Track, frame: u64, out: &mut Vec<Event>) {
        if let Some(life) = self.lives.remove(&t.id).filter(|l| l.told) {
            if let (Some(plan), Some(clip)) = (self.clips.as_mut(), life.clip) {
                plan.leave(clip, life.last_ms);
            }
            out.push(self.event(EventKind::End, t, frame, &life));
        }
    }

    fn event(&self, kind: EventKind, t: &Track, frame: u64, life: &Life) -> Event {
        let named = |set: u64| -> Vec<String> {
            self.zones.iter().enumerate().filter(|(i, _)| set >> i & 1 == 1).map(|(_, z)| z.name.clone()).collect()
        };
        Event {
            zones: named(life.inside),
            entered_zones: named(life.entered),
            crossed: Vec::new(),
            reasons: Vec::new(),
            stationary: life.stationary,
            clip: life.clip,
            kind,
            id: t.id,
            class_id: t.class_id,
            frame,
            first_ms: life.first_ms,
            last_ms: life.last_ms,
            score: t.score,
            top_score: t.top_score,
            bbox: life.seen_box,
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
        events_of(scores, params, true).iter().map(|e| (e.frame, e.kind, e.id)).collect()
    }

    /// The events themselves; `finish`: the run ends after the last frame.
    fn events_of(scores: &[Option<f32>], params: EventParams, finish: bool) -> Vec<Event> {
        let mut tracker = Tracker::new(TrackParams { max_age: 2, ..TrackParams::default() });
        let mut events = Events::new(params);
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (f, s) in scores.iter().enumerate() {
            let dets: Vec<(u32, f32, BBox)> = s.iter().map(|&s| (1, s, BBox::new(10.0, 10.0, 50.0, 90.0))).collect();
            ended.clear();
            tracker.update(&dets, &mut ids, &mut ended);
            events.frame(f as u64, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        if finish {
            events.finish(scores.len() as u64, tracker.tracks(), &mut out);
        }
        out
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
    fn entering_a_zone_and_crossing_a_line_are_told() {
        // One object walking right with its feet at y = 90, 10 px a frame,
        // through a zone x 40..80 and across a vertical gate at x = 62.
        let zone = Zone::parse("door=40,0,80,0,80,200,40,200").unwrap();
        let gate = Line::parse("gate=62,0,62,200").unwrap();
        let mut events = Events::new(EventParams::default()).with_places(vec![zone], vec![gate]);
        let mut tracker = Tracker::new(TrackParams::default());
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for f in 0..10u64 {
            let x = 5.0 + 10.0 * f as f32;
            tracker.update(&[(1, 0.9, BBox::new(x - 20.0, 10.0, x + 20.0, 90.0))], &mut ids, &mut ended);
            events.frame(f, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        type Told = (u64, EventKind, Vec<String>, Vec<(String, u64)>);
        let told: Vec<Told> = out
            .iter()
            .map(|e| {
                (
                    e.frame,
                    e.kind,
                    e.zones.clone(),
                    e.crossed.iter().map(|c| (c.line.clone(), c.right_to_left)).collect(),
                )
            })
            .collect();
        let door = || vec!["door".to_string()];
        assert_eq!(
            told,
            vec![
                (2, EventKind::New, vec![], vec![]),                           // x = 25
                (4, EventKind::Update, door(), vec![]),                        // x = 45: in
                (6, EventKind::Update, door(), vec![("gate".to_string(), 1)]), // 55 -> 65: across
                (8, EventKind::Update, vec![], vec![]),                        // x = 85: out
            ],
            "{out:?}"
        );
        assert_eq!(out[3].entered_zones, door());
    }

    #[test]
    fn updates_come_on_score_steps_and_with_time() {
        // A fall is not news; the heartbeat is.
        let scores = [0.9, 0.9, 0.9, 0.85, 0.75, 0.75, 0.75, 0.75].map(Some);
        let got = life_of(&scores, EventParams { every_ms: 250.0, ..EventParams::default() });
        assert_eq!(
            got,
            vec![
                (2, EventKind::New, 1),
                (5, EventKind::Update, 1), // 300 ms later
                (8, EventKind::End, 1),
            ]
        );
        // A clearly better score is.
        let scores = [0.5, 0.5, 0.5, 0.55, 0.65, 0.7, 0.9].map(Some);
        let got = life_of(&scores, EventParams { score_every_ms: 0.0, ..EventParams::default() });
        assert_eq!(
            got,
            vec![(2, EventKind::New, 1), (4, EventKind::Update, 1), (6, EventKind::Update, 1), (7, EventKind::End, 1)]
        );
    }

    #[test]
    fn score_jitter_is_no_flood() {
        // A person standing still, the score swinging 0.6 <-> 0.8 for 4 s:
        // one update when it first reached 0.8 (a second after the last
        // word), then silence.
        let scores: Vec<Option<f32>> = (0..40).map(|f| Some(if f % 2 == 0 { 0.6 } else { 0.8 })).collect();
        let params = EventParams { score_every_ms: 1_000.0, ..EventParams::default() };
        let out = events_of(&scores, params, false);
        let kinds: Vec<(u64, EventKind, Vec<&str>)> =
            out.iter().map(|e| (e.frame, e.kind, e.reasons.clone())).collect();
        assert_eq!(kinds, vec![(2, EventKind::New, vec![]), (13, EventKind::Update, vec!["score"])]);
        // With the default interval (5 s) the 4 s say nothing more.
        let out = events_of(&scores, EventParams::default(), false);
        assert_eq!(out.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::New]);
    }

    #[test]
    fn standing_still_is_told_once_and_moving_again_too() {
        // 100 ms a frame: walks 20 px a frame for 5 frames, stands for 3 s
        // (boxes jittering by 2 px), walks on at 10 px a frame.
        let mut boxes = Vec::new();
        let walk = |x: f32| BBox::new(x, 10.0, x + 40.0, 90.0);
        boxes.extend((0..5).map(|f| walk(20.0 * f as f32)));
        boxes.extend((0..30).map(|f| walk(80.0 + if f % 2 == 0 { 2.0 } else { -2.0 })));
        boxes.extend((0..5).map(|f| walk(90.0 + 10.0 * f as f32)));
        let params = EventParams { stationary_ms: 2_000.0, ..EventParams::default() };
        let mut tracker = Tracker::new(TrackParams::default());
        let mut events = Events::new(params);
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (f, b) in boxes.iter().enumerate() {
            tracker.update(&[(1, 0.9, *b)], &mut ids, &mut ended);
            events.frame(f as u64, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        let told: Vec<(u64, EventKind, Vec<&str>, bool)> =
            out.iter().map(|e| (e.frame, e.kind, e.reasons.clone(), e.stationary)).collect();
        assert_eq!(
            told,
            vec![
                (2, EventKind::New, vec![], false),
                // Stopped at frame 4 (x = 80; then 82, 78, ...): 2 s later.
                (24, EventKind::Update, vec!["stationary"], true),
                // Frame 35 starts the walk again (x = 90).
                (35, EventKind::Update, vec!["active"], false),
            ],
            "{out:?}"
        );
        // Off with zero.
        let mut events = Events::new(EventParams { stationary_ms: 0.0, ..params });
        let mut tracker = Tracker::new(TrackParams::default());
        out.clear();
        for (f, b) in boxes.iter().enumerate() {
            tracker.update(&[(1, 0.9, *b)], &mut ids, &mut ended);
            events.frame(f as u64, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
    }

    /// Runs one object of `class` through `boxes` (100 ms a frame) with
    /// `scores` (cycled) and returns what was told: (frame, kind, zones).
    fn told_with(
        events: &mut Events,
        class: u32,
        boxes: &[BBox],
        scores: &[f32],
    ) -> Vec<(u64, EventKind, Vec<String>)> {
        let mut tracker = Tracker::new(TrackParams { high_score: 0.3, ..TrackParams::default() });
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (f, b) in boxes.iter().enumerate() {
            let score = scores[f % scores.len()];
            tracker.update(&[(class, score, *b)], &mut ids, &mut ended);
            events.frame(f as u64, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        events.finish(boxes.len() as u64, tracker.tracks(), &mut out);
        out.iter().map(|e| (e.frame, e.kind, e.zones.clone())).collect()
    }

    #[test]
    fn an_object_counts_once_its_median_score_reaches_the_threshold() {
        let still = vec![BBox::new(10.0, 10.0, 50.0, 90.0); 30];
        let rules = |t| HashMap::from([(1, CountRule { threshold: t, required: 0 })]);
        // One good frame in four: the median stays at 0.4.
        let mut events = Events::new(EventParams::default()).with_rules(rules(0.7), vec![]);
        assert_eq!(told_with(&mut events, 1, &still, &[0.95, 0.4, 0.4, 0.4]), vec![], "a flicker of a person");
        // Three good frames in four: new once the median reaches 0.7
        // (frames 0..=3 give 0.95, 0.4, 0.95, 0.95: median 0.95 at frame 2).
        let mut events = Events::new(EventParams::default()).with_rules(rules(0.7), vec![]);
        let got = told_with(&mut events, 1, &still, &[0.95, 0.4, 0.95, 0.95]);
        assert_eq!(
            got.iter().map(|(f, k, _)| (*f, *k)).collect::<Vec<_>>(),
            [(2, EventKind::New), (30, EventKind::End)]
        );
        // Another class is not held to it.
        let mut events = Events::new(EventParams::default()).with_rules(rules(0.7), vec![]);
        assert_eq!(told_with(&mut events, 2, &still, &[0.95, 0.4, 0.4, 0.4]).len(), 2);
    }

    #[test]
    fn required_zones_hold_events_back_until_the_object_enters_one() {
        // Walking right, feet at y = 90, 10 px a frame, from x = 5 to 195;
        // a line at x = 30 and the required zone "porch" at x 100..150.
        let walk: Vec<BBox> =
            (0..20).map(|f| 5.0 + 10.0 * f as f32).map(|x| BBox::new(x - 20.0, 10.0, x + 20.0, 90.0)).collect();
        let drive = Zone::parse("drive=0,0,60,0,60,200,0,200").unwrap();
        let porch = Zone::parse("porch=100,0,150,0,150,200,100,200").unwrap();
        let line = Line::parse("gate=30,0,30,200").unwrap();
        let rules = HashMap::from([(1, CountRule { threshold: 0.0, required: 0b10 })]);
        let mut events = Events::new(EventParams::default())
            .with_places(vec![drive.clone(), porch.clone()], vec![line.clone()])
            .with_rules(rules.clone(), vec![]);
        let got = told_with(&mut events, 1, &walk, &[0.9]);
        let porch_now = vec!["porch".to_string()];
        assert_eq!(
            got,
            vec![
                (10, EventKind::New, porch_now.clone()),
                (15, EventKind::Update, vec![]),
                (20, EventKind::End, vec![])
            ],
            "nothing before the porch (x = 105), the line crossed before it is not counted"
        );
        assert_eq!(events.places().counts, [[0, 0]]);
        // A zone that counts cars only: a person in it is in no zone, and
        // the required zone is never entered.
        let mut events = Events::new(EventParams::default())
            .with_places(vec![drive, porch], vec![line])
            .with_rules(rules, vec![None, Some(vec![3])]);
        assert_eq!(told_with(&mut events, 1, &walk, &[0.9]), vec![]);
        let mut events = Events::new(EventParams::default())
            .with_places(vec![Zone::parse("porch=100,0,150,0,150,200,100,200").unwrap()], vec![])
            .with_rules(HashMap::new(), vec![Some(vec![3])]);
        let got = told_with(&mut events, 1, &walk, &[0.9]);
        assert!(got.iter().all(|(_, _, zones)| zones.is_empty()) && got.len() == 2, "{got:?}");
    }

    /// Issue 51, point 4: the `end` comes `max_age` frames after the last
    /// sighting, when the tracker's prediction of a fast object has left
    /// the picture; it carries the box and the zones where it was last seen.
    #[test]
    fn an_end_carries_the_last_seen_box_and_zones_not_the_prediction() {
        let door = Zone::parse("door=500,0,640,0,640,480,500,480").unwrap();
        let mut events = Events::new(EventParams::default()).with_places(vec![door], vec![]);
        let mut tracker = Tracker::new(TrackParams { max_age: 5, ..TrackParams::default() });
        let (mut ids, mut ended, mut out) = (Vec::new(), Vec::new(), Vec::new());
        // Walks right 10 px a frame in the door zone towards the frame's
        // edge, then is gone.
        let seen = |f: u64| {
            let x = 530.0 + 10.0 * f as f32;
            BBox::new(x, 100.0, x + 60.0, 300.0)
        };
        for f in 0..20u64 {
            let dets: Vec<(u32, f32, BBox)> = if f < 5 { vec![(1, 0.9, seen(f))] } else { vec![] };
            ended.clear();
            tracker.update(&dets, &mut ids, &mut ended);
            events.frame(f, f as f64 * 100.0, tracker.tracks(), &ended, &mut out);
        }
        let end = out.iter().find(|e| e.kind == EventKind::End).unwrap_or_else(|| panic!("no end: {out:?}"));
        assert_eq!(end.bbox, seen(4), "{end:?}");
        assert!(end.bbox.x2 <= 640.0);
        assert_eq!(end.zones, vec!["door".to_string()]);
        assert_eq!(end.last_ms, 400.0);
    }
}
