//! Video files and network streams, decoded by an `ffmpeg` child process
//! that writes Y4M on a pipe: ffmpeg is what boards already have, with their
//! hardware decoders, and Y4M carries the frame size and rate, so the
//! (fuzzed) Y4M reader does the rest.
//!
//! Files are file sources: nothing dropped, media time from the frame rate.
//! Network URLs are live: when the stream fails or stops sending (ffmpeg's
//! own I/O timeout ends it), the source warns, starts ffmpeg again with a
//! doubling back-off, counts the frames the gap cost and gives up after the
//! reconnect timeout. The child never outlives the source: it is killed when
//! the source is dropped, and on Linux the kernel kills it if ssd-cam dies.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::camera::Reconnect;
use super::y4m::Y4mSource;
use super::{Source, SourceError};
use crate::secrets::redact;

/// URL schemes read as live network streams.
pub const NETWORK_SCHEMES: &[&str] = &["rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "srt", "tcp"];

/// Video container extensions read as files.
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "mkv", "mov", "avi", "ts", "webm", "m4v", "mpg", "mpeg", "flv", "h264", "h265", "mjpeg", "mts", "m2ts"];

/// `--rtsp-transport`: how ffmpeg carries an rtsp:// stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection: no lost packets behind NAT.
    #[default]
    Tcp,
    /// Separate UDP ports: lower latency on a clean network.
    Udp,
}

impl RtspTransport {
    /// The word ffmpeg's `-rtsp_transport` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        }
    }
}

/// How ssd-cam runs ffmpeg for a source.
#[derive(Debug, Clone, PartialEq)]
pub struct FfmpegOptions {
    /// The ffmpeg program (`ffmpeg` on the PATH unless `$SSD_CAM_FFMPEG`).
    pub program: String,
    /// `-hwaccel NAME` before the input (e.g. `v4l2m2m`, `cuda`, `vaapi`).
    pub hwaccel: Option<String>,
    /// Further input options, placed before `-i`.
    pub input_args: Vec<String>,
    /// RTSP over `tcp` (default) or `udp`.
    pub rtsp_transport: RtspTransport,
    /// Scale to this size in ffmpeg.
    pub size: Option<(u32, u32)>,
    /// A network stream that sends nothing this long is ended by ffmpeg and
    /// reconnected.
    pub read_timeout: Duration,
    /// Back-off and give-up time for network streams.
    pub reconnect: Reconnect,
    /// `--clips`: ffmpeg also copies the stream, as it comes, into rolling
    /// segments here.
    pub segments: Option<crate::clips::segments::SegmentFeed>,
}

impl Default for FfmpegOptions {
    fn default() -> Self {
        Self {
            program: std::env::var("SSD_CAM_FFMPEG").unwrap_or_else(|_| "ffmpeg".into()),
            hwaccel: None,
            input_args: Vec::new(),
            rtsp_transport: RtspTransport::Tcp,
            size: None,
            read_timeout: Duration::from_secs(5),
            reconnect: Reconnect::default(),
            segments: None,
        }
    }
}

/// Whether `spec` is a network URL ffmpeg reads.
pub fn is_network(spec: &str) -> bool {
    spec.split_once("://").is_some_and(|(scheme, _)| NETWORK_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// Whether `spec` names a video file by its extension.
pub fn is_video_file(spec: &str) -> bool {
    std::path::Path::new(spec)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `program` (an ffmpeg) has the H.264 encoder libx264; an error
/// naming the fix when it does not run at all. `flag` names the option
/// that needs it.
pub(crate) fn has_libx264(program: &str, flag: &str) -> Result<bool, String> {
    let listed = Command::new(program)
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|_| format!("{flag} needs ffmpeg, and '{program}' is not installed: sudo apt install ffmpeg"))?;
    Ok(String::from_utf8_lossy(&listed.stdout).contains(" libx264 "))
}

/// How many times ffmpeg reads a file with these input options: once, or
/// as `-stream_loop N` says (`None`: without end).
fn passes(input_args: &[String]) -> Option<u64> {
    match input_args.iter().position(|a| a == "-stream_loop") {
        None => Some(1),
        Some(i) => {
            let loops: i64 = input_args.get(i + 1)?.parse().ok()?;
            u64::try_from(loops).ok().map(|n| n.saturating_add(1))
        }
    }
}

/// What ffprobe (beside `program`, an ffmpeg) says of `spec`'s `entries`
/// (`-show_entries`, first video stream unless a format entry), trimmed;
/// `None` when it cannot run or says nothing.
pub(crate) fn ffprobe(program: &str, spec: &str, entries: &str) -> Option<String> {
    let ffprobe = match program.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/ffprobe"),
        None => "ffprobe".to_owned(),
    };
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "csv=p=0", spec])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !said.is_empty()).then_some(said)
}

