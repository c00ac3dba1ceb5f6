//! Several cameras sharing one network (`pipeline::Pipeline`): the workers
//! serve the cameras in turn, one camera's failure ends only that camera,
//! and every camera accounts for each of its frames.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssd_cam::pipeline::{Camera, Pipeline, PipelineError, Stats};
use ssd_cam::sink::{FrameResult, Sink, SinkError};
use ssd_cam::source::{Source, SourceError};
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;

/// A live source at `fps` for `total` frames (or until stopped), counting
/// what it produced; with `fail_at`, an error instead of that frame.
struct Paced {
    fps: f64,
    total: u64,
    produced: Arc<AtomicU64>,
    fail_at: Option<u64>,
    started: Option<Instant>,
    live: bool,
}

impl Source for Paced {
    fn name(&self) -> &str {
        "paced"
    }
    fn is_live(&self) -> bool {
        self.live
    }
    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        let n = self.produced.load(Ordering::SeqCst);
        if Some(n) == self.fail_at {
            return Err(SourceError::Open { what: "paced".into(), message: "unplugged".into() });
        }
        if n >= self.total {
            return Ok(None);
        }
        if self.fps > 0.0 {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(n as f64 / self.fps);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        self.produced.fetch_add(1, Ordering::SeqCst);
        rgb.clear();
        rgb.resize(320 * 240 * 3, (n % 200) as u8);
        Ok(Some((320, 240)))
    }
}

/// Records each written frame's index.
struct Written(Arc<Mutex<Vec<u64>>>);

