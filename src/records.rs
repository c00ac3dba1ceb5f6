//! The JSON forms of a frame's result and of an object event: what
//! `--headless` and `--events` write on stdout, MQTT publishes and the web
//! viewer streams, written once here so the three never drift apart.

use serde::Serialize;

use crate::sink::{FrameResult, Latency};
use ssd_core::boxes::BBox;

/// `v` rounded to `places` decimals, as an f64 so that JSON prints the short
/// form (0.9106, not 0.9106000065803528).
fn round(v: f32, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (f64::from(v) * scale).round() / scale
}

/// A box to 0.1 px: finer than any detector is sure of.
#[derive(Serialize)]
struct BoxRecord {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

impl From<&BBox> for BoxRecord {
    fn from(b: &BBox) -> Self {
        Self { x1: round(b.x1, 1), y1: round(b.y1, 1), x2: round(b.x2, 1), y2: round(b.y2, 1) }
    }
}

/// Stage latencies to 0.01 ms.
#[derive(Serialize)]
struct LatencyRecord {
    queue: f64,
    preprocess: f64,
    inference: f64,
    postprocess: f64,
    total: f64,
}

impl From<&Latency> for LatencyRecord {
    fn from(l: &Latency) -> Self {
        let r = |v: f64| (v * 100.0).round() / 100.0;
        Self {
            queue: r(l.queue),
            preprocess: r(l.preprocess),
            inference: r(l.inference),
            postprocess: r(l.postprocess),
            total: r(l.total),
        }
    }
}

#[derive(Serialize)]
struct DetectionRecord<'a> {
    class_id: u32,
    label: &'a str,
    /// To 4 decimals.
    score: f64,
    bbox: BoxRecord,
    /// The object's id across frames (with tracking on).
    #[serde(skip_serializing_if = "Option::is_none")]
    track_id: Option<u64>,
    /// Its object is stationary (said only when it is).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stationary: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keypoints: Vec<[f64; 2]>,
}

/// One frame's result as `--headless` writes it.
#[derive(Serialize)]
pub struct FrameRecord<'a> {
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    frame: u64,
    /// When the source delivered the frame (capture time for live sources).
    timestamp_ms: f64,
    /// Media time in the file, for files with a frame rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pts_ms: Option<f64>,
    width: u32,
    height: u32,
    latency_ms: LatencyRecord,
    dropped: u64,
    /// Frames written per second over the last 5 s (0 until there are two).
    fps: f64,
    /// Under `--detect motion`: whether something moved, and the crops the
    /// model ran on as boxes (the whole frame, or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    motion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regions: Option<Vec<[u32; 4]>>,
    detections: &'a [DetectionRecord<'a>],
}

/// One object event as `--events` writes it.
#[derive(Serialize)]
pub struct EventRecord<'a> {
    schema: &'static str,
    #[serde(rename = "type")]
    kind: crate::events::EventKind,
    id: u64,
    source: &'a str,
    label: &'a str,
    class_id: u32,
    frame: u64,
    first_ms: f64,
    last_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<f64>,
    score: f64,
    top_score: f64,
    bbox: BoxRecord,
    zones: &'a [String],
    entered_zones: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    crossed: &'a [crate::events::Crossing],
    /// Why an update was told (`score`, `zone`, `line`, `stationary`,
    /// `active`, `heartbeat`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    reasons: &'a [&'static str],
    /// Its box has stayed put (`--stationary-after`).
    stationary: bool,
    /// The object's picture in `--snapshots` DIR.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<String>,
    /// Where the web viewer serves that picture (`--http`), relative to
    /// its address.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_url: Option<String>,
    /// The object's clip in `--clips` DIR (cut once its post-capture
    /// passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    clip: Option<String>,
}

/// What events say of their object's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotLink {
    /// Nothing: no `--snapshots`.
    #[default]
    None,
    /// `"snapshot"`: the file's name in the snapshots folder.
    File,
    /// Also `"snapshot_url"`: `/snapshots/CAMERA/FILE` on the web viewer.
    Served,
}

impl SnapshotLink {
    /// The link of a run with `--snapshots` (`snapshots`) and `--http` (`http`).
    pub fn new(snapshots: bool, http: bool) -> Self {
        match (snapshots, http) {
            (false, _) => SnapshotLink::None,
            (true, false) => SnapshotLink::File,
            (true, true) => SnapshotLink::Served,
        }
    }
}

