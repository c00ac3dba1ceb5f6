//! What a broker can send ssd-cam: a switch command's payload (`ON` and
//! `OFF` in any case are read, anything else refused, never a panic) and
//! a topic checked for a stale Home Assistant config (only
//! `PREFIX/COMPONENT/NODE/OBJECT/config` of this node is one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::mqtt::discovery::{is_config_of, node_id};
use ssd_cam::switches::parse_on_off;

fuzz_target!(|data: &[u8]| {
    if let Some(on) = parse_on_off(data) {
        let text = std::str::from_utf8(data).expect("a command read is text");
        assert_eq!(text.trim().to_ascii_uppercase(), if on { "ON" } else { "OFF" });
    }
    let Ok(topic) = std::str::from_utf8(data) else { return };
    let node = node_id("ssd-cam");
    if is_config_of(topic, "homeassistant", &node) {
        let levels: Vec<&str> = topic.split('/').collect();
        assert_eq!(levels.len(), 5, "{topic}");
        assert_eq!((levels[0], levels[2], levels[4]), ("homeassistant", node.as_str(), "config"));
    }
});
