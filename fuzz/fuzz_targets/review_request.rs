//! What the review side of the web server reads from a request: the
//! `/api/events` query string and a clip's `Range` header, and a clip's
//! file name from the path; and the segment list ffmpeg writes for clips.
//! Nothing panics; a range stays inside the file and within one part; only
//! names the clip output writes are served; a query's filters are names
//! that cannot leave a folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_cam::clips::segments::parse_list_line;
use ssd_cam::web::review::{is_clip_name, parse_query, parse_range, Part, MAX_PART};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let len = u64::from(data.first().copied().unwrap_or(0)) << (data.len() % 40);
    if let Part::Range(start, end) = parse_range(&text, len) {
        assert!(start <= end && end < len && end - start < MAX_PART, "{text:?} of {len}: {start}-{end}");
    }
    if let Ok(q) = parse_query(&text) {
        for name in [q.camera, q.label].into_iter().flatten() {
            assert!(!name.contains('/') && !name.contains("..") || name.chars().all(|c| c == '.'), "{name:?}");
        }
        assert!(q.limit <= ssd_cam::store::MAX_LIMIT);
    }
    if is_clip_name(&text) {
        assert!(!text.contains('/') && !text.starts_with('.'), "{text:?}");
    }
    for line in text.lines() {
        if let Some((name, start, end)) = parse_list_line(line) {
            assert!(!name.contains('/') && name != ".." && start <= end, "{line:?}");
        }
    }
});
