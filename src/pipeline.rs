//! The three-stage pipeline: capture → preprocess + inference → decode, NMS
//! and sinks, on threads joined by two bounded channels.
//!
//! The middle stage may run several inference workers, each with its own
//! copy of the network's state, taking frames in turn: a graph that gains
//! little from more kernel threads still fills every core. Each frame is
//! numbered as a worker takes it, and the output stage writes them in that
//! order, so results never come out of order.
//!
//! A live source never waits for inference: when the first channel is full,
//! the waiting (stale) frame is replaced by the new one and counted as dropped.
//! A file source blocks instead, so nothing is lost. Shutdown is a flag the
//! source checks; the later stages drain what is in flight, so every frame
//! that was inferred is also written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError};

use crate::model::{Model, RawOutputs};
use crate::sink::{FrameResult, Latency, Sink, SinkError};
use crate::source::{Frame, Source};
use ssd_core::boxes::InputMapping;
use ssd_core::postprocess::{Decoder, Detection};
use ssd_core::preprocess::{Preprocessor, Resized};

/// Errors that end a run. Frames finished before the error were still written.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// Resizing or normalizing a frame for the network failed.
    #[error("frame {frame}: preprocessing: {source}")]
    Preprocess {
        /// The frame index.
        frame: u64,
        /// What failed.
        source: ssd_core::preprocess::PreprocessError,
    },
    /// The network could not run, or gave outputs of the wrong form.
    #[error("frame {frame}: inference: {source}")]
    Inference {
        /// The frame index.
        frame: u64,
        /// What failed.
        source: crate::model::ModelError,
    },
    /// The outputs could not be decoded against the priors.
    #[error("frame {frame}: decoding: {source}")]
    Decode {
        /// The frame index.
        frame: u64,
        /// What failed.
        source: ssd_core::postprocess::DecodeError,
    },
    /// Writing results failed.
    #[error("writing results: {0}")]
    Sink(SinkError),
    /// A stage thread panicked.
    #[error("the {0} stage crashed (a bug: please report it with RUST_LOG=debug output)")]
    Panic(&'static str),
    /// A stage thread could not be started.
    #[error("cannot start the {stage} thread: {source}")]
    Spawn {
        /// The stage.
        stage: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The source ended without producing any frame.
    #[error("the source produced no frames{0}")]
    NoFrames(String),
}

/// What a finished run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Frames written to the sinks.
    pub frames: u64,
    /// Frames dropped by the live-source policy.
    pub dropped: u64,
    /// Inputs the source skipped with a warning.
    pub skipped: u64,
    /// Seconds from the first capture to the last output.
    pub seconds: f64,
    /// Mean capture-to-output latency, ms.
    pub mean_latency_ms: f64,
    /// Mean inference time, ms.
    pub mean_inference_ms: f64,
    /// The reader closed the output before the source ended.
    pub output_closed: bool,
}

impl Stats {
    /// Frames per second over the run.
    pub fn fps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frames as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The one-line summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let skipped = if self.skipped > 0 { format!(", {} skipped", self.skipped) } else { String::new() };
        format!(
            "ssd-cam: {} frames, {} dropped{skipped}, {:.1} fps, mean latency {:.1} ms (inference {:.1} ms)",
            self.frames,
            self.dropped,
            self.fps(),
            self.mean_latency_ms,
            self.mean_inference_ms
        )
    }
}

/// A frame and its input-size copy, made on the capture thread so that
/// resizing stays off the inference thread.
struct Captured {
    frame: Frame,
    /// The model's inputs: the whole frame, or its regions (none: the model
    /// does not run on this frame).
    inputs: Vec<Resized>,
    plan: Option<crate::gate::Plan>,
    resize_ms: f64,
}

struct Inferred {
    /// Position in the order frames were taken for inference.
    seq: u64,
    frame: Frame,
    plan: Option<crate::gate::Plan>,
    /// Each input's outputs and how its boxes map to the frame.
    outputs: Vec<(RawOutputs, InputMapping)>,
    queue_ms: f64,
    preprocess_ms: f64,
    inference_ms: f64,
}

/// Milliseconds, rounded to the microsecond so JSON stays short.
fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1000.0
}

