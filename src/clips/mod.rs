//! `--clips DIR`: a video clip around each object event, from
//! `--pre-capture` seconds before its `new` to `--post-capture` seconds
//! after its `end`, cut from short rolling segments on disk (never frames
//! held in memory): the camera's own stream copied by the ffmpeg that
//! decodes it (network cameras, video files), or frames encoded by the clip
//! output itself (V4L2 cameras, Y4M, the demo; `--clips-annotated` always).
//!
//! Which clip an event names is decided where events are made
//! ([`ClipPlan`], in [`crate::events`]), so the event JSON, MQTT and the
//! events database all name the file before it is cut: objects that appear
//! while a clip is still being captured share it.

pub mod segments;
pub mod sink;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// How a camera's clips go, shared by the clip output that makes them, the
/// events that name them and `/metrics`: once clips cannot be made (the
/// buffer's encoder cannot run), events stop naming them rather than
/// promise files that never come.
#[derive(Debug)]
pub struct ClipHealth {
    making: AtomicBool,
    written: AtomicU64,
    failed: AtomicU64,
    unpromised: AtomicU64,
}

impl Default for ClipHealth {
    fn default() -> Self {
        Self {
            making: AtomicBool::new(true),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            unpromised: AtomicU64::new(0),
        }
    }
}

impl ClipHealth {
    /// Clips cannot be made from now on.
    pub fn stop_making(&self) {
        self.making.store(false, Ordering::Relaxed);
    }

    /// Whether clips can still be made.
    pub fn making(&self) -> bool {
        self.making.load(Ordering::Relaxed)
    }

    /// A clip was written.
    pub fn wrote(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// A clip events named could not be made.
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Clips written, clips named and not made, and objects told as new
    /// without a clip because clips could not be made.
    pub fn counts(&self) -> [u64; 3] {
        [&self.written, &self.failed, &self.unpromised].map(|c| c.load(Ordering::Relaxed))
    }
}

/// One clip: named after the object that opened it (its first time, whole
/// ms since the Unix epoch, and its track id, as snapshots are), so that
/// runs never overwrite each other's clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClipId {
    /// The opening object's first time (ms since the Unix epoch).
    pub start_ms: u64,
    /// Its track id.
    pub track: u64,
}

impl ClipId {
    /// The clip's file name.
    pub fn file_name(&self) -> String {
        format!("{}-{}.mp4", self.start_ms, self.track)
    }
}

/// The longest clip (ms from its opening object's first time): an object
/// that stays for hours (a parked car) would otherwise keep its clip, and
/// the buffer under it, growing. The clip output cuts a clip then as it
/// is; objects told as new after it open another.
pub const MAX_CLIP_MS: f64 = 10.0 * 60_000.0;

/// Seconds of video kept before an object's `new` and after its `end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    /// Before (`--pre-capture`, default 5 s).
    pub pre_ms: f64,
    /// After (`--post-capture`, default 5 s).
    pub post_ms: f64,
}

impl Default for Capture {
    fn default() -> Self {
        Self { pre_ms: 5_000.0, post_ms: 5_000.0 }
    }
}

/// The clip being captured: who is in it and when its last object left.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Open {
    id: ClipId,
    /// Objects in it that have not ended.
    active: u32,
    /// The latest last-seen time of the objects that ended.
    end_ms: f64,
}

/// Decides each object's clip: an object told as new while a clip is still
/// being captured (an object in it is there, or its post-capture runs)
/// joins that clip; otherwise it opens one.
#[derive(Debug, Clone)]
pub struct ClipPlan {
    capture: Capture,
    open: Option<Open>,
    health: Arc<ClipHealth>,
}

impl ClipPlan {
    /// No clip yet; clips made as `health` says.
    pub fn new(capture: Capture, health: Arc<ClipHealth>) -> Self {
        Self { capture, open: None, health }
    }

    /// The clip of an object (track `track`, first seen at `first_ms`) told
    /// as new at `now_ms`; none while clips cannot be made.
    pub fn join(&mut self, track: u64, first_ms: f64, now_ms: f64) -> Option<ClipId> {
        if !self.health.making() {
            self.health.unpromised.fetch_add(1, Ordering::Relaxed);
            self.open = None;
            return None;
        }
        Some(self.place(track, first_ms, now_ms))
    }