/// The key the stream copy's frame times are printed under (the metadata
/// filter, on ffmpeg's stderr): `frame:N pts:P pts_time:T` then this.
const TIME_KEY: &str = "ssd_cam_time";

/// A frame time line of the metadata filter: the frame's number in the run
/// and its time (s) on the stream's timeline. `None` for any other line.
pub fn parse_frame_time(line: &str) -> Option<(u64, f64)> {
    let mut fields = line.strip_prefix("frame:")?.split_whitespace();
    let n = fields.next()?.parse().ok()?;
    fields.next()?.strip_prefix("pts:")?;
    let t: f64 = fields.next()?.strip_prefix("pts_time:")?.parse().ok()?;
    (t.is_finite() && fields.next().is_none()).then_some((n, t))
}

/// Frame times of one ffmpeg run, as its stderr reader parses them.
type FrameTimes = Arc<Mutex<VecDeque<(u64, f64)>>>;

/// The most frame times kept unread (ffmpeg's own buffers hold fewer).
const TIMES_KEPT: usize = 512;

/// Whether ffmpeg's last words blame the stream copy (the segment output),
/// not the input.
fn copy_failed(lines: &[String]) -> bool {
    // Output #1 is the copy (#0 the frames ssd-cam reads).
    const SIGNS: [&str; 8] = [
        "av_interleaved_write_frame",
        "[mpegts",
        "[segment",
        "bitstream filter",
        "setts",
        "first pts and dts",
        "output stream 1:",
        "output file #1",
    ];
    lines.iter().any(|l| SIGNS.iter().any(|s| l.contains(s)))
}

/// The last lines ffmpeg wrote on stderr, collected by a thread.
type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// How many of ffmpeg's last stderr lines are kept for the error message.
const TAIL_LINES: usize = 8;

/// One running ffmpeg, the Y4M stream it writes and the thread reading its
/// stderr.
struct Running {
    child: Child,
    y4m: Y4mSource<BufReader<ChildStdout>>,
    stderr: StderrTail,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Its segment run (`--clips`).
    run: Option<u32>,
    /// Its frames' times on the stream's timeline (`--clips`).
    times: FrameTimes,
    /// Frames read from it.
    read: u64,
}

impl Running {
    /// Ends ffmpeg and joins its stderr reader (the pipe closes with the
    /// process): no thread outlives a run or piles up over reconnects, and
    /// the returned tail holds ffmpeg's last words.
    fn stop(mut self) -> StderrTail {
        end(&mut self.child);
        join_reader(self.reader.take());
        self.stderr
    }
}

/// Waits for a stderr reader to finish (its process has ended).
pub(crate) fn join_reader(reader: Option<std::thread::JoinHandle<()>>) {
    if let Some(reader) = reader {
        let _ = reader.join();
    }
}

/// A video file or network stream read through ffmpeg.
pub struct FfmpegSource {
    url: String,
    name: String,
    live: bool,
    options: FfmpegOptions,
    stop: Arc<AtomicBool>,
    running: Option<Running>,
    /// Frames per second the stream declares.
    rate: Option<f64>,
    last_frame: Option<Instant>,
    lost: u64,
    /// Frames read from the stream, for what the end of a file says.
    frames: u64,
    /// ffmpeg failed at copying the stream for clips: it no longer tries.
    copy_off: AtomicBool,
    /// The last frame's time on the stream's timeline (ms), when copying.
    pts_ms: Option<f64>,
    /// A file's duration (ms), by ffprobe.
    duration_ms: Option<f64>,
}

impl std::fmt::Debug for FfmpegSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfmpegSource").field("name", &self.name).field("live", &self.live).finish_non_exhaustive()
    }
}