/// One camera's part of a run: where its frames come from, and everything
/// after the network (decoding, tracking, events, sinks), which is its own.
pub struct Camera {
    /// Where frames come from.
    pub source: Box<dyn Source>,
    /// Outputs → detections, with this camera's thresholds and classes.
    pub decoder: Decoder,
    /// Where results go.
    pub sinks: Vec<Box<dyn Sink>>,
    /// Stop after this many frames have been written.
    pub max_frames: Option<u64>,
    /// Gives detections ids across frames; `None` leaves them without.
    /// Detections under its high-score threshold are written only when a
    /// track took them (ByteTrack's second pass).
    pub tracker: Option<ssd_core::Tracker>,
    /// Turns the tracker's tracks into object events for the sinks (needs
    /// `tracker`).
    pub events: Option<crate::events::Events>,
    /// `--detect motion`: where the model runs on each frame. Its tracked
    /// boxes are written by the output stage.
    pub gate: Option<crate::gate::Gate>,
    /// Where the output stage writes the tracked boxes for `gate`.
    pub tracked: Option<crate::gate::Tracked>,
    /// Detection and motion gating on or off, turned while it runs.
    pub switches: Arc<crate::switches::Switches>,
}

/// Everything a run needs, built and checked before any thread starts: one
/// or more cameras sharing one network, with a capture thread and an output
/// thread per camera, and inference workers that serve the cameras in turn.
/// A one-camera run is this with one camera.
pub struct Pipeline {
    /// The cameras (at least one).
    pub cameras: Vec<Camera>,
    /// The network, loaded once.
    pub model: Model,
    /// Frame → input tensor (the same for every camera: one network).
    pub preprocessor: Preprocessor,
    /// Inference workers, each with its own state of `model` (at least 1).
    pub workers: usize,
}

/// A camera's threads' ends, as the run assembles its result.
struct Lane {
    rx: Receiver<Captured>,
    /// The master of the camera's result channel: dropped once its frames
    /// stop coming, so that its output thread ends when the last frame in
    /// flight is written.
    results: std::sync::Mutex<Option<Sender<Inferred>>>,
    /// The camera stops: its output ended or failed, or a worker failed on
    /// one of its frames.
    halt: Arc<AtomicBool>,
    /// The first error a worker met on this camera's frames.
    error: std::sync::Mutex<Option<PipelineError>>,
}

impl Lane {
    /// Drops the master of the result channel: the camera's output ends
    /// once the frames in flight are written.
    fn close_results(&self) {
        if let Ok(mut r) = self.results.lock() {
            r.take();
        }
    }
}

impl Pipeline {
    /// A run of one camera.
    pub fn one(camera: Camera, model: Model, preprocessor: Preprocessor, workers: usize) -> Self {
        Pipeline { cameras: vec![camera], model, preprocessor, workers }
    }

    /// Runs a pipeline of one camera (see [`Pipeline::run`]): its result.
    pub fn run_one(self, stop: Arc<AtomicBool>) -> Result<Stats, PipelineError> {
        self.run(stop)?.into_iter().next().unwrap_or_else(|| Err(PipelineError::NoFrames(String::new())))
    }

