//! Where frames come from. Every source fills an RGB8 buffer the pipeline
//! hands it (and reuses), so sources allocate only when the frame size changes.

pub mod camera;
pub mod convert;
pub mod demo;
pub mod ffmpeg;
pub mod images;
#[cfg(feature = "camera")]
pub mod v4l;
pub mod y4m;

use std::path::{Path, PathBuf};

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
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Inputs that are not sources at all, with a one-line way to the right one.
fn unsupported(spec: &str) -> Option<String> {
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("/dev/video") || lower.starts_with("/dev/v4l/") {
        return Some(format!("this is a camera: use --device {spec}"));
    }
    None
}

/// Opens a `--source` specification, video files and network streams with
/// ffmpeg's default options.
pub fn open(spec: &str) -> Result<Box<dyn Source>, SourceError> {
    open_with(spec, ffmpeg::FfmpegOptions::default(), std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))
}

/// Opens a `--source` specification; video files and network streams run
/// through ffmpeg with `options`, and `stop` interrupts their reconnects.
pub fn open_with(
    spec: &str,
    options: ffmpeg::FfmpegOptions,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<Box<dyn Source>, SourceError> {
    if let Some(hint) = unsupported(spec) {
        return Err(SourceError::Unsupported { what: crate::source::redact(spec), hint });
    }
    if ffmpeg::is_network(spec) {
        return Ok(Box::new(ffmpeg::FfmpegSource::open(spec, options, stop)?));
    }
    if ffmpeg::is_video_file(spec) {
        if !Path::new(spec).is_file() {
            return Err(SourceError::Open { what: spec.into(), message: "no such file".into() });
        }
        return Ok(Box::new(ffmpeg::FfmpegSource::open(spec, options, stop)?));
    }
    if spec == "-" {
        return Ok(Box::new(y4m::Y4mSource::new(std::io::BufReader::new(std::io::stdin()), "stdin".into())?));
    }
    if spec == "demo" || spec.starts_with("demo:") {
        return Ok(Box::new(demo::DemoSource::from_spec(spec)?));
    }
    let path = Path::new(spec);
    if spec.to_ascii_lowercase().ends_with(".y4m") {
        let file =
            std::fs::File::open(path).map_err(|e| SourceError::Open { what: spec.into(), message: e.to_string() })?;
        return Ok(Box::new(y4m::Y4mSource::new(std::io::BufReader::new(file), spec.into())?));
    }
    if path.is_dir() {
        return Ok(Box::new(images::ImageSource::from_dir(path)?));
    }
    if has_glob_chars(spec) {
        return Ok(Box::new(images::ImageSource::from_glob(spec)?));
    }
    if path.is_file() && images::is_image_path(path) {
        return Ok(Box::new(images::ImageSource::from_files(spec.into(), vec![PathBuf::from(spec)])));
    }
    if !path.exists() && (path.extension().is_some() || spec.contains('/')) {
        return Err(SourceError::Open { what: spec.into(), message: "no such file or directory".into() });
    }
    Err(SourceError::Unknown(spec.into()))
}

/// `spec` with any password in a URL replaced by `***`, for messages.
pub fn redact(spec: &str) -> String {
    match userinfo(spec) {
        Some((scheme, info, after)) => {
            let user = info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{after}")
        }
        None => spec.to_owned(),
    }
}

/// A URL cut around its `user[:password]@` part: the scheme, that part
/// (without the `@`) and what follows it. `None` when it has none.
pub(crate) fn userinfo(spec: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = spec.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..host_end].rfind('@')?;
    Some((scheme, &rest[..at], &rest[at + 1..]))
}
