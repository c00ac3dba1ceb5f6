//! Home Assistant MQTT discovery (`--ha-discovery [PREFIX]`): each camera
//! is one Home Assistant device whose entities read the topics ssd-cam
//! publishes anyway, so one flag gives a person sensor without any YAML.
//!
//! Per camera, under `PREFIX/COMPONENT/NODE/CAMERA_THING/config` (retained,
//! sent on every connect and again when Home Assistant says `online` on
//! `PREFIX/status`):
//! - per watched label: a `binary_sensor` (occupancy: on while one is in
//!   view) and a `sensor` counting them, both reading `BASE/LABEL`, and a
//!   `sensor` counting the stationary ones (`BASE/LABEL/stationary`);
//! - per watched label with `--snapshots`: an `image` with the latest
//!   object's best picture (`BASE/LABEL/snapshot`, JPEG bytes);
//! - per zone and label it counts: a `sensor` counting them in the zone
//!   (`BASE/zones/ZONE/LABEL`);
//! - a `switch` turning detection on and off (`BASE/detect/set`, state on
//!   `BASE/detect/state`) and, under motion gating, one for the gate
//!   (`BASE/motion/set`, `BASE/motion/state`);
//! - diagnostic `sensor`s for the frames per second and the inference time
//!   (`BASE/stats`, JSON).
//!
//! Every entity is available while `BASE/state` says `online`. NODE is
//! `ssd-cam` and the `--mqtt` topic prefix, so that unique ids stay the same
//! across restarts and boards, and are as unique as the topics are.

use serde_json::{json, Value};

/// `s` as a discovery id: ASCII letters, digits, `_` and `-` (Home
/// Assistant refuses others in a discovery topic's node and object ids).
pub fn ha_id(s: &str) -> String {
    let id: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if id.is_empty() {
        "_".to_owned()
    } else {
        id
    }
}

/// The node id of a run publishing under `mqtt_prefix`.
pub fn node_id(mqtt_prefix: &str) -> String {
    ha_id(&format!("ssd-cam_{mqtt_prefix}"))
}

/// What Home Assistant is told of one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// The discovery prefix (`homeassistant`).
    pub prefix: String,
    /// [`node_id`].
    pub node: String,
    /// The camera's name (its topics' SOURCE level).
    pub camera: String,
    /// The camera's topic base, `MQTT_PREFIX/SOURCE`.
    pub base: String,
    /// The model's name.
    pub model: String,
    /// The labels it reports (each gets sensors).
    pub labels: Vec<String>,
    /// Its zones' names, each with the labels it counts (empty: all).
    pub zones: Vec<(String, Vec<String>)>,
    /// Whether it gates detection on motion (a switch for the gate).
    pub motion_gate: bool,
    /// Whether it keeps snapshots (an image entity per label).
    pub snapshots: bool,
    /// The web viewer's address, for the device page's link.
    pub viewer: Option<String>,
}

