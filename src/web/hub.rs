//! What the output stage shares with the web server: the newest annotated
//! JPEG, the detection and event streams, the figures for `/metrics` and
//! `/healthz`. The output stage never waits on a viewer: JSON goes into
//! broadcast channels that drop what a slow reader has not taken, and a
//! frame is annotated and handed to the encoder thread only while someone
//! watches and the encoder is free, so each frame is encoded at most once
//! and all viewers share that one JPEG.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::{broadcast, watch};

use super::metrics::Metrics;
use crate::overlay::FpsMeter;
use crate::sink::{FrameResult, Sink, SinkError};

/// Events kept for a page that opens later.
const RECENT_EVENTS: usize = 20;
/// Frame and event lines a slow reader may fall behind by before it skips.
const STREAM_SLACK: usize = 32;
/// JPEG quality: small frames for a phone on Wi-Fi, boxes and tags still sharp.
const JPEG_QUALITY: u8 = 80;

/// One encoded frame, shared by every viewer.
#[derive(Debug)]
pub struct Jpeg {
    /// The JPEG file.
    pub bytes: Bytes,
    /// The frame's index.
    pub frame: u64,
    /// When it was encoded.
    pub at: Instant,
}

/// What `/api/info` tells the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    /// The model's name.
    pub model: String,
    /// The source's name.
    pub source: String,
    /// The model's labels.
    pub labels: Vec<String>,
    /// ssd-cam's version.
    pub version: &'static str,
    /// Whether object events are made.
    pub events: bool,
}

/// State shared by the output stage and the server.
pub struct Hub {
    /// What the page shows as the run's name.
    pub info: RunInfo,
    /// The run's metrics.
    pub metrics: Metrics,
    /// Viewers that want JPEGs: open MJPEG streams and waiting snapshots.
    watchers: AtomicUsize,
    jpeg: watch::Sender<Option<Arc<Jpeg>>>,
    detections: broadcast::Sender<Arc<str>>,
    events: broadcast::Sender<Arc<str>>,
    recent_events: Mutex<VecDeque<Arc<str>>>,
    /// Raised when the run ends; streams close.
    ended: watch::Sender<bool>,
}

impl Hub {
    /// A hub for a run described by `info`.
    pub fn new(info: RunInfo, metrics: Metrics) -> Arc<Self> {
        Arc::new(Self {
            info,
            metrics,
            watchers: AtomicUsize::new(0),
            jpeg: watch::Sender::new(None),
            detections: broadcast::Sender::new(STREAM_SLACK),
            events: broadcast::Sender::new(STREAM_SLACK),
            recent_events: Mutex::new(VecDeque::with_capacity(RECENT_EVENTS)),
            ended: watch::Sender::new(false),
        })
    }

    /// Registers a JPEG watcher until the guard drops.
    pub fn watch_jpegs(self: &Arc<Self>) -> (WatchGuard, watch::Receiver<Option<Arc<Jpeg>>>) {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        (WatchGuard(Arc::clone(self)), self.jpeg.subscribe())
    }

    /// The newest JPEG, if any frame was encoded.
    pub fn latest_jpeg(&self) -> Option<Arc<Jpeg>> {
        self.jpeg.borrow().clone()
    }

    /// The frame JSON stream.
    pub fn detections(&self) -> broadcast::Receiver<Arc<str>> {
        self.detections.subscribe()
    }

    /// The recent events, then the event stream.
    pub fn events(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let recent = self.recent_events.lock().map(|r| r.iter().cloned().collect()).unwrap_or_default();
        (recent, self.events.subscribe())
    }

    /// Seconds since the last frame (since the start before the first).
    pub fn last_frame_age(&self) -> f64 {
        self.metrics.last_frame_age()
    }

    /// A receiver that sees `true` once the run has ended.
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// Closes every stream: the run is over.
    pub fn end(&self) {
        self.ended.send_replace(true);
    }

    fn publish_event(&self, json: String) {
        let json: Arc<str> = json.into();
        if let Ok(mut recent) = self.recent_events.lock() {
            if recent.len() == RECENT_EVENTS {
                recent.pop_front();
            }
            recent.push_back(Arc::clone(&json));
        }
        // No subscriber is not an error: nobody is looking.
        let _ = self.events.send(json);
    }
}

