//! The Y4M reader on arbitrary bytes: header, FRAME markers and planes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::source::y4m::Y4mSource;
use ssd_cam::source::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(mut source) = Y4mSource::new(std::io::Cursor::new(data), "fuzz".into()) else { return };
    let mut rgb = Vec::new();
    // Every frame read must have the promised size; errors end the stream.
    while let Ok(Some((w, h))) = source.next_frame(&mut rgb) {
        assert_eq!(rgb.len(), w as usize * h as usize * 3);
    }
});