    /// Runs until every camera's source has ended (or its output closed,
    /// failed, or wrote `max_frames`) or `stop` is set. One camera's error
    /// ends that camera only; each camera's result comes back in order.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<Vec<Result<Stats, PipelineError>>, PipelineError> {
        let Pipeline { cameras, model, preprocessor, workers } = self;
        let workers = workers.max(1);
        // Every worker's model is forked before any thread starts, so that a
        // failure to make one is an error of the run, not of a thread.
        let mut models = Vec::with_capacity(workers);
        for _ in 1..workers {
            models.push(model.fork().map_err(|source| PipelineError::Inference { frame: 0, source })?);
        }
        models.push(model);
        let (inputs_tx, inputs_rx) = bounded::<Resized>(4 + 2 * workers + 2 * cameras.len());
        let mut lanes = Vec::with_capacity(cameras.len());
        let mut captures = Vec::with_capacity(cameras.len());
        let mut outputs = Vec::with_capacity(cameras.len());
        let mut started = Ok(());
        for (k, camera) in cameras.into_iter().enumerate() {
            let Camera { source, decoder, sinks, max_frames, tracker, events, gate, tracked, switches } = camera;
            let live = source.is_live();
            let clock = crate::clock::EventClock::new(live, source.frame_rate(), source.duration_ms());
            // Live: one slot, newest wins. Files: a little slack, never dropped.
            let (frame_tx, frame_rx) = bounded::<Captured>(if live { 1 } else { 2 });
            let (result_tx, result_rx) = bounded::<Inferred>(2 * workers);
            let (pool_tx, pool_rx) = bounded::<Vec<u8>>(4 + 2 * workers);
            let dropped = Arc::new(AtomicU64::new(0));
            let halt = Arc::new(AtomicBool::new(false));
            let suffix = if k == 0 { String::new() } else { format!("-{k}") };
            let capture = {
                let (stop, dropped, evict, halt) =
                    (Arc::clone(&stop), Arc::clone(&dropped), frame_rx.clone(), Arc::clone(&halt));
                let pools = Pools { rgb: (pool_tx.clone(), pool_rx), inputs: (inputs_tx.clone(), inputs_rx.clone()) };
                let resizer = preprocessor.clone();
                std::thread::Builder::new().name(format!("capture{suffix}")).spawn(move || {
                    let _stop_on_panic = StopOnPanic(&stop);
                    let gate = Gating { gate, switches };
                    capture_stage(source, resizer, gate, clock, frame_tx, evict, pools, &[&stop, &halt], &dropped)
                })
            };
            let output = {
                let (stop, dropped, halt) = (Arc::clone(&stop), Arc::clone(&dropped), Arc::clone(&halt));
                std::thread::Builder::new().name(format!("output{suffix}")).spawn(move || {
                    let _stop_on_panic = StopOnPanic(&stop);
                    let tracking = Tracking { tracker, events, tracked };
                    let written =
                        output_stage(decoder, tracking, sinks, result_rx, pool_tx, &halt, &dropped, max_frames);
                    // Whatever ended it, this camera's capture has nobody to feed.
                    halt.store(true, Ordering::Relaxed);
                    (written, stop.load(Ordering::Relaxed))
                })
            };
            lanes.push(Lane {
                rx: frame_rx,
                results: std::sync::Mutex::new(Some(result_tx)),
                halt: Arc::clone(&halt),
                error: std::sync::Mutex::new(None),
            });
            match (capture, output) {
                (Ok(c), Ok(o)) => {
                    captures.push((c, dropped));
                    outputs.push(o);
                }
                (c, o) => {
                    started = Err(PipelineError::Spawn {
                        stage: if c.is_err() { "capture" } else { "output" },
                        source: c.err().or(o.err()).unwrap_or_else(|| std::io::Error::other("spawn")),
                    });
                    break;
                }
            }
        }
        if let Err(e) = started {
            // The threads already started end once the stop is seen.
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
        let queue = Arc::new(Dispatch::new(lanes));
        let mut inference = Vec::with_capacity(workers);
        for (worker, model) in models.into_iter().enumerate() {
            let (stop_all, queue, inputs) = (Arc::clone(&stop), Arc::clone(&queue), inputs_tx.clone());
            let pre = preprocessor.clone();
            let name = if workers == 1 { "inference".to_owned() } else { format!("inference-{worker}") };
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let _stop_on_panic = StopOnPanic(&stop_all);
                    inference_stage(model, pre, &queue, inputs, &stop_all)
                })
                .map_err(|source| PipelineError::Spawn { stage: "inference", source });
            match handle {
                Ok(h) => inference.push(h),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        drop(inputs_tx);

        // Inference and output always end (the sources ending, a stop, or
        // an error); capture may be blocked inside its source, in a read
        // that no flag can interrupt (stdin that stays open, a stalled
        // device). Everything inferred has been written by now, so after a
        // short grace period it is left behind rather than hanging the exit.
        let panicked = inference.into_iter().map(|w| w.join()).any(|r| r.is_err());
        // No frame will be inferred any more: the outputs end once they
        // have written what is in their channels (a capture blocked in a
        // read still holds its lane open).
        for lane in &queue.lanes {
            lane.close_results();
        }
        let written: Vec<_> = outputs.into_iter().map(|o| o.join()).collect();
        for lane in &queue.lanes {
            lane.halt.store(true, Ordering::Relaxed);
        }
        let grace = Instant::now() + CAPTURE_GRACE;
        let mut results = Vec::with_capacity(written.len());
        for ((written, (capture, dropped)), lane) in written.into_iter().zip(captures).zip(&queue.lanes) {
            while !capture.is_finished() && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(5));
            }
            let captured = if capture.is_finished() {
                capture.join()
            } else {
                log::warn!("the source is blocked in a read; not waiting for it");
                Ok((0, Ok(())))
            };
            let worker_error = lane.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            results.push((|| {
                let (skipped, source_result) = captured.map_err(|_| PipelineError::Panic("capture"))?;
                let (written, stopped) = written.map_err(|_| PipelineError::Panic("output"))?;
                if panicked {
                    return Err(PipelineError::Panic("inference"));
                }
                let mut stats = written?;
                stats.skipped = skipped;
                stats.dropped = dropped.load(Ordering::Relaxed);
                if let Some(e) = worker_error {
                    return Err(e);
                }
                source_result?;
                if stats.frames == 0 && !stopped && !stats.output_closed {
                    let why =
                        if skipped > 0 { format!(" ({skipped} inputs skipped as unreadable)") } else { String::new() };
                    return Err(PipelineError::NoFrames(why));
                }
                Ok(stats)
            })());
        }
        Ok(results)
    }
}