impl FfmpegSource {
    /// Starts ffmpeg on `url` (a file path or a network URL) and reads the
    /// stream header, so that a wrong path, a refused connection or a file
    /// ffmpeg cannot read is an error now, not after the pipeline started.
    /// `stop` interrupts reconnect waits.
    pub fn open(url: &str, options: FfmpegOptions, stop: Arc<AtomicBool>) -> Result<Self, SourceError> {
        let live = is_network(url);
        let mut source = Self {
            url: url.to_owned(),
            name: redact(url),
            live,
            options,
            stop,
            running: None,
            rate: None,
            last_frame: None,
            lost: 0,
            frames: 0,
            copy_off: AtomicBool::new(false),
            pts_ms: None,
            duration_ms: None,
        };
        if !live {
            let program = source.options.program.clone();
            let once = ffprobe(&program, url, "format=duration")
                .and_then(|d| d.parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d > 0.0);
            source.duration_ms = once.zip(passes(&source.options.input_args)).map(|(d, n)| d * 1000.0 * n as f64);
        }
        let running = match source.start() {
            Ok(running) => running,
            // A camera that boots slower than the board, or a network not
            // up yet: waited for as a camera that drops is.
            Err(SourceError::Open { message, .. }) if live && unreachable(&message) => {
                log::warn!(
                    "{}: not answering yet ({message}); trying again for up to {:.0} s (--reconnect-timeout)",
                    source.name,
                    source.options.reconnect.timeout.as_secs_f64()
                );
                let since = Instant::now();
                match source.retry(since, &message)? {
                    Some(running) => {
                        log::info!("{}: answered after {:.1} s", source.name, since.elapsed().as_secs_f64());
                        running
                    }
                    None => return Err(SourceError::Open { what: source.name.clone(), message: "stopped".into() }),
                }
            }
            Err(e) => return Err(e),
        };
        source.rate = running.y4m.header_rate();
        log::info!(
            "{}: {}x{}{} through ffmpeg",
            source.name,
            running.y4m.size().0,
            running.y4m.size().1,
            source.rate.map_or(String::new(), |r| format!(" at {r:.2} frames/s"))
        );
        source.running = Some(running);
        Ok(source)
    }

    /// The ffmpeg command line for this source.
    pub fn command(&self) -> Command {
        self.command_for(None)
    }

