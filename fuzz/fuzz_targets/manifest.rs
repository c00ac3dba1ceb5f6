//! Manifest parsing and validation on arbitrary text; a manifest that
//! validates must also give a prior table without panicking.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssd_core::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = Manifest::from_json(text, Path::new("fuzz.json")) {
        let _ = ssd_cam::baked_priors::priors_for(&m.priors);
    }
});
