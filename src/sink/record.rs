//! `--record FILE`: the annotated video (what the window shows), or the
//! untouched frames with `--record-raw`, encoded by an ffmpeg child fed raw
//! RGB on a pipe. H.264 (libx264) where this ffmpeg has it, MPEG-4 part 2
//! otherwise.
//!
//! Each file is written under its own name in a form a crash cannot spoil:
//! MP4 and MOV fragmented (an index every keyframe, one every 2 s),
//! Matroska and AVI as they stream; a SIGKILL or power cut loses at most
//! the last seconds. A run never overwrites an earlier one's files: an
//! existing file is kept under a new name, segments continue after the
//! highest number there, and hidden `.NAME.partial` files an older version
//! left behind are renamed into place. `--record-segment SECONDS` starts a
//! new file every so often (a service running for days must not grow one
//! endless file). Frames a live
//! source dropped are filled with the previous frame, so the video keeps
//! the source's clock. An encoder that fails mid-run (a full disk) stops the
//! recording with one warning; the detections go on.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::{FrameResult, Sink, SinkError};
use crate::overlay::annotate;
use crate::source::ffmpeg::{collect_stderr, end, has_libx264, join_reader, last_line, own_child};

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
    path: PathBuf,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The thread reading ffmpeg's stderr, joined when it ends.
    reader: Option<std::thread::JoinHandle<()>>,
    frames: u64,
}

impl Encoder {
    /// Kills ffmpeg and joins its stderr reader.
    fn kill(mut self) {
        end(&mut self.child);
        join_reader(self.reader.take());
    }
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
}

/// ffmpeg's muxer for a file name's extension.
pub(crate) fn container(path: &Path) -> Option<&'static str> {
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
        let codec: &'static [&'static str] = if has_libx264(&options.program, "--record")? {
            &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
        } else {
            log::warn!("--record: this ffmpeg has no H.264 encoder (libx264); recording MPEG-4 part 2");
            &["-c:v", "mpeg4", "-q:v", "4", "-pix_fmt", "yuv420p"]
        };
        let segment = keep_earlier_runs(&options.path, options.segment_seconds.is_some(), dir)?;
        Ok(Self {
            options,
            format,
            codec,
            labels,
            canvas: Vec::new(),
            encoder: None,
            size: None,
            segment,
            last_index: None,
            broken: false,
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
        let mut cmd = Command::new(&self.options.program);
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{w}x{h}")])
            .args(["-framerate", &format!("{}", self.options.fps), "-i", "-"])
            // 4:2:0 needs even sides.
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .args(self.codec)
            // A keyframe every 2 s: what a crash can lose of a fragmented file.
            .args(["-g", &format!("{}", (self.options.fps * 2.0).round().max(1.0))])
            // Each packet to the file as it comes, not held in ffmpeg's
            // 32 KB buffer, which a crash would lose with the fragments in it.
            .args(["-flush_packets", "1"])
            .args(["-f", self.format]);
        if self.format == "mp4" || self.format == "mov" {
            // Fragmented: playable (browsers, VLC, ffprobe) up to the last
            // fragment written, where +faststart's index came only at the end.
            cmd.args(["-movflags", "+frag_keyframe+empty_moov+default_base_moof"]);
        }
        cmd.arg(&path).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        own_child(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start ffmpeg: {e}"))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let reader = child.stderr.take().and_then(|pipe| {
            let tail = Arc::clone(&stderr);
            std::thread::Builder::new().name("record-stderr".into()).spawn(move || collect_stderr(pipe, &tail, "")).ok()
        });
        let Some(stdin) = child.stdin.take() else {
            end(&mut child);
            join_reader(reader);
            return Err("ffmpeg gave no input pipe".into());
        };
        log::info!("recording to {}", path.display());
        Ok(Encoder { child, stdin, path, stderr, reader, frames: 0 })
    }

    /// Closes the current file: waits for ffmpeg and renames it into place.
    fn close(&mut self) -> Result<(), String> {
        let Some(Encoder { mut child, stdin, path, stderr, reader, frames }) = self.encoder.take() else {
            return Ok(());
        };
        drop(stdin);
        let status = child.wait().map_err(|e| e.to_string());
        join_reader(reader);
        let status = status?;
        if !status.success() {
            return Err(format!("ffmpeg failed ({status}): {}; what it wrote is in {}", said(&stderr), path.display()));
        }
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
                    // ffmpeg ended (a full disk, say): its own words say
                    // why, all read once it is reaped and its reader joined.
                    end(&mut e.child);
                    join_reader(e.reader.take());
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
        if let Some(e) = self.encoder.take() {
            e.kill();
        }
    }
}

