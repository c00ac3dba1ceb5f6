//! `--record FILE`: the annotated video (what the window shows), or the
//! untouched frames with `--record-raw`, encoded by an ffmpeg child fed raw
//! RGB on a pipe. H.264 (libx264) where this ffmpeg has it, MPEG-4 part 2
//! otherwise.
//!
//! Each file is written under a temporary name beside it and renamed when
//! complete; `--record-segment SECONDS` starts a new file every so often (a
//! service running for days must not grow one endless file). Frames a live
//! source dropped are filled with the previous frame, so the video keeps
//! the source's clock. An encoder that fails mid-run (a full disk) stops the
//! recording with one warning; the detections go on.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::{FrameResult, Sink, SinkError};
use crate::overlay::{annotate, FpsMeter};
use crate::source::ffmpeg::{collect_stderr, die_with_parent, end, last_line};

/// What and how to record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOptions {
    /// The video file (`.mp4`, `.mkv`, `.mov` or `.avi`); with segments,
    /// `NAME-000.mp4`, `NAME-001.mp4`, … beside it.
    pub path: PathBuf,
    /// The untouched frames instead of the annotated ones.
    pub raw: bool,
    /// Seconds of video per file (`None`: one file).
    pub segment_seconds: Option<f64>,
    /// Frame rate of the video: the source's.
    pub fps: f64,
    /// The ffmpeg program.
    pub program: String,
    /// Draw where the model ran (`--show-regions`).
    pub regions: bool,
}

/// The longest run of dropped frames filled with copies (2 s at 30 fps):
/// beyond it a gap stays a jump in the video rather than a frozen minute.
const MAX_FILL: u64 = 60;

/// One ffmpeg encoding one file.
struct Encoder {
    child: Child,
    stdin: ChildStdin,
    partial: PathBuf,
    path: PathBuf,
    stderr: Arc<Mutex<VecDeque<String>>>,
    frames: u64,
}

/// Encodes frames into video files.
pub struct RecordSink {
    options: RecordOptions,
    format: &'static str,
    codec: &'static [&'static str],
    labels: Vec<String>,
    canvas: Vec<u8>,
    encoder: Option<Encoder>,
    size: Option<(u32, u32)>,
    segment: u32,
    last_index: Option<u64>,
    broken: bool,
    fps: FpsMeter,
}

/// ffmpeg's muxer for a file name's extension.
fn container(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "mp4" | "m4v" => Some("mp4"),
        "mkv" => Some("matroska"),
        "mov" => Some("mov"),
        "avi" => Some("avi"),
        _ => None,
    }
}

impl RecordSink {
    /// Checks the file name, that ffmpeg runs and which encoder it has, now:
    /// a recording that cannot happen is an error at start, not a warning
    /// after the run. `labels` name the class axis for the overlay.
    pub fn new(options: RecordOptions, labels: Vec<String>) -> Result<Self, String> {
        let format = container(&options.path).ok_or_else(|| {
            format!("--record {}: the file must end in .mp4, .mkv, .mov or .avi", options.path.display())
        })?;
        let dir = options.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(format!("--record {}: the folder {} does not exist", options.path.display(), dir.display()));
        }
        let encoders = Command::new(&options.program)
            .args(["-hide_banner", "-encoders"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|_| {
                format!("--record needs ffmpeg, and '{}' is not installed: sudo apt install ffmpeg", options.program)
            })?;
        let listed = String::from_utf8_lossy(&encoders.stdout);
        let codec: &'static [&'static str] = if listed.contains(" libx264 ") {
            &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
        } else {
            log::warn!("--record: this ffmpeg has no H.264 encoder (libx264); recording MPEG-4 part 2");
            &["-c:v", "mpeg4", "-q:v", "4", "-pix_fmt", "yuv420p"]
        };
        Ok(Self {
            options,
            format,
            codec,
            labels,
            canvas: Vec::new(),
            encoder: None,
            size: None,
            segment: 0,
            last_index: None,
            broken: false,
            fps: FpsMeter::default(),
        })
    }

    /// The name of the current file: the path itself, or with segments
    /// `NAME-NNN.EXT`.
    fn segment_path(&self) -> PathBuf {
        let p = &self.options.path;
        if self.options.segment_seconds.is_none() {
            return p.clone();
        }
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = p.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        p.with_file_name(format!("{stem}-{:03}.{ext}", self.segment))
    }

    fn start(&mut self, (w, h): (u32, u32)) -> Result<Encoder, String> {
        let path = self.segment_path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = path.with_file_name(format!(".{name}.partial"));
        let mut cmd = Command::new(&self.options.program);
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{w}x{h}")])
            .args(["-framerate", &format!("{}", self.options.fps), "-i", "-"])
            // 4:2:0 needs even sides.
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .args(self.codec)
            .args(["-f", self.format]);
        if self.format == "mp4" || self.format == "mov" {
            cmd.args(["-movflags", "+faststart"]);
        }
        cmd.arg(&partial).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start ffmpeg: {e}"))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            let _ =
                std::thread::Builder::new().name("record-stderr".into()).spawn(move || collect_stderr(pipe, &tail, ""));
        }
        let stdin = child.stdin.take().ok_or("ffmpeg gave no input pipe")?;
        log::info!("recording to {}", path.display());
        Ok(Encoder { child, stdin, partial, path, stderr, frames: 0 })
    }

    /// Closes the current file: waits for ffmpeg and renames it into place.
    fn close(&mut self) -> Result<(), String> {
        let Some(Encoder { mut child, stdin, partial, path, stderr, frames }) = self.encoder.take() else {
            return Ok(());
        };
        drop(stdin);
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!(
                "ffmpeg failed ({status}): {}; what it wrote is in {}",
                said(&stderr),
                partial.display()
            ));
        }
        std::fs::rename(&partial, &path).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
        log::info!("recorded {frames} frames to {}", path.display());
        Ok(())
    }

    /// Writes `times` copies of the canvas, rolling over to a new segment
    /// when the current one is full.
    fn encode(&mut self, size: (u32, u32), times: u64) -> Result<(), String> {
        for _ in 0..times {
            if let (Some(e), Some(seconds)) = (&self.encoder, self.options.segment_seconds) {
                if e.frames as f64 >= seconds * self.options.fps {
                    self.close()?;
                    self.segment += 1;
                }
            }
            if self.encoder.is_none() {
                let encoder = self.start(size)?;
                self.encoder = Some(encoder);
            }
            if let Some(e) = self.encoder.as_mut() {
                if let Err(err) = e.stdin.write_all(&self.canvas) {
                    // ffmpeg ended: its own words say why (a full disk).
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    return Err(format!("{err}: {}", said(&e.stderr)));
                }
                e.frames += 1;
            }
        }
        Ok(())
    }

    fn fail(&mut self, why: &str) {
        log::warn!("--record: stopped recording ({why}); the detections go on");
        self.broken = true;
        if let Some(mut e) = self.encoder.take() {
            end(&mut e.child);
        }
    }
}

