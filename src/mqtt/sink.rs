//! The pipeline's side of MQTT: a bounded queue the output thread fills
//! without ever waiting, per-label counts, and the first connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use rumqttc::{LastWill, MqttOptions, QoS};

use super::publisher::{Publisher, WINDOW};
use super::topics::{topic_safe, Topics};
use super::{Message, MqttUrl, Shared, Start};
use crate::events::{Event as ObjectEvent, EventKind};
use crate::sink::{FrameResult, Sink, SinkError};

/// The most messages waiting for the broker; more are dropped and counted.
pub const QUEUE: usize = 10_000;
/// How long the end of a run waits for the broker to take what is queued.
pub const FLUSH: Duration = Duration::from_secs(5);

impl Default for MqttSinkOptions {
    fn default() -> Self {
        Self { queue: QUEUE, flush: FLUSH, ca: None, detections_hz: None, snapshots: Default::default() }
    }
}

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
    /// Objects in view per label (told as new, not yet ended).
    counts: HashMap<u32, u64>,
    detections_every: Option<Duration>,
    last_detections: Option<Instant>,
    url: MqttUrl,
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
        let topics = Topics { base: format!("{}/{}", url.prefix, topic_safe(source)) };
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
        let publisher = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || Publisher::new(mqtt, state_topic, who, publisher_shared).run(&queue_rx, &start_tx, flush))
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
        Ok(Self {
            queue: Some(queue_tx),
            queue_reader,
            shared,
            publisher: Some(publisher),
            topics,
            source: source.to_owned(),
            labels,
            snapshots: options.snapshots,
            counts: HashMap::new(),
            detections_every: options.detections_hz.map(|hz| Duration::from_secs_f64(1.0 / hz)),
            last_detections: None,
            url,
        })
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
            if *count != before {
                let label = self.labels.get(e.class_id as usize).cloned().unwrap_or_else(|| e.class_id.to_string());
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
    }
}

impl Sink for MqttSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.events(r.events);
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