/// Keeps a JPEG watcher counted while alive.
pub struct WatchGuard(Arc<Hub>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An annotated frame on its way to the encoder.
struct Job {
    rgb: Vec<u8>,
    width: u32,
    height: u32,
    frame: u64,
}

/// The sink that feeds the hub, on the output thread.
pub struct WebSink {
    hub: Arc<Hub>,
    labels: Vec<String>,
    snapshots: bool,
    regions: bool,
    fps: FpsMeter,
    jobs: Option<Sender<Job>>,
    /// Buffers back from the encoder: two in all, so memory stays flat.
    spare: Receiver<Vec<u8>>,
    buffers: usize,
    encoder: Option<std::thread::JoinHandle<()>>,
    /// Shared by every camera's sink; the last one to finish stops it.
    server: Option<Arc<super::server::Server>>,
    /// The least time between two encoded frames (`--http-fps`).
    every: std::time::Duration,
    last_job: Option<Instant>,
}

/// Annotated frames in flight at most: one being encoded, one waiting.
const BUFFERS: usize = 2;

impl WebSink {
    /// Starts the encoder thread. `snapshots`: events name their snapshot
    /// file; `regions`: frames show where the model ran; `fps`: the most
    /// frames a second encoded for viewers.
    pub fn new(
        hub: Arc<Hub>,
        server: Arc<super::server::Server>,
        snapshots: bool,
        regions: bool,
        fps: f64,
    ) -> std::io::Result<Self> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<Job>(1);
        let (spare_tx, spare_rx) = crossbeam_channel::bounded::<Vec<u8>>(BUFFERS);
        let encoder_hub = Arc::clone(&hub);
        let encoder = std::thread::Builder::new()
            .name("jpeg".into())
            .spawn(move || encode_jobs(&encoder_hub, &jobs_rx, &spare_tx))?;
        Ok(Self {
            labels: hub.info.labels.clone(),
            hub,
            snapshots,
            regions,
            fps: FpsMeter::default(),
            jobs: Some(jobs_tx),
            spare: spare_rx,
            buffers: 0,
            encoder: Some(encoder),
            server: Some(server),
            every: std::time::Duration::from_secs_f64(1.0 / fps.max(0.001)),
            last_job: None,
        })
    }

    /// A buffer for the next frame, if the encoder is not holding both.
    fn buffer(&mut self) -> Option<Vec<u8>> {
        if let Ok(b) = self.spare.try_recv() {
            return Some(b);
        }
        (self.buffers < BUFFERS).then(|| {
            self.buffers += 1;
            Vec::new()
        })
    }

    fn stop(&mut self) {
        self.hub.end();
        self.jobs = None;
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
        // The last camera's sink to finish stops the server (its Drop).
        self.server = None;
    }
}

/// Encodes an RGB frame as the viewers' JPEG into `out` (cleared first).
/// jpeg-encoder, not the image crate's encoder: 2.4x faster on this
/// machine's frames (BENCHMARKS.md, "Web viewer"), and the encoder thread
/// shares the board's cores with inference.
pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(format!("{width}x{height} is larger than JPEG allows"));
    };
    jpeg_encoder::Encoder::new(out, JPEG_QUALITY)
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())
}

fn encode_jobs(hub: &Hub, jobs: &Receiver<Job>, spare: &Sender<Vec<u8>>) {
    let mut out = Vec::new();
    for job in jobs {
        match encode_jpeg(&job.rgb, job.width, job.height, &mut out) {
            Ok(()) => {
                hub.metrics.jpeg_encoded();
                let jpeg = Jpeg { bytes: Bytes::copy_from_slice(&out), frame: job.frame, at: Instant::now() };
                hub.jpeg.send_replace(Some(Arc::new(jpeg)));
            }
            Err(e) => log::warn!("http: frame {}: cannot encode JPEG: {e}", job.frame),
        }
        let _ = spare.try_send(job.rgb);
    }
}

impl Sink for WebSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        let fps = self.fps.tick(r.frame.captured_at);
        self.hub.metrics.frame(r, fps);
        let source = &self.hub.info.source;
        if self.hub.detections.receiver_count() > 0 {
            let _ = self.hub.detections.send(crate::sink::json::frame_json(r, source, &self.labels).into());
        }
        for e in r.events {
            self.hub.publish_event(crate::sink::json::event_json(e, source, &self.labels, self.snapshots));
        }
        // The encoder still busy with an older frame: this one is skipped
        // before it costs a copy.
        let encoder_free = self.jobs.as_ref().is_some_and(|j| !j.is_full());
        // Frames come at the source's pace; viewers get at most --http-fps,
        // judged on capture times with a little slack so 30 fps capped at
        // 15 takes every other frame rather than beating against jitter.
        let due = self.last_job.is_none_or(|t| r.frame.captured_at.duration_since(t) >= self.every.mul_f64(0.9));
        if encoder_free && due && self.hub.watchers.load(Ordering::SeqCst) > 0 {
            if let Some(mut rgb) = self.buffer() {
                crate::overlay::annotate(&mut rgb, r, &self.labels, fps, self.regions);
                let job = Job { rgb, width: r.frame.width, height: r.frame.height, frame: r.frame.index };
                self.last_job = Some(r.frame.captured_at);
                if let Some(Err(TrySendError::Full(job) | TrySendError::Disconnected(job))) =
                    self.jobs.as_ref().map(|j| j.try_send(job))
                {
                    self.buffers -= 1;
                    drop(job);
                }
            }
        }
        Ok(())
    }

    fn write_events(&mut self, events: &[crate::events::Event]) -> Result<(), SinkError> {
        for e in events {
            self.hub.metrics.event(e.kind);
            let json = crate::sink::json::event_json(e, &self.hub.info.source, &self.labels, self.snapshots);
            self.hub.publish_event(json);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.stop();
        Ok(())
    }
}

impl Drop for WebSink {
    fn drop(&mut self) {
        self.stop();
    }
}