/// How long a finished run waits for a capture thread still inside its source.
const CAPTURE_GRACE: Duration = Duration::from_millis(500);

/// How often blocked stages look at the stop flags.
const POLL: Duration = Duration::from_millis(20);

/// Buffers handed back to the capture thread for reuse: frames' pixels (from
/// the output stage) and resized inputs (from the inference stage).
struct Pools {
    rgb: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
    inputs: (Sender<Resized>, Receiver<Resized>),
}

impl Pools {
    fn recycle(&self, c: Captured) {
        let _ = self.rgb.0.try_send(c.frame.rgb);
        for input in c.inputs {
            let _ = self.inputs.0.try_send(input);
        }
    }
}

/// Where the model runs on a camera's frames: its motion gate, and the
/// switches that turn detection and the gate off.
struct Gating {
    gate: Option<crate::gate::Gate>,
    switches: Arc<crate::switches::Switches>,
}

impl Gating {
    /// The frame's plan: none (the whole frame), the gate's, or no model
    /// at all while detection is off.
    fn plan(&mut self, frame: &Frame, width: u32, height: u32) -> Option<crate::gate::Plan> {
        use crate::switches::Switch;
        if !self.switches.get(Switch::Detect) {
            return Some(crate::gate::Plan::idle());
        }
        let gate = self.gate.as_mut().filter(|_| self.switches.get(Switch::Motion))?;
        // A file's schedule follows its own timeline, as its events do
        // (crate::clock): the same file gates the same way however fast
        // the machine decodes it.
        Some(gate.plan(&frame.rgb, width, height, frame.pts_ms.unwrap_or(frame.timestamp_ms)))
    }
}

/// Stage 1: frames from the source, resized to the model input. Returns the
/// source's skipped count and how it ended.
#[allow(clippy::too_many_arguments)]
fn capture_stage(
    mut source: Box<dyn Source>,
    mut resizer: Preprocessor,
    mut gate: Gating,
    mut clock: crate::clock::EventClock,
    tx: Sender<Captured>,
    evict: Receiver<Captured>,
    pools: Pools,
    stop: &[&AtomicBool],
    dropped: &AtomicU64,
) -> (u64, Result<(), PipelineError>) {
    let live = source.is_live();
    let stopped = || stop.iter().any(|s| s.load(Ordering::Relaxed));
    let (mut index, mut lost_before) = (0u64, 0u64);
    let mut crop = Vec::new();
    let result = 'frames: loop {
        if stopped() {
            break Ok(());
        }
        #[cfg(feature = "failpoints")]
        crate::failpoint::hit("capture", index);
        let mut rgb = pools.rgb.1.try_recv().unwrap_or_default();
        let (width, height) = match source.next_frame(&mut rgb) {
            Ok(Some(size)) => size,
            Ok(None) => break Ok(()),
            Err(e) => break Err(PipelineError::Source(e)),
        };
        let lost = source.lost();
        if lost > lost_before {
            // Missed by the source itself (camera gap): skip their indices.
            index += lost - lost_before;
            dropped.fetch_add(lost - lost_before, Ordering::Relaxed);
            lost_before = lost;
        }
        let origin = source.frame_origin();
        if let Some((position, _)) = &origin {
            index = *position;
        }
        let file = origin.map(|(_, file)| file);
        let pts_ms = source.frame_pts_ms();
        let mut frame = Frame {
            index,
            captured_at: Instant::now(),
            timestamp_ms: crate::clock::now_unix_ms(),
            width,
            height,
            rgb,
            file,
            pts_ms,
            time_ms: 0.0,
        };
        frame.time_ms = clock.at(&frame);
        source.frame_time(frame.time_ms);
        index += 1;
        let plan = gate.plan(&frame, width, height);
        let regions: &[crate::regions::Region] = plan.as_ref().map_or(&[], |p| &p.regions);
        let whole = plan.as_ref().is_none_or(|p| p.full);
        let mut inputs = Vec::with_capacity(regions.len().max(1));
        let resized = if whole {
            let mut input = pools.inputs.1.try_recv().unwrap_or_default();
            let r = resizer.resize(&frame.rgb, width, height, &mut input);
            inputs.push(input);
            r
        } else {
            regions.iter().try_for_each(|&region| {
                let mut input = pools.inputs.1.try_recv().unwrap_or_default();
                let r = resizer.resize_region(&frame.rgb, width, height, region, &mut crop, &mut input);
                inputs.push(input);
                r
            })
        };
        if let Err(e) = resized {
            break Err(PipelineError::Preprocess { frame: frame.index, source: e });
        }
        let frame = Captured { resize_ms: ms(frame.captured_at.elapsed()), frame, inputs, plan };
        if !live {
            let mut frame = frame;
            loop {
                match tx.send_timeout(frame, POLL) {
                    Ok(()) => continue 'frames,
                    Err(SendTimeoutError::Disconnected(_)) => break 'frames Ok(()), // downstream ended
                    Err(SendTimeoutError::Timeout(f)) if stopped() => {
                        pools.recycle(f);
                        break 'frames Ok(());
                    }
                    Err(SendTimeoutError::Timeout(f)) => frame = f,
                }
            }
        }
        match tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Disconnected(_)) => break Ok(()),
            Err(TrySendError::Full(frame)) => {
                // Replace the stale frame waiting in the slot with the new one.
                if let Ok(stale) = evict.try_recv() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    log::debug!("dropped stale frame {}", stale.frame.index);
                    pools.recycle(stale);
                }
                match tx.try_send(frame) {
                    Ok(()) => {}
                    Err(TrySendError::Disconnected(_)) => break Ok(()),
                    Err(TrySendError::Full(frame)) => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        pools.recycle(frame);
                    }
                }
            }
        }
    };
    (source.skipped(), result)
}

