//! `/metrics`: the run's figures in the Prometheus text format, every name
//! prefixed `ssd_cam_`, every camera's labelled with its name (`source`)
//! and the model. Updated by each camera's output stage frame by frame
//! (atomic counters, no lock on the frame path); figures that change
//! without frames (the age of the last frame, the MQTT queue) are read at
//! scrape time.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::sink::FrameResult;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// What a scrape reads of a camera: its labels, when its last frame came,
/// and [`Scraped`].
type CameraFigures = (Labels, Arc<Mutex<std::time::Instant>>, Scraped);

/// A camera's figures that change away from its frame path, read at
/// scrape time: its MQTT queue, and the frames each output on its own
/// thread (`record`, `snapshots`, `save`) dropped because it could not keep
/// up.
#[derive(Default)]
pub struct Scraped {
    /// The camera's MQTT queue, with `--mqtt`.
    pub mqtt: Option<crate::mqtt::MqttFigures>,
    /// Each offloaded output's name and its count of dropped frames.
    pub output_drops: Vec<(String, Arc<AtomicU64>)>,
    /// How the camera's clips go, with `--clips`.
    pub clips: Option<Arc<crate::clips::ClipHealth>>,
}

/// The stages of [`crate::sink::Latency`], as the `stage` label names them.
const STAGES: [&str; 5] = ["queue", "preprocess", "inference", "postprocess", "total"];

/// Every metric of a run, registered once; each camera updates its own
/// series through [`Metrics`].
pub struct MetricsSet {
    registry: Registry,
    model: String,
    frames: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    no_model: Family<Labels, Counter>,
    stages: HistogramFamily,
    objects: Family<Labels, Gauge>,
    events: Family<Labels, Counter>,
    fps: Family<Labels, FloatGauge>,
    last_frame_age: Family<Labels, FloatGauge>,
    jpeg_frames: Family<Labels, Counter>,
    viewers: Gauge,
    refused: Family<Labels, Counter>,
    mqtt: [Family<Labels, Gauge>; 3],
    output_dropped: Family<Labels, Gauge>,
    clips: Family<Labels, Gauge>,
    build: Family<Labels, Gauge>,
    /// Per camera: its labels, the age of its last frame, its MQTT queue.
    cameras: Mutex<Vec<CameraFigures>>,
}

