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
//! - per counting line and way: a `sensor` counting the crossings since
//!   the run started (`BASE/lines/LINE/WAY`, also sent without discovery);
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
    /// Its counting lines' names, each with its two ways' names (left to
    /// right, right to left): a sensor per way.
    pub lines: Vec<(String, [String; 2])>,
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
        for (line, ways) in &self.lines {
            for way in ways {
                entity(
                    "sensor",
                    &format!("line_{line}_{way}"),
                    json!({
                        "name": format!("{line} {way}"),
                        "state_topic": line_topic(&self.base, line, way),
                        "value_template": count,
                        // Counts since the run started: a restart is a reset.
                        "state_class": "total_increasing",
                        "icon": "mdi:transit-transfer",
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

/// The topic of the count of crossings of counting line `line` the way
/// called `way` (`left_to_right`, or the user's name for it) since the run
/// started.
pub fn line_topic(base: &str, line: &str, way: &str) -> String {
    format!("{base}/lines/{}/{}", super::topic_safe(line), super::topic_safe(way))
}

/// Whether `topic` is one of `node`'s discovery configs under `prefix`
/// (`PREFIX/COMPONENT/NODE/OBJECT/config`).
pub fn is_config_of(topic: &str, prefix: &str, node: &str) -> bool {
    let Some(rest) = topic.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) else { return false };
    let levels: Vec<&str> = rest.split('/').collect();
    matches!(levels.as_slice(), [_, n, _, "config"] if *n == node)
}

/// Who a run is, for the list of the discovery configs it published: the
/// same on the next run of the same configuration on the same machine
/// (`/etc/machine-id`, else the host name, with the cameras file's full
/// path, or without one the cameras' names), and another for every other
/// run on the broker, so that a run removes only what it published itself.
pub fn owner_id(config: Option<&std::path::Path>, cameras: &[String]) -> String {
    let machine = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let what = match config {
        Some(path) => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()).display().to_string(),
        None => {
            let mut names = cameras.to_vec();
            names.sort();
            names.join("\n")
        }
    };
    format!("{:016x}", fnv1a(format!("{machine}\n{what}").as_bytes()))
}

/// FNV-1a, 64 bits: a stable short name for a string (never a secret).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The retained topic where run `owner` lists the discovery configs it
/// published, under the `--mqtt` topic prefix.
pub fn owned_topic(mqtt_prefix: &str, owner: &str) -> String {
    format!("{mqtt_prefix}/ssd-cam/discovery/{}", super::topic_safe(owner))
}

/// The configs a run's list names that are not in `ours` and are discovery
/// configs of `node` under `prefix` (a list is never a way to remove
/// anything else): the ones to remove. Not a JSON list of strings: none.
pub fn stale_configs(list: &[u8], prefix: &str, node: &str, ours: &std::collections::BTreeSet<String>) -> Vec<String> {
    let Ok(listed) = serde_json::from_slice::<Vec<String>>(list) else { return Vec::new() };
    listed.into_iter().filter(|t| !ours.contains(t) && is_config_of(t, prefix, node)).collect()
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
            lines: vec![],
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

    #[test]
    fn a_run_removes_only_configs_its_own_list_names() {
        let node = node_id("ssd-cam");
        let ours: std::collections::BTreeSet<String> =
            ["homeassistant/sensor/ssd-cam_ssd-cam/door_fps/config".to_owned()].into();
        let list = br#"["homeassistant/sensor/ssd-cam_ssd-cam/door_fps/config",
            "homeassistant/sensor/ssd-cam_ssd-cam/shed_fps/config",
            "homeassistant/sensor/other/shed_fps/config", "home/door/state"]"#;
        assert_eq!(
            stale_configs(list, "homeassistant", &node, &ours),
            ["homeassistant/sensor/ssd-cam_ssd-cam/shed_fps/config"]
        );
        for junk in [&b""[..], b"{}", b"[1,2]", b"\xff", b"null"] {
            assert!(stale_configs(junk, "homeassistant", &node, &ours).is_empty());
        }
    }

    #[test]
    fn a_run_s_owner_is_its_cameras_file_or_its_cameras_whatever_their_order() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (front, garage) = (names(&["frontdoor"]), names(&["garage"]));
        assert_ne!(owner_id(None, &front), owner_id(None, &garage));
        assert_eq!(owner_id(None, &names(&["a", "b"])), owner_id(None, &names(&["b", "a"])));
        let file = std::path::Path::new("/etc/ssd-cam/cameras.toml");
        assert_eq!(owner_id(Some(file), &front), owner_id(Some(file), &garage));
        assert_ne!(owner_id(Some(file), &front), owner_id(Some(std::path::Path::new("/tmp/c.toml")), &front));
        assert_eq!(owned_topic("home", "00ab"), "home/ssd-cam/discovery/00ab");
    }

    /// Issue 51, point 8: a counting line is a sensor per way, reading a
    /// retained count per way.
    #[test]
    fn a_counting_line_is_a_sensor_per_way() {
        let gate = ("gate".to_owned(), ["in".to_owned(), "out".to_owned()]);
        let configs = Device { lines: vec![gate], ..door() }.configs();
        let lines: Vec<&(String, Value)> = configs.iter().filter(|(t, _)| t.contains("_line_")).collect();
        let topics: Vec<&str> = lines.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_line_gate_in/config",
                "homeassistant/sensor/ssd-cam_ssd-cam/front_door_line_gate_out/config"
            ]
        );
        assert_eq!(lines[0].1["state_topic"], "ssd-cam/front door/lines/gate/in");
        assert_eq!(lines[1].1["state_class"], "total_increasing");
        assert_eq!(lines[1].1["name"], "gate out");
    }
}
