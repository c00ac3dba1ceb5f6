//! The clip output: follows the events' clips ([`super::ClipPlan`]), keeps
//! the segments that may still be needed and deletes the rest, and cuts
//! each clip once its post-capture has passed: the segments that cover it
//! joined by ffmpeg's concat demuxer without re-encoding, into an MP4 with
//! its index first (`+faststart`, so a browser starts playing at once),
//! written under a hidden name and renamed into place (a crash never
//! leaves half a clip under the real name).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use super::segments::{Listed, RunFiles, SegmentFeed};
use super::{Capture, ClipId, MAX_CLIP_MS};
use crate::events::{Event, EventKind};
use crate::sink::{FrameResult, Sink, SinkError};
use crate::source::ffmpeg::{end, has_libx264, own_child};

/// Segment length the clip output's own encoder cuts at (seconds), with a
/// keyframe at each: a clip starts at most this much before its pre-capture.
pub const ENCODED_SEGMENT_S: f64 = 0.5;

/// Segments kept beyond the pre-capture while no clip is open (ms): an
/// object confirmed late (a filter's threshold, a required zone) still gets
/// its pre-roll.
const SLACK_MS: f64 = 10_000.0;

/// How long frames may come while the source's copy finishes no segment
/// before the clip output stops waiting for it and encodes the frames
/// itself: cameras send a keyframe every few seconds, and a segment ends
/// only at one.
const COPY_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest run of dropped frames repeated into an encoded buffer.
const MAX_FILL: u64 = 60;

/// Where a camera's segments come from.
pub enum Segments {
    /// The source's ffmpeg copies the stream into them.
    Copied(SegmentFeed),
    /// The clip output encodes the frames itself.
    Encoded {
        /// The buffer.
        feed: SegmentFeed,
        /// Draw the boxes (`--clips-annotated`).
        annotated: bool,
        /// Frames per second of the source (30 when it does not say).
        fps: f64,
    },
}

/// What the clip output needs.
pub struct ClipOptions {
    /// Where clips go.
    pub dir: PathBuf,
    /// Pre- and post-capture.
    pub capture: Capture,
    /// The segments.
    pub segments: Segments,
    /// The ffmpeg program.
    pub program: String,
    /// The source's frame rate, if it says.
    pub rate: Option<f64>,
    /// Shared with the events and /metrics.
    pub health: std::sync::Arc<super::ClipHealth>,
}

/// One segment on the event clock.
#[derive(Debug, Clone)]
struct Segment {
    path: PathBuf,
    start_ms: f64,
    end_ms: f64,
    /// A copied segment's run and its times on the run's timeline (s):
    /// placed again as the run's place on the event clock is refined.
    copied: Option<(u32, f64, f64)>,
}

/// A clip being captured.
#[derive(Debug, Clone)]
struct Window {
    start_ms: f64,
    end_ms: f64,
    active: HashSet<u64>,
}

/// The ffmpeg encoding frames into the buffer.
struct Encoder {
    child: Child,
    stdin: ChildStdin,
    run: u32,
    size: (u32, u32),
    frames: u64,
}

/// A clip being written by ffmpeg.
struct Cut {
    child: Child,
    partial: PathBuf,
    path: PathBuf,
    list: PathBuf,
    /// Its first segment's start: no segment from there on goes while
    /// ffmpeg reads them.
    from_ms: f64,
}

/// Cuts clips around object events.
pub struct ClipSink {
    options: ClipOptions,
    labels: Vec<String>,
    now_ms: f64,
    segments: VecDeque<Segment>,
    windows: BTreeMap<ClipId, Window>,
    encoder: Option<Encoder>,
    /// Per encoder run: (frame number, event time) of the real frames
    /// written, which place its segments on the event clock.
    timelines: std::collections::HashMap<u32, VecDeque<(u64, f64)>>,
    codec: &'static [&'static str],
    canvas: Vec<u8>,
    last_index: Option<u64>,
    cuts: Vec<Cut>,
    broken: bool,
    /// Whether it needs the frames' pixels (it encodes).
    pixels: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// When the segment list was last read.
    polled: Option<std::time::Instant>,
    /// When the last segment came (or the first frame, before any).
    fed: Option<std::time::Instant>,
}