impl Device {
    /// The entities' discovery topics and configs, in a fixed order.
    pub fn configs(&self) -> Vec<(String, Value)> {
        let camera = ha_id(&self.camera);
        let mut device = json!({
            "identifiers": [format!("{}_{camera}", self.node)],
            "name": self.camera,
            "manufacturer": "ssd-cam",
            "model": format!("ssd-cam ({})", self.model),
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(url) = &self.viewer {
            device["configuration_url"] = url.clone().into();
        }
        let mut out = Vec::new();
        let mut entity = |component: &str, thing: &str, mut config: Value| {
            let object = format!("{camera}_{}", ha_id(thing));
            config["unique_id"] = format!("{}_{object}", self.node).into();
            config["availability_topic"] = format!("{}/state", self.base).into();
            config["payload_available"] = "online".into();
            config["payload_not_available"] = "offline".into();
            config["device"] = device.clone();
            config["origin"] = json!({ "name": "ssd-cam", "sw_version": env!("CARGO_PKG_VERSION") });
            out.push((format!("{}/{component}/{}/{object}/config", self.prefix, self.node), config));
        };
        let count = "{{ value | int(0) }}";
        for label in &self.labels {
            let state = format!("{}/{}", self.base, super::topic_safe(label));
            entity(
                "binary_sensor",
                &format!("{label}_occupancy"),
                json!({
                    "name": title(label),
                    "device_class": "occupancy",
                    "state_topic": state,
                    "value_template": "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
                }),
            );
            entity(
                "sensor",
                &format!("{label}_count"),
                json!({
                    "name": format!("{} count", title(label)),
                    "state_topic": state,
                    "value_template": count,
                    "state_class": "measurement",
                    "icon": "mdi:counter",
                }),
            );
            entity(
                "sensor",
                &format!("{label}_stationary"),
                json!({
                    "name": format!("{} stationary", title(label)),
                    "state_topic": stationary_topic(&self.base, label),
                    "value_template": count,
                    "state_class": "measurement",
                    "icon": "mdi:sofa",
                }),
            );
            if self.snapshots {
                entity(
                    "image",
                    &format!("{label}_snapshot"),
                    json!({
                        "name": format!("{} snapshot", title(label)),
                        "image_topic": snapshot_topic(&self.base, label),
                        "content_type": "image/jpeg",
                    }),
                );
            }
            for zone in self.zones_counting(label) {
                entity(
                    "sensor",
                    &format!("{zone}_{label}_count"),
                    json!({
                        "name": format!("{} {} count", zone, label),
                        "state_topic": zone_topic(&self.base, zone, label),
                        "value_template": count,
                        "state_class": "measurement",
                        "icon": "mdi:vector-polygon",
                    }),
                );
            }
        }
        let mut switch = |thing: &str, name: &str, icon: &str| {
            entity(
                "switch",
                thing,
                json!({
                    "name": name,
                    "command_topic": format!("{}/{thing}/set", self.base),
                    "state_topic": format!("{}/{thing}/state", self.base),
                    "payload_on": "ON",
                    "payload_off": "OFF",
                    "icon": icon,
                }),
            );
        };
        switch("detect", "Detection", "mdi:cctv");
        if self.motion_gate {
            switch("motion", "Motion gating", "mdi:motion-sensor");
        }
        let stats = format!("{}/stats", self.base);
        entity(
            "sensor",
            "fps",
            json!({
                "name": "Frames per second",
                "state_topic": stats,
                "value_template": "{{ value_json.fps }}",
                "unit_of_measurement": "fps",
                "state_class": "measurement",
                "entity_category": "diagnostic",
                "icon": "mdi:speedometer",
            }),
        );
        entity(
            "sensor",
            "inference",
            json!({
                "name": "Inference time",
                "state_topic": stats,
                "value_template": "{{ value_json.inference_ms }}",
                "unit_of_measurement": "ms",
                "device_class": "duration",
                "state_class": "measurement",
                "entity_category": "diagnostic",
            }),
        );
        out
    }

    /// The zones that count `label`.
    pub fn zones_counting<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.zones
            .iter()
            .filter(move |(_, labels)| labels.is_empty() || labels.iter().any(|l| l.eq_ignore_ascii_case(label)))
            .map(|(zone, _)| zone.as_str())
    }
}

/// The topic of the latest `label` object's snapshot (JPEG bytes).
pub fn snapshot_topic(base: &str, label: &str) -> String {
    format!("{base}/{}/snapshot", super::topic_safe(label))
}

/// The topic of the count of stationary `label` objects.
pub fn stationary_topic(base: &str, label: &str) -> String {
    format!("{base}/{}/stationary", super::topic_safe(label))
}

/// The topic of the count of `label` objects in `zone`.
pub fn zone_topic(base: &str, zone: &str, label: &str) -> String {
    format!("{base}/zones/{}/{}", super::topic_safe(zone), super::topic_safe(label))
}

/// Whether `topic` is one of `node`'s discovery configs under `prefix`
/// (`PREFIX/COMPONENT/NODE/OBJECT/config`).
pub fn is_config_of(topic: &str, prefix: &str, node: &str) -> bool {
    let Some(rest) = topic.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else { return false };
    let levels: Vec<&str> = rest.split('/').collect();
    matches!(levels.as_slice(), [_, n, _, "config"] if *n == node)
}

/// `person` -> `Person`.
fn title(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door() -> Device {
        Device {
            prefix: "homeassistant".into(),
            node: node_id("ssd-cam"),
            camera: "front door".into(),
            base: "ssd-cam/front door".into(),
            model: "person-ssdlite".into(),
            labels: vec!["person".into(), "car".into()],
            zones: vec![("porch".into(), vec!["person".into()])],
            motion_gate: true,
            snapshots: false,
            viewer: Some("http://board:8080/".into()),
        }
    }

    #[test]
    fn a_camera_is_one_device_whose_entities_read_its_topics() {
        let configs = door().configs();
        let topics: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/binary_sensor/ssd-cam_ssd-cam/front_door_person_occupancy/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_person_count/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_person_stationary/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_porch_person_count/config",
                // The porch counts persons only: no porch car count.
                "homeassistant/binary_sensor/ssd-cam_ssd-cam/front_door_car_occupancy/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_car_count/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_car_stationary/config",
                "homeassistant/switch/ssd-cam_ssd-cam/front_door_detect/config",
                "homeassistant/switch/ssd-cam_ssd-cam/front_door_motion/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_fps/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_inference/config",
            ]
        );
        let (_, occupancy) = &configs[0];
        assert_eq!(occupancy["state_topic"], "ssd-cam/front door/person");
        assert_eq!(occupancy["availability_topic"], "ssd-cam/front door/state");
        assert_eq!(occupancy["unique_id"], "ssd-cam_ssd-cam_front_door_person_occupancy");
        assert_eq!(occupancy["device"]["identifiers"][0], "ssd-cam_ssd-cam_front_door");
        assert_eq!(occupancy["device"]["configuration_url"], "http://board:8080/");
        assert_eq!(configs[2].1["state_topic"], "ssd-cam/front door/person/stationary");
        assert_eq!(configs[3].1["state_topic"], "ssd-cam/front door/zones/porch/person");
        assert_eq!(configs[7].1["command_topic"], "ssd-cam/front door/detect/set");
        // One device for all of them; every unique id once.
        let mut ids: Vec<&str> = configs.iter().map(|(_, c)| c["unique_id"].as_str().unwrap()).collect();
        assert!(configs.iter().all(|(_, c)| c["device"] == occupancy["device"]));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), configs.len());
        // No gate, no gate switch.
        let plain = Device { motion_gate: false, zones: vec![], ..door() }.configs();
        assert!(plain.iter().all(|(t, _)| !t.contains("motion") && !t.contains("porch") && !t.contains("image")));
        // With snapshots, an image per label reading the latest picture.
        let pictured = Device { snapshots: true, ..door() }.configs();
        let images: Vec<&Value> = pictured.iter().filter(|(t, _)| t.contains("/image/")).map(|(_, c)| c).collect();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0]["image_topic"], "ssd-cam/front door/person/snapshot");
        assert_eq!(images[0]["content_type"], "image/jpeg");
    }

    #[test]
    fn only_this_nodes_configs_are_recognised() {
        let node = node_id("ssd-cam");
        assert!(is_config_of("homeassistant/sensor/ssd-cam_ssd-cam/old_fps/config", "homeassistant", &node));
        assert!(!is_config_of("homeassistant/sensor/other/old_fps/config", "homeassistant", &node));
        assert!(!is_config_of("homeassistant/sensor/ssd-cam_ssd-cam/old_fps/state", "homeassistant", &node));
        assert!(!is_config_of("homeassistantx/sensor/ssd-cam_ssd-cam/a/config", "homeassistant", &node));
        assert!(!is_config_of("homeassistant/ssd-cam_ssd-cam/a/config", "homeassistant", &node));
        assert_eq!(ha_id("rtsp://x y"), "rtsp___x_y");
    }
}
