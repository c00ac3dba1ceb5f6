//! `--mqtt URL`: object events, per-label counts and an online/offline
//! state to an MQTT broker, through rumqttc.
//!
//! The pipeline never waits for the broker. Events go into a bounded queue
//! (a full queue drops and counts); a publisher thread takes them only
//! while connected and keeps every QoS 1 message until the broker's PUBACK,
//! so a message the broker did not acknowledge before a disconnect is sent
//! again after the reconnect, in order (at least once: a lost PUBACK can
//! make a duplicate). Sessions are clean and the publisher alone decides
//! what is sent again, so a broker that restarted and forgot everything
//! loses nothing either. Retained values (the counts, `online`) are sent
//! again on every connect.
//!
//! Topics, under `PREFIX/SOURCE/` ([`topic_safe`] names):
//! `events` (QoS 1, every event, the `--events` JSON), `LABEL` (retained
//! count of objects of that label in view), `state` (retained `online`,
//! and `offline` as the last will or at a clean end), `detections` (with
//! `--mqtt-detections-hz`: QoS 0, while connected).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};

use crate::events::{Event as ObjectEvent, EventKind};
use crate::sink::{FrameResult, Sink, SinkError};

/// A parsed `--mqtt` URL. Its `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttUrl {
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883, or 8883 with TLS, when the URL has none).
    pub port: u16,
    /// User name and password, if given.
    pub login: Option<(String, String)>,
    /// Topic prefix (`ssd-cam` when the URL has no path).
    pub prefix: String,
}

impl std::fmt::Debug for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let user = self.login.as_ref().map(|(u, _)| format!("{u}:***@")).unwrap_or_default();
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "{scheme}://{user}{host}:{}/{}", self.port, self.prefix)
    }
}

impl MqttUrl {
    /// Parses `mqtt[s]://[user[:password]@]host[:port][/prefix]`. Errors
    /// never repeat the password.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let safe = crate::source::redact(spec);
        let bad = |why: &str| format!("'{safe}': {why} (expected mqtt://[user:pass@]host[:port]/prefix)");
        let (scheme, rest) = spec.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let tls = match scheme {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(bad("the scheme must be mqtt or mqtts")),
        };
        let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let (login, hostport) = match authority.rsplit_once('@') {
            Some((info, hostport)) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                if user.is_empty() {
                    return Err(bad("empty user name"));
                }
                (Some((user.to_owned(), pass.to_owned())), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| bad("text after ]"))?),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let bracketed = hostport.starts_with('[');
        if host.is_empty()
            || host.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '[' | ']'))
            || (!bracketed && host.contains(':'))
        {
            return Err(bad("no valid host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| bad("the port must be 1 to 65535"))?,
            None if tls => 8883,
            None => 1883,
        };
        let prefix = prefix.trim_end_matches('/');
        if prefix.contains(['+', '#', '\0']) || prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
            return Err(bad("the topic prefix must not hold +, # or empty levels"));
        }
        let prefix = if prefix.is_empty() { "ssd-cam".to_owned() } else { prefix.to_owned() };
        Ok(Self { tls, host: host.to_owned(), port, login, prefix })
    }
}

/// `name` as one topic level: `/`, `+`, `#` and control characters become
/// `_`, so a source or label can never add levels or wildcards.
pub fn topic_safe(name: &str) -> String {
    let safe: String =
        name.chars().map(|c| if matches!(c, '/' | '+' | '#') || c.is_control() { '_' } else { c }).collect();
    if safe.is_empty() {
        "_".to_owned()
    } else {
        safe
    }
}

/// The most messages waiting for the broker; more are dropped and counted.
pub const QUEUE: usize = 10_000;
/// The most QoS 1 messages sent and not yet acknowledged.
const WINDOW: usize = 100;
/// How long the end of a run waits for the broker to take what is queued.
pub const FLUSH: Duration = Duration::from_secs(5);

impl Default for MqttSinkOptions {
    fn default() -> Self {
        Self { queue: QUEUE, flush: FLUSH, ca: None, detections_hz: None, snapshots: false }
    }
}

/// One message for the broker.
#[derive(Debug, Clone)]
struct Message {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
    /// Sent again after a reconnect until acknowledged (events). Retained
    /// values are not: the newest is sent on every connect anyway.
    keep: bool,
}

