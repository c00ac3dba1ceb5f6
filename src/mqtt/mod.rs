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
//!
//! The module by job: [`url`] reads `--mqtt`, [`topics`] names the topics,
//! [`sink`] is the pipeline's side (the bounded queue, counts, the first
//! connection), `publisher` the network's (the connection, in-flight
//! messages, what is sent again).

pub mod discovery;
mod publisher;
pub mod sink;
pub mod topics;
pub mod url;

pub use sink::{MqttFigures, MqttSink, MqttSinkOptions, FLUSH, QUEUE};
pub use topics::topic_safe;
pub use url::MqttUrl;

use std::sync::atomic::{AtomicBool, AtomicU64};

use rumqttc::QoS;

/// One message for the broker.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) topic: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// Sent again after a reconnect until acknowledged (events). Retained
    /// values are not: the newest is sent on every connect anyway.
    pub(crate) keep: bool,
}

/// How the first connection attempt ended.
pub(crate) enum Start {
    Connected,
    Refused(String),
    Unreachable(String),
}

/// What the publisher and the connection's driver share.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) connected: AtomicBool,
    /// The run ended: deliver what is held, then leave.
    pub(crate) finished: AtomicBool,
    /// Leave now (start refused, or the sink dropped without finishing).
    pub(crate) stop: AtomicBool,
    pub(crate) overflow: AtomicU64,
    pub(crate) delivered: AtomicU64,
}
