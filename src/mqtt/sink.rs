//! The pipeline's side of MQTT: a bounded queue the output thread fills
//! without ever waiting, per-label counts, and the first connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use rumqttc::{LastWill, MqttOptions, QoS};

use super::publisher::{Publisher, WINDOW};
use super::topics::Topics;
use super::{Message, MqttUrl, Shared, Start};
use crate::events::{Event as ObjectEvent, EventKind};
use crate::sink::{FrameResult, Sink, SinkError};

/// The largest snapshot sent (bytes): under the client's packet limit.
const MAX_SNAPSHOT: usize = 1 << 19 | 1 << 18;

/// How long a snapshot file is waited for after its event.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(5);

/// The most messages waiting for the broker; more are dropped and counted.
pub const QUEUE: usize = 10_000;
/// How long the end of a run waits for the broker to take what is queued.
pub const FLUSH: Duration = Duration::from_secs(5);

impl Default for MqttSinkOptions {
    fn default() -> Self {
        Self {
            queue: QUEUE,
            flush: FLUSH,
            ca: None,
            detections_hz: None,
            snapshots: Default::default(),
            snapshot_dir: None,
            home_assistant: None,
        }
    }
}

/// `--ha-discovery`: the camera as Home Assistant is told of it
/// ([`super::discovery`]).
#[derive(Debug, Clone)]
pub struct HomeAssistant {
    /// The camera's device and entities.
    pub device: super::discovery::Device,
    /// Configs this camera could have and does not (the motion switch of a
    /// camera without a gate): removed, in case an earlier run made them.
    pub unused: Vec<String>,
    /// Every config of this run's cameras, and the retained topic listing
    /// them ([`super::discovery::owned_topic`]); configs the last run of
    /// this configuration listed and this one lacks are removed (given to
    /// one camera of the run).
    pub cleanup: Option<(String, Arc<std::collections::BTreeSet<String>>)>,
    /// The switches its commands turn.
    pub switches: Arc<crate::switches::Switches>,
}

/// How often the figures Home Assistant's diagnostic sensors read are sent.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Publishes the run's events; see the module documentation.
pub struct MqttSink {
    queue: Option<Sender<Message>>,
    queue_reader: crossbeam_channel::Receiver<Message>,
    shared: Arc<Shared>,
    publisher: Option<std::thread::JoinHandle<()>>,
    topics: Topics,
    source: String,
    labels: Vec<String>,
    snapshots: crate::records::SnapshotLink,
    snapshot_dir: Option<std::path::PathBuf>,
    /// Snapshots to send once their files are written: class, file, until.
    pending_snapshots: Vec<(u32, std::path::PathBuf, Instant)>,
    /// Objects in view per label (told as new, not yet ended).
    counts: HashMap<u32, u64>,
    /// Stationary objects (id -> class), and the counts per class sent.
    stationary: HashMap<u64, u32>,
    stationary_sent: HashMap<u32, u64>,
    detections_every: Option<Duration>,
    last_detections: Option<Instant>,
    url: MqttUrl,
    /// With Home Assistant: the zones and labels counted per zone, each
    /// object's zones now, the counts sent, and when the stats were sent.
    zones: Option<ZoneCounts>,
    last_stats: Option<Instant>,
}

/// Objects per zone and label, from the events' `zones`.
#[derive(Debug, Default)]
struct ZoneCounts {
    /// Object id -> (class, zones it is in).
    inside: HashMap<u64, (u32, Vec<String>)>,
    /// (zone, class) -> count sent.
    sent: HashMap<(String, u32), u64>,
}

/// Options of the MQTT sink besides the URL.
#[derive(Debug, Clone)]
pub struct MqttSinkOptions {
    /// The most messages waiting for the broker ([`QUEUE`]).
    pub queue: usize,
    /// How long the end of a run waits for the broker ([`FLUSH`]).
    pub flush: Duration,
    /// CA certificate (PEM) for mqtts; the system's roots when `None`.
    pub ca: Option<std::path::PathBuf>,
    /// Per-frame detections at most this often (per second).
    pub detections_hz: Option<f64>,
    /// What events say of their snapshot.
    pub snapshots: crate::records::SnapshotLink,
    /// `--snapshots` DIR: each label's latest snapshot is published, JPEG
    /// bytes, retained on `BASE/LABEL/snapshot` (Home Assistant's image).
    pub snapshot_dir: Option<std::path::PathBuf>,
    /// Home Assistant discovery and switches.
    pub home_assistant: Option<HomeAssistant>,
}