/// The cameras' captured frames, handed to the inference workers one at a
/// time, the cameras in turn (round robin: a camera at 30 frames a second
/// does not starve one at 5), each frame numbered in its camera's order as
/// it is taken.
struct Dispatch {
    lanes: Vec<Lane>,
    state: std::sync::Mutex<DispatchState>,
}

struct DispatchState {
    /// The camera asked first next time.
    next_camera: usize,
    /// Each camera's next frame number.
    seq: Vec<u64>,
    /// Cameras whose capture ended and whose frames are all taken.
    closed: Vec<bool>,
}

/// A frame taken for inference.
struct Taken {
    camera: usize,
    seq: u64,
    captured: Captured,
    /// Where its result goes.
    results: Option<Sender<Inferred>>,
}

impl Dispatch {
    fn new(lanes: Vec<Lane>) -> Self {
        let n = lanes.len();
        let state = DispatchState { next_camera: 0, seq: vec![0; n], closed: vec![false; n] };
        Dispatch { lanes, state: std::sync::Mutex::new(state) }
    }

    /// The next frame: from the first camera in turn that has one, else the
    /// first to have one within [`POLL`]. Taking and numbering happen under
    /// one lock, so numbers follow each camera's queue order whichever
    /// worker wins. `Disconnected` once every camera is done.
    fn take(&self) -> Result<Taken, RecvTimeoutError> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = self.lanes.len();
        for i in 0..n {
            let k = (state.next_camera + i) % n;
            if state.closed[k] {
                continue;
            }
            match self.lanes[k].rx.try_recv() {
                Ok(captured) => return Ok(self.hand_out(&mut state, k, captured)),
                Err(crossbeam_channel::TryRecvError::Disconnected) => self.close(&mut state, k),
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            }
        }
        let open: Vec<usize> = (0..n).filter(|&k| !state.closed[k]).collect();
        if open.is_empty() {
            return Err(RecvTimeoutError::Disconnected);
        }
        let mut select = crossbeam_channel::Select::new();
        for &k in &open {
            select.recv(&self.lanes[k].rx);
        }
        let Ok(ready) = select.ready_timeout(POLL) else { return Err(RecvTimeoutError::Timeout) };
        let k = open[ready];
        match self.lanes[k].rx.try_recv() {
            Ok(captured) => Ok(self.hand_out(&mut state, k, captured)),
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.close(&mut state, k);
                Err(RecvTimeoutError::Timeout)
            }
            Err(crossbeam_channel::TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
        }
    }

    fn hand_out(&self, state: &mut DispatchState, k: usize, captured: Captured) -> Taken {
        let seq = state.seq[k];
        state.seq[k] += 1;
        state.next_camera = (k + 1) % self.lanes.len();
        let results = self.lanes[k].results.lock().ok().and_then(|r| r.clone());
        Taken { camera: k, seq, captured, results }
    }

    fn close(&self, state: &mut DispatchState, k: usize) {
        state.closed[k] = true;
        self.lanes[k].close_results();
    }
}

