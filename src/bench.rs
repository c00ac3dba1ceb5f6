//! `ssd-cam bench`: how fast this board runs a model, stage by stage.
//!
//! Two measurements with the same loaded model:
//! 1. *isolated*: one frame from the source, preprocessed, inferred and
//!    decoded over and over on this thread — what each stage costs alone;
//! 2. *pipeline*: the real pipeline (its inference workers included) on the source, every frame's
//!    stage timings recorded — what a run delivers.
//!
//! Their ratio says how much of the work besides inference the pipeline hides.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::app::{load, Loaded, Parallelism};
use crate::pipeline::Pipeline;
use crate::sink::{FrameResult, Latency, Sink, SinkError};
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `--model` name or path.
    pub model: String,
    /// `--source` specification.
    pub source: String,
    /// Frames measured in each phase, after the warm-up.
    pub frames: u32,
    /// Frames run first and not measured (caches, allocator, thread pool).
    pub warmup: u32,
    /// Kernel threads per worker (default when `None`).
    pub threads: Option<u32>,
    /// Inference workers in the pipeline phase (default when `None`).
    pub workers: Option<u32>,
    /// The engine and its arithmetic.
    pub engine: crate::cli::EngineArgs,
    /// Also time every node of the network (tract's plan, after optimisation).
    pub profile: bool,
}

/// Times and rates to 0.01 in `--json`: finer than the measurement is.
fn hundredths<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 100.0).round() / 100.0)
}

/// Ratios to 0.001 in `--json`.
fn thousandths<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1000.0).round() / 1000.0)
}