impl Sink for Written {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(r.frame.index);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

struct Outcome {
    result: Result<Stats, PipelineError>,
    produced: u64,
    written: Vec<u64>,
}

/// Runs the shipped shapes model (slow enough that the cameras compete for
/// it) on one worker over `sources` (fps, total, fail_at, live).
fn run(sources: &[(f64, u64, Option<u64>, bool)]) -> Vec<Outcome> {
    let loaded = ssd_cam::app::load(
        &common::shipped("ssd300-shapes"),
        ssd_cam::app::Parallelism { threads: 1, workers: 1 },
        ssd_cam::model::LoadOptions::default(),
    )
    .unwrap();
    let mut counters = Vec::new();
    let mut cameras = Vec::new();
    for &(fps, total, fail_at, live) in sources {
        let produced = Arc::new(AtomicU64::new(0));
        let written = Arc::new(Mutex::new(Vec::new()));
        let source = Paced { fps, total, produced: Arc::clone(&produced), fail_at, started: None, live };
        cameras.push(Camera {
            source: Box::new(source),
            decoder: Decoder::new(&loaded.manifest, loaded.priors.clone(), PostParams::from(loaded.manifest.defaults)),
            sinks: vec![Box::new(Written(Arc::clone(&written)))],
            max_frames: None,
            tracker: None,
            events: None,
            gate: None,
            tracked: None,
            switches: Default::default(),
        });
        counters.push((produced, written));
    }
    let all =
        Pipeline { cameras, preprocessor: Preprocessor::new(&loaded.manifest, false), model: loaded.model, workers: 1 };
    let results = all.run(Arc::new(AtomicBool::new(false))).unwrap();
    results
        .into_iter()
        .zip(counters)
        .map(|(result, (produced, written))| Outcome {
            result,
            produced: produced.load(Ordering::SeqCst),
            written: written.lock().unwrap().clone(),
        })
        .collect()
}

#[test]
fn a_slow_camera_is_served_beside_one_that_floods_the_worker() {
    // 200 frames a second is more than one worker runs; 2 a second is
    // little (a frame waits at most for one of the other camera's, well
    // under its 500 ms). Asked in turn, the slow camera loses nothing; a
    // worker that always looked at the busy camera first would starve it.
    let r = run(&[(200.0, 800, None, true), (2.0, 8, None, true)]);
    let (fast, slow) = (r[0].result.as_ref().unwrap(), r[1].result.as_ref().unwrap());
    assert!(fast.dropped > 0, "the flood must overflow: {fast:?}");
    assert!(slow.frames >= 7, "the slow camera wrote {} of 8: {slow:?}", slow.frames);
    for o in &r {
        let s = o.result.as_ref().unwrap();
        assert_eq!(s.frames + s.dropped, o.produced, "written + dropped = produced, per camera");
        assert_eq!(s.frames as usize, o.written.len());
        assert!(o.written.windows(2).all(|w| w[0] < w[1]), "each camera's frames in order");
    }
}

#[test]
fn equal_cameras_get_equal_shares() {
    let r = run(&[(200.0, 500, None, true), (200.0, 500, None, true), (200.0, 500, None, true)]);
    let written: Vec<u64> = r.iter().map(|o| o.result.as_ref().unwrap().frames).collect();
    let (min, max) = (*written.iter().min().unwrap(), *written.iter().max().unwrap());
    // Something ran for each (how much depends on the machine's load: this
    // test is about fairness, not speed).
    assert!(min >= 2, "{written:?}");
    // In turn, shares differ by one frame at most (or 10 % on longer runs).
    assert!((max - min) as f64 <= (0.1 * max as f64).max(1.0), "shares differ: {written:?}");
    for o in &r {
        let s = o.result.as_ref().unwrap();
        assert_eq!(s.frames + s.dropped, o.produced);
    }
}

#[test]
fn a_failing_camera_ends_alone_and_the_others_go_on() {
    // Files (not live): nothing is dropped, so every frame is accounted.
    let r = run(&[(0.0, 40, Some(7), false), (0.0, 40, None, false), (30.0, 20, None, true)]);
    match &r[0].result {
        Err(PipelineError::Source(e)) => assert!(e.to_string().contains("unplugged"), "{e}"),
        other => panic!("the failing camera's result: {other:?}"),
    }
    assert_eq!(r[0].written, (0..7).collect::<Vec<_>>(), "frames before the failure are written");
    let steady = r[1].result.as_ref().unwrap();
    assert_eq!((steady.frames, steady.dropped), (40, 0));
    assert_eq!(r[1].written, (0..40).collect::<Vec<_>>());
    let live = r[2].result.as_ref().unwrap();
    assert_eq!(live.frames + live.dropped, 20);
}

// The binary with several cameras.

fn lines_by_camera(out: &std::process::Output) -> std::collections::BTreeMap<String, Vec<serde_json::Value>> {
    let mut by = std::collections::BTreeMap::<String, Vec<serde_json::Value>>::new();
    for v in common::json_lines(out) {
        by.entry(v["source"].as_str().unwrap().to_owned()).or_default().push(v);
    }
    by
}

#[test]
fn every_output_names_its_camera_and_each_camera_keeps_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snaps");
    let out = common::ssd_cam(&[
        "--source",
        "demo:fps=0,frames=12",
        "--source",
        "demo:fps=0,frames=18,seed=3",
        "--source",
        "demo:fps=0,frames=6,seed=4",
        "--name",
        "front",
        "--name",
        "back",
        "--headless",
        "--snapshots",
        snaps.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let by = lines_by_camera(&out);
    // Named by --name in order; the unnamed third by its source, made unique.
    assert_eq!(by.keys().collect::<Vec<_>>(), ["back", "demo", "front"]);
    for (name, n) in [("front", 12), ("back", 18), ("demo", 6)] {
        let frames: Vec<u64> = by[name].iter().map(|v| v["frame"].as_u64().unwrap()).collect();
        assert_eq!(frames, (0..n).collect::<Vec<_>>(), "{name}");
    }
    // Different scenes: the cameras' detections are their own.
    assert_ne!(by["front"][0]["detections"], by["back"][0]["detections"]);
    // Snapshots of each camera in its own folder.
    for name in ["front", "back", "demo"] {
        let pictures = std::fs::read_dir(snaps.join(name)).unwrap().count();
        assert!(pictures > 0, "{name} has no snapshot");
    }
    let err = common::stderr(&out);
    assert!(err.contains("ssd-cam: front: 12 frames") && err.contains("ssd-cam: back: 18 frames"), "{err}");
    assert!(err.contains("ssd-cam: 36 frames"), "{err}");
}

#[test]
fn a_camera_that_fails_ends_alone_and_the_run_says_which() {
    let dir = tempfile::tempdir().unwrap();
    // Three good frames, then a truncated one.
    let y4m = dir.path().join("cut.y4m");
    let (w, h) = (64usize, 48usize);
    let mut bytes = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C444\n").into_bytes();
    for _ in 0..3 {
        bytes.extend_from_slice(b"FRAME\n");
        bytes.extend(std::iter::repeat_n(100u8, w * h * 3));
    }
    bytes.extend_from_slice(b"FRAME\n");
    bytes.extend(std::iter::repeat_n(100u8, 100));
    std::fs::write(&y4m, bytes).unwrap();
    let missing = dir.path().join("missing.y4m");
    let out = common::ssd_cam(&[
        "--source",
        y4m.to_str().unwrap(),
        "--source",
        "demo:fps=0,frames=25",
        "--source",
        missing.to_str().unwrap(),
        "--name",
        "cut",
        "--name",
        "steady",
        "--name",
        "gone",
        "--headless",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let by = lines_by_camera(&out);
    assert_eq!(by["cut"].len(), 3, "the frames before the failure are written");
    assert_eq!(by["steady"].len(), 25, "the other camera runs to its end");
    assert!(!by.contains_key("gone"));
    let err = common::stderr(&out);
    let last = err.trim().lines().last().unwrap();
    assert!(last.starts_with("error: 2 of 3 cameras failed: "), "{err}");
    assert!(last.contains("cut: ") && last.contains("gone: "), "{last}");
    assert!(err.contains("ssd-cam: steady: 25 frames"), "{err}");
}

#[test]
fn a_config_file_gives_each_camera_its_own_settings_and_bad_entries_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cameras.toml");
    std::fs::write(
        &config,
        r#"
[[camera]]
name = "all"
source = "demo:fps=0,frames=8"

[[camera]]
name = "circles"
source = "demo:fps=0,frames=8"
classes = ["circle"]
threshold = 0.6
"#,
    )
    .unwrap();
    let out = common::ssd_cam(&["--config", config.to_str().unwrap(), "--headless"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let by = lines_by_camera(&out);
    let labels = |name: &str| -> std::collections::BTreeSet<String> {
        by[name]
            .iter()
            .flat_map(|v| v["detections"].as_array().unwrap().iter().map(|d| d["label"].as_str().unwrap().to_owned()))
            .collect()
    };
    assert!(labels("all").len() > 1, "{:?}", labels("all"));
    assert_eq!(labels("circles").into_iter().collect::<Vec<_>>(), ["circle"]);
    assert!(by["circles"]
        .iter()
        .flat_map(|v| v["detections"].as_array().unwrap())
        .all(|d| d["score"].as_f64().unwrap() >= 0.6));

    // A bad entry: one line, naming the camera and the field.
    let text = std::fs::read_to_string(&config).unwrap().replace("threshold = 0.6", "threshold = 6");
    std::fs::write(&config, text).unwrap();
    let out = common::ssd_cam(&["--config", config.to_str().unwrap(), "--headless"]);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("camera 'circles': threshold: 6 is not between 0 and 1"), "{err}");
    // A label the model does not have: named with its camera.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("threshold = 6", "threshold = 0.6")
        .replace("\"circle\"", "\"cat\"");
    std::fs::write(&config, text).unwrap();
    let out = common::ssd_cam(&["--config", config.to_str().unwrap(), "--headless"]);
    let err = common::stderr(&out);
    assert!(err.contains("camera circles: --classes cat: not a label"), "{err}");
}