    /// The command line, copying the stream into `segments`' files too.
    fn command_for(&self, segments: Option<&crate::clips::segments::RunFiles>) -> Command {
        let o = &self.options;
        let mut cmd = Command::new(&o.program);
        cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
        if let Some(hw) = &o.hwaccel {
            cmd.args(["-hwaccel", hw]);
        }
        if self.live {
            let micros = o.read_timeout.as_micros().to_string();
            let scheme = self.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
            if scheme.starts_with("rtsp") {
                cmd.args(["-rtsp_transport", o.rtsp_transport.as_str(), "-timeout", &micros]);
            } else {
                cmd.args(["-rw_timeout", &micros]);
            }
        }
        cmd.args(&o.input_args);
        cmd.args(["-i", &self.url, "-map", "0:v:0", "-an", "-sn", "-dn"]);
        // Y4M takes 8-bit 4:2:0, 4:2:2, 4:4:4 or grey; ffmpeg picks the one
        // nearest the stream (a lossless 4:4:4 file stays 4:4:4).
        let mut filters = Vec::new();
        if segments.is_some() {
            // Each frame's time on the stream's timeline, which the copy's
            // segments are timed on too: it places them on the event clock.
            filters.push(format!("metadata=mode=add:key={TIME_KEY}:value=1"));
            filters.push(format!("metadata=mode=print:key={TIME_KEY}:direct=1:file=pipe\\\\:2"));
        }
        if let Some((w, h)) = o.size {
            filters.push(format!("scale={w}:{h}"));
        }
        filters.push("format=pix_fmts=yuv420p|yuv422p|yuv444p|gray".into());
        cmd.args(["-vf", &filters.join(",")]);
        // Files keep every frame as decoded; a live stream too (the pipeline drops).
        cmd.args(["-fps_mode", "passthrough", "-f", "yuv4mpegpipe", "-strict", "-1", "-"]);
        if let Some(files) = segments {
            // The second output: the stream as it came, cut at the first
            // keyframe after each second, for clips (no decoding, no
            // encoding: a copy costs the CPU next to nothing), on the
            // decoder's timeline (no shift of a file's negative decoding
            // times, which would set the segments apart from the frames).
            cmd.args(["-map", "0:v:0", "-c:v", "copy", "-an", "-sn", "-dn"]);
            if self.live {
                // Cameras send their first packets before RTCP gave them a
                // time; MPEG-TS refuses untimed packets, so they get one.
                // Not for files: they are timed, and the filter stops at
                // the end of the first pass of a looped file.
                let timed = "setts=pts=if(eq(PTS\\,NOPTS)\\,if(eq(DTS\\,NOPTS)\\,0\\,DTS)\\,PTS)\
                             :dts=if(eq(DTS\\,NOPTS)\\,if(eq(PTS\\,NOPTS)\\,0\\,PTS)\\,DTS)";
                cmd.args(["-bsf:v", timed]);
            }
            cmd.args([
                "-avoid_negative_ts",
                "disabled",
                "-f",
                "segment",
                "-segment_time",
                "1",
                "-reset_timestamps",
                "1",
            ])
            .args(crate::clips::segments::SEGMENT_FORMAT)
            .args(["-segment_list_type", "csv"])
            .arg("-segment_list")
            .arg(&files.list)
            .arg(&files.pattern);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        own_child(&mut cmd);
        cmd
    }

    /// The segments the stream is copied into, unless the copy failed.
    fn copy(&self) -> Option<&crate::clips::segments::SegmentFeed> {
        self.options.segments.as_ref().filter(|_| !self.copy_off.load(Ordering::Relaxed))
    }

    /// The stream copy for clips must never cost detection: a stream
    /// ffmpeg cannot copy (a camera whose first packets carry no time, an
    /// ffmpeg without the filter) is decoded without it from now on, and
    /// its clips are encoded from the frames instead.
    fn stop_copying(&self, said: &str) {
        if let Some(feed) = self.copy() {
            log::warn!(
                "{}: --clips: ffmpeg cannot copy this stream ({said}); clips are encoded from the frames instead",
                self.name
            );
            feed.fail();
            self.copy_off.store(true, Ordering::Relaxed);
        }
    }

    /// Spawns ffmpeg and reads the Y4M header; without the stream copy when
    /// ffmpeg fails at it.
    fn start(&self) -> Result<Running, SourceError> {
        match self.start_once() {
            Err(e) if self.copy().is_some() && copy_failed(&[e.to_string()]) => {
                self.stop_copying(&e.to_string());
                self.start_once()
            }
            started => started,
        }
    }

    /// Spawns ffmpeg and reads the Y4M header.
    fn start_once(&self) -> Result<Running, SourceError> {
        let run = self.copy().map(crate::clips::segments::SegmentFeed::start_run);
        let segment_run = run.as_ref().map(|r| r.run);
        let mut child = self.command_for(run.as_ref()).spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::Open {
                what: self.name.clone(),
                message: format!(
                    "video files and network streams need ffmpeg, and '{}' is not installed: sudo apt install ffmpeg (Debian, Ubuntu, Raspberry Pi OS, Jetson)",
                    self.options.program
                ),
            },
            _ => SourceError::Open { what: self.name.clone(), message: format!("cannot start ffmpeg: {e}") },
        })?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let times = FrameTimes::default();
        let reader = child.stderr.take().and_then(|pipe| {
            let (tail, times) = (Arc::clone(&stderr), Arc::clone(&times));
            let secret = self.url.clone();
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || collect_stderr_and_times(pipe, &tail, &secret, Some(&times)))
                .ok()
        });
        let Some(stdout) = child.stdout.take() else {
            end(&mut child);
            join_reader(reader);
            return Err(SourceError::Open { what: self.name.clone(), message: "ffmpeg gave no output pipe".into() });
        };
        match Y4mSource::new(BufReader::with_capacity(1 << 20, stdout), self.name.clone()) {
            Ok(y4m) => Ok(Running { child, y4m, stderr, reader, run: segment_run, times, read: 0 }),
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                join_reader(reader);
                Err(self.failure(&stderr, status, Some(e)))
            }
        }
    }

    /// The one-line error for an ffmpeg that ended: what its last stderr
    /// line says, with the fix for the failures users meet.
    fn failure(
        &self,
        stderr: &StderrTail,
        status: Option<std::process::ExitStatus>,
        read: Option<SourceError>,
    ) -> SourceError {
        let lines: Vec<String> = stderr.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        let message = match explain(&lines, self.live) {
            Some(message) => message,
            None => match (status, read) {
                (_, Some(SourceError::Y4m { message, .. })) => format!("ffmpeg produced no video ({message})"),
                (Some(s), _) => format!("ffmpeg ended ({s}) without a message"),
                (None, _) => "ffmpeg ended without a message".into(),
            },
        };
        SourceError::Open { what: self.name.clone(), message }
    }

    /// Ends the running ffmpeg and starts it again until it gives a header,
    /// for at most the reconnect timeout. `Ok(false)` when stopped.
    fn reconnect(&mut self, why: &str) -> Result<bool, SourceError> {
        if let Some(r) = self.running.take() {
            r.stop();
        }
        log::warn!("{}: {why}; reconnecting", self.name);
        let gone = self.last_frame.unwrap_or_else(Instant::now);
        match self.retry(gone, why)? {
            Some(running) => {
                log::warn!("{}: stream back after {:.1} s", self.name, gone.elapsed().as_secs_f64());
                self.running = Some(running);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Starts ffmpeg until it gives a header, waiting 0.1 s doubling to 2 s
    /// between attempts; an error once `since` is longer ago than the
    /// reconnect timeout, `Ok(None)` when stopped.
    fn retry(&self, since: Instant, why: &str) -> Result<Option<Running>, SourceError> {
        let mut backoff = self.options.reconnect.backoff();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if since.elapsed() > self.options.reconnect.timeout {
                return Err(SourceError::Open {
                    what: self.name.clone(),
                    message: format!(
                        "no stream for {:.0} s (--reconnect-timeout): {why}",
                        self.options.reconnect.timeout.as_secs_f64()
                    ),
                });
            }
            match self.start() {
                Ok(running) => return Ok(Some(running)),
                Err(e) => log::debug!("{e}"),
            }
            crate::source::camera::reconnect::sleep_unless_stopped(backoff.next_wait(), &self.stop);
        }
    }
}

/// How long an ffmpeg killed by a signal waits for ssd-cam's own stop flag:
/// a signal sent to a whole group reaches both at once, and ssd-cam's
/// handler may run after ffmpeg's end is read.
const SIGNAL_GRACE: Duration = Duration::from_secs(1);

/// Whether ffmpeg ended the way a SIGINT or SIGTERM ends it: killed by a
/// signal, or exit status 255 (ffmpeg catches both and exits with it).
fn ended_by_signal(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_some() || status.code() == Some(255)
}

/// Whether an ffmpeg failure may pass by itself (the host or the network is
/// not there yet), unlike a wrong path, wrong credentials or a stream
/// ffmpeg cannot decode.
fn unreachable(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["connection refused", "no route to host", "unreachable", "not known", "timed out", "resolve", "connection reset"]
        .iter()
        .any(|s| m.contains(s))
}

impl FfmpegSource {
    /// Whether ssd-cam is asked to stop now or within [`SIGNAL_GRACE`].
    fn stop_follows(&self) -> bool {
        let since = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if since.elapsed() > SIGNAL_GRACE {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

impl Source for FfmpegSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_live(&self) -> bool {
        self.live
    }

    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        loop {
            let Some(running) = self.running.as_mut() else { return Ok(None) };
            let (why, status, read_error) = match running.y4m.next_frame(rgb) {
                Ok(Some(size)) => {
                    self.pts_ms = running.run.and_then(|_| frame_time(&running.times, running.read));
                    running.read += 1;
                    let now = Instant::now();
                    if let (Some(last), Some(rate)) = (self.last_frame, self.rate) {
                        // A gap well beyond a frame period (an outage) is
                        // counted in frames, as a camera's is.
                        let missed = (now.duration_since(last).as_secs_f64() * rate).round() as u64;
                        if self.live && missed > 2 {
                            self.lost += missed - 1;
                        }
                    }
                    self.last_frame = Some(now);
                    self.frames += 1;
                    return Ok(Some(size));
                }
                Ok(None) => {
                    let status = running.child.wait().ok();
                    if !self.live && status.is_some_and(|s| s.success()) {
                        // ffmpeg runs at -loglevel error: a file it read to
                        // the end without a word is whole; anything it said
                        // means the file ended early or is damaged.
                        if let Some(running) = self.running.take() {
                            let tail = running.stop();
                            let lines: Vec<String> =
                                tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
                            if let Some(said) = damaged(&lines) {
                                log::warn!(
                                    "{}: the file ends early or is damaged; {} frame(s) read (ffmpeg: {said})",
                                    self.name,
                                    self.frames
                                );
                            }
                        }
                        return Ok(None);
                    }
                    (stream_end(status), status, None)
                }
                Err(e) => {
                    let _ = running.child.kill();
                    let status = running.child.wait().ok();
                    (e.to_string(), status, Some(e))
                }
            };
            if status.is_some_and(ended_by_signal) && self.stop_follows() {
                // The signal was for ssd-cam too (the unit's whole cgroup, a
                // `kill` to the process group): a requested stop, not a
                // failure of the stream.
                log::debug!("{}: ffmpeg ended by the stop signal", self.name);
                return Ok(None);
            }
            let Some(running) = self.running.take() else { return Ok(None) };
            let before_first_frame = running.run.is_some() && running.read == 0;
            let tail = running.stop();
            let lines: Vec<String> = tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
            // A copy that failed: at once again without it.
            if (self.live || before_first_frame) && self.copy().is_some() && copy_failed(&lines) {
                self.stop_copying(lines.last().map_or(why.as_str(), String::as_str));
                match self.start() {
                    Ok(running) => {
                        self.running = Some(running);
                        continue;
                    }
                    Err(e) if !self.live => return Err(e),
                    Err(_) => {}
                }
            }
            if !self.live {
                return Err(self.failure(&tail, status, read_error));
            }
            // What ffmpeg said, as the fix it points to when it names one
            // (host gone, credentials refused), else its last line.
            let why = explain(&lines, true).map_or(why.clone(), |said| format!("{why}: {said}"));
            if !self.reconnect(&why)? {
                return Ok(None);
            }
        }
    }

    fn frame_rate(&self) -> Option<f64> {
        self.rate
    }

    fn frame_pts_ms(&self) -> Option<f64> {
        if self.live {
            return None;
        }
        // A file is one ffmpeg run: its Y4M stream counts the frames, and
        // when it is copied for clips the frames' own times place them on
        // the copy's timeline.
        self.pts_ms.or_else(|| self.running.as_ref().and_then(|r| r.y4m.frame_pts_ms()))
    }

    fn duration_ms(&self) -> Option<f64> {
        self.duration_ms
    }

    fn frame_time(&mut self, time_ms: f64) {
        let (Some(feed), Some(run), Some(pts_ms)) =
            (self.copy(), self.running.as_ref().and_then(|r| r.run), self.pts_ms)
        else {
            return;
        };
        feed.place(run, pts_ms, time_ms, self.live);
    }

    fn lost(&self) -> u64 {
        self.lost
    }
}

/// Keeps an ffmpeg's last stderr lines, with the credentials of `url` (when
/// not empty) hidden.
pub(crate) fn collect_stderr(pipe: impl Read, tail: &Mutex<VecDeque<String>>, url: &str) {
    collect_stderr_and_times(pipe, tail, url, None);
}

/// [`collect_stderr`], and the frame times the metadata filter prints
/// into `times` rather than the tail.
fn collect_stderr_and_times(
    pipe: impl Read,
    tail: &Mutex<VecDeque<String>>,
    url: &str,
    times: Option<&Mutex<VecDeque<(u64, f64)>>>,
) {
    let redacted = redact(url);
    let secrets = crate::secrets::secrets_of(url);
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if let Some(times) = times {
            if let Some(time) = parse_frame_time(&line) {
                if let Ok(mut t) = times.lock() {
                    if t.len() == TIMES_KEPT {
                        t.pop_front();
                    }
                    t.push_back(time);
                }
                continue;
            }
            if line.starts_with(TIME_KEY) {
                continue;
            }
        }
        let line = if url.is_empty() { line } else { crate::secrets::hide(&line.replace(url, &redacted), &secrets) };
        if line.trim().is_empty() {
            continue;
        }
        log::debug!("ffmpeg: {line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

/// How long a frame waits for its time line: ffmpeg prints it before it
/// encodes the frame, but its stderr is read by another thread.
const TIME_WAIT: Duration = Duration::from_millis(50);

/// The time (ms on the stream's timeline) of the run's frame `n`, waited
/// for at most [`TIME_WAIT`]; the times of earlier frames are let go.
fn frame_time(times: &Mutex<VecDeque<(u64, f64)>>, n: u64) -> Option<f64> {
    let since = Instant::now();
    loop {
        if let Ok(mut t) = times.lock() {
            while t.front().is_some_and(|&(k, _)| k < n) {
                t.pop_front();
            }
            if let Some(&(k, s)) = t.front() {
                return (k == n).then_some(s * 1000.0);
            }
        }
        if since.elapsed() > TIME_WAIT {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The newest line of an ffmpeg's stderr tail, if it wrote any.
pub(crate) fn last_line(tail: &Mutex<VecDeque<String>>) -> Option<String> {
    tail.lock().ok().and_then(|t| t.back().cloned())
}

/// Ends an ffmpeg child and reaps it.
pub(crate) fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One line from ffmpeg's last words: the fix and the line that tells it
/// (ffmpeg often ends with a bare "Input/output error" after the line that
/// says why), or else its last line. `None` when it said nothing.
fn explain(lines: &[String], live: bool) -> Option<String> {
    let last = lines.last()?;
    let told = lines.iter().rev().find_map(|l| hint(l, live).map(|h| (h, l)));
    Some(match told {
        Some((h, line)) => format!("{h} (ffmpeg: {})", strip_context(line)),
        None => format!("ffmpeg: {}", strip_context(last)),
    })
}

/// How a stream's ffmpeg ended, in the words of what happened to the
/// stream rather than ffmpeg's exit status.
fn stream_end(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) if s.success() => "the stream ended (the camera or server closed it)".into(),
        Some(s) if s.signal().is_some() => format!("the reader was killed (signal {})", s.signal().unwrap_or(0)),
        Some(_) => "the stream broke off".into(),
        None => "the stream broke off (the reader could not be waited for)".into(),
    }
}

/// What ffmpeg said of a file it read to its end and then exited
/// successfully from (at `-loglevel error`, so every line is a problem):
/// the line that tells a truncated or damaged file best, else its last.
/// `None` when it said nothing: the file is whole.
fn damaged(lines: &[String]) -> Option<String> {
    let telling = ["partial file", "ended prematurely", "truncat", "invalid data", "corrupt", "error while decoding"];
    let best = lines
        .iter()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            telling.iter().any(|t| l.contains(t))
        })
        .or(lines.last())?;
    Some(strip_context(best).trim().to_owned())
}

/// A line without ffmpeg's `[tcp @ 0x55c2…]` prefix, which names memory.
fn strip_context(line: &str) -> &str {
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((_, message)) => message,
        None => line,
    }
}

/// The fix for what an ffmpeg error line says, for the failures users meet.
pub fn hint(last: &str, live: bool) -> Option<&'static str> {
    let l = last.to_ascii_lowercase();
    let has = |s: &str| l.contains(s);
    if has("401") || has("unauthorized") {
        Some("the camera refused the credentials: put the right user and password in the URL (rtsp://user:password@host/path)")
    } else if has("404") || has("not found") && live {
        Some("the server has no stream at that path: check the URL's path in the camera's manual or web page")
    } else if has("connection refused") {
        Some("nothing answers on that host and port: check the address, the port and that the camera is on")
    } else if has("no route to host")
        || has("network is unreachable")
        || has("name or service not known")
        || has("timed out")
        || has("resolve")
    {
        Some("the host cannot be reached: check the address and the network")
    } else if has("no such file") {
        Some("no such file")
    } else if has("permission denied") {
        Some("not readable by this user")
    } else if has("invalid data found")
        || has("could not find codec")
        || has("decoder") && has("not found")
        || has("unknown")
    {
        Some("ffmpeg cannot decode this input (not a video, or a codec this ffmpeg lacks): check it with ffprobe")
    } else {
        None
    }
}

/// Makes a child ssd-cam's alone: it runs in a process group of its own, so
/// that a Ctrl-C in the terminal or a signal to ssd-cam's group reaches
/// only ssd-cam, which then ends its children in order (a copy or an
/// encoder killed first would cut its file, a source killed first would
/// read as a failed stream); and on Linux the kernel kills it when ssd-cam
/// dies, so that a crash or SIGKILL leaves no ffmpeg behind.
pub(crate) fn own_child(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    die_with_parent(cmd);
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child's own
    // process attributes between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looped_file_lasts_as_many_passes_as_it_is_read() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(passes(&args("")), Some(1));
        assert_eq!(passes(&args("-re -stream_loop 3")), Some(4));
        assert_eq!(passes(&args("-stream_loop 0")), Some(1));
        assert_eq!(passes(&args("-stream_loop -1 -re")), None);
        assert_eq!(passes(&args("-stream_loop")), None);
    }

    #[test]
    fn frame_time_lines_are_read_and_nothing_else() {
        assert_eq!(parse_frame_time("frame:0    pts:0       pts_time:0"), Some((0, 0.0)));
        assert_eq!(parse_frame_time("frame:12   pts:-9000   pts_time:-0.1"), Some((12, -0.1)));
        for other in ["ssd_cam_time=1", "frame:1 pts:NOPTS pts_time:NOPTS", "frame:x pts:0 pts_time:0", "", "frame:1"] {
            assert_eq!(parse_frame_time(other), None, "{other}");
        }
    }

    #[test]
    fn network_urls_and_video_files_are_told_apart() {
        assert!(is_network("rtsp://cam/stream") && is_network("HTTP://x/y.mjpg") && is_network("srt://h:9000"));
        assert!(!is_network("clip.mp4") && !is_network("file:///x.mp4"));
        assert!(is_video_file("a/b/Clip.MP4") && is_video_file("x.mkv") && !is_video_file("x.y4m"));
    }

    #[test]
    fn passwords_never_reach_the_messages() {
        let url = "rtsp://admin:s3cret@10.0.0.2:554/live";
        let tail = Mutex::new(VecDeque::new());
        let stderr = "[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized s3cret\n\
                      rtsp://admin:s3cret@10.0.0.2:554/live: Connection refused\n";
        collect_stderr(stderr.as_bytes(), &tail, url);
        let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
        assert_eq!(
            lines,
            [
                "[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized ***",
                "rtsp://admin:***@10.0.0.2:554/live: Connection refused"
            ]
        );
    }

    #[test]
    fn only_failures_that_may_pass_are_waited_for() {
        let waited = |line: &str| unreachable(&explain(&[line.to_owned()], true).unwrap());
        assert!(waited("[tcp @ 0x1] Connection to tcp://10.0.0.2:554?timeout=0 failed: Connection refused"));
        assert!(waited("[tcp @ 0x1] Connection to tcp://10.0.0.2:554 failed: No route to host"));
        assert!(waited("[tcp @ 0x1] Failed to resolve hostname cam.lan: Name or service not known"));
        assert!(!waited("[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized"));
        assert!(!waited("[rtsp @ 0x1] method DESCRIBE failed: 404 Not Found"));
        assert!(!waited("rtsp://cam/s: Invalid data found when processing input"));
    }

    #[test]
    fn common_failures_get_their_fix() {
        let h = |s: &str| hint(s, true).unwrap_or_default();
        assert!(h("method DESCRIBE failed: 401 Unauthorized").contains("credentials"));
        assert!(h("method DESCRIBE failed: 404 Not Found").contains("path"));
        assert!(h("Connection to tcp://127.0.0.1:1 failed: Connection refused").contains("port"));
        assert!(h("Failed to resolve hostname nowhere.invalid").contains("cannot be reached"));
        assert!(hint("x.mp4: Invalid data found when processing input", false).unwrap().contains("cannot decode"));
        assert!(hint("something new", true).is_none());
    }

    #[test]
    fn failures_of_the_stream_copy_are_told_from_failures_of_the_stream() {
        for copy in [
            "[mpegts @ 0x55] first pts and dts value must be set",
            "av_interleaved_write_frame(): Invalid data found when processing input",
            "Unknown bitstream filter nosuchfilter",
        ] {
            assert!(copy_failed(&[copy.to_owned()]), "{copy}");
        }
        for stream in ["Connection to tcp://127.0.0.1:1 failed: Connection refused", "x.mp4: Invalid data found"] {
            assert!(!copy_failed(&[stream.to_owned()]), "{stream}");
        }
    }

    #[test]
    fn the_line_that_says_why_is_chosen_over_a_bare_io_error() {
        let lines = vec![
            "[tcp @ 0x55c29dd1e800] Failed to resolve hostname camera.invalid: Name or service not known".to_owned(),
            "rtsp://admin:***@camera.invalid/stream: Input/output error".to_owned(),
        ];
        let m = explain(&lines, true).unwrap();
        assert!(m.starts_with("the host cannot be reached"), "{m}");
        assert!(m.ends_with("(ffmpeg: Failed to resolve hostname camera.invalid: Name or service not known)"), "{m}");
        assert_eq!(explain(&["odd".to_owned()], false).unwrap(), "ffmpeg: odd");
        assert!(explain(&[], false).is_none());
    }

    #[test]
    fn the_command_reads_rtsp_over_tcp_with_a_timeout_and_writes_y4m() {
        let source = FfmpegSource {
            url: "rtsp://u:p@cam/live".into(),
            name: redact("rtsp://u:p@cam/live"),
            live: true,
            options: FfmpegOptions { size: Some((640, 360)), hwaccel: Some("v4l2m2m".into()), ..Default::default() },
            stop: Arc::new(AtomicBool::new(false)),
            running: None,
            rate: None,
            last_frame: None,
            lost: 0,
            frames: 0,
            copy_off: AtomicBool::new(false),
            pts_ms: None,
            duration_ms: None,
        };
        let cmd = source.command();
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = args.join(" ");
        assert!(
            line.contains("-hwaccel v4l2m2m -rtsp_transport tcp -timeout 5000000 -i rtsp://u:p@cam/live"),
            "{line}"
        );
        assert!(line.contains("scale=640:360,format=") && line.ends_with("-f yuv4mpegpipe -strict -1 -"), "{line}");
        assert_eq!(source.name, "rtsp://u:***@cam/live");
    }
}