/// Summary of one series of per-frame times, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Median.
    #[serde(serialize_with = "hundredths")]
    pub p50: f64,
    /// 95th percentile.
    #[serde(serialize_with = "hundredths")]
    pub p95: f64,
    /// 99th percentile.
    #[serde(serialize_with = "hundredths")]
    pub p99: f64,
    /// Mean.
    #[serde(serialize_with = "hundredths")]
    pub mean: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (any order); zeros when empty.
    pub fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| sorted[((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Percentiles {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// Stage costs with one frame repeated on one thread.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Isolated {
    /// Resize and normalize.
    pub preprocess: Percentiles,
    /// The network.
    pub inference: Percentiles,
    /// Decode and NMS.
    pub postprocess: Percentiles,
    /// Frames per second if nothing but inference took time.
    #[serde(serialize_with = "hundredths")]
    pub inference_fps: f64,
}

/// Per-frame stage timings through the pipeline.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PipelineTimes {
    /// Frames measured.
    pub frames: usize,
    /// Frames per second written.
    #[serde(serialize_with = "hundredths")]
    pub fps: f64,
    /// Capture to start of preprocessing (channel wait; a file source reads ahead).
    pub queue: Percentiles,
    /// Resize and normalize.
    pub preprocess: Percentiles,
    /// The network.
    pub inference: Percentiles,
    /// Decode and NMS.
    pub postprocess: Percentiles,
    /// Start of preprocessing to output: the frame's own processing time.
    pub service: Percentiles,
    /// Capture to output.
    pub total: Percentiles,
}

/// Everything `ssd-cam bench` measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BenchReport {
    /// Model name from the manifest.
    pub model: String,
    /// Source name.
    pub source: String,
    /// Input frame size.
    pub frame_size: [u32; 2],
    /// Kernel threads.
    pub threads: usize,
    /// Inference workers in the pipeline phase.
    pub workers: usize,
    /// The engine that ran it: backend, version, provider (and library).
    pub engine: crate::model::EngineInfo,
    /// Precision asked for.
    pub precision: String,
    /// Model load + optimise, ms.
    #[serde(serialize_with = "hundredths")]
    pub load_ms: f64,
    /// One frame, stages alone.
    pub isolated: Isolated,
    /// The real pipeline.
    pub pipeline: PipelineTimes,
    /// Pipeline frames/s over inference-only frames/s (1.0 = everything else hidden).
    #[serde(serialize_with = "thousandths")]
    pub throughput_ratio: f64,
    /// Pipeline service-time median over the pipeline's inference median:
    /// what the pipeline adds to a frame besides inference. For a live
    /// source the queue is near zero and service is the end-to-end latency;
    /// a file-like source reads ahead, so its frames also wait in the queue.
    #[serde(serialize_with = "thousandths")]
    pub latency_ratio: f64,
    /// With `--profile`: time per operation kind, largest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<crate::model::OpTime>,
    /// With `--profile`: every node, slowest first (the table shows 12).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slowest_nodes: Vec<crate::model::NodeTime>,
}

/// Keeps every frame's timings; the buffer is sized up front so recording
/// allocates nothing per frame.
struct Recorder {
    times: Arc<Mutex<Vec<(Latency, Instant)>>>,
}

impl Sink for Recorder {
    fn write(&mut self, result: &FrameResult<'_>) -> Result<(), SinkError> {
        if let Ok(mut times) = self.times.lock() {
            times.push((result.latency, Instant::now()));
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Runs both measurements.
pub fn run(options: &BenchOptions) -> Result<BenchReport> {
    if options.frames < 2 {
        bail!("--frames must be at least 2");
    }
    let Loaded { manifest, priors, mut model, threads, workers, load_ms, .. } =
        load(&options.model, Parallelism::resolve(options.threads, options.workers), options.engine.options())?;
    let params = PostParams::from(manifest.defaults);
    let mut pre = Preprocessor::new(&manifest, false);
    let mut decoder = Decoder::new(&manifest, priors.clone(), params);

    let mut source = crate::source::open(&options.source)?;
    let source_name = source.name().to_owned();
    let mut rgb = Vec::new();
    let Some((width, height)) = source.next_frame(&mut rgb)? else {
        bail!("{}: the source produced no frames", options.source);
    };
    drop(source);
    let n = options.frames as usize;
    let (mut t_pre, mut t_inf, mut t_post) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut detections = Vec::new();
    for i in 0..options.warmup as usize + n {
        let started = Instant::now();
        let mapping = pre.run(&rgb, width, height, model.input_mut()?)?;
        let preprocessed = Instant::now();
        let outputs = model.run()?;
        let inferred = Instant::now();
        let (b, s) = outputs.slices()?;
        decoder.decode(b, s, &mapping, &mut detections)?;
        if i >= options.warmup as usize {
            t_pre.push((preprocessed - started).as_secs_f64() * 1000.0);
            t_inf.push((inferred - preprocessed).as_secs_f64() * 1000.0);
            t_post.push(ms_since(inferred));
        }
    }
    let (ops, slowest_nodes) =
        if options.profile { model.profile(options.frames.min(50))? } else { (Vec::new(), Vec::new()) };
    let inference = Percentiles::of(&t_inf);
    let isolated = Isolated {
        preprocess: Percentiles::of(&t_pre),
        inference,
        postprocess: Percentiles::of(&t_post),
        inference_fps: if inference.mean > 0.0 { 1000.0 / inference.mean } else { 0.0 },
    };

    let total_frames = options.warmup as usize + n;
    let times = Arc::new(Mutex::new(Vec::with_capacity(total_frames)));
    let camera = crate::pipeline::Camera {
        source: crate::source::open(&options.source)?,
        decoder: Decoder::new(&manifest, priors, params),
        sinks: vec![Box::new(Recorder { times: Arc::clone(&times) })],
        max_frames: Some(total_frames as u64),
        // The stages ssd-cam always runs; the tracker has its own bench.
        tracker: None,
        events: None,
        gate: None,
        tracked: None,
        switches: Default::default(),
    };
    let engine = model.engine();
    let pipeline = Pipeline::one(camera, model, pre, workers);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    pipeline.run_one(stop).context("pipeline run")?;
    let times = times.lock().map(|t| t.clone()).unwrap_or_default();
    let measured = times.get(options.warmup as usize..).unwrap_or(&[]);
    if measured.len() < 2 {
        bail!("{}: the source ended after {} frames; bench needs {total_frames}", options.source, times.len());
    }
    let series = |f: fn(&Latency) -> f64| Percentiles::of(&measured.iter().map(|(l, _)| f(l)).collect::<Vec<_>>());
    let span = measured[measured.len() - 1].1.duration_since(measured[0].1).as_secs_f64();
    let pipeline = PipelineTimes {
        frames: measured.len(),
        fps: if span > 0.0 { (measured.len() - 1) as f64 / span } else { 0.0 },
        queue: series(|l| l.queue),
        preprocess: series(|l| l.preprocess),
        inference: series(|l| l.inference),
        postprocess: series(|l| l.postprocess),
        service: series(|l| l.total - l.queue),
        total: series(|l| l.total),
    };
    Ok(BenchReport {
        model: manifest.name.clone(),
        source: source_name,
        frame_size: [width, height],
        threads,
        workers,
        engine,
        precision: crate::model::value_name(&options.engine.precision),
        load_ms,
        throughput_ratio: if isolated.inference_fps > 0.0 { pipeline.fps / isolated.inference_fps } else { 0.0 },
        latency_ratio: if pipeline.inference.p50 > 0.0 { pipeline.service.p50 / pipeline.inference.p50 } else { 0.0 },
        isolated,
        pipeline,
        ops,
        slowest_nodes,
    })
}

impl BenchReport {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        let row = |name: &str, p: &Percentiles| {
            format!("  {name:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n", p.p50, p.p95, p.p99, p.mean)
        };
        let head = format!("  {:<12} {:>9} {:>9} {:>9} {:>9}\n", "ms", "p50", "p95", "p99", "mean");
        let (i, p) = (&self.isolated, &self.pipeline);
        let e = &self.engine;
        let mut s = format!(
            "model {} on {} ({}x{}), {} thread(s), {}\nengine: {} {} on {}{}\nmodel load + optimise: {:.0} ms\n\n",
            self.model,
            self.source,
            self.frame_size[0],
            self.frame_size[1],
            self.threads,
            self.precision,
            e.backend,
            e.version,
            e.provider,
            e.library.as_ref().map(|l| format!(" ({})", l.display())).unwrap_or_default(),
            self.load_ms
        );
        s += &format!("stages alone (one frame, repeated): {:.1} inference-only frames/s\n", i.inference_fps);
        s += &head;
        s += &row("preprocess", &i.preprocess);
        s += &row("inference", &i.inference);
        s += &row("postprocess", &i.postprocess);
        s += &format!(
            "\npipeline ({} inference worker(s) x {} thread(s), {} frames): {:.1} frames/s\n",
            self.workers, self.threads, p.frames, p.fps
        );
        s += &head;
        s += &row("queue", &p.queue);
        s += &row("preprocess", &p.preprocess);
        s += &row("inference", &p.inference);
        s += &row("postprocess", &p.postprocess);
        s += &row("service", &p.service);
        s += &row("total", &p.total);
        s += &format!(
            "\nthroughput: pipeline / inference-only = {:.3}\nlatency: service p50 / pipeline inference p50 = {:.3}\n",
            self.throughput_ratio, self.latency_ratio
        );
        if !self.ops.is_empty() {
            let all: f64 = self.ops.iter().map(|o| o.ms).sum();
            s += &format!("\nnetwork profile (tract's optimised plan, ms per run, {all:.2} ms in nodes)\n");
            for o in &self.ops {
                s += &format!("  {:<28} {:>4} nodes {:>9.3} ms {:>5.1}%\n", o.op, o.nodes, o.ms, 100.0 * o.ms / all);
            }
            s += "slowest nodes\n";
            for n in self.slowest_nodes.iter().take(12) {
                s += &format!("  {:<40} {:<20} {:>9.3} ms\n", n.name, n.op, n.ms);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = Percentiles::of(&values);
        assert_eq!((p.p50, p.p95, p.p99), (50.0, 95.0, 99.0));
        assert!((p.mean - 50.5).abs() < 1e-12);
        let one = Percentiles::of(&[3.0]);
        assert_eq!((one.p50, one.p99, one.mean), (3.0, 3.0, 3.0));
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
        let skewed = Percentiles::of(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 10.0]);
        assert_eq!((skewed.p50, skewed.p95), (1.0, 10.0));
    }
}
