//! Where frames come from. Every source fills an RGB8 buffer the pipeline
//! hands it (and reuses), so sources allocate only when the frame size changes.

pub mod camera;
pub mod convert;
pub mod demo;
pub mod ffmpeg;
#[cfg(feature = "camera")]
pub mod v4l;
pub mod y4m;

use std::path::{Path, PathBuf};

pub use ssd_runtime::images;
pub use ssd_runtime::source::{Frame, Source, SourceError};

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
    check(spec)?;
    if ffmpeg::is_network(spec) || ffmpeg::is_video_file(spec) {
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
    Err(SourceError::Unknown(crate::secrets::redact(spec)))
}

/// What opening `spec` refuses before reading anything (a kind this build
/// cannot read, a file or folder that is not there, a demo spec that does
/// not parse), so that `--check-config` refuses it too.
pub fn check(spec: &str) -> Result<(), SourceError> {
    if let Some(hint) = unsupported(spec) {
        return Err(SourceError::Unsupported { what: crate::secrets::redact(spec), hint });
    }
    if ffmpeg::is_network(spec) || spec == "-" || has_glob_chars(spec) {
        return Ok(());
    }
    if spec == "demo" || spec.starts_with("demo:") {
        return demo::DemoSource::from_spec(spec).map(drop);
    }
    let path = Path::new(spec);
    let file = ffmpeg::is_video_file(spec) || spec.to_ascii_lowercase().ends_with(".y4m");
    if file && !path.is_file() {
        return Err(SourceError::Open { what: spec.into(), message: "no such file".into() });
    }
    if path.exists() {
        return Ok(());
    }
    if path.extension().is_some() || spec.contains('/') {
        return Err(SourceError::Open {
            what: crate::secrets::redact(spec),
            message: "no such file or directory".into(),
        });
    }
    Err(SourceError::Unknown(crate::secrets::redact(spec)))
}
