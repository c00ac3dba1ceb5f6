//! The COCO instances reader on arbitrary text, skipping and failing on bad
//! annotations.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssd_core::dataset::coco;
use ssd_core::dataset::voc::OnBadAnnotation;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for on_bad in [OnBadAnnotation::Skip, OnBadAnnotation::Fail] {
        let _ = coco::parse(text, Path::new("fuzz.json"), Path::new("images"), on_bad);
    }
});