impl ClipSink {
    /// Checks the clips folder and, for encoded segments, that ffmpeg runs
    /// and which encoder it has, now: clips that cannot be are an error at
    /// start.
    pub fn new(options: ClipOptions, labels: Vec<String>) -> Result<Self, String> {
        std::fs::create_dir_all(&options.dir)
            .map_err(|e| format!("--clips {}: cannot create the folder: {e}", options.dir.display()))?;
        let codec: &'static [&'static str] = if has_libx264(&options.program, "--clips")? {
            // ultrafast: the buffer is encoded all the time, events or not,
            // and a board's CPU is for detection.
            &["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p"]
        } else {
            if matches!(options.segments, Segments::Encoded { .. }) {
                log::warn!("--clips: this ffmpeg has no H.264 encoder (libx264); clips are MPEG-4 part 2, which browsers do not play");
            }
            &["-c:v", "mpeg4", "-q:v", "4", "-pix_fmt", "yuv420p"]
        };
        let encodes = matches!(options.segments, Segments::Encoded { .. });
        let pixels = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(encodes));
        Ok(Self {
            options,
            labels,
            now_ms: 0.0,
            segments: VecDeque::new(),
            windows: BTreeMap::new(),
            encoder: None,
            timelines: std::collections::HashMap::new(),
            codec,
            canvas: Vec::new(),
            last_index: None,
            cuts: Vec::new(),
            broken: false,
            pixels,
            polled: None,
            fed: None,
        })
    }

    /// Set while it needs the frames' pixels: an offloading wrapper
    /// copies them only then ([`crate::sink::offload::Offloaded::with_pixels`]).
    pub fn pixels(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        std::sync::Arc::clone(&self.pixels)
    }

    fn feed(&self) -> &SegmentFeed {
        match &self.options.segments {
            Segments::Copied(feed) | Segments::Encoded { feed, .. } => feed,
        }
    }

    /// Follows the clips the events name.
    fn follow(&mut self, events: &[Event]) {
        let capture = self.options.capture;
        for e in events {
            let Some(clip) = e.clip else { continue };
            match e.kind {
                EventKind::New => {
                    let w = self.windows.entry(clip).or_insert_with(|| Window {
                        start_ms: e.first_ms - capture.pre_ms,
                        end_ms: e.last_ms + capture.post_ms,
                        active: HashSet::new(),
                    });
                    w.start_ms = w.start_ms.min(e.first_ms - capture.pre_ms);
                    w.active.insert(e.id);
                }
                EventKind::End => {
                    if let Some(w) = self.windows.get_mut(&clip) {
                        w.active.remove(&e.id);
                        w.end_ms = w.end_ms.max(e.last_ms + capture.post_ms);
                    }
                }
                EventKind::Update => {}
            }
        }
    }

    /// Takes in the segments ffmpeg finished, and places the copied ones
    /// where their runs are now known to be.
    fn take_segments(&mut self) {
        let listed = self.feed().poll();
        if !listed.is_empty() || self.fed.is_none() {
            self.fed = Some(std::time::Instant::now());
        }
        // The copied segments already here, where their runs now are (the
        // new ones are placed so as they come).
        let feed = self.feed().clone();
        for s in &mut self.segments {
            let Some((run, start_s, end_s)) = s.copied else { continue };
            if let (Some(start_ms), Some(end_ms)) =
                (feed.time_ms(run, start_s * 1000.0), feed.time_ms(run, end_s * 1000.0))
            {
                (s.start_ms, s.end_ms) = (start_ms, end_ms);
            }
        }
        for Listed { path, run, start_s, end_s } in listed {
            let (times, copied) = match &self.options.segments {
                Segments::Copied(feed) => (
                    feed.time_ms(run, start_s * 1000.0).zip(feed.time_ms(run, end_s * 1000.0)),
                    Some((run, start_s, end_s)),
                ),
                Segments::Encoded { fps, .. } => {
                    let times = self.timelines.get(&run).filter(|t| !t.is_empty()).map(|times| {
                        let at = |s: f64| time_of(times, (s * fps).round() as u64, 1000.0 / fps);
                        (at(start_s), at(end_s))
                    });
                    (times, None)
                }
            };
            log::trace!("segment {} of run {run}: {start_s}..{end_s} s, at {times:?}", path.display());
            match times {
                Some((start_ms, end_ms)) => self.segments.push_back(Segment { path, start_ms, end_ms, copied }),
                // A run whose timeline is unknown (it ended before a frame
                // came through) cannot be placed: its segments go.
                None => drop(std::fs::remove_file(&path)),
            }
        }
    }

    /// Cuts the clips whose post-capture has passed (all of them when the
    /// run `ends`) and deletes the segments no clip can need.
    fn cut_due(&mut self, ends: bool) {
        let covered = self.segments.back().map_or(f64::NEG_INFINITY, |s| s.end_ms);
        let due: Vec<ClipId> = self
            .windows
            .iter()
            .filter(|(id, w)| {
                let over = w.active.is_empty() && self.now_ms >= w.end_ms && covered >= w.end_ms;
                ends || over || self.now_ms >= id.start_ms as f64 + MAX_CLIP_MS
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(mut w) = self.windows.remove(&id) {
                if !w.active.is_empty() {
                    // Cut short (the run ended, or the clip is as long as
                    // clips get): up to now.
                    w.end_ms = self.now_ms;
                }
                self.cut(id, &w);
            }
        }
        let keep_from = self
            .windows
            .values()
            .map(|w| w.start_ms)
            .chain(self.cuts.iter().map(|c| c.from_ms))
            .fold(self.now_ms - self.options.capture.pre_ms - SLACK_MS, f64::min);
        while self.segments.front().is_some_and(|s| s.end_ms < keep_from) {
            if let Some(s) = self.segments.pop_front() {
                let _ = std::fs::remove_file(&s.path);
            }
        }
        // The frame times the kept segments may still ask for.
        for times in self.timelines.values_mut() {
            while times.len() > 1 && times.get(1).is_some_and(|t| t.1 < keep_from) {
                times.pop_front();
            }
        }
        let current = self.encoder.as_ref().map(|e| e.run);
        self.timelines.retain(|run, times| Some(*run) == current || times.back().is_some_and(|t| t.1 >= keep_from));
    }

    /// Starts ffmpeg joining the segments that cover `w` into the clip.
    fn cut(&mut self, id: ClipId, w: &Window) {
        let path = self.options.dir.join(id.file_name());
        let fps = self.options.rate.filter(|r| r.is_finite() && *r > 0.0).unwrap_or(30.0);
        let Some((chosen_from, list)) = concat_list(&self.segments, w, 1000.0 / fps) else {
            self.fail_clip(&path, "no video was buffered for it");
            return;
        };
        log::debug!("clip {}: {:.0}..{:.0} ms from:\n{list}", id.file_name(), w.start_ms, w.end_ms);
        let list_path = self.feed().dir().join(format!("cut-{}.txt", id.file_name()));
        let partial = self.options.dir.join(format!(".{}.partial", id.file_name()));
        if let Err(e) = std::fs::write(&list_path, list) {
            self.fail_clip(&path, &e.to_string());
            return;
        }
        // What ffmpeg says goes to a file beside the list (a pipe nobody
        // reads could fill and hang it), read if it fails.
        let said = match std::fs::File::create(list_path.with_extension("log")) {
            Ok(file) => Stdio::from(file),
            Err(_) => Stdio::null(),
        };
        let mut cmd = Command::new(&self.options.program);
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i"])
            .arg(&list_path)
            .args(["-map", "0:v", "-c", "copy", "-movflags", "+faststart", "-f", "mp4"])
            .arg(&partial)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(said);
        own_child(&mut cmd);
        match cmd.spawn() {
            Ok(child) => self.cuts.push(Cut { child, partial, path, list: list_path, from_ms: chosen_from }),
            Err(e) => self.fail_clip(&path, &format!("cannot start ffmpeg: {e}")),
        }
    }

    /// Renames the clips ffmpeg finished into place; `wait`: waits for all.
    fn reap(&mut self, wait: bool) {
        let mut i = 0;
        while i < self.cuts.len() {
            let status = if wait { self.cuts[i].child.wait().map(Some) } else { self.cuts[i].child.try_wait() };
            match status {
                Ok(None) => i += 1,
                Ok(Some(status)) => {
                    let cut = self.cuts.swap_remove(i);
                    let log = cut.list.with_extension("log");
                    let said = std::fs::read_to_string(&log).unwrap_or_default();
                    let _ = std::fs::remove_file(&cut.list);
                    let _ = std::fs::remove_file(&log);
                    if !status.success() {
                        let _ = std::fs::remove_file(&cut.partial);
                        let first = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
                        self.fail_clip(&cut.path, &format!("ffmpeg failed ({status}): {first}"));
                    } else if let Err(e) = std::fs::rename(&cut.partial, &cut.path) {
                        self.fail_clip(&cut.path, &e.to_string());
                    } else {
                        self.options.health.wrote();
                        log::debug!("clip {}", cut.path.display());
                    }
                }
                Err(e) => {
                    let cut = self.cuts.swap_remove(i);
                    self.fail_clip(&cut.path, &e.to_string());
                }
            }
        }
    }

    fn fail_clip(&mut self, path: &Path, why: &str) {
        let [_, failed, _] = self.options.health.counts();
        if failed == 0 {
            log::warn!("--clips: {}: {why}; detection output continues (reported once)", path.display());
        }
        self.options.health.failed();
    }

    /// Feeds the frame to the buffer's encoder (encoded segments only).
    fn encode(&mut self, r: &FrameResult<'_>) {
        let Segments::Encoded { feed, annotated, fps } = &self.options.segments else { return };
        let (feed, annotated, fps) = (feed.clone(), *annotated, *fps);
        if self.broken {
            return;
        }
        let size = (r.frame.width, r.frame.height);
        if r.frame.rgb.len() != size.0 as usize * size.1 as usize * 3 {
            // Sent without its pixels (before the switch to encoding).
            return;
        }
        if self.encoder.as_ref().is_some_and(|e| e.size != size) {
            // A new size needs a new encoder (and run).
            self.close_encoder();
        }
        if self.encoder.is_none() {
            match start_encoder(&self.options.program, self.codec, feed.start_run(), size, fps) {
                Ok(e) => self.encoder = Some(e),
                Err(why) => {
                    log::warn!("--clips: cannot encode the buffer ({why}); no clips from now on, detections go on");
                    self.broken = true;
                    self.options.health.stop_making();
                    return;
                }
            }
        }
        let missed = self.last_index.map_or(0, |last| r.frame.index.saturating_sub(last + 1)).min(MAX_FILL);
        self.last_index = Some(r.frame.index);
        if annotated {
            crate::overlay::annotate(&mut self.canvas, r, &self.labels, false);
        } else {
            self.canvas.clear();
            self.canvas.extend_from_slice(&r.frame.rgb);
        }
        let Some(e) = self.encoder.as_mut() else { return };
        self.timelines.entry(e.run).or_default().push_back((e.frames + missed, self.now_ms));
        for _ in 0..=missed {
            if e.stdin.write_all(&self.canvas).is_err() {
                log::warn!("--clips: the buffer's encoder ended; no clips from now on, detections go on");
                self.broken = true;
                self.options.health.stop_making();
                return;
            }
            e.frames += 1;
        }
    }

    /// Ends the encoder, letting it finish its last segment.
    fn close_encoder(&mut self) {
        if let Some(Encoder { mut child, stdin, .. }) = self.encoder.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The concat list of the segments that cover `w`: from the last one that
/// starts at or before its start (a segment opens with a keyframe) to the
/// first that reaches its end, that one trimmed to the end (frames of
/// `frame_ms`); and where the first starts. `None` when nothing is
/// buffered.
///
/// The trim is the concat demuxer's `outpoint`, a decoding time on the
/// segment's own timestamps: segments are written with their first packet's
/// decoding time at 0 (`-reset_timestamps`, `mpegts_copyts`), so a frame
/// shown at the window's end, decoded as much before its showing as the
/// segment's first frame is, falls before an outpoint half a frame past it.
fn concat_list(segments: &VecDeque<Segment>, w: &Window, frame_ms: f64) -> Option<(f64, String)> {
    let first = segments.iter().rposition(|s| s.start_ms <= w.start_ms).unwrap_or(0);
    let last = segments.iter().position(|s| s.end_ms >= w.end_ms).or(segments.len().checked_sub(1))?;
    let chosen: Vec<&Segment> = segments.range(first..=last.max(first)).collect();
    let mut list = String::from("ffconcat version 1.0\n");
    for (i, s) in chosen.iter().enumerate() {
        // Names only: the concat demuxer reads them beside the list.
        let name = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        list.push_str(&format!("file '{}'\n", name.replace('\'', "'\\''")));
        if i + 1 == chosen.len() && w.end_ms < s.end_ms {
            let at = (w.end_ms - s.start_ms + frame_ms / 2.0) / 1000.0;
            list.push_str(&format!("outpoint {:.4}\n", at.max(0.0)));
        }
    }
    Some((chosen.first()?.start_ms, list))
}

/// The event time of encoded frame `n`: the last real frame at or before
/// it, plus the frames repeated since.
fn time_of(times: &VecDeque<(u64, f64)>, n: u64, frame_ms: f64) -> f64 {
    let i = times.partition_point(|t| t.0 <= n);
    match i.checked_sub(1).and_then(|i| times.get(i)) {
        Some(&(at, ms)) => ms + (n - at) as f64 * frame_ms,
        None => times.front().map_or(0.0, |&(at, ms)| ms - (at - n) as f64 * frame_ms),
    }
}

/// Starts an ffmpeg encoding raw RGB frames of `size` into run `files`'
/// segments, a keyframe at each segment.
fn start_encoder(
    program: &str,
    codec: &[&str],
    files: RunFiles,
    size: (u32, u32),
    fps: f64,
) -> Result<Encoder, String> {
    let (w, h) = size;
    let mut cmd = Command::new(program);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{w}x{h}")])
        .args(["-framerate", &format!("{fps}"), "-i", "-"])
        .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
        .args(codec)
        .args(["-force_key_frames", &format!("expr:gte(t,n_forced*{ENCODED_SEGMENT_S})")])
        .args(["-f", "segment", "-segment_time", &format!("{ENCODED_SEGMENT_S}"), "-reset_timestamps", "1"])
        .args(crate::clips::segments::SEGMENT_FORMAT)
        .args(["-segment_list_type", "csv", "-segment_list"])
        .arg(&files.list)
        .arg(&files.pattern)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    own_child(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start ffmpeg: {e}"))?;
    let Some(stdin) = child.stdin.take() else {
        end(&mut child);
        return Err("ffmpeg gave no input pipe".into());
    };
    Ok(Encoder { child, stdin, run: files.run, size, frames: 0 })
}

impl Sink for ClipSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.now_ms = r.frame.time_ms;
        if let Segments::Copied(feed) = &self.options.segments {
            if !feed.failed() && self.fed.is_some_and(|t| t.elapsed() > COPY_STALL) {
                log::warn!(
                    "--clips: the stream copy finished no segment for {} s while frames came; clips are encoded from the frames instead",
                    COPY_STALL.as_secs()
                );
                feed.fail();
            }
            if feed.failed() {
                // The source could not copy its stream: encode from here on.
                let fps = self.options.rate.filter(|r| r.is_finite() && *r > 0.0).unwrap_or(30.0);
                self.options.segments = Segments::Encoded { feed: feed.clone(), annotated: false, fps };
                self.pixels.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.encode(r);
        self.follow(r.events);
        // ffmpeg finishes a segment a second or so: no need to look at
        // its list every frame.
        if self.polled.is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(250)) {
            self.polled = Some(std::time::Instant::now());
            self.take_segments();
        }
        self.cut_due(false);
        self.reap(false);
        Ok(())
    }

    fn write_events(&mut self, events: &[Event]) -> Result<(), SinkError> {
        self.follow(events);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.close_encoder();
        self.take_segments();
        self.cut_due(true);
        self.reap(true);
        for s in self.segments.drain(..) {
            let _ = std::fs::remove_file(&s.path);
        }
        self.feed().remove_lists();
        let [written, failed, _] = self.options.health.counts();
        if written + failed > 0 {
            log::info!("--clips: {written} clip(s) in {}, {failed} failed", self.options.dir.display());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_takes_the_segments_that_cover_it_trimmed_at_its_end() {
        let segments: VecDeque<Segment> = (0..10)
            .map(|i| Segment {
                path: PathBuf::from(format!("/buf/s{i}.ts")),
                start_ms: 1000.0 * f64::from(i),
                end_ms: 1000.0 * f64::from(i + 1),
                copied: None,
            })
            .collect();
        let window = |start_ms, end_ms| Window { start_ms, end_ms, active: HashSet::new() };
        // 10 frames a second: the frame at 5.25 s is in, the one at 5.35 s not.
        let (from, list) = concat_list(&segments, &window(2500.0, 5250.0), 100.0).unwrap();
        assert_eq!(from, 2000.0);
        assert_eq!(
            list,
            "ffconcat version 1.0\nfile 's2.ts'\nfile 's3.ts'\nfile 's4.ts'\nfile 's5.ts'\noutpoint 0.3000\n"
        );
        // Before the buffer and past it: what there is.
        let (from, list) = concat_list(&segments, &window(-5000.0, 99_000.0), 100.0).unwrap();
        assert_eq!((from, list.matches("file ").count()), (0.0, 10));
        assert!(!list.contains("outpoint"));
        // Ending on a segment's end: no trim.
        let (_, list) = concat_list(&segments, &window(9000.0, 10_000.0), 100.0).unwrap();
        assert_eq!(list, "ffconcat version 1.0\nfile 's9.ts'\n");
        assert!(concat_list(&VecDeque::new(), &window(0.0, 1.0), 100.0).is_none());
    }

    #[test]
    fn encoded_frames_take_the_time_of_the_real_frame_they_repeat() {
        let times: VecDeque<(u64, f64)> = [(0, 1000.0), (1, 1100.0), (5, 1500.0)].into_iter().collect();
        assert_eq!(time_of(&times, 0, 100.0), 1000.0);
        // Frames 2 to 4 repeat frame 1 at the frame period.
        assert_eq!(time_of(&times, 3, 100.0), 1300.0);
        assert_eq!(time_of(&times, 5, 100.0), 1500.0);
        assert_eq!(time_of(&times, 7, 100.0), 1700.0);
        let later: VecDeque<(u64, f64)> = [(10, 2000.0)].into_iter().collect();
        assert_eq!(time_of(&later, 8, 100.0), 1800.0);
    }
}
