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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipPlan {
    capture: Capture,
    open: Option<Open>,
}

impl ClipPlan {
    /// No clip yet.
    pub fn new(capture: Capture) -> Self {
        Self { capture, open: None }
    }

    /// The clip of an object (track `track`, first seen at `first_ms`) told
    /// as new at `now_ms`.
    pub fn join(&mut self, track: u64, first_ms: f64, now_ms: f64) -> ClipId {
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
    let ffprobe = match ffmpeg.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/ffprobe"),
        None => "ffprobe".to_owned(),
    };
    let probed = std::process::Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", spec])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    probed.is_ok_and(|out| matches!(String::from_utf8_lossy(&out.stdout).trim(), "h264" | "hevc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_share_a_clip_while_it_is_captured_and_open_a_new_one_after_or_past_the_longest() {
        let mut plan = ClipPlan::new(Capture { pre_ms: 5_000.0, post_ms: 5_000.0 });
        let a = plan.join(1, 1_000.0, 1_500.0);
        assert_eq!(a, ClipId { start_ms: 1_000, track: 1 });
        assert_eq!(a.file_name(), "1000-1.mp4");
        // B comes while A is there.
        assert_eq!(plan.join(2, 3_000.0, 3_400.0), a);
        plan.leave(a, 10_000.0);
        // A left; B is still there, so C joins whenever it comes.
        assert_eq!(plan.join(3, 30_000.0, 30_500.0), a);
        plan.leave(a, 31_000.0);
        plan.leave(a, 32_000.0);
        // Everyone left at 32 s: within the 5 s post-capture D joins...
        assert_eq!(plan.join(4, 36_000.0, 36_900.0), a);
        plan.leave(a, 37_000.0);
        // ...after it, E opens a clip of its own.
        let e = plan.join(5, 42_100.0, 42_100.1);
        assert_eq!(e, ClipId { start_ms: 42_100, track: 5 });
        // Leaving a clip that is no longer open changes nothing.
        plan.leave(a, 50_000.0);
        assert_eq!(plan.join(6, 43_000.0, 43_000.0), e);
        // A clip as long as clips get takes no one more, even with E there.
        let late = 42_100.0 + MAX_CLIP_MS;
        assert_eq!(plan.join(7, late, late), ClipId { start_ms: late as u64, track: 7 });
    }
}