/// The MQTT queue's figures for `/metrics`, readable from any thread.
#[derive(Clone)]
pub struct MqttFigures {
    shared: Arc<Shared>,
    /// Read only for its length; the publisher's copy takes the messages.
    queue: crossbeam_channel::Receiver<Message>,
}

impl MqttFigures {
    /// Whether the broker is connected now.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
    /// Messages waiting for the broker.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.overflow.load(Ordering::Relaxed)
    }
}

impl MqttSink {
    /// The queue's figures, for `/metrics`.
    pub fn figures(&self) -> MqttFigures {
        MqttFigures { shared: Arc::clone(&self.shared), queue: self.queue_reader.clone() }
    }

    /// Connects in the background. Waits up to `wait` for the first
    /// attempt: a refused login is an error; an unreachable broker is a
    /// warning, and the sink connects when it can.
    pub fn start(
        url: MqttUrl,
        options: MqttSinkOptions,
        source: &str,
        labels: Vec<String>,
        wait: Duration,
    ) -> Result<Self, String> {
        let topics = Topics { base: super::topics::base(&url.prefix, source) };
        // Unique per sink too: several cameras connect from one process at once.
        static SINKS: AtomicU64 = AtomicU64::new(0);
        let sink = SINKS.fetch_add(1, Ordering::Relaxed);
        let client_id =
            format!("ssd-cam-{}-{}-{sink}", std::process::id(), crate::clock::now_unix_ms() as u64 % 1_000_000);
        let mut mqtt = MqttOptions::new(client_id, url.host.clone(), url.port);
        mqtt.set_keep_alive(Duration::from_secs(15))
            .set_clean_session(true)
            .set_inflight(WINDOW as u16)
            .set_max_packet_size(1 << 20, 1 << 20)
            .set_last_will(LastWill::new(topics.state(), "offline", QoS::AtLeastOnce, true));
        if let Some((user, pass)) = &url.login {
            mqtt.set_credentials(user.clone(), pass.clone());
        }
        if url.tls {
            mqtt.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(
                crate::net::tls::client_config(options.ca.as_deref())?,
            ))));
        }
        let shared = Arc::new(Shared::default());
        let (start_tx, start_rx) = crossbeam_channel::bounded(1);
        let (queue_tx, queue_rx) = crossbeam_channel::bounded(options.queue.max(1));
        let publisher_shared = Arc::clone(&shared);
        let flush = options.flush;
        let (state_topic, who) = (topics.state(), url.to_string());
        let queue_reader = queue_rx.clone();
        let inbox = options.home_assistant.as_ref().map(|ha| inbox(ha, &topics)).unwrap_or_default();
        let publisher = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                Publisher::new(mqtt, state_topic, who, publisher_shared)
                    .with_inbox(inbox)
                    .run(&queue_rx, &start_tx, flush)
            })
            .map_err(|e| format!("--mqtt: cannot start a thread: {e}"))?;
        match start_rx.recv_timeout(wait) {
            Ok(Start::Connected) => log::info!("mqtt: connected to {url}, topics {}/…", topics.base),
            Ok(Start::Refused(why)) => {
                shared.stop.store(true, Ordering::Relaxed);
                let _ = publisher.join();
                return Err(format!("--mqtt {url}: {why}"));
            }
            Ok(Start::Unreachable(why)) => {
                log::warn!("mqtt: {url} unreachable ({why}); events wait in the queue until it connects")
            }
            Err(_) => log::warn!("mqtt: {url} has not answered yet; events wait in the queue until it connects"),
        }
        let sink = Self {
            queue: Some(queue_tx),
            queue_reader,
            shared,
            publisher: Some(publisher),
            topics,
            source: source.to_owned(),
            labels,
            snapshots: options.snapshots,
            snapshot_dir: options.snapshot_dir,
            pending_snapshots: Vec::new(),
            counts: HashMap::new(),
            stationary: HashMap::new(),
            stationary_sent: HashMap::new(),
            detections_every: options.detections_hz.map(|hz| Duration::from_secs_f64(1.0 / hz)),
            last_detections: None,
            url,
            zones: options.home_assistant.as_ref().map(|_| ZoneCounts::default()),
            last_stats: None,
        };
        if let Some(ha) = &options.home_assistant {
            sink.announce(ha);
        }
        Ok(sink)
    }

    /// Home Assistant's configs and the first states, all retained: the
    /// publisher sends them on every connect, so a config never arrives
    /// without its state.
    fn announce(&self, ha: &HomeAssistant) {
        let retained = |topic: String, payload: Vec<u8>| Message {
            topic,
            payload,
            qos: QoS::AtLeastOnce,
            retain: true,
            keep: false,
        };
        for (topic, config) in ha.device.configs() {
            self.send(retained(topic, config.to_string().into_bytes()));
        }
        for topic in &ha.unused {
            self.send(retained(topic.clone(), Vec::new()));
        }
        if let Some((list, ours)) = &ha.cleanup {
            // After the subscription to it (made on connect), so the last
            // run's list reaches the publisher before this one replaces it.
            let listed: Vec<&String> = ours.iter().collect();
            self.send(retained(list.clone(), serde_json::json!(listed).to_string().into_bytes()));
        }
        for label in &ha.device.labels {
            self.send(retained(self.topics.label(label), b"0".to_vec()));
            self.send(retained(super::discovery::stationary_topic(&self.topics.base, label), b"0".to_vec()));
            for zone in ha.device.zones_counting(label) {
                self.send(retained(super::discovery::zone_topic(&self.topics.base, zone, label), b"0".to_vec()));
            }
        }
        for (line, ways) in &ha.device.lines {
            for way in ways {
                self.send(retained(super::discovery::line_topic(&self.topics.base, line, way), b"0".to_vec()));
            }
        }
        let mut switches = vec![crate::switches::Switch::Detect];
        if ha.device.motion_gate {
            switches.push(crate::switches::Switch::Motion);
        }
        for switch in switches {
            let on = if ha.switches.get(switch) { "ON" } else { "OFF" };
            self.send(retained(self.topics.switch(switch, "state"), on.as_bytes().to_vec()));
        }
    }

    /// Counts per zone and label that changed with `events`, sent retained.
    fn zone_counts(&mut self, events: &[ObjectEvent]) {
        let Some(zones) = self.zones.as_mut() else { return };
        for e in events {
            if e.kind == EventKind::End {
                zones.inside.remove(&e.id);
            } else {
                zones.inside.insert(e.id, (e.class_id, e.zones.clone()));
            }
        }
        let mut now: HashMap<(String, u32), u64> = HashMap::new();
        for (class, inside) in zones.inside.values() {
            for zone in inside {
                *now.entry((zone.clone(), *class)).or_default() += 1;
            }
        }
        let keys: std::collections::BTreeSet<(String, u32)> = now.keys().chain(zones.sent.keys()).cloned().collect();
        let mut changed = Vec::new();
        for key in keys {
            let count = now.get(&key).copied().unwrap_or(0);
            if zones.sent.get(&key).copied().unwrap_or(0) != count {
                zones.sent.insert(key.clone(), count);
                changed.push((key, count));
            }
        }
        for ((zone, class), count) in changed {
            let label = self.label(class);
            self.send(Message {
                topic: super::discovery::zone_topic(&self.topics.base, &zone, &label),
                payload: count.to_string().into_bytes(),
                qos: QoS::AtLeastOnce,
                retain: true,
                keep: false,
            });
        }
    }

    /// Each crossing's line and way: its count so far, retained.
    fn line_counts(&self, events: &[ObjectEvent]) {
        for c in events.iter().flat_map(|e| &e.crossed) {
            self.send(Message {
                topic: super::discovery::line_topic(&self.topics.base, &c.line, &c.direction),
                payload: c.way_count().to_string().into_bytes(),
                qos: QoS::AtLeastOnce,
                retain: true,
                keep: false,
            });
        }
    }

    fn label(&self, class: u32) -> String {
        self.labels.get(class as usize).cloned().unwrap_or_else(|| class.to_string())
    }

    /// The figures Home Assistant's diagnostic sensors read, every
    /// [`STATS_EVERY`].
    fn stats(&mut self, r: &FrameResult<'_>) {
        if self.zones.is_none() {
            return;
        }
        let now = Instant::now();
        if self.last_stats.is_some_and(|t| now.duration_since(t) < STATS_EVERY) {
            return;
        }
        self.last_stats = Some(now);
        let payload = serde_json::json!({
            "fps": (r.fps * 10.0).round() / 10.0,
            "inference_ms": (r.latency.inference * 10.0).round() / 10.0,
        });
        self.send(Message {
            topic: self.topics.stats(),
            payload: payload.to_string().into_bytes(),
            qos: QoS::AtMostOnce,
            retain: true,
            keep: false,
        });
    }

    fn send(&self, message: Message) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.shared.overflow.fetch_add(1, Ordering::Relaxed) == 0 {
                    log::warn!("mqtt: the queue is full; dropping messages until the broker takes them");
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn events(&mut self, events: &[ObjectEvent]) {
        for e in events {
            let json = crate::records::event_json(e, &self.source, &self.labels, self.snapshots);
            self.send(Message {
                topic: self.topics.events(),
                payload: json.into_bytes(),
                qos: QoS::AtLeastOnce,
                retain: false,
                keep: true,
            });
            let count = self.counts.entry(e.class_id).or_default();
            let before = *count;
            match e.kind {
                EventKind::New => *count += 1,
                EventKind::End => *count = count.saturating_sub(1),
                EventKind::Update => {}
            }
            let count = *count;
            if count != before {
                let label = self.label(e.class_id);
                let payload = count.to_string().into_bytes();
                self.send(Message {
                    topic: self.topics.label(&label),
                    payload,
                    qos: QoS::AtLeastOnce,
                    retain: true,
                    keep: false,
                });
            }
        }
        self.zone_counts(events);
        self.line_counts(events);
        self.stationary_counts(events);
        self.snapshots(events);
    }

    /// The picture of the latest object of each label: its snapshot file
    /// when it is new, has a better view, or ends with its best. The
    /// snapshot sink writes on its own thread, so a file not there yet is
    /// looked for again on the next frames, for [`SNAPSHOT_WAIT`].
    fn snapshots(&mut self, events: &[ObjectEvent]) {
        let Some(dir) = &self.snapshot_dir else { return };
        for e in events {
            if e.kind == EventKind::Update && !e.reasons.contains(&"score") {
                continue;
            }
            let path = dir.join(crate::sink::snapshot::file_name(e));
            let until = Instant::now() + SNAPSHOT_WAIT;
            self.pending_snapshots.retain(|(_, p, _)| *p != path);
            self.pending_snapshots.push((e.class_id, path, until));
        }
        self.send_snapshots();
    }

    /// Stationary objects per label that changed with `events`, sent
    /// retained to `BASE/LABEL/stationary`.
    fn stationary_counts(&mut self, events: &[ObjectEvent]) {
        let mut touched = Vec::new();
        for e in events {
            let was = self.stationary.contains_key(&e.id);
            let is = e.stationary && e.kind != EventKind::End;
            if is {
                self.stationary.insert(e.id, e.class_id);
            } else {
                self.stationary.remove(&e.id);
            }
            if was != is {
                touched.push(e.class_id);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for class in touched {
            let count = self.stationary.values().filter(|&&c| c == class).count() as u64;
            if self.stationary_sent.insert(class, count) != Some(count) {
                let label = self.label(class);
                self.send(Message {
                    topic: super::discovery::stationary_topic(&self.topics.base, &label),
                    payload: count.to_string().into_bytes(),
                    qos: QoS::AtLeastOnce,
                    retain: true,
                    keep: false,
                });
            }
        }
    }

    /// Sends the pending snapshots whose files are there.
    fn send_snapshots(&mut self) {
        let now = Instant::now();
        let mut pending = std::mem::take(&mut self.pending_snapshots);
        pending.retain(|(class, path, until)| {
            let jpeg = match std::fs::read(path) {
                Ok(jpeg) if jpeg.len() <= MAX_SNAPSHOT => jpeg,
                Ok(jpeg) => {
                    log::debug!("mqtt: {} is {} bytes, over {MAX_SNAPSHOT}: not sent", path.display(), jpeg.len());
                    return false;
                }
                // A failing disk is the snapshot sink's to report.
                Err(_) => return now < *until,
            };
            let label = self.label(*class);
            self.send(Message {
                topic: super::discovery::snapshot_topic(&self.topics.base, &label),
                payload: jpeg,
                qos: QoS::AtLeastOnce,
                retain: true,
                keep: false,
            });
            false
        });
        self.pending_snapshots = pending;
    }
}

/// What the publisher listens to for Home Assistant.
fn inbox(ha: &HomeAssistant, topics: &Topics) -> super::publisher::Inbox {
    use crate::switches::Switch;
    let mut switches = vec![Switch::Detect];
    if ha.device.motion_gate {
        switches.push(Switch::Motion);
    }
    super::publisher::Inbox {
        switches: switches.into_iter().map(|s| (topics.switch(s, "set"), s, topics.switch(s, "state"))).collect(),
        shared_switches: Some(Arc::clone(&ha.switches)),
        ha_status: Some(format!("{}/status", ha.device.prefix)),
        cleanup: ha.cleanup.as_ref().map(|(list, ours)| super::publisher::Cleanup {
            list: list.clone(),
            prefix: ha.device.prefix.clone(),
            node: ha.device.node.clone(),
            ours: Arc::clone(ours),
        }),
    }
}

impl Sink for MqttSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.events(r.events);
        if !self.pending_snapshots.is_empty() {
            self.send_snapshots();
        }
        self.stats(r);
        if let Some(every) = self.detections_every {
            let now = Instant::now();
            let due = self.last_detections.is_none_or(|t| now.duration_since(t) >= every);
            if due && self.shared.connected.load(Ordering::Relaxed) {
                self.last_detections = Some(now);
                let payload = crate::records::frame_json(r, &self.source, &self.labels);
                self.send(Message {
                    topic: self.topics.detections(),
                    payload: payload.into_bytes(),
                    qos: QoS::AtMostOnce,
                    retain: false,
                    keep: false,
                });
            }
        }
        Ok(())
    }

    fn write_events(&mut self, events: &[ObjectEvent]) -> Result<(), SinkError> {
        self.events(events);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        // The last objects' pictures, if their files are written by now.
        self.send_snapshots();
        // Closing the queue tells the publisher to deliver what it holds,
        // say offline and disconnect.
        self.shared.finished.store(true, Ordering::Relaxed);
        self.queue = None;
        if let Some(publisher) = self.publisher.take() {
            let _ = publisher.join();
        }
        self.shared.stop.store(true, Ordering::Relaxed);
        let (delivered, dropped) =
            (self.shared.delivered.load(Ordering::Relaxed), self.shared.overflow.load(Ordering::Relaxed));
        if dropped > 0 {
            log::warn!("mqtt: {delivered} message(s) delivered to {}, {dropped} dropped (queue full)", self.url);
        } else {
            log::info!("mqtt: {delivered} message(s) delivered to {}", self.url);
        }
        Ok(())
    }
}