/// How the first connection attempt ended.
enum Start {
    Connected,
    Refused(String),
    Unreachable(String),
}

/// What the publisher and the connection's driver share.
#[derive(Default)]
struct Shared {
    connected: AtomicBool,
    /// The run ended: deliver what is held, then leave.
    finished: AtomicBool,
    /// Leave now (start refused, or the sink dropped without finishing).
    stop: AtomicBool,
    overflow: AtomicU64,
    delivered: AtomicU64,
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
    snapshots: bool,
    /// Objects in view per label (told as new, not yet ended).
    counts: HashMap<u32, u64>,
    detections_every: Option<Duration>,
    last_detections: Option<Instant>,
    url: MqttUrl,
}

#[derive(Debug, Clone)]
struct Topics {
    base: String,
}

impl Topics {
    fn state(&self) -> String {
        format!("{}/state", self.base)
    }
    fn events(&self) -> String {
        format!("{}/events", self.base)
    }
    fn detections(&self) -> String {
        format!("{}/detections", self.base)
    }
    fn label(&self, label: &str) -> String {
        format!("{}/{}", self.base, topic_safe(label))
    }
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
    /// Events name their snapshot file.
    pub snapshots: bool,
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
        let client_id = format!("ssd-cam-{}-{}-{sink}", std::process::id(), now_ms() as u64 % 1_000_000);
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
                tls_config(options.ca.as_deref())?,
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
            let json = crate::sink::json::event_json(e, &self.source, &self.labels, self.snapshots);
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
                let payload = crate::sink::json::frame_json(r, &self.source, &self.labels);
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
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// What a connection's driver saw, tagged with the connection's number.
enum Net {
    ConnAck,
    Sent(u16),
    Acked(u16),
    Lost(String),
    Refused(String),
}

/// Runs one connection's rumqttc event loop, forwarding what matters, until
/// it fails (the publisher makes a new connection: nothing queued in a dead
/// one can be sent late or out of order).
fn drive(generation: u64, mut connection: rumqttc::Connection, net: &Sender<(u64, Net)>) {
    for notification in connection.iter() {
        let n = match notification {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Net::ConnAck,
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Net::Sent(pkid),
            Ok(Event::Incoming(Packet::PubAck(ack))) => Net::Acked(ack.pkid),
            Ok(_) => continue,
            Err(ConnectionError::ConnectionRefused(
                code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
            )) => {
                let why = if code == ConnectReturnCode::NotAuthorized {
                    "the broker refused the login: not authorized"
                } else {
                    "the broker refused the login: bad user name or password"
                };
                let _ = net.send((generation, Net::Refused(why.to_owned())));
                return;
            }
            Err(e) => {
                let _ = net.send((generation, Net::Lost(e.to_string())));
                return;
            }
        };
        if net.send((generation, n)).is_err() {
            return;
        }
    }
}

/// A message handed to rumqttc and not yet acknowledged.
struct Flight {
    message: Message,
    pkid: Option<u16>,
}

/// Decides what goes to the broker and when; owns the connection.
struct Publisher {
    options: MqttOptions,
    client: Option<Client>,
    generation: u64,
    state_topic: String,
    who: String,
    shared: Arc<Shared>,
    connected: bool,
    ever_connected: bool,
    flight: VecDeque<Flight>,
    /// Kept messages to send again after a reconnect, oldest first.
    again: VecDeque<Message>,
    /// The newest value of each retained topic.
    retained: BTreeMap<String, Vec<u8>>,
    backoff: Duration,
    reconnect_at: Option<Instant>,
}

impl Publisher {
    fn new(options: MqttOptions, state_topic: String, who: String, shared: Arc<Shared>) -> Self {
        Self {
            options,
            client: None,
            generation: 0,
            state_topic,
            who,
            shared,
            connected: false,
            ever_connected: false,
            flight: VecDeque::new(),
            again: VecDeque::new(),
            retained: BTreeMap::new(),
            backoff: Duration::from_millis(250),
            reconnect_at: Some(Instant::now()),
        }
    }

