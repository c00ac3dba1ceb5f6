//! The `--zone` and `--line` parsers on arbitrary text, and what parses put
//! to work: containment and crossing tests never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::zones::{Line, Zone};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let probe = [[0.0, 0.0], [1e30, -1e30], [-5.5, 7.25], [f32::MAX, f32::MIN]];
    if let Ok(z) = Zone::parse(text) {
        assert!(z.polygon.len() >= 3 && !z.name.is_empty());
        for p in probe {
            let _ = z.contains(p);
        }
    }
    if let Ok(l) = Line::parse(text) {
        assert!(l.a != l.b);
        for w in probe.windows(2) {
            let _ = l.crossed(w[0], w[1]);
        }
    }
});
