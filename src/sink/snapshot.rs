//! `--snapshots DIR`: for each object, the frame where it scored best, with
//! its box drawn, as `DIR/<first>-<id>.jpg` ([`file_name`]; events name the
//! file in their `snapshot` field). The file appears with the object's `new`
//! event and is replaced when a later event finds a better view, so an alert
//! on `new` can already show a picture. Writing is atomic; a failing disk is
//! reported once and never stops the run.

use std::collections::HashMap;
use std::path::PathBuf;

use super::save::{write_image, SaveFormat};
use super::{FrameResult, Sink, SinkError};
use crate::draw::Canvas;
use crate::events::{Event, EventKind};
use ssd_core::postprocess::Detection;

/// The snapshot file of the object an event is about: the object's first
/// time (whole ms since the Unix epoch) and its track id, so that ids, which
/// restart with every run, never overwrite an older run's pictures.
pub fn file_name(event: &Event) -> String {
    format!("{}-{}.jpg", event.first_ms.max(0.0) as u64, event.id)
}

/// The best view of one object so far.
struct Best {
    score: f32,
    detection: Detection,
    rgb: Vec<u8>,
    width: u32,
    height: u32,
    /// Better than what is on disk.
    unsaved: bool,
    /// Its file has been written (later writes replace it).
    on_disk: bool,
    /// An event has been told about it (so its `end` will come).
    told: bool,
    /// The output frame count when it was last detected.
    seen: u64,
}

/// The most objects whose best frame is held at once: a frame each, so this
/// bounds the sink's memory (16 × 6 MB at 1080p) whatever the scene holds.
/// Past it the object seen longest ago is let go (counted).
pub const MAX_HELD: usize = 16;

/// Keeps each tracked object's best frame and writes it on its events.
pub struct SnapshotSink {
    dir: PathBuf,
    labels: Vec<String>,
    /// Frames a track outlives its last detection: objects never told
    /// about are forgotten after this.
    max_age: u64,
    best: HashMap<u64, Best>,
    frames: u64,
    saved: u64,
    failed: u64,
    /// Objects let go past [`MAX_HELD`].
    let_go: u64,
    /// The camera's zones and lines, and the lines' counts as of the last
    /// frame, drawn on each snapshot.
    zones: Vec<crate::zones::Zone>,
    lines: Vec<crate::zones::Line>,
    counts: Vec<[u64; 2]>,
}

impl SnapshotSink {
    /// Snapshots into `dir` (created now, so that a folder that cannot be
    /// is an error at start); `max_age` is the tracker's.
    pub fn new(dir: PathBuf, labels: Vec<String>, max_age: u32) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            labels,
            max_age: u64::from(max_age),
            best: HashMap::new(),
            frames: 0,
            saved: 0,
            failed: 0,
            let_go: 0,
            zones: Vec::new(),
            lines: Vec::new(),
            counts: Vec::new(),
        })
    }

    /// Writes the object's best view if it is newer than its file; on `end`
    /// forgets the object.
    fn tell(&mut self, event: &Event) {
        let Some(best) = self.best.get_mut(&event.id) else { return };
        best.told = true;
        if best.unsaved {
            best.unsaved = false;
            let path = self.dir.join(file_name(event));
            let mut canvas = best.rgb.clone();
            if let Some(mut c) = Canvas::new(&mut canvas, best.width, best.height) {
                let places = super::Places { zones: &self.zones, lines: &self.lines, counts: &self.counts };
                crate::overlay::draw_places(&mut c, &places);
                crate::overlay::draw(
                    &mut c,
                    std::slice::from_ref(&best.detection),
                    &[Some(event.id)],
                    &self.labels,
                    None,
                );
            }
            match write_image(&path, &canvas, best.width, best.height, SaveFormat::Jpeg) {
                Ok(()) => {
                    // Files, not writes: a better view replaces the file.
                    self.saved += u64::from(!best.on_disk);
                    best.on_disk = true;
                }
                Err(e) => {
                    if self.failed == 0 {
                        log::warn!("--snapshots: {}: {e}; detection output continues (reported once)", path.display());
                    }
                    self.failed += 1;
                }
            }
        }
        if event.kind == EventKind::End {
            self.best.remove(&event.id);
        }
    }
}

