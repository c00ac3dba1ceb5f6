//! What ffmpeg writes that ssd-cam reads as data: a frame time line of the
//! stream copy's metadata filter (`frame:N pts:P pts_time:T`: a number and
//! a finite time, or nothing) and a line of a segment list (`NAME,START,END`:
//! a plain file name and an ordered pair of times, or nothing). Never a
//! panic on any line, however damaged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::clips::segments::parse_list_line;
use ssd_cam::source::ffmpeg::parse_frame_time;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Some((_, t)) = parse_frame_time(line) {
        assert!(t.is_finite(), "{line}");
        assert!(line.starts_with("frame:"), "{line}");
    }
    if let Some((name, start, end)) = parse_list_line(line) {
        assert!(!name.is_empty() && !name.contains('/') && name != "..", "{line}");
        assert!(start.is_finite() && end.is_finite() && 0.0 <= start && start <= end, "{line}");
    }
});
