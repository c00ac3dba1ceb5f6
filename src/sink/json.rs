//! `--headless`: one JSON object per frame per line.

use std::io::Write;

use serde::Serialize;

use super::{FrameResult, Latency, Sink, SinkError};
use ssd_core::boxes::BBox;

#[derive(Serialize)]
struct DetectionRecord<'a> {
    class_id: u32,
    label: &'a str,
    score: f32,
    bbox: BBox,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    keypoints: &'a [[f32; 2]],
}

#[derive(Serialize)]
struct FrameRecord<'a> {
    source: &'a str,
    frame: u64,
    timestamp_ms: f64,
    width: u32,
    height: u32,
    latency_ms: Latency,
    dropped: u64,
    detections: &'a [DetectionRecord<'a>],
}

/// Writes JSON lines to any writer (stdout in the binary), flushing every
/// line so that a reader sees each frame as soon as it is done.
pub struct JsonSink<W: Write + Send> {
    out: W,
    source: String,
    labels: Vec<String>,
}

impl<W: Write + Send> JsonSink<W> {
    /// A sink writing to `out`; `source` and `labels` name things in records.
    pub fn new(out: W, source: String, labels: Vec<String>) -> Self {
        Self { out, source, labels }
    }

    fn io(e: std::io::Error) -> SinkError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            SinkError::Closed
        } else {
            SinkError::Io { what: "stdout".into(), source: e }
        }
    }
}

impl<W: Write + Send> Sink for JsonSink<W> {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        let dets: Vec<DetectionRecord<'_>> = r
            .detections
            .iter()
            .map(|d| DetectionRecord {
                class_id: d.class_id,
                label: self.labels.get(d.class_id as usize).map_or("?", String::as_str),
                score: d.score,
                bbox: d.bbox,
                keypoints: d.keypoints.as_slice(),
            })
            .collect();
        let record = FrameRecord {
            source: &self.source,
            frame: r.frame.index,
            timestamp_ms: r.frame.timestamp_ms,
            width: r.frame.width,
            height: r.frame.height,
            latency_ms: r.latency,
            dropped: r.dropped,
            detections: &dets,
        };
        serde_json::to_writer(&mut self.out, &record).map_err(|e| match e.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => SinkError::Closed,
            _ => SinkError::Io { what: "stdout".into(), source: std::io::Error::other(e) },
        })?;
        self.out.write_all(b"\n").map_err(Self::io)?;
        self.out.flush().map_err(Self::io)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(Self::io)
    }
}