impl MetricsSet {
    /// Registers the metrics of a run of `model`.
    pub fn new(model: &str) -> Arc<Self> {
        let mut registry = Registry::with_prefix("ssd_cam");
        let mut family = |name: &str, help: &str| {
            let f = Family::<Labels, Counter>::default();
            registry.register(name, help, f.clone());
            f
        };
        let frames = family("frames", "Frames processed and written");
        let dropped = family("dropped_frames", "Frames dropped: stale live frames and source gaps");
        let no_model = family("frames_without_model", "Frames the motion gate let skip the model");
        let events = family("events", "Object events, per kind");
        let jpeg_frames = family("http_jpeg_frames", "Frames encoded as JPEG for viewers");
        let refused = family("http_refused", "HTTP requests refused, per reason");
        let stages = HistogramFamily::new_with_constructor(|| {
            // 0.5 ms to about 4 s: a fast stage on a desktop to a slow frame on a Pi.
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "stage_seconds",
            "Time per frame in each pipeline stage (total: capture to output)",
            stages.clone(),
        );
        let objects = Family::<Labels, Gauge>::default();
        registry.register("objects", "Detections in the last frame, per label", objects.clone());
        let fps = Family::<Labels, FloatGauge>::default();
        registry.register("fps", "Frames per second over the recent past", fps.clone());
        let last_frame_age = Family::<Labels, FloatGauge>::default();
        registry.register(
            "last_frame_age_seconds",
            "Seconds since the camera's last frame was written (since the start before the first)",
            last_frame_age.clone(),
        );
        let viewers = Gauge::default();
        registry.register("http_viewers", "Open video and detection streams", viewers.clone());
        // An info metric with one series per camera (prometheus-client's
        // Info holds a single label set).
        let build = Family::<Labels, Gauge>::default();
        registry.register("build_info", "The running ssd-cam, its model and each camera", build.clone());
        let mqtt = [Family::default(), Family::default(), Family::default()];
        registry.register("mqtt_connected", "1 while connected to the MQTT broker", mqtt[0].clone());
        registry.register("mqtt_queued_messages", "Messages waiting for the MQTT broker", mqtt[1].clone());
        registry.register(
            "mqtt_dropped_messages",
            "Messages dropped because the MQTT queue was full (total)",
            mqtt[2].clone(),
        );
        let output_dropped = Family::<Labels, Gauge>::default();
        registry.register(
            "output_dropped_frames",
            "Frames an output on its own thread (record, snapshots, save) dropped because it could not keep up (total)",
            output_dropped.clone(),
        );
        let clips = Family::<Labels, Gauge>::default();
        registry.register(
            "clips",
            "Clips (total) per state: written; failed, named by events but not made; unpromised, objects told without a clip because clips could not be made",
            clips.clone(),
        );
        Arc::new(Self {
            registry,
            model: model.to_owned(),
            frames,
            dropped,
            no_model,
            stages,
            objects,
            events,
            fps,
            last_frame_age,
            jpeg_frames,
            viewers,
            refused,
            mqtt,
            output_dropped,
            clips,
            build,
            cameras: Mutex::new(Vec::new()),
        })
    }

    /// Registers a camera: its build info, and its series.
    pub fn camera(self: &Arc<Self>, source: &str, labels: Vec<String>, scraped: Scraped) -> Metrics {
        let ours: Labels = vec![("model".into(), self.model.clone()), ("source".into(), source.into())];
        let last_frame = Arc::new(Mutex::new(std::time::Instant::now()));
        let mut build = ours.clone();
        build.push(("version".into(), env!("CARGO_PKG_VERSION").into()));
        self.build.get_or_create(&build).set(1);
        if let Ok(mut cameras) = self.cameras.lock() {
            cameras.push((ours.clone(), Arc::clone(&last_frame), scraped));
        }
        let stages = STAGES.map(|stage| {
            let mut l = ours.clone();
            l.push(("stage".into(), stage.into()));
            self.stages.get_or_create(&l).clone()
        });
        Metrics {
            set: Arc::clone(self),
            frames: self.frames.get_or_create(&ours).clone(),
            dropped: self.dropped.get_or_create(&ours).clone(),
            no_model: self.no_model.get_or_create(&ours).clone(),
            fps: self.fps.get_or_create(&ours).clone(),
            jpeg_frames: self.jpeg_frames.get_or_create(&ours).clone(),
            stages,
            ours,
            objects: Mutex::new(vec![None; labels.len()]),
            labels,
            last_frame,
            seen_dropped: AtomicU64::new(0),
        }
    }

    /// Open streams, as the server counts them.
    pub fn set_viewers(&self, n: usize) {
        self.viewers.set(n as i64);
    }

    /// A refused request: `unauthorized`, `too_many_viewers`, `not_found`, ….
    pub fn refused(&self, reason: &str) {
        self.refused.get_or_create(&vec![("reason".to_owned(), reason.to_owned())]).inc();
    }

    /// The text exposition, with the scrape-time figures read now.
    pub fn render(&self) -> String {
        if let Ok(cameras) = self.cameras.lock() {
            for (labels, last, scraped) in cameras.iter() {
                let age = last.lock().map_or(0.0, |t| t.elapsed().as_secs_f64());
                self.last_frame_age.get_or_create(labels).set(age);
                for (output, dropped) in &scraped.output_drops {
                    let mut key = labels.clone();
                    key.push(("output".to_owned(), output.clone()));
                    let n = dropped.load(std::sync::atomic::Ordering::Relaxed);
                    self.output_dropped.get_or_create(&key).set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                if let Some(health) = &scraped.clips {
                    for (state, n) in ["written", "failed", "unpromised"].into_iter().zip(health.counts()) {
                        let mut key = labels.clone();
                        key.push(("state".to_owned(), state.to_owned()));
                        self.clips.get_or_create(&key).set(i64::try_from(n).unwrap_or(i64::MAX));
                    }
                }
                if let Some(figures) = &scraped.mqtt {
                    let [connected, queued, dropped] = &self.mqtt;
                    connected.get_or_create(labels).set(i64::from(figures.connected()));
                    queued.get_or_create(labels).set(figures.queued() as i64);
                    dropped.get_or_create(labels).set(figures.dropped() as i64);
                }
            }
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// One camera's series.
pub struct Metrics {
    set: Arc<MetricsSet>,
    ours: Labels,
    frames: Counter,
    dropped: Counter,
    no_model: Counter,
    fps: FloatGauge,
    jpeg_frames: Counter,
    stages: [Histogram; 5],
    labels: Vec<String>,
    /// Each label's gauge, from its first detection on.
    objects: Mutex<Vec<Option<Gauge>>>,
    last_frame: Arc<Mutex<std::time::Instant>>,
    seen_dropped: AtomicU64,
}

impl Metrics {
    /// Counts a written frame.
    pub fn frame(&self, r: &FrameResult<'_>) {
        self.frames.inc();
        if let Ok(mut t) = self.last_frame.lock() {
            *t = std::time::Instant::now();
        }
        let before = self.seen_dropped.swap(r.dropped, std::sync::atomic::Ordering::Relaxed);
        self.dropped.inc_by(r.dropped.saturating_sub(before));
        if r.gate.is_some_and(|p| !p.full && p.regions.is_empty()) {
            self.no_model.inc();
        }
        let l = &r.latency;
        for (h, v) in self.stages.iter().zip([l.queue, l.preprocess, l.inference, l.postprocess, l.total]) {
            h.observe(v / 1000.0);
        }
        let mut counts = vec![0i64; self.labels.len()];
        for d in r.detections {
            if let Some(c) = counts.get_mut(d.class_id as usize) {
                *c += 1;
            }
        }
        // A label's series appears with its first detection and then stays
        // (at 0 when none), so a graph shows the drop; the handles are kept,
        // so the frame path builds no label set.
        if let Ok(mut objects) = self.objects.lock() {
            for ((label, n), gauge) in self.labels.iter().zip(counts).zip(objects.iter_mut()) {
                if n > 0 && gauge.is_none() {
                    let mut key = self.ours.clone();
                    key.push(("label".to_owned(), label.clone()));
                    *gauge = Some(self.set.objects.get_or_create(&key).clone());
                }
                if let Some(g) = gauge {
                    g.set(n);
                }
            }
        }
        for e in r.events {
            self.event(e.kind);
        }
        self.fps.set(r.fps);
    }

    /// Counts an object event.
    pub fn event(&self, kind: crate::events::EventKind) {
        let mut key = self.ours.clone();
        key.push(("kind".to_owned(), kind.as_str().to_owned()));
        self.set.events.get_or_create(&key).inc();
    }

    /// A JPEG was encoded for viewers.
    pub fn jpeg_encoded(&self) {
        self.jpeg_frames.inc();
    }

    /// Seconds since this camera's last frame (since the start before the first).
    pub fn last_frame_age(&self) -> f64 {
        self.last_frame.lock().map_or(0.0, |t| t.elapsed().as_secs_f64())
    }
}

/// The `Content-Type` of [`MetricsSet::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