    fn place(&mut self, track: u64, first_ms: f64, now_ms: f64) -> ClipId {
        let post = self.capture.post_ms;
        match &mut self.open {
            Some(open)
                if (open.active > 0 || now_ms <= open.end_ms + post)
                    && now_ms < open.id.start_ms as f64 + MAX_CLIP_MS =>
            {
                open.active += 1;
                open.id
            }
            _ => {
                let id = ClipId { start_ms: first_ms.max(0.0) as u64, track };
                self.open = Some(Open { id, active: 1, end_ms: first_ms });
                id
            }
        }
    }

    /// An object of `clip`, last seen at `last_ms`, ended.
    pub fn leave(&mut self, clip: ClipId, last_ms: f64) {
        if let Some(open) = self.open.as_mut().filter(|o| o.id == clip) {
            open.active = open.active.saturating_sub(1);
            open.end_ms = open.end_ms.max(last_ms);
        }
    }
}

/// Whether a source's stream can be copied into segments as it comes
/// rather than decoded and encoded again: RTSP cameras (H.264 or H.265 in
/// practice) and video files whose first video stream ffprobe (beside
/// `ffmpeg`) names H.264 or H.265. MPEG-TS segments and MP4 clips carry
/// those two; anything else is encoded.
pub fn copyable(spec: &str, ffmpeg: &str) -> bool {
    let scheme = spec.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if crate::source::ffmpeg::is_network(spec) {
        return scheme.is_some_and(|s| s.starts_with("rtsp"));
    }
    if !crate::source::ffmpeg::is_video_file(spec) {
        return false;
    }
    let codec = crate::source::ffmpeg::ffprobe(ffmpeg, spec, "stream=codec_name");
    matches!(codec.as_deref(), Some("h264" | "hevc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_share_a_clip_while_it_is_captured_and_open_a_new_one_after_or_past_the_longest() {
        let health = Arc::new(ClipHealth::default());
        let mut plan = ClipPlan::new(Capture { pre_ms: 5_000.0, post_ms: 5_000.0 }, Arc::clone(&health));
        let a = plan.join(1, 1_000.0, 1_500.0).unwrap();
        assert_eq!(a, ClipId { start_ms: 1_000, track: 1 });
        assert_eq!(a.file_name(), "1000-1.mp4");
        // B comes while A is there.
        assert_eq!(plan.join(2, 3_000.0, 3_400.0), Some(a));
        plan.leave(a, 10_000.0);
        // A left; B is still there, so C joins whenever it comes.
        assert_eq!(plan.join(3, 30_000.0, 30_500.0), Some(a));
        plan.leave(a, 31_000.0);
        plan.leave(a, 32_000.0);
        // Everyone left at 32 s: within the 5 s post-capture D joins...
        assert_eq!(plan.join(4, 36_000.0, 36_900.0), Some(a));
        plan.leave(a, 37_000.0);
        // ...after it, E opens a clip of its own.
        let e = plan.join(5, 42_100.0, 42_100.1).unwrap();
        assert_eq!(e, ClipId { start_ms: 42_100, track: 5 });
        // Leaving a clip that is no longer open changes nothing.
        plan.leave(a, 50_000.0);
        assert_eq!(plan.join(6, 43_000.0, 43_000.0), Some(e));
        // A clip as long as clips get takes no one more, even with E there.
        let late = 42_100.0 + MAX_CLIP_MS;
        assert_eq!(plan.join(7, late, late), Some(ClipId { start_ms: late as u64, track: 7 }));
        assert_eq!(health.counts(), [0, 0, 0]);
        // Clips cannot be made any more: none is promised, each is counted.
        health.stop_making();
        assert_eq!(plan.join(8, late + 1.0, late + 1.0), None);
        assert_eq!(plan.join(9, late + 2.0, late + 2.0), None);
        assert_eq!(health.counts(), [0, 0, 2]);
    }
}