impl Sink for SnapshotSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.frames += 1;
        if r.places.zones != self.zones.as_slice() || r.places.lines != self.lines.as_slice() {
            (self.zones, self.lines) = (r.places.zones.to_vec(), r.places.lines.to_vec());
        }
        self.counts.clear();
        self.counts.extend_from_slice(r.places.counts);
        for (d, id) in r.detections.iter().zip(r.track_ids) {
            let Some(id) = *id else { continue };
            let best = self.best.entry(id).or_insert_with(|| Best {
                score: f32::NEG_INFINITY,
                detection: *d,
                rgb: Vec::new(),
                width: 0,
                height: 0,
                unsaved: false,
                on_disk: false,
                told: false,
                seen: 0,
            });
            best.seen = self.frames;
            if d.score > best.score {
                best.score = d.score;
                best.detection = *d;
                best.rgb.clear();
                best.rgb.extend_from_slice(&r.frame.rgb);
                (best.width, best.height) = (r.frame.width, r.frame.height);
                best.unsaved = true;
            }
        }
        for event in r.events {
            self.tell(event);
        }
        // Tracks that ended unconfirmed get no event: forget them by age.
        let (frames, max_age) = (self.frames, self.max_age);
        self.best.retain(|_, b| b.told || frames - b.seen <= max_age + 1);
        while self.best.len() > MAX_HELD {
            let Some(oldest) = self.best.iter().min_by_key(|(id, b)| (b.seen, **id)).map(|(id, _)| *id) else { break };
            self.best.remove(&oldest);
            if self.let_go == 0 {
                log::warn!("--snapshots: more than {MAX_HELD} objects at once; the ones seen longest ago get no better snapshot");
            }
            self.let_go += 1;
        }
        Ok(())
    }

    fn write_events(&mut self, events: &[Event]) -> Result<(), SinkError> {
        for event in events {
            self.tell(event);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        log::info!(
            "{} snapshot(s) written to {} ({} failed, {} object(s) let go past {MAX_HELD} at once)",
            self.saved,
            self.dir.display(),
            self.failed,
            self.let_go
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventParams, Events};
    use crate::sink::Latency;
    use crate::source::Frame;
    use ssd_core::boxes::BBox;
    use ssd_core::track::{TrackParams, Tracker};

    /// Runs one object through tracker, events and the sink; frame f is
    /// filled with grey level f so that the saved snapshot tells which
    /// frame it came from.
    fn run(scores: &[f32], dir: &std::path::Path) -> Vec<Event> {
        let params = TrackParams { max_age: 2, ..TrackParams::default() };
        let mut tracker = Tracker::new(params);
        let mut events = Events::new(EventParams::default());
        let mut sink = SnapshotSink::new(dir.to_path_buf(), vec!["bg".into(), "thing".into()], params.max_age).unwrap();
        let (mut ids, mut ended, mut out, mut all) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (f, &s) in scores.iter().enumerate() {
            let frame = Frame {
                index: f as u64,
                captured_at: std::time::Instant::now(),
                timestamp_ms: 1000.0 + f as f64 * 100.0,
                width: 64,
                height: 48,
                rgb: vec![f as u8 * 10; 64 * 48 * 3],
                file: None,
                pts_ms: None,
                time_ms: 1000.0 + f as f64 * 100.0,
            };
            let dets =
                vec![Detection { class_id: 1, score: s, bbox: BBox::new(8.0, 8.0, 40.0, 40.0), ..Default::default() }];
            let tracked: Vec<_> = dets.iter().map(|d| (d.class_id, d.score, d.bbox)).collect();
            ended.clear();
            out.clear();
            tracker.update(&tracked, &mut ids, &mut ended);
            events.frame(f as u64, frame.timestamp_ms, tracker.tracks(), &ended, &mut out);
            let r = FrameResult {
                frame: &frame,
                gate: None,
                detections: &dets,
                track_ids: &ids,
                events: &out,
                latency: Latency::default(),
                dropped: 0,
                places: Default::default(),
                stationary: &[],
                fps: 0.0,
            };
            sink.write(&r).unwrap();
            all.extend(out.iter().cloned());
        }
        out.clear();
        events.finish(scores.len() as u64, tracker.tracks(), &mut out);
        sink.write_events(&out).unwrap();
        sink.finish().unwrap();
        all.extend(out);
        all
    }

    #[test]
    fn the_best_frame_is_saved_with_the_box_drawn_and_named_after_the_event() {
        let dir = tempfile::tempdir().unwrap();
        // Best at frame 3 (after `new` at frame 2), then worse.
        let events = run(&[0.6, 0.7, 0.65, 0.95, 0.8, 0.7], dir.path());
        assert_eq!(events.first().map(|e| e.kind), Some(EventKind::New));
        let name = file_name(&events[0]);
        assert_eq!(name, "1000-1.jpg");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files, [std::ffi::OsString::from(&name)], "one file per object, no temporaries");
        let img = image::open(dir.path().join(&name)).unwrap().into_rgb8();
        let grey = img.get_pixel(56, 24).0;
        assert!(grey.iter().all(|&v| v.abs_diff(30) <= 3), "frame 3's pixels, got {grey:?}");
        let edge = img.get_pixel(8, 24).0;
        let colour = crate::draw::class_color(1);
        assert!(edge.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 40), "box drawn: {edge:?} vs {colour:?}");
    }

    #[test]
    fn at_most_max_held_frames_are_kept_however_many_objects() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SnapshotSink::new(dir.path().to_path_buf(), vec!["bg".into(), "thing".into()], 30).unwrap();
        for f in 0..3u64 {
            let frame = Frame {
                index: f,
                captured_at: std::time::Instant::now(),
                timestamp_ms: 0.0,
                width: 64,
                height: 48,
                rgb: vec![0; 64 * 48 * 3],
                file: None,
                pts_ms: None,
                time_ms: 0.0,
            };
            // 40 objects, each seen once, with a better score each frame.
            let dets: Vec<Detection> = (0..40)
                .map(|i| Detection {
                    class_id: 1,
                    score: 0.5 + f as f32 * 0.1,
                    bbox: BBox::new(i as f32, 0.0, i as f32 + 4.0, 4.0),
                    ..Default::default()
                })
                .collect();
            let ids: Vec<Option<u64>> = (0..40).map(|i| Some(f * 100 + i)).collect();
            let r = FrameResult {
                frame: &frame,
                gate: None,
                detections: &dets,
                track_ids: &ids,
                events: &[],
                latency: Latency::default(),
                dropped: 0,
                places: Default::default(),
                stationary: &[],
                fps: 0.0,
            };
            sink.write(&r).unwrap();
            assert!(sink.best.len() <= MAX_HELD, "{} held", sink.best.len());
        }
        assert_eq!(sink.let_go, 3 * 40 - MAX_HELD as u64);
        // The newest frame's objects are the ones kept.
        assert!(sink.best.keys().all(|id| *id >= 200));
    }

    #[test]
    fn a_flicker_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let events = run(&[0.9, 0.9], dir.path());
        assert!(events.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
