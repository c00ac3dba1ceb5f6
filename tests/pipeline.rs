//! The pipeline's policies with controllable sources and sinks: live sources
//! drop stale frames and count every drop, file sources drop nothing, output
//! stays in frame order, shutdown drains, a crashing stage is reported.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssd_cam::pipeline::{Pipeline, PipelineError};
use ssd_cam::sink::{FrameResult, Sink, SinkError};
use ssd_cam::source::{Source, SourceError};
use ssd_core::nms::NmsParams;
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;

/// Produces `total` tiny frames as fast as asked, counting them.
struct CountingSource {
    live: bool,
    total: u64,
    produced: Arc<AtomicU64>,
    panic_at: Option<u64>,
}

impl Source for CountingSource {
    fn name(&self) -> &str {
        "counting"
    }
    fn is_live(&self) -> bool {
        self.live
    }
    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        let n = self.produced.load(Ordering::SeqCst);
        if Some(n) == self.panic_at {
            panic!("source bug");
        }
        if n >= self.total {
            return Ok(None);
        }
        self.produced.fetch_add(1, Ordering::SeqCst);
        rgb.clear();
        rgb.resize(16 * 16 * 3, 7);
        Ok(Some((16, 16)))
    }
}

/// Records frame indices, slowly, and can raise the stop flag after `stop_after`.
struct SlowSink {
    seen: Arc<Mutex<Vec<(u64, u64)>>>,
    delay: Duration,
    stop: Option<(Arc<AtomicBool>, usize)>,
}

