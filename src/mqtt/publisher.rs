//! The network's side of MQTT: one rumqttc connection at a time, the QoS 1
//! messages in flight until their PUBACK, and what is sent again after a
//! reconnect.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS};

use super::{Message, Shared, Start};

/// The most QoS 1 messages sent and not yet acknowledged.
pub(crate) const WINDOW: usize = 100;

/// What a connection's driver saw, tagged with the connection's number.
enum Net {
    ConnAck,
    Sent(u16),
    Acked(u16),
    Lost(String),
    Refused(String),
    /// A message on a topic subscribed to: its topic and payload.
    Incoming(String, Vec<u8>),
}

/// What the publisher listens to, and what it does with it: commands to
/// the camera's switches, Home Assistant's `online`, and discovery configs
/// of cameras no longer configured.
#[derive(Default)]
pub(crate) struct Inbox {
    /// `BASE/detect/set` and `BASE/motion/set`, with the switches they turn
    /// and the topic each state is echoed on.
    pub(crate) switches: Vec<(String, crate::switches::Switch, String)>,
    pub(crate) shared_switches: Option<Arc<crate::switches::Switches>>,
    /// Home Assistant's status topic: `online` there asks for everything again.
    pub(crate) ha_status: Option<String>,
    /// The run's own list of the configs it published before.
    pub(crate) cleanup: Option<Cleanup>,
}

/// Removing the discovery configs this run published before and no longer
/// has, and only those: another run on the broker (a neighbour's camera
/// under the same prefix) keeps its own.
#[derive(Debug, Clone)]
pub(crate) struct Cleanup {
    /// The retained topic listing what this run published
    /// ([`super::discovery::owned_topic`]): subscribed to before the new
    /// list is published, so the broker sends the last run's list first.
    pub(crate) list: String,
    /// The discovery prefix and node the configs are under.
    pub(crate) prefix: String,
    pub(crate) node: String,
    /// Every config of this run's cameras.
    pub(crate) ours: Arc<std::collections::BTreeSet<String>>,
}

impl Inbox {
    /// The topic filters to subscribe to on every connect.
    fn filters(&self) -> Vec<String> {
        let mut filters: Vec<String> = self.switches.iter().map(|(set, _, _)| set.clone()).collect();
        filters.extend(self.ha_status.iter().cloned());
        filters.extend(self.cleanup.iter().map(|c| c.list.clone()));
        filters
    }
}

/// The longest command payload read; longer ones are ignored.
const MAX_COMMAND: usize = 64;