    /// A new connection (and client) with its own driver thread.
    fn connect(&mut self, net: &Sender<(u64, Net)>) {
        self.reconnect_at = None;
        self.generation += 1;
        // Room for the whole window, so that handing rumqttc a message
        // never blocks.
        let (client, connection) = Client::new(self.options.clone(), 2 * WINDOW + 16);
        let (generation, net) = (self.generation, net.clone());
        let spawned =
            std::thread::Builder::new().name("mqtt-net".into()).spawn(move || drive(generation, connection, &net));
        if spawned.is_err() {
            self.lost("cannot start a thread".into());
            return;
        }
        self.client = Some(client);
    }

    /// The connection failed or could not be made: keep what must be sent
    /// again and try later, backing off from 0.25 s to 8 s.
    fn lost(&mut self, why: String) {
        if self.connected {
            log::warn!("mqtt: lost {} ({why}); reconnecting, events wait in the queue", self.who);
        } else {
            log::debug!("mqtt: cannot connect to {}: {why}", self.who);
        }
        self.connected = false;
        self.shared.connected.store(false, Ordering::Relaxed);
        self.client = None;
        let mut again: VecDeque<Message> = self.flight.drain(..).map(|f| f.message).filter(|m| m.keep).collect();
        again.append(&mut self.again);
        self.again = again;
        self.reconnect_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(8));
    }

    fn publish(&mut self, message: Message) {
        if message.retain {
            self.retained.insert(message.topic.clone(), message.payload.clone());
        }
        let sent = self.client.as_ref().is_some_and(|c| {
            c.try_publish(message.topic.clone(), message.qos, message.retain, message.payload.clone()).is_ok()
        });
        if sent {
            self.flight.push_back(Flight { message, pkid: None });
        } else if message.keep {
            self.again.push_back(message);
        }
    }

    fn connected(&mut self) {
        self.connected = true;
        self.backoff = Duration::from_millis(250);
        self.shared.connected.store(true, Ordering::Relaxed);
        if self.ever_connected {
            log::info!("mqtt: reconnected to {}; sending {} held event(s) first", self.who, self.again.len());
        }
        self.ever_connected = true;
        let retained: Vec<_> = self
            .retained
            .iter()
            .filter(|(t, _)| **t != self.state_topic)
            .map(|(t, p)| (t.clone(), p.clone()))
            .collect();
        self.publish(state_message(&self.state_topic, b"online"));
        for (topic, payload) in retained {
            self.publish(Message { topic, payload, qos: QoS::AtLeastOnce, retain: true, keep: false });
        }
        for message in std::mem::take(&mut self.again) {
            self.publish(message);
        }
    }

    /// Messages still owed to the broker (besides the queue).
    fn held(&self) -> usize {
        self.again.len() + self.flight.iter().filter(|f| f.message.keep).count()
    }

    fn run(mut self, queue: &Receiver<Message>, start: &Sender<Start>, flush: Duration) {
        let (net_tx, net) = crossbeam_channel::unbounded();
        let mut queue_closed = false;
        let mut closing: Option<Instant> = None;
        let mut said_offline = false;
        loop {
            if self.reconnect_at.is_some_and(|t| Instant::now() >= t) {
                self.connect(&net_tx);
            }
            let room = self.connected && self.flight.len() < WINDOW && !queue_closed;
            let mut select = crossbeam_channel::Select::new();
            let net_index = select.recv(&net);
            if room {
                select.recv(queue);
            }
            let nap = if closing.is_some() || self.reconnect_at.is_some() { 50 } else { 1000 };
            match select.select_timeout(Duration::from_millis(nap)) {
                Ok(op) if op.index() == net_index => {
                    let Ok((generation, n)) = op.recv(&net) else { return };
                    if generation == self.generation && !self.on_net(n, start) {
                        return;
                    }
                }
                Ok(op) => match op.recv(queue) {
                    Ok(message) => self.publish(message),
                    Err(_) => queue_closed = true,
                },
                Err(_) => {}
            }
            if self.shared.stop.load(Ordering::Relaxed) && closing.is_none() {
                return;
            }
            if queue_closed || self.shared.finished.load(Ordering::Relaxed) {
                closing.get_or_insert_with(|| Instant::now() + flush);
            }
            let Some(end) = closing else { continue };
            // The run ended. Once everything is delivered, say offline (a
            // clean disconnect fires no last will) and leave.
            if queue_closed && self.connected && self.again.is_empty() && self.flight.is_empty() {
                if said_offline {
                    if let Some(c) = &self.client {
                        let _ = c.try_disconnect();
                    }
                    return;
                }
                said_offline = true;
                self.publish(Message { keep: true, ..state_message(&self.state_topic, b"offline") });
            }
            if Instant::now() >= end {
                let held = self.held() + queue.len();
                if held > 0 {
                    log::warn!(
                        "mqtt: {held} event(s) not delivered: {} did not take them within {:.1} s of the end",
                        self.who,
                        flush.as_secs_f64()
                    );
                }
                return;
            }
        }
    }

