//! The Pascal VOC annotation parser on arbitrary text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ssd_core::dataset::voc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(a) = voc::parse(text, Path::new("fuzz.xml")) {
        // What parses is written back out and read again to the same boxes.
        let again = voc::parse(&voc::to_xml(&a), Path::new("again.xml")).expect("written annotation reads back");
        assert_eq!(again.objects.len(), a.objects.len());
    }
});