/// Makes room for this run without losing an earlier one's recordings, and
/// returns the first segment number: hidden `.NAME.partial` files left by a
/// crash of an older version are renamed into place, an existing file of
/// the same name is kept as `NAME.earlier-<its mtime>.EXT`, and segments continue
/// after the highest number already there.
fn keep_earlier_runs(path: &Path, segmented: bool, dir: &Path) -> Result<u32, String> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let segment_of = |name: &str| -> Option<u32> {
        let number = name.strip_prefix(&format!("{stem}-"))?.strip_suffix(&format!(".{ext}"))?;
        (number.len() >= 3 && number.bytes().all(|b| b.is_ascii_digit())).then(|| number.parse().ok()).flatten()
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("--record: cannot read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut recovered = Vec::new();
    for name in &names {
        let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) else { continue };
        let ours = inner == file_name || segment_of(inner).is_some();
        if ours && !dir.join(inner).exists() && std::fs::rename(dir.join(name), dir.join(inner)).is_ok() {
            recovered.push(inner.to_owned());
        }
    }
    if !recovered.is_empty() {
        log::info!(
            "--record: an earlier run ended without closing {}: kept under {} name(s) (may end early)",
            recovered.len(),
            recovered.join(", ")
        );
    }
    if segmented {
        let names = std::fs::read_dir(dir).map_err(|e| format!("--record: cannot read {}: {e}", dir.display()))?;
        let highest = names.flatten().filter_map(|e| segment_of(&e.file_name().to_string_lossy())).max();
        if let Some(n) = highest {
            log::info!("--record: segments of an earlier run are there; this run starts at {stem}-{:03}.{ext}", n + 1);
        }
        return Ok(highest.map_or(0, |n| n.saturating_add(1)));
    }
    if path.exists() {
        let seconds = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let kept = path.with_file_name(format!("{stem}.earlier-{seconds}.{ext}"));
        std::fs::rename(path, &kept)
            .map_err(|e| format!("--record {}: cannot keep the earlier recording: {e}", path.display()))?;
        log::info!("--record: kept the earlier {} as {}", path.display(), kept.display());
    }
    Ok(0)
}

fn said(tail: &Mutex<VecDeque<String>>) -> String {
    last_line(tail).unwrap_or_else(|| "no message".into())
}

impl Sink for RecordSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
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
            annotate(&mut self.canvas, r, &self.labels, self.options.regions);
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
        if let Some(e) = self.encoder.take() {
            e.kill();
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
    fn a_run_keeps_the_recordings_of_earlier_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in
            ["door-000.mp4", "door-004.mp4", ".door-005.mp4.partial", "door-x.mp4", "door-12.mp4", "yard-009.mp4"]
        {
            std::fs::write(d.join(name), name).unwrap();
        }
        // Segments: the crashed segment 5 is put in place, this run starts at 6.
        assert_eq!(keep_earlier_runs(&d.join("door.mp4"), true, d), Ok(6));
        assert_eq!(std::fs::read_to_string(d.join("door-005.mp4")).unwrap(), ".door-005.mp4.partial");
        // One file: a crashed one is put in place, then kept aside with the
        // one already there; nothing is overwritten.
        std::fs::write(d.join("gate.mkv"), "first").unwrap();
        std::fs::write(d.join(".gate.mkv.partial"), "crashed").unwrap();
        assert_eq!(keep_earlier_runs(&d.join("gate.mkv"), false, d), Ok(0));
        assert!(!d.join("gate.mkv").exists() && d.join(".gate.mkv.partial").exists());
        let kept: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("gate.earlier-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(std::fs::read_to_string(d.join(&kept[0])).unwrap(), "first");
        // A kept file never looks like a segment.
        assert_eq!(keep_earlier_runs(&d.join("gate.mkv"), true, d), Ok(0));
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
        };
        assert_eq!(sink.segment_path(), PathBuf::from("/tmp/cam/door-007.mp4"));
    }
}