/// Runs one connection's rumqttc event loop, forwarding what matters, until
/// it fails (the publisher makes a new connection: nothing queued in a dead
/// one can be sent late or out of order).
fn drive(generation: u64, mut connection: rumqttc::Connection, net: &Sender<(u64, Net)>) {
    for notification in connection.iter() {
        let n = match notification {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Net::ConnAck,
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Net::Sent(pkid),
            Ok(Event::Incoming(Packet::PubAck(ack))) => Net::Acked(ack.pkid),
            Ok(Event::Incoming(Packet::Publish(p))) => Net::Incoming(p.topic, p.payload.to_vec()),
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
pub(crate) struct Publisher {
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
    backoff: crate::net::backoff::Backoff,
    reconnect_at: Option<Instant>,
    /// The current connection's driver thread.
    driver: Option<std::thread::JoinHandle<()>>,
    inbox: Inbox,
}

impl Publisher {
    pub(crate) fn new(options: MqttOptions, state_topic: String, who: String, shared: Arc<Shared>) -> Self {
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
            backoff: crate::net::backoff::Backoff::new(Duration::from_millis(250), Duration::from_secs(8)),
            reconnect_at: Some(Instant::now()),
            driver: None,
            inbox: Inbox::default(),
        }
    }

    /// Listens to `inbox`'s topics.
    pub(crate) fn with_inbox(mut self, inbox: Inbox) -> Self {
        self.inbox = inbox;
        self
    }

    /// Drops the connection and joins its driver thread, which ends once
    /// its connection fails or sees the client gone. A driver stuck in the
    /// network longer than `patience` is left to end by itself (it holds
    /// nothing but its socket) with a warning, rather than holding up the
    /// exit or the next connection.
    fn end_driver(&mut self, patience: Duration) {
        self.client = None;
        let Some(driver) = self.driver.take() else { return };
        let until = Instant::now() + patience;
        while !driver.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if driver.is_finished() {
            let _ = driver.join();
        } else {
            log::warn!("mqtt: the connection to {} did not close within {patience:?}", self.who);
        }
    }

    /// A new connection (and client) with its own driver thread.
    fn connect(&mut self, net: &Sender<(u64, Net)>) {
        self.reconnect_at = None;
        // The previous driver ended when its connection failed: one driver
        // thread at a time, however many reconnects.
        self.end_driver(Duration::from_secs(1));
        self.generation += 1;
        // Room for the whole window, so that handing rumqttc a message
        // never blocks.
        let (client, connection) = Client::new(self.options.clone(), 2 * WINDOW + 16);
        let (generation, net) = (self.generation, net.clone());
        match std::thread::Builder::new().name("mqtt-net".into()).spawn(move || drive(generation, connection, &net)) {
            Ok(driver) => {
                self.driver = Some(driver);
                self.client = Some(client);
            }
            Err(_) => self.lost("cannot start a thread".into()),
        }
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
        self.reconnect_at = Some(Instant::now() + self.backoff.next_wait());
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
        self.backoff.reset();
        self.shared.connected.store(true, Ordering::Relaxed);
        if self.ever_connected {
            log::info!("mqtt: reconnected to {}; sending {} held event(s) first", self.who, self.again.len());
        }
        self.ever_connected = true;
        if let Some(client) = &self.client {
            for filter in self.inbox.filters() {
                if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                    log::warn!("mqtt: cannot subscribe to {filter}: {e}");
                }
            }
        }
        self.send_retained();
        for message in std::mem::take(&mut self.again) {
            self.publish(message);
        }
    }

    /// `online` and every retained value, newest of each topic.
    fn send_retained(&mut self) {
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
    }

    /// A message on a subscribed topic: a switch's command, Home
    /// Assistant's status, or a discovery config to check.
    fn incoming(&mut self, topic: &str, payload: &[u8]) {
        if let Some((_, switch, state)) = self.inbox.switches.iter().find(|(set, _, _)| set == topic) {
            let (switch, state) = (*switch, state.clone());
            let on = (payload.len() <= MAX_COMMAND).then(|| crate::switches::parse_on_off(payload)).flatten();
            let Some(on) = on else {
                log::warn!("mqtt: {topic}: expected ON or OFF; ignored");
                return;
            };
            let Some(switches) = &self.inbox.shared_switches else { return };
            if switches.set(switch, on) {
                log::info!("mqtt: {} turned {} ({topic})", switch.name(), if on { "on" } else { "off" });
            }
            self.publish(state_message(&state, if on { b"ON" } else { b"OFF" }));
            return;
        }
        if self.inbox.ha_status.as_deref() == Some(topic) {
            if payload == b"online" {
                log::info!("mqtt: Home Assistant is online; sending the discovery configs and states again");
                self.send_retained();
            }
            return;
        }
        let Some(c) = self.inbox.cleanup.as_ref().filter(|c| c.list == topic) else { return };
        for stale in super::discovery::stale_configs(payload, &c.prefix, &c.node, &c.ours) {
            log::info!("mqtt: removing {stale} from Home Assistant: this run published it before and no longer has it");
            self.publish(state_message(&stale, b""));
        }
    }

    /// Messages still owed to the broker (besides the queue).
    fn held(&self) -> usize {
        self.again.len() + self.flight.iter().filter(|f| f.message.keep).count()
    }

    /// Publishes what comes on `queue` until the run ends, then closes the
    /// connection and joins its thread.
    pub(crate) fn run(mut self, queue: &Receiver<Message>, start: &Sender<Start>, flush: Duration) {
        self.serve(queue, start, flush);
        self.end_driver(Duration::from_secs(2));
    }

    fn serve(&mut self, queue: &Receiver<Message>, start: &Sender<Start>, flush: Duration) {
        // Bounded: a driver that outpaces this loop waits rather than
        // queueing without limit.
        let (net_tx, net) = crossbeam_channel::bounded(4 * WINDOW);
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
            Net::Incoming(topic, payload) => self.incoming(&topic, &payload),
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

pub(crate) fn state_message(topic: &str, payload: &[u8]) -> Message {
    Message { topic: topic.to_owned(), payload: payload.to_vec(), qos: QoS::AtLeastOnce, retain: true, keep: false }
}
