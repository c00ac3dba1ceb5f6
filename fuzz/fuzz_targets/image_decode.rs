//! The image source's decode path (JPEG, PNG, BMP, PNM by content).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::source::images::decode_image;

fuzz_target!(|data: &[u8]| {
    let mut rgb = Vec::new();
    if let Ok((w, h)) = decode_image(std::io::Cursor::new(data), &mut rgb) {
        assert_eq!(rgb.len(), w as usize * h as usize * 3);
    }
});
