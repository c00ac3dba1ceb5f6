//! The web viewer's sink, on the output thread: it feeds a camera's
//! [`Hub`] (JSON to the streams, frames to the JPEG encoder thread) and
//! keeps the [`Server`] running until the last camera's sink finishes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::hub::{Hub, Jpeg};
use super::server::Server;
use crate::sink::{FrameResult, Sink, SinkError};

/// JPEG quality: small frames for a phone on Wi-Fi, boxes and tags still sharp.
const JPEG_QUALITY: u8 = 80;

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
    snapshots: crate::records::SnapshotLink,
    regions: bool,
    jobs: Option<Sender<Job>>,
    /// Buffers back from the encoder: two in all, so memory stays flat.
    spare: Receiver<Vec<u8>>,
    buffers: usize,
    encoder: Option<std::thread::JoinHandle<()>>,
    /// Shared by every camera's sink; the last one to finish stops it.
    server: Option<Arc<Server>>,
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
        server: Arc<Server>,
        snapshots: crate::records::SnapshotLink,
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

fn encode_jobs(hub: &Hub, jobs: &Receiver<Job>, spare: &Sender<Vec<u8>>) {
    let mut out = Vec::new();
    for job in jobs {
        match crate::jpeg::encode(&job.rgb, job.width, job.height, JPEG_QUALITY, &mut out) {
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
        self.hub.metrics.frame(r);
        let source = &self.hub.info.source;
        if self.hub.detections.receiver_count() > 0 {
            let _ = self.hub.detections.send(crate::records::frame_json(r, source, &self.labels).into());
        }
        for e in r.events {
            self.hub.publish_event(crate::records::event_json(e, source, &self.labels, self.snapshots));
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
                crate::overlay::annotate(&mut rgb, r, &self.labels, self.regions);
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
            let json = crate::records::event_json(e, &self.hub.info.source, &self.labels, self.snapshots);
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
