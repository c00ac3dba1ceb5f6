//! What a broker can send ssd-cam: a switch command's payload (`ON` and
//! `OFF` in any case are read, anything else refused, never a panic) and
//! a topic checked for a stale Home Assistant config (only
//! `PREFIX/COMPONENT/NODE/OBJECT/config` of this node is one), and a run's
//! retained list of the configs it published (only this node's configs
//! not in the run's own set are ever removed; anything else names none).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::mqtt::discovery::{is_config_of, node_id, stale_configs};
use ssd_cam::switches::parse_on_off;

fuzz_target!(|data: &[u8]| {
    if let Some(on) = parse_on_off(data) {
        let text = std::str::from_utf8(data).expect("a command read is text");
        assert_eq!(text.trim().to_ascii_uppercase(), if on { "ON" } else { "OFF" });
    }
    let node = node_id("ssd-cam");
    let ours: std::collections::BTreeSet<String> =
        ["homeassistant/sensor/ssd-cam_ssd-cam/door_fps/config".to_owned()].into();
    for stale in stale_configs(data, "homeassistant", &node, &ours) {
        assert!(is_config_of(&stale, "homeassistant", &node) && !ours.contains(&stale), "{stale}");
    }
    let Ok(topic) = std::str::from_utf8(data) else { return };
    if is_config_of(topic, "homeassistant", &node) {
        let levels: Vec<&str> = topic.split('/').collect();
        assert_eq!(levels.len(), 5, "{topic}");
        assert_eq!((levels[0], levels[2], levels[4]), ("homeassistant", node.as_str(), "config"));
    }
});
