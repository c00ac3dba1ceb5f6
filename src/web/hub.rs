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
use tokio::sync::{broadcast, watch};

use super::metrics::Metrics;

/// Events kept for a page that opens later.
const RECENT_EVENTS: usize = 20;
/// Frame and event lines a slow reader may fall behind by before it skips.
const STREAM_SLACK: usize = 32;

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
    /// The camera's `--snapshots` folder, served under `/snapshots/CAMERA/`
    /// (never shown: a path of the machine).
    #[serde(skip)]
    pub snapshots: Option<std::path::PathBuf>,
    /// The camera's clips folder (`--clips`), served under `/clips/CAMERA/`.
    #[serde(skip)]
    pub clips: Option<std::path::PathBuf>,
}

/// State shared by the output stage and the server.
pub struct Hub {
    /// What the page shows as the run's name.
    pub info: RunInfo,
    /// The run's metrics.
    pub metrics: Metrics,
    /// Viewers that want JPEGs: open MJPEG streams and waiting snapshots.
    pub(super) watchers: AtomicUsize,
    pub(super) jpeg: watch::Sender<Option<Arc<Jpeg>>>,
    pub(super) detections: broadcast::Sender<Arc<str>>,
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

    pub(super) fn publish_event(&self, json: String) {
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
