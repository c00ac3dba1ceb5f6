//! `/metrics`: the run's figures in the Prometheus text format, every name
//! prefixed `ssd_cam_`. Updated by the output stage frame by frame (atomic
//! counters, no lock on the frame path); figures that change without
//! frames (the age of the last frame, the MQTT queue) are read at scrape
//! time.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::sink::FrameResult;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The stages of [`crate::sink::Latency`], as the `stage` label names them.
const STAGES: [&str; 5] = ["queue", "preprocess", "inference", "postprocess", "total"];

/// Every metric of a run, registered once.
pub struct Metrics {
    registry: Registry,
    frames: Counter,
    dropped: Counter,
    no_model: Counter,
    stages: [Histogram; 5],
    objects: Family<Labels, Gauge>,
    events: Family<Labels, Counter>,
    fps: FloatGauge,
    last_frame_age: FloatGauge,
    viewers: Gauge,
    jpeg_frames: Counter,
    refused: Family<Labels, Counter>,
    mqtt: Option<(crate::mqtt::MqttFigures, [Gauge; 3])>,
    labels: Vec<String>,
    seen_dropped: AtomicU64,
}

impl Metrics {
    /// Registers the metrics of a run of `model` on `source`; with `mqtt`,
    /// also the MQTT queue's figures.
    pub fn new(model: &str, source: &str, labels: Vec<String>, mqtt: Option<crate::mqtt::MqttFigures>) -> Self {
        let mut registry = Registry::with_prefix("ssd_cam");
        let ours: Labels = vec![("model".into(), model.into()), ("source".into(), source.into())];
        registry.register(
            "build",
            "The running ssd-cam, its model and source",
            Info::new(vec![
                ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
                ("model".to_owned(), model.to_owned()),
                ("source".to_owned(), source.to_owned()),
            ]),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<Labels, Counter>::default();
            registry.register(name, help, family.clone());
            let c = family.get_or_create(&ours).clone();
            c
        };
        let frames = counter(&mut registry, "frames", "Frames processed and written");
        let dropped = counter(&mut registry, "dropped_frames", "Frames dropped: stale live frames and source gaps");
        let no_model = counter(&mut registry, "frames_without_model", "Frames the motion gate let skip the model");
        let stage_family = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
            // 0.5 ms to about 4 s: a fast stage on a desktop to a slow frame on a Pi.
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "stage_seconds",
            "Time per frame in each pipeline stage (total: capture to output)",
            stage_family.clone(),
        );
        let stages = STAGES.map(|stage| {
            let mut l = ours.clone();
            l.push(("stage".into(), stage.into()));
            stage_family.get_or_create(&l).clone()
        });
        let objects = Family::<Labels, Gauge>::default();
        registry.register("objects", "Detections in the last frame, per label", objects.clone());
        let events = Family::<Labels, Counter>::default();
        registry.register("events", "Object events, per kind", events.clone());
        let fps = FloatGauge::default();
        registry.register("fps", "Frames per second over the recent past", fps.clone());
        let last_frame_age = FloatGauge::default();
        registry.register(
            "last_frame_age_seconds",
            "Seconds since the last frame was written (since the start before the first)",
            last_frame_age.clone(),
        );
        let viewers = Gauge::default();
        registry.register("http_viewers", "Open video and detection streams", viewers.clone());
        let jpeg_frames = Counter::default();
        registry.register("http_jpeg_frames", "Frames encoded as JPEG for viewers", jpeg_frames.clone());
        let refused = Family::<Labels, Counter>::default();
        registry.register("http_refused", "HTTP requests refused, per reason", refused.clone());
        let mqtt = mqtt.map(|figures| {
            let gauges = [Gauge::default(), Gauge::default(), Gauge::default()];
            registry.register("mqtt_connected", "1 while connected to the MQTT broker", gauges[0].clone());
            registry.register("mqtt_queued_messages", "Messages waiting for the MQTT broker", gauges[1].clone());
            registry.register(
                "mqtt_dropped_messages",
                "Messages dropped because the MQTT queue was full (total)",
                gauges[2].clone(),
            );
            (figures, gauges)
        });
        Self {
            registry,
            frames,
            dropped,
            no_model,
            stages,
            objects,
            events,
            fps,
            last_frame_age,
            viewers,
            jpeg_frames,
            refused,
            mqtt,
            labels,
            seen_dropped: AtomicU64::new(0),
        }
    }

    /// Counts a written frame.
    pub fn frame(&self, r: &FrameResult<'_>, fps: f64) {
        self.frames.inc();
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
        // Labels seen once stay at 0 rather than vanish, so a graph shows the drop.
        for (label, n) in self.labels.iter().zip(counts) {
            let key = vec![("label".to_owned(), label.clone())];
            if n > 0 {
                self.objects.get_or_create(&key).set(n);
            } else if let Some(g) = self.objects.get(&key) {
                g.set(0);
            }
        }
        for e in r.events {
            self.event(e.kind);
        }
        self.fps.set(fps);
    }

    /// Counts an object event.
    pub fn event(&self, kind: crate::events::EventKind) {
        self.events.get_or_create(&vec![("kind".to_owned(), kind.as_str().to_owned())]).inc();
    }

    /// A JPEG was encoded for viewers.
    pub fn jpeg_encoded(&self) {
        self.jpeg_frames.inc();
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
    pub fn render(&self, last_frame_age: f64) -> String {
        self.last_frame_age.set(last_frame_age);
        if let Some((figures, [connected, queued, dropped])) = &self.mqtt {
            connected.set(i64::from(figures.connected()));
            queued.set(figures.queued() as i64);
            dropped.set(figures.dropped() as i64);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