    /// Handles news from the current connection; false when the broker
    /// refused the login and there is no point going on.
    fn on_net(&mut self, n: Net, start: &Sender<Start>) -> bool {
        match n {
            Net::ConnAck => {
                let _ = start.try_send(Start::Connected);
                self.connected();
            }
            Net::Sent(pkid) => {
                // rumqttc sends in the order it was handed messages.
                if let Some(i) = self.flight.iter().position(|f| f.pkid.is_none()) {
                    if self.flight[i].message.qos == QoS::AtMostOnce {
                        self.flight.remove(i);
                    } else {
                        self.flight[i].pkid = Some(pkid);
                    }
                }
            }
            Net::Acked(pkid) => {
                if let Some(i) = self.flight.iter().position(|f| f.pkid == Some(pkid)) {
                    if self.flight.remove(i).is_some_and(|f| f.message.keep) {
                        self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Net::Lost(why) => {
                if !self.ever_connected {
                    let _ = start.try_send(Start::Unreachable(why.clone()));
                }
                self.lost(why);
            }
            Net::Refused(why) => {
                if self.ever_connected {
                    log::error!("mqtt: {}: {why}; no more events go to it", self.who);
                } else {
                    let _ = start.try_send(Start::Refused(why));
                }
                self.shared.connected.store(false, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}

fn state_message(topic: &str, payload: &[u8]) -> Message {
    Message { topic: topic.to_owned(), payload: payload.to_vec(), qos: QoS::AtLeastOnce, retain: true, keep: false }
}

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// TLS with ring and the given CA (PEM), or the system's roots.
fn tls_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| format!("--mqtt-ca {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("--mqtt-ca {}: no PEM certificate in it", path.display()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| format!("--mqtt-ca {}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("mqtts: no system CA certificates found; give the broker's CA with --mqtt-ca FILE".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("mqtts: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_hide_the_password() {
        let u = MqttUrl::parse("mqtt://cam:s3cret@broker.lan:1884/home/cams").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port, u.prefix.as_str()), (false, "broker.lan", 1884, "home/cams"));
        assert_eq!(u.login, Some(("cam".into(), "s3cret".into())));
        assert_eq!(u.to_string(), "mqtt://cam:***@broker.lan:1884/home/cams");
        assert!(!format!("{u:?}").contains("s3cret"));
        let u = MqttUrl::parse("mqtts://10.0.0.2").unwrap();
        assert_eq!((u.tls, u.port, u.prefix.as_str(), u.login), (true, 8883, "ssd-cam", None));
        let u = MqttUrl::parse("mqtt://[::1]:1883/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1883));
    }

    #[test]
    fn bad_urls_are_one_line_errors_without_the_password() {
        for bad in [
            "broker.lan",
            "http://broker.lan",
            "mqtt://",
            "mqtt://u:pw@",
            "mqtt://host:0",
            "mqtt://host:99999",
            "mqtt://host/a/+/b",
            "mqtt://host/a//b",
            "mqtt://:pw@host",
            "mqtt://a@b:]:1",
            "mqtt://a:b:1",
        ] {
            let e = MqttUrl::parse(bad).expect_err(bad);
            assert!(!e.contains('\n') && e.contains("mqtt://"), "{e}");
        }
        let e = MqttUrl::parse("mqtt://u:hunter2@host:x/p").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

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

    #[test]
    fn names_become_single_topic_levels() {
        assert_eq!(topic_safe("rtsp://cam/1+#"), "rtsp:__cam_1__");
        assert_eq!(topic_safe("door.mp4"), "door.mp4");
        assert_eq!(topic_safe(""), "_");
    }
}