/// Raises the run's stop when the stage thread holding it panics: a panic
/// is a bug, and the run ends (the other stages drain, every child process
/// ends, the run reports the panic and a service manager restarts it)
/// rather than going on with a stage missing.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Stage 2 (one per worker): normalization into the input tensor, and the
/// network. An error on a camera's frame ends that camera; the worker goes
/// on serving the others.
fn inference_stage(mut model: Model, pre: Preprocessor, queue: &Dispatch, inputs: Sender<Resized>, stop: &AtomicBool) {
    loop {
        // Frames already captured are still inferred after a stop; an empty
        // queue after a stop ends the stage even if capture is stuck.
        let taken = match queue.take() {
            Ok(t) => t,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => break,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let Taken { camera, seq, captured: Captured { frame, inputs: resized, plan, resize_ms }, results } = taken;
        let lane = &queue.lanes[camera];
        let Some(tx) = results.filter(|_| !lane.halt.load(Ordering::Relaxed)) else { continue };
        let started = Instant::now();
        let queue_ms = (ms(started.duration_since(frame.captured_at)) - resize_ms).max(0.0);
        let index = frame.index;
        #[cfg(feature = "failpoints")]
        crate::failpoint::hit("inference", index);
        let inference = |source| PipelineError::Inference { frame: index, source };
        // Regions run in turn: the shipped models take a batch of one.
        let (mut outputs, mut preprocess_ms, mut inference_ms) = (Vec::with_capacity(resized.len()), resize_ms, 0.0);
        let ran = resized.into_iter().try_for_each(|r| {
            let t0 = Instant::now();
            let input = model.input_mut().map_err(inference)?;
            let mapping =
                pre.normalize(&r, input).map_err(|source| PipelineError::Preprocess { frame: index, source })?;
            let _ = inputs.try_send(r);
            let t1 = Instant::now();
            outputs.push((model.run().map_err(inference)?, mapping));
            preprocess_ms += ms(t1 - t0);
            inference_ms += ms(t1.elapsed());
            Ok(())
        });
        if let Err(e) = ran {
            let mut error = lane.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            error.get_or_insert(e);
            lane.halt.store(true, Ordering::Relaxed);
            continue;
        }
        let msg = Inferred { seq, frame, plan, outputs, queue_ms, preprocess_ms, inference_ms };
        // A send that fails: this camera's output ended; the others go on.
        let _ = tx.send(msg);
    }
    if model.fresh_input_allocations() > 0 {
        log::debug!("input tensor was reallocated {} times", model.fresh_input_allocations());
    }
}

/// Detections from overlapping regions, merged by NMS as if they came
/// from one frame (the buffers are reused).
#[derive(Default)]
struct RegionMerge {
    scored: Vec<ssd_core::nms::Scored>,
    kept: Vec<ssd_core::nms::Scored>,
    taken: Vec<Detection>,
}

impl RegionMerge {
    fn run(&mut self, detections: &mut Vec<Detection>, params: &ssd_core::nms::NmsParams) {
        self.scored.clear();
        self.scored.extend(detections.iter().enumerate().map(|(i, d)| ssd_core::nms::Scored {
            bbox: d.bbox,
            score: d.score,
            class: d.class_id,
            prior: i as u32,
        }));
        let keep = params.keep_top_k;
        let params = ssd_core::nms::NmsParams { top_k_per_class: usize::MAX, keep_top_k: usize::MAX, ..*params };
        ssd_core::nms::nms(&mut self.scored, &params, &mut self.kept);
        self.kept.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.taken.clear();
        self.taken.extend(self.kept.iter().map(|k| detections[k.prior as usize]));
        std::mem::swap(detections, &mut self.taken);
        detections.truncate(keep);
    }
}

/// Stage 3.
/// The output stage's tracker and the events made from it.
struct Tracking {
    tracker: Option<ssd_core::Tracker>,
    events: Option<crate::events::Events>,
    /// The live tracks' boxes, for the motion gate.
    tracked: Option<crate::gate::Tracked>,
}

#[allow(clippy::too_many_arguments)]
fn output_stage(
    mut decoder: Decoder,
    Tracking { mut tracker, mut events, tracked: gate_boxes }: Tracking,
    mut sinks: Vec<Box<dyn Sink>>,
    rx: Receiver<Inferred>,
    pool: Sender<Vec<u8>>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
    max_frames: Option<u64>,
) -> Result<Stats, PipelineError> {
    let mut stats = Stats::default();
    let (mut detections, mut part): (Vec<Detection>, Vec<Detection>) = (Vec::new(), Vec::new());
    let mut merge = RegionMerge::default();
    let (mut track_ids, mut tracked, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    let (mut held, mut stationary) = (Vec::new(), Vec::new());
    let (mut frame_events, mut last_frame) = (Vec::new(), 0);
    let mut fps = crate::overlay::FpsMeter::default();
    let mut first_capture: Option<Instant> = None;
    let (mut latency_sum, mut inference_sum) = (0.0, 0.0);
    let mut error = None;
    let mut write = |msg: Inferred| {
        // After the output closed or failed, only drain.
        if stats.output_closed || error.is_some() || max_frames.is_some_and(|n| stats.frames >= n) {
            let _ = pool.try_send(msg.frame.rgb);
            return;
        }
        let started = Instant::now();
        let frame = msg.frame.index;
        #[cfg(feature = "failpoints")]
        crate::failpoint::hit("output", stats.frames);
        detections.clear();
        let decoded = msg.outputs.iter().try_for_each(|(outputs, mapping)| {
            let (b, s) = outputs.slices().map_err(|source| PipelineError::Inference { frame, source })?;
            decoder.decode(b, s, mapping, &mut part).map_err(|source| PipelineError::Decode { frame, source })?;
            detections.append(&mut part);
            Ok(())
        });
        if msg.outputs.len() > 1 {
            merge.run(&mut detections, &decoder.params().nms);
        }
        if let Err(e) = decoded {
            error = Some(e);
            stop.store(true, Ordering::Relaxed);
            return;
        }
        track_ids.clear();
        frame_events.clear();
        last_frame = frame;
        stationary.clear();
        if let Some(t) = tracker.as_mut() {
            tracked.clear();
            tracked.extend(detections.iter().map(|d| (d.class_id, d.score, d.bbox)));
            ended.clear();
            // Under motion gating a stationary object is looked at only
            // now and then (the gate's resting boxes): between looks the
            // tracker holds it where it was.
            held.clear();
            if let (Some(plan), Some(ev)) = (msg.plan.as_ref(), events.as_ref()) {
                if !plan.resting_checked {
                    let now_ms = msg.frame.time_ms;
                    held.extend(t.tracks().iter().filter(|tr| resting(ev, tr, now_ms)).map(|tr| tr.id));
                }
            }
            t.update_holding(&tracked, &held, &mut track_ids, &mut ended);
            if let Some(ev) = events.as_mut() {
                ev.frame(frame, msg.frame.time_ms, t.tracks(), &ended, &mut frame_events);
            }
            keep_reported(&mut detections, &mut track_ids, t.params().high_score);
            // What is held is still there: reported and drawn as it was.
            for tr in t.tracks().iter().filter(|tr| held.contains(&tr.id)) {
                if !track_ids.contains(&Some(tr.id)) {
                    let keypoints = Default::default();
                    detections.push(Detection { class_id: tr.class_id, score: tr.score, bbox: tr.bbox, keypoints });
                    track_ids.push(Some(tr.id));
                }
            }
            if let Some(ev) = events.as_ref() {
                stationary.extend(t.tracks().iter().filter(|tr| ev.is_stationary(tr.id)).map(|tr| tr.id));
            }
            if let Some(shared) = &gate_boxes {
                if let Ok(mut boxes) = shared.lock() {
                    boxes.moving.clear();
                    boxes.resting.clear();
                    for tr in t.tracks() {
                        let rests = events.as_ref().is_some_and(|ev| resting(ev, tr, msg.frame.time_ms));
                        if rests { &mut boxes.resting } else { &mut boxes.moving }.push(tr.bbox);
                    }
                }
            }
        }
        let finished = Instant::now();
        let latency = Latency {
            queue: msg.queue_ms,
            preprocess: msg.preprocess_ms,
            inference: msg.inference_ms,
            postprocess: ms(finished - started),
            total: ms(finished.duration_since(msg.frame.captured_at)),
        };
        let result = FrameResult {
            frame: &msg.frame,
            detections: &detections,
            track_ids: &track_ids,
            events: &frame_events,
            gate: msg.plan.as_ref(),
            latency,
            dropped: dropped.load(Ordering::Relaxed),
            places: events.as_ref().map_or_else(Default::default, crate::events::Events::places),
            stationary: &stationary,
            fps: fps.tick(finished),
        };
        for sink in &mut sinks {
            match sink.write(&result) {
                Ok(()) => {}
                Err(SinkError::Closed) => stats.output_closed = true,
                Err(e) => error = Some(PipelineError::Sink(e)),
            }
        }
        if stats.output_closed || error.is_some() {
            stop.store(true, Ordering::Relaxed);
            let _ = pool.try_send(msg.frame.rgb);
            return;
        }
        stats.frames += 1;
        latency_sum += latency.total;
        inference_sum += latency.inference;
        let first = *first_capture.get_or_insert(msg.frame.captured_at);
        stats.seconds = finished.duration_since(first).as_secs_f64();
        if max_frames.is_some_and(|n| stats.frames >= n) {
            stop.store(true, Ordering::Relaxed);
        }
        let _ = pool.try_send(msg.frame.rgb);
    };
    let mut in_order = Reorder::default();
    for msg in &rx {
        for due in in_order.push(msg.seq, msg) {
            write(due);
        }
    }
    while let Some(msg) = in_order.drain_next() {
        write(msg);
    }
    // Objects still there when the run ends get their end too.
    if let (Some(t), Some(ev)) = (tracker.as_ref(), events.as_mut()) {
        frame_events.clear();
        ev.finish(last_frame, t.tracks(), &mut frame_events);
        if error.is_none() && !stats.output_closed {
            for sink in &mut sinks {
                match sink.write_events(&frame_events) {
                    Ok(()) => {}
                    Err(SinkError::Closed) => stats.output_closed = true,
                    Err(e) => error = error.or(Some(PipelineError::Sink(e))),
                }
            }
        }
    }
    for sink in &mut sinks {
        match sink.finish() {
            Ok(()) | Err(SinkError::Closed) => {}
            Err(e) => error = error.or(Some(PipelineError::Sink(e))),
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    if stats.frames > 0 {
        stats.mean_latency_ms = latency_sum / stats.frames as f64;
        stats.mean_inference_ms = inference_sum / stats.frames as f64;
    }
    Ok(stats)
}

/// How long an object's box must stay put before the gate looks at it only
/// now and then: long before it is told as stationary, so that a person
/// who stops costs the model next to nothing while she stands, and the
/// motion detector (which takes her into its background at once) wakes it
/// the moment she moves again.
const REST_AFTER_MS: f64 = 1_500.0;

/// A still or stationary object seen when last looked at: the gate checks
/// it only now and then. One missed look and it is looked at every frame
/// again, so that an object that left ends within the tracker's max age.
fn resting(events: &crate::events::Events, t: &ssd_core::track::Track, now_ms: f64) -> bool {
    t.missed == 0 && (events.is_stationary(t.id) || events.still_for_ms(t.id, now_ms) >= REST_AFTER_MS)
}

/// Keeps the detections at or above `high` and those under it that a track
/// took, in order, with their ids.
fn keep_reported(detections: &mut Vec<Detection>, ids: &mut Vec<Option<u64>>, high: f32) {
    let mut k = 0;
    for i in 0..detections.len() {
        if detections[i].score >= high || ids[i].is_some() {
            detections.swap(k, i);
            ids.swap(k, i);
            k += 1;
        }
    }
    detections.truncate(k);
    ids.truncate(k);
}

/// Puts the workers' results back in the order the frames were taken.
struct Reorder<T> {
    next: u64,
    waiting: std::collections::BTreeMap<u64, T>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder { next: 0, waiting: Default::default() }
    }
}

impl<T> Reorder<T> {
    /// Takes result number `seq`; returns the ones now due, in order.
    fn push(&mut self, seq: u64, item: T) -> Vec<T> {
        self.waiting.insert(seq, item);
        let mut due = Vec::new();
        while let Some(m) = self.waiting.remove(&self.next) {
            self.next += 1;
            due.push(m);
        }
        due
    }

    /// After the workers ended: what is left, in order. A number that never
    /// came (its worker failed) is passed over.
    fn drain_next(&mut self) -> Option<T> {
        let (seq, m) = self.waiting.pop_first()?;
        self.next = seq + 1;
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::Reorder;

    #[test]
    fn results_arriving_out_of_order_come_out_in_order() {
        let mut r = Reorder::default();
        assert!(r.push(1, 'b').is_empty());
        assert!(r.push(2, 'c').is_empty());
        assert_eq!(r.push(0, 'a'), vec!['a', 'b', 'c']);
        assert_eq!(r.push(3, 'd'), vec!['d']);
        assert!(r.drain_next().is_none());
    }

    #[test]
    fn a_number_that_never_comes_holds_later_ones_until_the_drain() {
        let mut r = Reorder::default();
        assert_eq!(r.push(0, 0), vec![0]);
        // 1 was taken by a worker that failed.
        assert!(r.push(3, 3).is_empty());
        assert!(r.push(2, 2).is_empty());
        assert_eq!((r.drain_next(), r.drain_next(), r.drain_next()), (Some(2), Some(3), None));
    }
}
