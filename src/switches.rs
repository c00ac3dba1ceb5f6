//! A camera's run-time switches: detection on or off, motion gating on or
//! off. Turned by MQTT commands (Home Assistant's switches) and read by the
//! capture stage for every frame; with detection off the camera keeps
//! streaming to the viewer and recordings, and the model does not run.

use std::sync::atomic::{AtomicBool, Ordering};

/// One camera's switches, shared between the MQTT publisher and the
/// pipeline; both start on.
#[derive(Debug)]
pub struct Switches {
    detect: AtomicBool,
    motion: AtomicBool,
}

impl Default for Switches {
    fn default() -> Self {
        Self { detect: AtomicBool::new(true), motion: AtomicBool::new(true) }
    }
}

/// Which switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// The model runs.
    Detect,
    /// Motion decides where the model runs (else the whole frame, every frame).
    Motion,
}

impl Switch {
    /// Its name in topics (`BASE/detect/set`).
    pub fn name(self) -> &'static str {
        match self {
            Switch::Detect => "detect",
            Switch::Motion => "motion",
        }
    }
}

impl Switches {
    /// Whether `switch` is on.
    pub fn get(&self, switch: Switch) -> bool {
        self.flag(switch).load(Ordering::Relaxed)
    }

    /// Turns `switch` on or off; whether that changed it.
    pub fn set(&self, switch: Switch, on: bool) -> bool {
        self.flag(switch).swap(on, Ordering::Relaxed) != on
    }

    fn flag(&self, switch: Switch) -> &AtomicBool {
        match switch {
            Switch::Detect => &self.detect,
            Switch::Motion => &self.motion,
        }
    }
}

/// A command's payload: `ON` or `OFF` (any case, spaces around ignored).
pub fn parse_on_off(payload: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if text.eq_ignore_ascii_case("on") {
        Some(true)
    } else if text.eq_ignore_ascii_case("off") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_start_on_and_say_when_they_change() {
        let s = Switches::default();
        assert!(s.get(Switch::Detect) && s.get(Switch::Motion));
        assert!(s.set(Switch::Detect, false));
        assert!(!s.set(Switch::Detect, false));
        assert!(!s.get(Switch::Detect) && s.get(Switch::Motion));
        assert_eq!(parse_on_off(b" on\n"), Some(true));
        assert_eq!(parse_on_off(b"OFF"), Some(false));
        assert_eq!(parse_on_off(b"1"), None);
        assert_eq!(parse_on_off(&[0xff, 0xfe]), None);
    }
}
