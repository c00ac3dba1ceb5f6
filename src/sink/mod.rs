//! Where results go. Sinks run on the output thread, which alone owns
//! stdout; those that write files run on their own threads behind it
//! ([`offload`]).

#[cfg(feature = "display")]
pub mod display;
pub mod json;
pub mod offload;
pub mod record;
pub mod save;
pub mod snapshot;

use crate::source::Frame;
use ssd_core::postprocess::Detection;

/// Per-stage timings of one frame, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Latency {
    /// Waiting between capture and the start of preprocessing.
    pub queue: f64,
    /// Resize and normalization.
    pub preprocess: f64,
    /// The network.
    pub inference: f64,
    /// Decoding, NMS and mapping to frame pixels.
    pub postprocess: f64,
    /// Capture to output.
    pub total: f64,
}

/// Everything known about one processed frame.
#[derive(Debug)]
pub struct FrameResult<'a> {
    /// The frame (pixels included, for drawing sinks).
    pub frame: &'a Frame,
    /// Detections in frame pixels, best first.
    pub detections: &'a [Detection],
    /// Each detection's track id, in the same order; empty when tracking
    /// is off.
    pub track_ids: &'a [Option<u64>],
    /// Object events of this frame (with `--events`).
    pub events: &'a [crate::events::Event],
    /// Where the model ran, under `--detect motion`.
    pub gate: Option<&'a crate::gate::Plan>,
    /// Stage timings.
    pub latency: Latency,
    /// Frames dropped so far by the live-source policy.
    pub dropped: u64,
    /// The camera's zones and lines, drawn on every picture.
    pub places: Places<'a>,
    /// Track ids of the objects that are stationary (`--stationary-after`).
    pub stationary: &'a [u64],
    /// Frames written per second over the last 5 s
    /// ([`crate::overlay::FpsMeter`], one per camera): the one figure the
    /// window, recordings, `/metrics` and the page show.
    pub fps: f64,
}

pub use crate::zones::Places;

/// Errors writing results.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The reader went away (closed pipe): a normal way for a run to end.
    #[error("output closed")]
    Closed,
    /// Any other write failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// A consumer of frame results.
pub trait Sink: Send {
    /// Handles one frame.
    fn write(&mut self, result: &FrameResult<'_>) -> Result<(), SinkError>;
    /// Object events that belong to no frame: the `end` of every object
    /// still there when the run ends. Called once, before `finish`.
    fn write_events(&mut self, _events: &[crate::events::Event]) -> Result<(), SinkError> {
        Ok(())
    }
    /// Flushes what is buffered; called once at the end.
    fn finish(&mut self) -> Result<(), SinkError>;
}
