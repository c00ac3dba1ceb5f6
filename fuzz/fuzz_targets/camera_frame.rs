//! Camera frame conversion (YUYV, NV12) on arbitrary bytes and sizes: a
//! torn or mis-sized frame is an error, never a panic, and a converted
//! frame has the promised size (the AVX2 YUYV kernel and its tail included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::source::convert::{nv12_to_rgb, yuyv_to_rgb, Bt601};

fuzz_target!(|data: &[u8]| {
    let [a, b, c, range, frame @ ..] = data else { return };
    // Up to 2048x64: every run length and tail without huge allocations.
    let (width, height) = (u32::from(u16::from_le_bytes([*a, *b]) % 2049), u32::from(*c % 65));
    let m = Bt601::new(range & 1 == 1);
    let mut rgb = Vec::new();
    if yuyv_to_rgb(frame, width, height, m, &mut rgb).is_ok() {
        assert_eq!(rgb.len(), width as usize * height as usize * 3);
    }
    if nv12_to_rgb(frame, width, height, m, &mut rgb).is_ok() {
        assert_eq!(rgb.len(), width as usize * height as usize * 3);
    }
});