fn said(tail: &Mutex<VecDeque<String>>) -> String {
    last_line(tail).unwrap_or_else(|| "no message".into())
}

impl Sink for RecordSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        let fps = self.fps.tick(std::time::Instant::now());
        if self.broken {
            return Ok(());
        }
        let size = (r.frame.width, r.frame.height);
        if self.size.is_some_and(|s| s != size) {
            // A new size needs a new encoder: start the next segment.
            if let Err(e) = self.close() {
                self.fail(&e);
                return Ok(());
            }
            self.segment += 1;
        }
        self.size = Some(size);
        // Frames the source dropped since the last one: repeat that one.
        let missed = self.last_index.map_or(0, |last| r.frame.index.saturating_sub(last + 1)).min(MAX_FILL);
        self.last_index = Some(r.frame.index);
        if missed > 0 && !self.canvas.is_empty() {
            if let Err(e) = self.encode(size, missed) {
                self.fail(&e);
                return Ok(());
            }
        }
        if self.options.raw {
            self.canvas.clear();
            self.canvas.extend_from_slice(&r.frame.rgb);
        } else {
            annotate(&mut self.canvas, r, &self.labels, fps, self.options.regions);
        }
        if let Err(e) = self.encode(size, 1) {
            self.fail(&e);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if let Err(e) = self.close() {
            log::warn!("--record: {e}");
        }
        Ok(())
    }
}

impl Drop for RecordSink {
    fn drop(&mut self) {
        if let Some(mut e) = self.encoder.take() {
            end(&mut e.child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_video_containers_are_recorded() {
        assert_eq!(container(Path::new("a/out.MP4")), Some("mp4"));
        assert_eq!(container(Path::new("out.mkv")), Some("matroska"));
        assert_eq!(container(Path::new("out.gif")), None);
        let options = RecordOptions {
            path: "out.webp".into(),
            raw: false,
            segment_seconds: None,
            fps: 30.0,
            program: "ffmpeg".into(),
            regions: false,
        };
        let e = RecordSink::new(options, vec![]).err().unwrap_or_default();
        assert!(e.contains(".mp4, .mkv, .mov or .avi"), "{e}");
    }

    #[test]
    fn segments_are_numbered_beside_the_path() {
        let options = RecordOptions {
            path: "/tmp/cam/door.mp4".into(),
            raw: false,
            segment_seconds: Some(60.0),
            fps: 30.0,
            program: "/nonexistent/ffmpeg".into(),
            regions: false,
        };
        // No ffmpeg: an error at start that says how to install it.
        let e = RecordSink::new(options.clone(), vec![]).err().unwrap_or_default();
        assert!(e.contains("/tmp/cam") || e.contains("sudo apt install ffmpeg"), "{e}");
        let sink = RecordSink {
            options,
            format: "mp4",
            codec: &[],
            labels: vec![],
            canvas: vec![],
            encoder: None,
            size: None,
            segment: 7,
            last_index: None,
            broken: false,
            fps: FpsMeter::default(),
        };
        assert_eq!(sink.segment_path(), PathBuf::from("/tmp/cam/door-007.mp4"));
    }
}
