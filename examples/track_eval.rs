//! Tracking accuracy against ground truth: the demo scene knows where each
//! of its five shapes is, and they bounce, cross and hide one another. The
//! shipped shapes model detects every frame once (down to score 0.1); then
//! three trackers run over the same detections and are scored with MOTA,
//! IDF1 and identity switches (`ssd_core::mot`, IoU ≥ 0.5):
//! - `iou`: the last box as the prediction, one pass (jetson-inference's);
//! - `sort`: Kalman prediction, one pass (ssd-cam's default);
//! - `sort+byte`: Kalman prediction and the second, low-score pass (`--track-low 0.1`).
//!
//!     cargo run --release --example track_eval -- [FRAMES] [SEEDS]     (default 300 6)

use ssd_cam::app::{load, Parallelism};
use ssd_cam::model::LoadOptions;
use ssd_cam::source::demo::DemoSource;
use ssd_cam::source::Source;
use ssd_core::boxes::BBox;
use ssd_core::mot::{MotAccumulator, MotSummary};
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;
use ssd_core::track::{Motion, TrackParams, Tracker};

/// The reporting threshold of models/ssd300-shapes.json.
const THRESHOLD: f32 = 0.3;

type Frame = (Vec<(u64, BBox)>, Vec<(u32, f32, BBox)>);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let frames: u64 = args.get(1).map_or(Ok(300), |a| a.parse())?;
    let seeds: u64 = args.get(2).map_or(Ok(6), |a| a.parse())?;
    let mut loaded = load("ssd300-shapes", Parallelism { threads: 2, workers: 1 }, LoadOptions::default())?;
    let mut pre = Preprocessor::new(&loaded.manifest, false);
    let params = PostParams { score_threshold: 0.1, ..PostParams::from(loaded.manifest.defaults) };
    let mut decoder = Decoder::new(&loaded.manifest, loaded.priors.clone(), params);
    let mut sequences: Vec<Vec<Frame>> = Vec::new();
    for seed in 1..=seeds {
        let mut demo = DemoSource::new(640, 480, 0.0, seed, Some(frames));
        let (mut rgb, mut found, mut seq) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..frames {
            let Some((w, h)) = demo.next_frame(&mut rgb)? else { break };
            let mapping = pre.run(&rgb, w, h, loaded.model.input_mut()?)?;
            let outputs = loaded.model.run()?;
            let (b, s) = outputs.slices()?;
            decoder.decode(b, s, &mapping, &mut found)?;
            let truth = demo.layout(t).into_iter().enumerate().map(|(i, (_, bbox))| (i as u64 + 1, bbox)).collect();
            seq.push((truth, found.iter().map(|d| (d.class_id, d.score, d.bbox)).collect()));
        }
        sequences.push(seq);
    }
    println!("{frames} frames x {seeds} seeds of the demo scene (640x480, 5 shapes), ssd300-shapes detections");
    println!("{:<10} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8}", "tracker", "MOTA", "IDF1", "IDsw", "FP", "FN", "GT");
    let configs = [
        ("iou", TrackParams { motion: Motion::Still, second_pass: false, ..params_default() }),
        ("sort", TrackParams { second_pass: false, ..params_default() }),
        ("sort+byte", TrackParams { second_pass: true, ..params_default() }),
    ];
    for (name, params) in configs {
        let mut total = MotSummary::default();
        let (mut mota_num, mut idf1_num) = (0.0, 0.0);
        for seq in &sequences {
            let s = score(seq, params);
            mota_num += s.mota * s.ground_truth as f64;
            idf1_num += s.idf1 * (s.ground_truth + s.predictions) as f64;
            total.id_switches += s.id_switches;
            total.false_positives += s.false_positives;
            total.misses += s.misses;
            total.ground_truth += s.ground_truth;
            total.predictions += s.predictions;
        }
        println!(
            "{name:<10} {:>7.4} {:>7.4} {:>6} {:>6} {:>6} {:>8}",
            mota_num / total.ground_truth.max(1) as f64,
            idf1_num / (total.ground_truth + total.predictions).max(1) as f64,
            total.id_switches,
            total.false_positives,
            total.misses,
            total.ground_truth
        );
    }
    Ok(())
}

fn params_default() -> TrackParams {
    TrackParams { high_score: THRESHOLD, ..TrackParams::default() }
}

/// One tracker over one sequence: what it reports (the detections that got
/// an id) against the ground truth.
fn score(seq: &[Frame], params: TrackParams) -> MotSummary {
    let mut tracker = Tracker::new(params);
    let mut acc = MotAccumulator::new(0.5);
    let (mut ids, mut ended, mut dets, mut reported) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (truth, found) in seq {
        dets.clear();
        // Without the second pass the decoder would stop at the threshold.
        dets.extend(found.iter().filter(|d| params.second_pass || d.1 >= THRESHOLD));
        tracker.update(&dets, &mut ids, &mut ended);
        reported.clear();
        reported.extend(ids.iter().zip(&dets).filter_map(|(id, d)| id.map(|id| (id, d.2))));
        acc.frame(truth, &reported);
    }
    acc.summary()
}