impl Sink for SlowSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        std::thread::sleep(self.delay);
        let mut seen = self.seen.lock().unwrap();
        seen.push((r.frame.index, r.dropped));
        if let Some((flag, n)) = &self.stop {
            if seen.len() >= *n {
                flag.store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

struct Run {
    seen: Vec<(u64, u64)>,
    produced: u64,
    result: Result<ssd_cam::pipeline::Stats, PipelineError>,
}

fn run(live: bool, total: u64, delay_ms: u64, stop_after: Option<usize>, panic_at: Option<u64>) -> Run {
    run_on(1, live, total, delay_ms, stop_after, panic_at)
}

/// Inference worker counts every ordering and drop policy is checked with.
const WORKERS: [usize; 2] = [1, 3];

fn run_on(
    workers: usize,
    live: bool,
    total: u64,
    delay_ms: u64,
    stop_after: Option<usize>,
    panic_at: Option<u64>,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let manifest = common::oracle_manifest();
    let model = common::load_oracle(dir.path());
    let priors = ssd_cam::baked_priors::priors_for(&manifest.priors).unwrap();
    let params = PostParams {
        score_threshold: 0.3,
        nms: NmsParams { iou_threshold: 0.45, top_k_per_class: 400, keep_top_k: 200 },
    };
    let produced = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sink = SlowSink {
        seen: Arc::clone(&seen),
        delay: Duration::from_millis(delay_ms),
        stop: stop_after.map(|n| (Arc::clone(&stop), n)),
    };
    let camera = ssd_cam::pipeline::Camera {
        source: Box::new(CountingSource { live, total, produced: Arc::clone(&produced), panic_at }),
        decoder: Decoder::new(&manifest, priors, params),
        sinks: vec![Box::new(sink)],
        max_frames: None,
        tracker: None,
        events: None,
        gate: None,
        tracked: None,
        switches: Default::default(),
    };
    let pipeline = Pipeline::one(camera, model, Preprocessor::new(&manifest, false), workers);
    let result = pipeline.run_one(stop);
    let seen = seen.lock().unwrap().clone();
    Run { seen, produced: produced.load(Ordering::SeqCst), result }
}

#[test]
fn live_source_drops_stale_frames_and_counts_every_drop() {
    for workers in WORKERS {
        let r = run_on(workers, true, 300, 2, None, None);
        let stats = r.result.unwrap();
        assert!(stats.dropped > 0, "{workers} workers: a fast live source over a slow sink must drop");
        // Every frame the source produced was either written or counted as dropped.
        assert_eq!(stats.frames + stats.dropped, r.produced, "{workers} workers");
        assert_eq!(stats.frames as usize, r.seen.len());
        // Output stays in capture order and the reported counter never goes down.
        assert!(r.seen.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{workers} workers: {:?}", r.seen);
        // Gaps in the indices are exactly the drops seen so far.
        let (last_index, last_dropped) = *r.seen.last().unwrap();
        assert!(last_index + 1 - r.seen.len() as u64 <= last_dropped);
    }
}

#[test]
fn file_source_never_drops_and_keeps_order() {
    for workers in WORKERS {
        let r = run_on(workers, false, 60, 2, None, None);
        let stats = r.result.unwrap();
        assert_eq!(stats.dropped, 0, "{workers} workers");
        assert_eq!(stats.frames, 60, "{workers} workers");
        let indices: Vec<u64> = r.seen.iter().map(|s| s.0).collect();
        assert_eq!(indices, (0..60).collect::<Vec<_>>(), "{workers} workers");
    }
}

#[test]
fn stopping_drains_every_frame_already_captured() {
    for workers in WORKERS {
        let r = run_on(workers, false, 10_000, 1, Some(5), None);
        let stats = r.result.unwrap();
        assert!(stats.frames >= 5 && r.produced < 10_000, "{workers} workers");
        // Nothing captured is lost: every produced frame reached the sink, in order.
        let indices: Vec<u64> = r.seen.iter().map(|s| s.0).collect();
        assert_eq!(indices, (0..r.produced).collect::<Vec<_>>(), "{workers} workers");
    }
}

#[test]
fn a_panicking_stage_is_reported_by_name_after_the_others_finish() {
    let r = run(false, 100, 0, None, Some(7));
    match r.result {
        Err(PipelineError::Panic(stage)) => assert_eq!(stage, "capture"),
        other => panic!("expected a capture panic, got {other:?}"),
    }
    // Frames captured before the crash were still written.
    assert_eq!(r.seen.len(), 7);
}

/// A source that, after frame 3, reports 5 frames it missed (as a camera
/// does after an outage).
struct GapSource {
    produced: u64,
}

impl Source for GapSource {
    fn name(&self) -> &str {
        "gap"
    }
    fn is_live(&self) -> bool {
        false
    }
    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        if self.produced == 6 {
            return Ok(None);
        }
        self.produced += 1;
        rgb.clear();
        rgb.resize(16 * 16 * 3, 7);
        Ok(Some((16, 16)))
    }
    fn lost(&self) -> u64 {
        if self.produced > 3 {
            5
        } else {
            0
        }
    }
}

#[test]
fn frames_a_source_missed_leave_a_counted_gap_in_the_indices() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = common::oracle_manifest();
    let priors = ssd_cam::baked_priors::priors_for(&manifest.priors).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = SlowSink { seen: Arc::clone(&seen), delay: Duration::ZERO, stop: None };
    let camera = ssd_cam::pipeline::Camera {
        source: Box::new(GapSource { produced: 0 }),
        decoder: Decoder::new(&manifest, priors, PostParams::from(manifest.defaults)),
        sinks: vec![Box::new(sink)],
        max_frames: None,
        tracker: None,
        events: None,
        gate: None,
        tracked: None,
        switches: Default::default(),
    };
    let pipeline = Pipeline::one(camera, common::load_oracle(dir.path()), Preprocessor::new(&manifest, false), 2);
    let stats = pipeline.run_one(Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(stats.frames, 6);
    assert_eq!(stats.dropped, 5);
    let seen = seen.lock().unwrap().clone();
    let indices: Vec<u64> = seen.iter().map(|&(i, _)| i).collect();
    assert_eq!(indices, vec![0, 1, 2, 8, 9, 10]);
    // The running drop count is read when a frame is written, so frames before
    // the gap may already see it; every frame after the gap must.
    assert!(seen[3..].iter().all(|&(_, d)| d == 5), "{seen:?}");
}

/// `total` identical grey 1280x720 frames: nothing ever moves.
struct StillSource {
    total: u64,
}

impl Source for StillSource {
    fn name(&self) -> &str {
        "still"
    }
    fn is_live(&self) -> bool {
        false
    }
    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        if self.total == 0 {
            return Ok(None);
        }
        self.total -= 1;
        rgb.clear();
        rgb.resize(1280 * 720 * 3, 100);
        Ok(Some((1280, 720)))
    }
}

/// Each frame's detection boxes and whether the model ran on the whole frame.
type Seen = Arc<Mutex<Vec<(Vec<[f32; 4]>, Option<bool>)>>>;

struct BoxSink(Seen);

impl Sink for BoxSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        let boxes = r.detections.iter().map(|d| [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2]).collect();
        self.0.lock().unwrap().push((boxes, r.gate.map(|g| g.full)));
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[test]
fn boxes_found_in_a_region_come_back_in_frame_pixels_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = common::oracle_manifest();
    let priors = ssd_cam::baked_priors::priors_for(&manifest.priors).unwrap();
    // A tracked object at (700, 300)-(760, 360): with its margin it is a
    // 90 px box, so its region is the least crop, 4/3 of the model's
    // 300x300, centred on it: [530, 130, 400, 400], shrunk by 4/3.
    let tracked = ssd_cam::gate::Tracked::default();
    tracked.lock().unwrap().moving.push(ssd_core::boxes::BBox::new(700.0, 300.0, 760.0, 360.0));
    let gate = ssd_cam::gate::Gate::new(
        ssd_cam::motion::MotionParams::default(),
        vec![],
        [300, 300],
        ssd_cam::gate::FullEvery::Frames(1000),
        Arc::clone(&tracked),
    );
    let seen = Seen::default();
    let camera = ssd_cam::pipeline::Camera {
        source: Box::new(StillSource { total: 3 }),
        decoder: Decoder::new(&manifest, priors, PostParams::from(manifest.defaults)),
        sinks: vec![Box::new(BoxSink(Arc::clone(&seen)))],
        max_frames: None,
        tracker: None,
        events: None,
        gate: Some(gate),
        tracked: None,
        switches: Default::default(),
    };
    let pipeline = Pipeline::one(camera, common::load_oracle(dir.path()), Preprocessor::new(&manifest, false), 1);
    pipeline.run_one(Arc::new(AtomicBool::new(false))).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    // Frame 0 runs whole (stretched); then only the region.
    assert_eq!(seen.iter().map(|(_, full)| *full).collect::<Vec<_>>(), [Some(true), Some(false), Some(false)]);
    for (got, want) in seen[0].0.iter().zip([common::BOX_A, common::BOX_B]) {
        common::assert_box(*got, common::scaled(want, 1280.0, 720.0));
    }
    for (boxes, _) in &seen[1..] {
        assert_eq!(boxes.len(), 2);
        for (got, want) in boxes.iter().zip([common::BOX_A, common::BOX_B]) {
            let k = 400.0 / 300.0;
            let moved = [want[0] * k + 530.0, want[1] * k + 130.0, want[2] * k + 530.0, want[3] * k + 130.0];
            for (g, w) in got.iter().zip(moved) {
                assert!((g - w).abs() < 1e-3, "{got:?} vs {moved:?}");
            }
        }
    }
}