/// The web viewer's path of camera `source`'s snapshot `file`.
pub fn snapshot_path(source: &str, file: &str) -> String {
    format!("/snapshots/{source}/{file}")
}

/// Whether `file` is `<ms>-<id>.<ext>`, the name ssd-cam gives an object's
/// snapshot (`jpg`) or clip (`mp4`): the only files the viewer serves and
/// retention deletes, so no other path is ever reached.
pub fn is_object_file(file: &str, ext: &str) -> bool {
    let Some((ms, id)) = file.strip_suffix(ext).and_then(|s| s.strip_suffix('.')).and_then(|stem| stem.split_once('-'))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    digits(ms) && digits(id)
}

/// The JSON of one frame, as `--headless` writes it.
pub fn frame_json(r: &FrameResult<'_>, source: &str, labels: &[String]) -> String {
    frame_record(r, source, labels, |record| serde_json::to_string(record)).unwrap_or_default()
}

/// Builds the frame's record (borrowing from `r`) and hands it to `use_it`.
pub fn frame_record<T, E>(
    r: &FrameResult<'_>,
    source: &str,
    labels: &[String],
    use_it: impl FnOnce(&FrameRecord<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let dets: Vec<DetectionRecord<'_>> = r
        .detections
        .iter()
        .enumerate()
        .map(|(i, d)| DetectionRecord {
            class_id: d.class_id,
            label: labels.get(d.class_id as usize).map_or("?", String::as_str),
            score: round(d.score, 4),
            bbox: BoxRecord::from(&d.bbox),
            track_id: r.track_ids.get(i).copied().flatten(),
            stationary: r.track_ids.get(i).copied().flatten().is_some_and(|id| r.stationary.contains(&id)),
            keypoints: d.keypoints.as_slice().iter().map(|p| [round(p[0], 1), round(p[1], 1)]).collect(),
        })
        .collect();
    let record = FrameRecord {
        source,
        file: r.frame.file.as_deref(),
        frame: r.frame.index,
        timestamp_ms: (r.frame.timestamp_ms * 100.0).round() / 100.0,
        pts_ms: r.frame.pts_ms.map(|p| (p * 100.0).round() / 100.0),
        width: r.frame.width,
        height: r.frame.height,
        latency_ms: LatencyRecord::from(&r.latency),
        dropped: r.dropped,
        fps: (r.fps * 100.0).round() / 100.0,
        motion: r.gate.map(|g| g.motion),
        regions: r.gate.map(|g| crate::overlay::region_boxes(g, r.frame.width, r.frame.height)),
        detections: &dets,
    };
    use_it(&record)
}

/// The JSON of one event, as `--events` writes it and MQTT publishes it.
pub fn event_json(e: &crate::events::Event, source: &str, labels: &[String], snapshots: SnapshotLink) -> String {
    // Only numbers, strings and lists of them: serialising cannot fail.
    serde_json::to_string(&event_record(e, source, labels, snapshots)).unwrap_or_default()
}

/// The record of one event (borrowing from `e`), for writing it.
pub fn event_record<'a>(
    e: &'a crate::events::Event,
    source: &'a str,
    labels: &'a [String],
    snapshots: SnapshotLink,
) -> EventRecord<'a> {
    let file = (snapshots != SnapshotLink::None).then(|| crate::sink::snapshot::file_name(e));
    let round_ms = |v: f64| (v * 10.0).round() / 10.0;
    EventRecord {
        schema: crate::events::SCHEMA,
        kind: e.kind,
        id: e.id,
        source,
        label: labels.get(e.class_id as usize).map_or("?", String::as_str),
        class_id: e.class_id,
        frame: e.frame,
        first_ms: round_ms(e.first_ms),
        last_ms: round_ms(e.last_ms),
        duration_ms: (e.kind == crate::events::EventKind::End).then(|| round_ms(e.last_ms - e.first_ms)),
        score: round(e.score, 4),
        top_score: round(e.top_score, 4),
        bbox: BoxRecord::from(&e.bbox),
        zones: &e.zones,
        entered_zones: &e.entered_zones,
        crossed: &e.crossed,
        reasons: &e.reasons,
        stationary: e.stationary,
        snapshot_url: file.as_deref().filter(|_| snapshots == SnapshotLink::Served).map(|f| snapshot_path(source, f)),
        snapshot: file,
        clip: e.clip.map(|c| c.file_name()),
    }
}
