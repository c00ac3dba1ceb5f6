//! Where frames come from: the [`Source`] trait every input implements, the
//! [`Frame`] that travels down a pipeline, and their errors. Every source
//! fills an RGB8 buffer the caller hands it (and reuses), so sources allocate
//! only when the frame size changes.

/// Errors opening or reading a source. Each names the source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A kind of input this build cannot read itself, with the way to feed it.
    #[error("{what}: {hint}")]
    Unsupported {
        /// The `--source` text.
        what: String,
        /// What to do instead.
        hint: String,
    },
    /// The `--source` text matches no kind of source.
    #[error("unknown source '{0}': expected demo[:options], a video file (.mp4, .mkv, …), a network URL (rtsp://, http://, …), a .y4m file, '-' (Y4M on stdin), an image, a directory of images or a glob")]
    Unknown(String),
    /// The source names something that cannot be used.
    #[error("{what}: {message}")]
    Open {
        /// The source as given.
        what: String,
        /// Why it cannot be opened.
        message: String,
    },
    /// A Y4M stream is malformed, truncated or of an unsupported kind.
    #[error("{what}: frame {frame}: {message}")]
    Y4m {
        /// The file or "stdin".
        what: String,
        /// Index of the frame being read (0-based).
        frame: u64,
        /// What is wrong.
        message: String,
    },
    /// An I/O error while reading.
    #[error("{what}: {source}")]
    Io {
        /// The file or "stdin".
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

/// A source of RGB frames.
pub trait Source: Send {
    /// Name reported in the JSON output.
    fn name(&self) -> &str;
    /// A live source produces frames on its own clock; the pipeline drops
    /// stale ones rather than slowing it down. File sources are never dropped.
    fn is_live(&self) -> bool;
    /// Reads the next frame into `rgb` (resized to `width × height × 3`) and
    /// returns its size, or `None` at the end of the stream.
    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError>;
    /// Inputs skipped with a warning so far (undecodable images and the like).
    fn skipped(&self) -> u64 {
        0
    }
    /// For a source of files: the position (in its sorted list) and the path
    /// of the frame `next_frame` just gave, so that frame numbers stay tied
    /// to files when an unreadable one is skipped, and outputs can name them.
    fn frame_origin(&self) -> Option<(u64, std::sync::Arc<str>)> {
        None
    }
    /// Frames per second the source delivers, when it says (a video's
    /// header, a camera's mode, the demo's pace).
    fn frame_rate(&self) -> Option<f64> {
        None
    }
    /// The media time of the frame `next_frame` just gave, in milliseconds
    /// from the start of the file, for files that carry a frame rate.
    fn frame_pts_ms(&self) -> Option<f64> {
        None
    }
    /// How long the source runs, in milliseconds, when it knows (a video
    /// file's duration): a file's events are placed so that none is later
    /// than the moment it is told ([`Frame::time_ms`]).
    fn duration_ms(&self) -> Option<f64> {
        None
    }
    /// The time the pipeline's event clock gave the frame `next_frame` just
    /// gave: a source that also writes the stream elsewhere (the copy for
    /// clips) places that copy on the same clock.
    fn frame_time(&mut self, _time_ms: f64) {}
    /// Frames a live source knows it missed (a camera that stalled or was
    /// unplugged). The pipeline skips frame indices for them and counts them
    /// as dropped, so the output shows the gap.
    fn lost(&self) -> u64 {
        0
    }
}

/// One frame travelling down the pipeline.
#[derive(Debug)]
pub struct Frame {
    /// Position in the stream, counting dropped frames.
    pub index: u64,
    /// When the source delivered it (monotonic).
    pub captured_at: std::time::Instant,
    /// When the source delivered it, in milliseconds since the Unix epoch.
    pub timestamp_ms: f64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes, RGB.
    pub rgb: Vec<u8>,
    /// The file it was read from, for sources of files.
    pub file: Option<std::sync::Arc<str>>,
    /// Its media time in the file, for files with a frame rate.
    pub pts_ms: Option<f64>,
    /// The time object events follow for it (ms since the Unix epoch): the
    /// wall clock for a live source, the file's own timeline for a file
    /// (`ssd_cam::clock::EventClock`).
    pub time_ms: f64,
}

/// The most pixels a frame may have by default: 8K UHD (7680 × 4320), about
/// 100 MB as RGB.
pub const DEFAULT_MAX_PIXELS: u64 = 7680 * 4320;

static MAX_PIXELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(DEFAULT_MAX_PIXELS);

/// Sets the most pixels a source may announce (`--max-pixels`), for every
/// source opened afterwards.
pub fn set_max_pixels(pixels: u64) {
    MAX_PIXELS.store(pixels.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Whether a frame of `width × height` may be read: checked on what a
/// header announces, before any pixel memory is allocated, so that a
/// hostile or broken header costs nothing.
pub fn check_frame_size(width: u32, height: u32) -> Result<(), String> {
    let max = MAX_PIXELS.load(std::sync::atomic::Ordering::Relaxed);
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        Err(format!("frame size {width}x{height} is empty"))
    } else if pixels > max {
        Err(format!(
            "frame size {width}x{height} ({pixels} pixels) is over the limit of {max} (raise it with --max-pixels)"
        ))
    } else {
        Ok(())
    }
}