impl Drop for MqttSink {
    /// Without `finish` (an error elsewhere ended the run): the publisher
    /// stops without delivering what it holds, and is joined.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.queue = None;
        if let Some(publisher) = self.publisher.take() {
            let _ = publisher.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, id: u64) -> ObjectEvent {
        ObjectEvent {
            kind,
            id,
            class_id: 1,
            frame: 0,
            first_ms: 0.0,
            last_ms: 0.0,
            score: 0.9,
            top_score: 0.9,
            bbox: ssd_core::boxes::BBox::new(0.0, 0.0, 1.0, 1.0),
            zones: vec![],
            entered_zones: vec![],
            crossed: vec![],
            reasons: vec![],
            stationary: false,
            clip: None,
        }
    }

    #[test]
    fn with_no_broker_the_run_goes_on_the_queue_overflow_is_counted_and_the_end_waits_only_so_long() {
        // A port nobody listens on: connecting is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = MqttUrl::parse(&format!("mqtt://127.0.0.1:{port}/t")).unwrap();
        let options = MqttSinkOptions { queue: 4, flush: Duration::from_millis(300), ..MqttSinkOptions::default() };
        let mut sink = MqttSink::start(url, options, "cam", vec!["bg".into(), "person".into()], Duration::from_secs(3))
            .expect("an unreachable broker is no error");
        // Each new event is two messages: the event and the count.
        let news: Vec<ObjectEvent> = (1..=5).map(|id| event(EventKind::New, id)).collect();
        sink.write_events(&news).unwrap();
        assert_eq!(sink.shared.overflow.load(Ordering::Relaxed), 6);
        let started = Instant::now();
        sink.finish().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "finish waited {:?}", started.elapsed());
        assert_eq!(sink.shared.delivered.load(Ordering::Relaxed), 0);
        assert_eq!(sink.counts.get(&1), Some(&5), "five persons in view");
    }
}
