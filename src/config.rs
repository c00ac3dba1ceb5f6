//! One camera's settings, typed: [`Camera`] holds everything a camera of
//! the run needs (its input, how it is captured, the detection thresholds,
//! tracking, events, zones and lines, motion gating, its outputs). The
//! command line builds one per `--device`/`--source` ([`crate::cli`]);
//! `--config cameras.toml` builds the same type, each camera's table laid
//! over a `[defaults]` table, laid over the command line's settings. The
//! file's optional `[engine]` table sets the run's engine the same way, over
//! `--backend`, `--ep` and `--precision` ([`parse_engine_over`]).
//!
//! ```toml
//! [engine]                           # optional: the run's engine
//! backend = "onnxruntime"            # auto (default) | tract | onnxruntime
//! ep = "cuda"                        # cpu | cuda | tensorrt | xnnpack | openvino
//!
//! [defaults]                         # optional: every camera's settings
//! threshold = 0.4
//! track_max_age = 60
//!
//! [[camera]]
//! name = "porch"                     # in JSON `source`, events, MQTT topics
//! source = "rtsp://user:pass@192.168.1.20:554/stream1"   # or device = "/dev/video0"
//! threshold = 0.5
//! classes = ["person"]
//! min_size = 40
//! detect = "motion"                  # auto | always | motion
//! zones = ["door=100,200,300,200,300,400,100,400"]
//! lines = ["gate=0,300,640,300"]
//! motion_mask = ["0,0,640,0,640,40,0,40"]
//! ```
//!
//! Every error is one line naming the file's line (TOML syntax), or the
//! camera and the field.

use std::path::PathBuf;
use std::time::Duration;

use crate::values::{did_you_mean, key_position};
use crate::zones::{parse_mask, Line, Zone};

/// `--track`: whether detections get ids across frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Track {
    /// SORT's Kalman prediction with ByteTrack's low-score second pass.
    #[default]
    On,
    /// Each frame on its own, no ids (no events).
    Off,
}

/// `--detect`: where the model runs on each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Detect {
    /// `motion` for live sources (cameras, streams), `always` for files.
    #[default]
    Auto,
    /// The whole frame, every frame.
    Always,
    /// Only where something moves or is tracked, the whole frame now and then.
    Motion,
}

impl Detect {
    /// Whether the motion gate decides where the model runs, on a source
    /// that is `live` or not.
    pub fn gated(self, live: bool) -> bool {
        self == Detect::Motion || (self == Detect::Auto && live)
    }
}

pub use crate::source::ffmpeg::RtspTransport;

/// `--format`: the pixel format asked of a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CameraFormat {
    /// Motion JPEG.
    Mjpeg,
    /// YUV 4:2:2 packed.
    Yuyv,
    /// YUV 4:2:0, two planes.
    Nv12,
    /// Packed RGB.
    Rgb,
}

/// Where one camera's frames come from. Its Debug output hides passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum Input {
    /// A V4L2 device: its path.
    Device(String),
    /// A `--source` spec: demo, a file, a URL, images, `-`.
    Source(String),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = crate::secrets::redact(self.spec());
        match self {
            Input::Device(_) => f.debug_tuple("Device").field(&shown).finish(),
            Input::Source(_) => f.debug_tuple("Source").field(&shown).finish(),
        }
    }
}

impl Input {
    /// The name a camera gets when none is given, made for MQTT topics and
    /// file names and stable across restarts: a URL's host and path without
    /// login, port or query (`rtsp://cam:pw@192.168.1.20:554/stream1` is
    /// `192-168-1-20-stream1`), a file's or folder's name without its
    /// extension, `demo`, `stdin`, a device's name (`video0`).
    pub fn default_name(&self) -> String {
        let spec = self.spec();
        let raw = if let Some((_, rest)) = spec.split_once("://") {
            let rest = rest.split(['?', '#']).next().unwrap_or_default();
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = match hostport.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => hostport.split(':').next().unwrap_or_default(),
            };
            format!("{host}/{path}")
        } else if spec == "-" {
            "stdin".to_owned()
        } else if spec == "demo" || spec.starts_with("demo:") {
            "demo".to_owned()
        } else {
            let path = std::path::Path::new(spec);
            let stem = |p: &std::path::Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
            match stem(path) {
                Some(s) if !s.contains(['*', '?', '[']) => s,
                _ => path.parent().and_then(stem).unwrap_or_default(),
            }
        };
        let mut name = String::with_capacity(raw.len());
        for c in raw.chars() {
            let c = if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' };
            if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
                name.push(c);
            }
        }
        let name = name.trim_end_matches('-');
        let name = name.get(..64).unwrap_or(name).trim_end_matches('-');
        if name.is_empty() {
            "camera".to_owned()
        } else {
            name.to_owned()
        }
    }

    /// A source file, folder or glob given by a relative path, taken from
    /// `folder` (a cameras file's own) instead of the working directory;
    /// devices, streams, the demo and stdin as they are.
    pub fn relative_to(self, folder: &std::path::Path) -> Self {
        match self {
            Input::Source(s)
                if !crate::source::ffmpeg::is_network(&s)
                    && s != "-"
                    && s != "demo"
                    && !s.starts_with("demo:")
                    && std::path::Path::new(&s).is_relative() =>
            {
                Input::Source(folder.join(&s).display().to_string())
            }
            other => other,
        }
    }

    /// The device path or source spec.
    pub fn spec(&self) -> &str {
        match self {
            Input::Device(s) | Input::Source(s) => s,
        }
    }

    /// A network stream read by ffmpeg.
    pub fn is_network(&self) -> bool {
        matches!(self, Input::Source(s) if crate::source::ffmpeg::is_network(s))
    }

    /// A video file read by ffmpeg.
    pub fn is_video_file(&self) -> bool {
        matches!(self, Input::Source(s) if crate::source::ffmpeg::is_video_file(s))
    }
}

/// How frames are taken from the input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capture {
    /// Camera size, or the size ffmpeg scales to.
    pub resolution: Option<(u32, u32)>,
    /// Camera frame rate.
    pub fps: Option<u32>,
    /// Camera pixel format.
    pub format: Option<CameraFormat>,
    /// Seconds to keep reconnecting a camera or stream.
    pub reconnect_timeout: Option<f64>,
    /// ffmpeg's `-hwaccel`.
    pub hwaccel: Option<String>,
    /// More ffmpeg input options, placed before `-i`.
    pub ffmpeg_input_args: Vec<String>,
    /// How rtsp:// is carried.
    pub rtsp_transport: RtspTransport,
}

/// Which detections are reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Least class score [default: the manifest's].
    pub threshold: Option<f32>,
    /// NMS IoU [default: the manifest's].
    pub nms_iou: Option<f32>,
    /// Detections kept per frame [default: the manifest's].
    pub top_k: Option<u32>,
    /// Classes kept, labels or ids; empty: all.
    pub classes: Vec<String>,
    /// Least box side, source pixels.
    pub min_size: Option<f32>,
    /// Per label: what makes a detection an object, and when it counts.
    pub filters: Vec<crate::filters::ObjectFilter>,
}

/// Ids across frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    /// On or off.
    pub track: Track,
    /// Detections before a track is confirmed.
    pub min_hits: u32,
    /// Frames a track outlives its last detection.
    pub max_age: u32,
    /// Least IoU between prediction and detection.
    pub iou: f32,
    /// ByteTrack's second pass down to this score.
    pub low: Option<f32>,
}

/// When object events are said.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTiming {
    /// An update at least this often while an object stays.
    pub every: Duration,
    /// An update when the score beats the best told by this much...
    pub score_step: f32,
    /// ...this long after the last event on the object.
    pub score_every: Duration,
    /// An object whose box stays put this long is stationary (zero: never).
    pub stationary_after: Duration,
}

/// Where the model runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Motion {
    /// Always, motion, or auto.
    pub detect: Detect,
    /// The whole frame now and then, under motion gating.
    pub full_frame_every: crate::gate::FullEvery,
    /// How often a stationary object is looked at, under motion gating.
    pub stationary_check: Duration,
    /// Where motion never counts.
    pub mask: Vec<Zone>,
    /// Grey levels a pixel must change by.
    pub threshold: u8,
    /// Draw the regions the model ran on.
    pub show_regions: bool,
}

/// `--save`: annotated (or raw) frames as image files.
#[derive(Debug, Clone, PartialEq)]
pub struct Save {
    /// The folder.
    pub dir: PathBuf,
    /// Every N-th frame.
    pub every: u64,
    /// PNG rather than JPEG.
    pub png: bool,
    /// Without boxes.
    pub raw: bool,
    /// Replace files that exist.
    pub overwrite: bool,
}

/// `--record`: the video, encoded by ffmpeg.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The file (or the stem of its segments).
    pub path: PathBuf,
    /// Without the overlay.
    pub raw: bool,
    /// A new file every so many seconds.
    pub segment_seconds: Option<f64>,
}

/// `--clips`: a clip around each object event.
#[derive(Debug, Clone, PartialEq)]
pub struct Clips {
    /// The folder.
    pub dir: PathBuf,
    /// Seconds before and after.
    pub capture: crate::clips::Capture,
    /// Boxes drawn (encoded).
    pub annotated: bool,
    /// Where the segment buffer goes (`ssd-cam-buffer` in it), when not in
    /// the clips folder.
    pub buffer: Option<PathBuf>,
}

/// `--mqtt`: events (and optionally detections) to a broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Mqtt {
    /// The broker and topic prefix.
    pub url: crate::mqtt::MqttUrl,
    /// The CA that signed the broker's certificate.
    pub ca: Option<PathBuf>,
    /// Detections at most this often a second.
    pub detections_hz: Option<f64>,
    /// Home Assistant discovery under this prefix.
    pub discovery: Option<String>,
}

/// What one camera writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outputs {
    /// JSON lines on stdout: one per frame, or per event with `events`.
    pub json: bool,
    /// Object events (on stdout in place of frames when `json`).
    pub events: bool,
    /// Each object's best picture in this folder.
    pub snapshots: Option<PathBuf>,
    /// A clip of each event in this folder.
    pub clips: Option<Clips>,
    /// Events to a broker.
    pub mqtt: Option<Mqtt>,
    /// Frames as image files.
    pub save: Option<Save>,
    /// The video.
    pub record: Option<Record>,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
}

/// Everything one camera of the run needs. The run's shared settings (the
/// model, threads, the window, the web server) are not here: every camera
/// runs on the same network.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    /// Its name in outputs; the source's own (made unique) when `None`.
    pub name: Option<String>,
    /// Where its frames come from.
    pub input: Input,
    /// How they are taken.
    pub capture: Capture,
    /// Which detections are reported.
    pub detection: Detection,
    /// Ids across frames.
    pub tracking: Tracking,
    /// When events are said.
    pub event_timing: EventTiming,
    /// Zones for events.
    pub zones: Vec<Zone>,
    /// Counting lines for events.
    pub lines: Vec<Line>,
    /// Where the model runs.
    pub motion: Motion,
    /// What it writes.
    pub outputs: Outputs,
}

impl Camera {
    /// Object events are made for stdout, snapshots, clips or MQTT.
    pub fn wants_events(&self) -> bool {
        self.outputs.events
            || self.outputs.snapshots.is_some()
            || self.outputs.clips.is_some()
            || self.outputs.mqtt.is_some()
    }
}

/// A camera's settings as cameras.toml gives them: every field optional,
/// laid over the defaults.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraPatch {
    name: Option<String>,
    source: Option<String>,
    device: Option<String>,
    threshold: Option<f64>,
    nms_iou: Option<f64>,
    top_k: Option<u32>,
    classes: Option<Vec<String>>,
    min_size: Option<f64>,
    filters: Option<std::collections::BTreeMap<String, toml::Table>>,
    track: Option<String>,
    track_min_hits: Option<u32>,
    track_max_age: Option<u32>,
    track_iou: Option<f64>,
    track_low: Option<f64>,
    event_every: Option<f64>,
    event_score_step: Option<f64>,
    event_score_interval: Option<f64>,
    stationary_after: Option<f64>,
    detect: Option<String>,
    full_frame_every: Option<String>,
    stationary_check: Option<f64>,
    pre_capture: Option<f64>,
    post_capture: Option<f64>,
    motion_threshold: Option<u8>,
    zones: Option<Vec<String>>,
    lines: Option<Vec<String>>,
    motion_mask: Option<Vec<String>>,
    resolution: Option<String>,
    fps: Option<u32>,
    reconnect_timeout: Option<f64>,
    rtsp_transport: Option<String>,
    max_frames: Option<u64>,
}

/// Each run-wide key: its table, its name in the table, and the flag (long
/// name) it stands for.
pub const RUN_KEYS: &[(&str, &str, &str)] = &[
    ("web", "listen", "http"),
    ("web", "token", "http-token"),
    ("web", "token_file", "http-token-file"),
    ("web", "insecure", "http-insecure"),
    ("web", "max_clients", "http-max-clients"),
    ("web", "fps", "http-fps"),
    ("web", "cert", "http-cert"),
    ("web", "key", "http-key"),
    ("web", "health_timeout", "health-timeout"),
    ("mqtt", "url", "mqtt"),
    ("mqtt", "password_file", "mqtt-password-file"),
    ("mqtt", "ca", "mqtt-ca"),
    ("mqtt", "detections_hz", "mqtt-detections-hz"),
    ("mqtt", "ha_discovery", "ha-discovery"),
    ("outputs", "headless", "headless"),
    ("outputs", "json", "json"),
    ("outputs", "events", "events"),
    ("outputs", "snapshots", "snapshots"),
    ("outputs", "record", "record"),
    ("outputs", "record_raw", "record-raw"),
    ("outputs", "record_segment", "record-segment"),
    ("outputs", "show_regions", "show-regions"),
    ("save", "dir", "save"),
    ("save", "every", "save-every"),
    ("save", "raw", "save-raw"),
    ("save", "png", "save-png"),
    ("save", "overwrite", "overwrite"),
    ("clips", "dir", "clips"),
    ("clips", "annotated", "clips-annotated"),
    ("clips", "buffer", "clips-buffer"),
    ("retention", "days", "retain-days"),
    ("retention", "size", "retain-size"),
    ("model", "name", "model"),
    ("performance", "threads", "threads"),
    ("performance", "workers", "workers"),
    ("performance", "max_pixels", "max-pixels"),
    ("performance", "letterbox", "letterbox"),
    ("sources", "hwaccel", "hwaccel"),
    ("sources", "ffmpeg_input_args", "ffmpeg-input-args"),
    ("sources", "format", "format"),
];

/// The run-wide tables of a cameras file ([`crate::run_file`] reads them).
pub fn run_tables() -> Vec<&'static str> {
    let mut t: Vec<&str> = RUN_KEYS.iter().map(|(table, _, _)| *table).collect();
    t.dedup();
    t
}

/// Each camera flag and the key of a `[defaults]` or `[[camera]]` table
/// that sets the same.
pub const CAMERA_FLAGS: &[(&str, &str)] = &[
    ("threshold", "threshold"),
    ("nms-iou", "nms_iou"),
    ("top-k", "top_k"),
    ("classes", "classes"),
    ("min-size", "min_size"),
    ("filter", "filters"),
    ("track", "track"),
    ("track-min-hits", "track_min_hits"),
    ("track-max-age", "track_max_age"),
    ("track-iou", "track_iou"),
    ("track-low", "track_low"),
    ("event-every", "event_every"),
    ("event-score-step", "event_score_step"),
    ("event-score-interval", "event_score_interval"),
    ("stationary-after", "stationary_after"),
    ("detect", "detect"),
    ("full-frame-every", "full_frame_every"),
    ("stationary-check", "stationary_check"),
    ("pre-capture", "pre_capture"),
    ("post-capture", "post_capture"),
    ("motion-threshold", "motion_threshold"),
    ("zone", "zones"),
    ("line", "lines"),
    ("motion-mask", "motion_mask"),
    ("resolution", "resolution"),
    ("fps", "fps"),
    ("reconnect-timeout", "reconnect_timeout"),
    ("rtsp-transport", "rtsp_transport"),
    ("max-frames", "max_frames"),
];

/// Whether `name` may name a camera: 1 to 64 letters, digits, `-`, `_`, `.`
/// (it becomes a topic level and a folder name).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}': a name is 1 to 64 letters, digits, '-', '_' or '.'"))
    }
}

/// A closed set's value from its name, as clap reads it on the command line.
fn choice<T: clap::ValueEnum>(value: &str) -> Result<T, String> {
    T::from_str(value, true).map_err(|_| {
        let names: Vec<String> =
            T::value_variants().iter().filter_map(|v| v.to_possible_value()).map(|p| p.get_name().to_owned()).collect();
        let listed = match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        format!("'{value}' is not {listed}")
    })
}

/// Parses a cameras file over `base` (the command line's settings): each
/// `[[camera]]` table over the `[defaults]` table over `base`.
pub fn parse_cameras_over(text: &str, base: &Camera) -> Result<Vec<Camera>, String> {
    let table = parse_table(text)?;
    let run = run_tables();
    if let Some(key) =
        table.keys().find(|k| !["camera", "defaults", "engine"].contains(&k.as_str()) && !run.contains(&k.as_str()))
    {
        return Err(format!(
            "{}unknown key '{key}': the file holds [[camera]] tables, [defaults], [engine] and [{}]",
            key_position(text, key),
            run.join("], [")
        ));
    }
    let mut defaults = base.clone();
    if let Some(value) = table.get("defaults") {
        let patch = patch_of(value, "defaults", text, Section::Defaults)?;
        if let Some(field) =
            [("name", patch.name.is_some()), ("source", patch.source.is_some() || patch.device.is_some())]
                .iter()
                .find_map(|(f, set)| set.then_some(f))
        {
            return Err(format!("defaults: {field}: belongs in each [[camera]]"));
        }
        patch.apply(&mut defaults, "defaults")?;
    }
    let cameras =
        table.get("camera").and_then(toml::Value::as_array).filter(|c| !c.is_empty()).ok_or("no [[camera]] table")?;
    let mut out: Vec<Camera> = Vec::with_capacity(cameras.len());
    for (i, value) in cameras.iter().enumerate() {
        let who = value
            .get("name")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("camera #{}", i + 1), |n| format!("camera '{n}'"));
        let patch = patch_of(value, &who, text, Section::Camera(i))?;
        let field = |name: &str, e: String| format!("{who}: {name}: {e}");
        let name = patch.name.clone().ok_or_else(|| field("name", "missing (every camera needs one)".into()))?;
        check_name(&name).map_err(|e| field("name", e))?;
        let expand = |name: &str, spec: &str| match crate::secrets::expand_env(spec) {
            Ok(s) if s.trim().is_empty() => Err(field(name, "empty once its ${…} are expanded".into())),
            Ok(s) => Ok(s),
            Err(e) => Err(field(name, e)),
        };
        let input = match (&patch.source, &patch.device) {
            (Some(s), None) if !s.trim().is_empty() => Input::Source(expand("source", s)?),
            (None, Some(d)) if !d.trim().is_empty() => Input::Device(expand("device", d)?),
            (Some(_), Some(_)) => return Err(field("source", "give source or device, not both".into())),
            _ => return Err(field("source", "missing (give source = \"…\" or device = \"/dev/videoN\")".into())),
        };
        let mut camera = defaults.clone();
        camera.name = Some(name.clone());
        camera.input = input;
        patch.apply(&mut camera, &who)?;
        if out.iter().any(|c| c.name.as_deref() == Some(name.as_str())) {
            return Err(format!("{who}: name: two cameras are called '{name}'"));
        }
        out.push(camera);
    }
    Ok(out)
}

/// The file as a TOML table; a syntax error is one line naming its line
/// and column.
fn parse_table(text: &str) -> Result<toml::Table, String> {
    text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map_or(0, |s| s.start.min(text.len()));
        let line = text[..at].matches('\n').count() + 1;
        let column = text[..at].rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
        format!("line {line}, column {column}: {}", e.message().trim())
    })
}

/// The engine that runs the network: `--backend`, `--ep`, `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::Args)]
pub struct EngineArgs {
    /// The engine: tract (built in, tuned for ARM), onnxruntime (a build
    /// with the `onnxruntime` feature and ONNX Runtime's library, found at
    /// ORT_DYLIB_PATH, beside the binary, in ../lib/ssd-cam/ from it or on
    /// the system; see README), or auto: ONNX Runtime on x86-64 CPUs (or for
    /// a GPU --ep) when its library loads, tract otherwise; the start-up
    /// line says which and why.
    #[arg(long, help_heading = "Performance", value_enum, default_value_t)]
    pub backend: crate::model::Backend,

    /// ONNX Runtime's execution provider (cuda and tensorrt for NVIDIA GPUs
    /// and Jetsons); one the library lacks is a warning and the CPU.
    #[arg(long, help_heading = "Performance", value_enum, default_value_t)]
    pub ep: crate::model::ExecutionProvider,

    /// Arithmetic for the network: f16 halves memory traffic on ARM CPUs with
    /// fp16 units (Pi 5, Jetson Orin); elsewhere it warns and stays in f32.
    /// On ONNX Runtime, TensorRT only.
    #[arg(long, help_heading = "Performance", value_enum, default_value_t = crate::model::Precision::F32)]
    pub precision: crate::model::Precision,
}

impl EngineArgs {
    /// The load options these flags give (threads are set by the caller).
    pub fn options(&self) -> crate::model::LoadOptions {
        if self.backend == crate::model::Backend::Tract && self.ep != crate::model::ExecutionProvider::Cpu {
            log::warn!("--ep {} is ONNX Runtime's; tract runs on the CPU (add --backend onnxruntime)", self.ep);
        }
        crate::model::LoadOptions { backend: self.backend, precision: self.precision, provider: self.ep, threads: 1 }
    }
}

/// A cameras file's `[engine]` table: the run's engine, every key optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EnginePatch {
    backend: Option<String>,
    ep: Option<String>,
    precision: Option<String>,
}

/// The run's engine: a cameras file's `[engine]` table laid over `base` (the
/// command line's `--backend`, `--ep`, `--precision`); `base` itself when the
/// file has none. Every cameras file has one model, so one engine, for all
/// of its cameras.
pub fn parse_engine_over(text: &str, base: EngineArgs) -> Result<EngineArgs, String> {
    let table = parse_table(text)?;
    let Some(value) = table.get("engine") else { return Ok(base) };
    let patch: EnginePatch = serde::Deserialize::deserialize(value.clone()).map_err(|e: toml::de::Error| {
        let message = e.message().trim();
        format!("engine: {}", unknown_key(message, text).unwrap_or_else(|| message.to_owned()))
    })?;
    let field = |name: &str, e: String| format!("engine: {name}: {e}");
    let mut engine = base;
    if let Some(v) = &patch.backend {
        engine.backend = choice(v).map_err(|e| field("backend", e))?;
    }
    if let Some(v) = &patch.ep {
        engine.ep = choice(v).map_err(|e| field("ep", e))?;
    }
    if let Some(v) = &patch.precision {
        engine.precision = choice(v).map_err(|e| field("precision", e))?;
    }
    Ok(engine)
}

/// A `[defaults]` or `[[camera]]` table (the `section`-th line that opens
/// one, from 0) as a patch. A value of the wrong type or range names its
/// key and line, which serde's message alone does not ("invalid type:
/// string \"0.5\", expected f64").
fn patch_of(value: &toml::Value, who: &str, text: &str, section: Section) -> Result<CameraPatch, String> {
    serde::Deserialize::deserialize(value.clone()).map_err(|e: toml::de::Error| {
        let message = e.message().trim();
        if let Some(unknown) = unknown_key(message, text) {
            return format!("{who}: {unknown}");
        }
        let table = value.as_table().into_iter().flatten();
        let culprit = table.map(|(k, v)| (k, toml::Table::from_iter([(k.clone(), v.clone())]))).find_map(|(k, one)| {
            let alone: Result<CameraPatch, toml::de::Error> = serde::Deserialize::deserialize(toml::Value::Table(one));
            alone.err().map(|e| (k, e.message().trim().to_owned()))
        });
        match culprit {
            Some((key, said)) => format!("{who}: {}{key}: {said}", key_position_in(text, section, key)),
            None => format!("{who}: {message}"),
        }
    })
}

/// Which table of a cameras file a key is looked for in.
#[derive(Debug, Clone, Copy)]
enum Section {
    Defaults,
    /// The n-th `[[camera]]`, from 0.
    Camera(usize),
}

/// [`key_position`] within `section`: from the line that opens it on.
fn key_position_in(text: &str, section: Section, key: &str) -> String {
    match section {
        Section::Defaults => crate::values::key_position_in(text, "[defaults]", 0, key),
        Section::Camera(n) => crate::values::key_position_in(text, "[[camera]]", n, key),
    }
}

/// serde's "unknown field `treshold`, expected one of `name`, …" as the
/// line that holds the key and the known key it is closest to.
fn unknown_key(message: &str, text: &str) -> Option<String> {
    let (key, expected) = message.strip_prefix("unknown field `")?.split_once('`')?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    Some(format!("{}unknown key '{key}'{}", key_position(text, key), did_you_mean(key, &known)))
}

impl CameraPatch {
    /// Lays the fields that are set over `c`, each checked as its flag is.
    fn apply(&self, c: &mut Camera, who: &str) -> Result<(), String> {
        let field = |name: &str, e: String| format!("{who}: {name}: {e}");
        let unit = |name: &str, v: Option<f64>| -> Result<Option<f32>, String> {
            match v {
                Some(t) if !(0.0..=1.0).contains(&t) => Err(field(name, format!("{t} is not between 0 and 1"))),
                v => Ok(v.map(|t| t as f32)),
            }
        };
        if let Some(t) = unit("threshold", self.threshold)? {
            c.detection.threshold = Some(t);
        }
        if let Some(t) = unit("nms_iou", self.nms_iou)? {
            c.detection.nms_iou = Some(t);
        }
        if let Some(k) = self.top_k {
            if k == 0 {
                return Err(field("top_k", "0 keeps nothing: give 1 or more".into()));
            }
            c.detection.top_k = Some(k);
        }
        if let Some(classes) = self.classes.as_ref().filter(|c| !c.is_empty()) {
            c.detection.classes = classes.clone();
        }
        if let Some(m) = self.min_size {
            if !(m.is_finite() && m >= 0.0) {
                return Err(field("min_size", format!("{m} is not a size in pixels")));
            }
            c.detection.min_size = Some(m as f32);
        }
        if let Some(t) = &self.track {
            c.tracking.track = choice(t).map_err(|e| field("track", e))?;
        }
        if let Some(n) = self.track_min_hits {
            c.tracking.min_hits = n.max(1);
        }
        if let Some(n) = self.track_max_age {
            c.tracking.max_age = n;
        }
        for (label, table) in self.filters.iter().flatten() {
            let filter = crate::filters::ObjectFilter::from_table(label, table)
                .map_err(|e| field(&format!("filters.{label}"), e))?;
            crate::filters::add(&mut c.detection.filters, filter);
        }
        if let Some(t) = unit("track_iou", self.track_iou)? {
            c.tracking.iou = t;
        }
        if let Some(t) = unit("track_low", self.track_low)? {
            c.tracking.low = Some(t);
        }
        if let Some(s) = self.event_every {
            if !(s.is_finite() && s > 0.0 && s <= 1e6) {
                return Err(field("event_every", format!("{s} is not a number of seconds above 0")));
            }
            c.event_timing.every = Duration::from_secs_f64(s);
        }
        if let Some(t) = unit("event_score_step", self.event_score_step)? {
            c.event_timing.score_step = t;
        }
        if let Some(s) = self.event_score_interval {
            if !(s.is_finite() && (0.0..=1e6).contains(&s)) {
                return Err(field("event_score_interval", format!("{s} is not a number of seconds, 0 or more")));
            }
            c.event_timing.score_every = Duration::from_secs_f64(s);
        }
        if let Some(s) = self.stationary_after {
            if !(s.is_finite() && (0.0..=1e6).contains(&s)) {
                return Err(field("stationary_after", format!("{s} is not a number of seconds, 0 or more")));
            }
            c.event_timing.stationary_after = Duration::from_secs_f64(s);
        }
        if let Some(d) = &self.detect {
            c.motion.detect = choice(d).map_err(|e| field("detect", e))?;
        }
        if let Some(f) = &self.full_frame_every {
            c.motion.full_frame_every = crate::gate::FullEvery::parse(f).map_err(|e| field("full_frame_every", e))?;
        }
        if let Some(s) = self.stationary_check {
            if !(s.is_finite() && s > 0.0 && s <= 1e6) {
                return Err(field("stationary_check", format!("{s} is not a number of seconds above 0")));
            }
            c.motion.stationary_check = Duration::from_secs_f64(s);
        }
        for (name, value, pre) in [("pre_capture", self.pre_capture, true), ("post_capture", self.post_capture, false)]
        {
            let Some(secs) = value else { continue };
            if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
                return Err(field(name, format!("{secs} is not a number of seconds from 0 to 3600")));
            }
            let Some(clips) = c.outputs.clips.as_mut() else {
                return Err(field(name, "clips are kept with --clips DIR on the command line".into()));
            };
            if pre {
                clips.capture.pre_ms = secs * 1000.0;
            } else {
                clips.capture.post_ms = secs * 1000.0;
            }
        }
        if let Some(t) = self.motion_threshold {
            c.motion.threshold = t.max(1);
        }
        if let Some(zones) = &self.zones {
            if zones.len() > crate::zones::MAX_ZONES {
                let n = zones.len();
                return Err(field("zones", format!("{n} zones; a camera takes at most {}", crate::zones::MAX_ZONES)));
            }
            c.zones = zones.iter().map(|z| Zone::parse(z)).collect::<Result<_, _>>().map_err(|e| field("zones", e))?;
        }
        if let Some(lines) = &self.lines {
            c.lines = lines.iter().map(|l| Line::parse(l)).collect::<Result<_, _>>().map_err(|e| field("lines", e))?;
        }
        if let Some(mask) = &self.motion_mask {
            c.motion.mask =
                mask.iter().map(|m| parse_mask(m)).collect::<Result<_, _>>().map_err(|e| field("motion_mask", e))?;
        }
        if let Some(r) = &self.resolution {
            c.capture.resolution = Some(crate::values::parse_size(r).map_err(|e| field("resolution", e))?);
        }
        if let Some(f) = self.fps {
            c.capture.fps = Some(f.clamp(1, 1000));
        }
        if let Some(s) = self.reconnect_timeout {
            if !(s.is_finite() && s > 0.0 && s <= 1e6) {
                return Err(field("reconnect_timeout", format!("{s} is not a number of seconds above 0")));
            }
            c.capture.reconnect_timeout = Some(s);
        }
        if let Some(t) = &self.rtsp_transport {
            c.capture.rtsp_transport = choice(t).map_err(|e| field("rtsp_transport", e))?;
        }
        if let Some(n) = self.max_frames {
            if n == 0 {
                return Err(field("max_frames", "0 frames would write nothing".into()));
            }
            c.outputs.max_frames = Some(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[camera]]
name = "porch"
source = "demo:fps=30"
threshold = 0.5
classes = ["circle"]
zones = ["door=0,0,100,0,100,100,0,100"]

[[camera]]
name = "garage"
device = "/dev/video2"
detect = "always"
"#;

    fn base() -> Camera {
        crate::cli::default_camera(Input::Source("demo".into())).unwrap()
    }

    fn parse_cameras(text: &str) -> Result<Vec<Camera>, String> {
        parse_cameras_over(text, &base())
    }

    #[test]
    fn default_names_are_topic_and_file_safe_and_hold_no_secret() {
        let name = |s: &str| Input::Source(s.into()).default_name();
        assert_eq!(name("rtsp://cam:pw@192.168.1.20:554/stream1"), "192-168-1-20-stream1");
        assert_eq!(name("rtsp://cam:pw@192.168.1.20:8554/stream1"), "192-168-1-20-stream1");
        assert_eq!(name("http://[fe80::1]:80/video.cgi?user=a&pwd=secret"), "fe80-1-video-cgi");
        assert_eq!(name("videos/front door.mp4"), "front-door");
        assert_eq!(name("frames/*.png"), "frames");
        assert_eq!(name("demo:fps=0,frames=3"), "demo");
        assert_eq!(name("-"), "stdin");
        assert_eq!(name("rtsp://:@/"), "camera");
        assert_eq!(Input::Device("/dev/video0".into()).default_name(), "video0");
        let long = "a".repeat(100);
        for spec in ["rtsp://u:pw@h/s", "x/../y.y4m", "http://h/a?token=t#pw", long.as_str()] {
            let n = name(spec);
            assert!(check_name(&n).is_ok() && !n.contains("pw") && !n.contains('.'), "{spec} -> {n}");
        }
    }

    #[test]
    fn inputs_and_cameras_hide_passwords_in_debug_output() {
        let mut camera = base();
        camera.input = Input::Source("rtsp://admin:hunter2@cam/s?token=t0k3n".into());
        let shown = format!("{camera:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("t0k3n") && shown.contains("cam/s"), "{shown}");
    }

    #[test]
    fn sources_take_variables_from_the_environment() {
        // PATH is set wherever tests run (setting a variable here would race
        // with other tests reading the environment).
        let path = std::env::var("PATH").unwrap();
        let text = "[[camera]]\nname = \"door\"\nsource = \"rtsp://admin:${PATH}@cam/s\"\n";
        let c = parse_cameras(text).unwrap();
        assert_eq!(c[0].input, Input::Source(format!("rtsp://admin:{path}@cam/s")));
        let e = parse_cameras(&text.replace("${PATH}", "${SSD_CAM_UNSET_VARIABLE}")).unwrap_err();
        assert_eq!(
            e,
            "camera 'door': source: ${SSD_CAM_UNSET_VARIABLE}: SSD_CAM_UNSET_VARIABLE is not set in the environment"
        );
    }

    #[test]
    fn filters_come_per_label_and_a_camera_adds_to_the_defaults() {
        let text = r#"
[defaults.filters.person]
min_score = 0.6
[[camera]]
name = "door"
source = "demo"
stationary_check = 4
[camera.filters.person]
min_area = 2000
required_zones = ["porch"]
[camera.filters.car]
threshold = 0.8
"#;
        let c = parse_cameras(text).unwrap();
        let f = &c[0].detection.filters;
        assert_eq!(f.iter().map(|f| f.label.as_str()).collect::<Vec<_>>(), ["person", "car"]);
        assert_eq!((f[0].limits.min_score, f[0].required_zones.as_slice()), (Some(0.6), &["porch".to_string()][..]));
        assert_eq!(f[1].threshold, Some(0.8));
        assert_eq!(c[0].motion.stationary_check, Duration::from_secs(4));
        let bad = "[[camera]]\nname = \"door\"\nsource = \"demo\"\n[camera.filters.person]\nmin_score = 3\n";
        assert_eq!(parse_cameras(bad).unwrap_err(), "camera 'door': filters.person: min_score: 3 is not 0 to 1");
    }

    #[test]
    fn a_camera_sets_its_own_pre_and_post_capture_over_the_command_line() {
        let mut base = parse_cameras("[[camera]]\nname = \"x\"\nsource = \"demo\"\n").unwrap().remove(0);
        let text = "[defaults]\npost_capture = 8\n[[camera]]\nname = \"door\"\nsource = \"demo\"\npre_capture = 2\n\
                    [[camera]]\nname = \"yard\"\nsource = \"demo\"\n";
        let err = parse_cameras_over(text, &base).unwrap_err();
        assert!(err.contains("post_capture: clips are kept with --clips DIR"), "{err}");
        base.outputs.clips = Some(Clips {
            dir: "clips".into(),
            capture: crate::clips::Capture::default(),
            annotated: false,
            buffer: None,
        });
        let c = parse_cameras_over(text, &base).unwrap();
        let capture = |i: usize| c[i].outputs.clips.as_ref().unwrap().capture;
        assert_eq!((capture(0).pre_ms, capture(0).post_ms), (2000.0, 8000.0));
        assert_eq!((capture(1).pre_ms, capture(1).post_ms), (5000.0, 8000.0));
        let bad = "[[camera]]\nname = \"x\"\nsource = \"demo\"\npre_capture = -1\n";
        let bad = parse_cameras_over(bad, &base).unwrap_err();
        assert!(bad.contains("pre_capture: -1 is not a number of seconds"), "{bad}");
    }

    #[test]
    fn a_good_file_gives_each_camera_its_settings() {
        let c = parse_cameras(GOOD).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].name.as_deref(), &c[0].input), (Some("porch"), &Input::Source("demo:fps=30".into())));
        assert_eq!(c[0].detection.threshold, Some(0.5));
        assert_eq!(c[0].detection.classes, vec!["circle".to_string()]);
        assert_eq!(c[0].zones.len(), 1);
        assert_eq!((&c[1].input, c[1].motion.detect), (&Input::Device("/dev/video2".into()), Detect::Always));
        assert!(c[1].zones.is_empty() && c[1].detection.threshold.is_none());
    }

    #[test]
    fn defaults_apply_to_every_camera_and_each_camera_overrides_them() {
        let text = format!(
            "[defaults]\nthreshold = 0.3\ntrack_max_age = 60\ndetect = \"motion\"\nstationary_after = 0\n{GOOD}"
        );
        let c = parse_cameras(&text).unwrap();
        // porch sets its own threshold; garage keeps the default's.
        assert_eq!((c[0].detection.threshold, c[1].detection.threshold), (Some(0.5), Some(0.3)));
        assert_eq!((c[0].tracking.max_age, c[1].tracking.max_age), (60, 60));
        assert_eq!((c[0].motion.detect, c[1].motion.detect), (Detect::Motion, Detect::Always));
        assert_eq!(c[1].event_timing.stationary_after, Duration::ZERO);
        // What neither sets comes from the command line.
        assert_eq!(c[0].tracking.min_hits, base().tracking.min_hits);
        let err = parse_cameras(&format!("[defaults]\nname = \"x\"\n{GOOD}")).unwrap_err();
        assert_eq!(err, "defaults: name: belongs in each [[camera]]");
    }

    #[test]
    fn the_engine_table_sets_the_run_s_engine_over_the_command_line() {
        use crate::model::{Backend, ExecutionProvider, Precision};
        let flags = EngineArgs { backend: Backend::Tract, ep: ExecutionProvider::Cpu, precision: Precision::F16 };
        assert_eq!(parse_engine_over(GOOD, flags), Ok(flags), "no [engine] table keeps the flags");
        let text = format!("[engine]\nbackend = \"onnxruntime\"\nep = \"cuda\"\n{GOOD}");
        let engine = parse_engine_over(&text, flags).unwrap();
        assert_eq!(
            (engine.backend, engine.ep, engine.precision),
            (Backend::Onnxruntime, ExecutionProvider::Cuda, Precision::F16)
        );
        let f32_only = parse_engine_over("[engine]\nprecision = \"f32\"\n", flags).unwrap();
        assert_eq!(f32_only, EngineArgs { precision: Precision::F32, ..flags });
        assert_eq!(parse_cameras(&text).map(|c| c.len()), Ok(2), "cameras read past the [engine] table");
        let bad = [
            ("[engine]\nbackend = \"tensorflow\"\n", "engine: backend: 'tensorflow' is not auto, tract or onnxruntime"),
            ("[engine]\nep = \"gpu\"\n", "engine: ep: 'gpu' is not cpu, cuda, tensorrt, xnnpack or openvino"),
            (
                "[engine]\nbackedn = \"tract\"\n",
                "engine: line 2, column 1: unknown key 'backedn' (did you mean 'backend'?)",
            ),
            ("[engine]\nbackend = 1\n", "engine: invalid type"),
            ("engine = \"tract\"\n", "engine: invalid type"),
            ("[engine]\nbackend = \"tract\n", "line 2, column "),
        ];
        for (text, want) in bad {
            let err = parse_engine_over(text, flags).unwrap_err();
            assert!(err.starts_with(want), "{err:?} does not start with {want:?}");
            assert!(!err.contains('\n'), "{err:?} is not one line");
        }
    }

    #[test]
    fn each_bad_entry_is_one_line_naming_the_camera_and_the_field() {
        let cases = [
            (
                GOOD.replace("threshold = 0.5", "threshold = 1.5"),
                "camera 'porch': threshold: 1.5 is not between 0 and 1",
            ),
            (
                GOOD.replace("threshold = 0.5", "treshold = 0.5"),
                "camera 'porch': line 5, column 1: unknown key 'treshold' (did you mean 'threshold'?)",
            ),
            (GOOD.replace("threshold = 0.5", "colour = 0.5"), "camera 'porch': line 5, column 1: unknown key 'colour'"),
            (GOOD.replace("detect = \"always\"", "detect = \"never\""), "camera 'garage': detect: 'never'"),
            (GOOD.replace("door=0,0,100,0,100,100,0,100", "door=0,0"), "camera 'porch': zones: "),
            (GOOD.replace("name = \"garage\"", "name = \"porch\""), "camera 'porch': name: two cameras"),
            (GOOD.replace("name = \"garage\"\n", ""), "camera #2: name: missing"),
            (GOOD.replace("device = \"/dev/video2\"", ""), "camera 'garage': source: missing"),
            (GOOD.replace("name = \"garage\"", "name = \"a/b\""), "camera 'a/b': name: 'a/b'"),
            // Issue 51, point 10: a value of the wrong type names its key
            // and line (in its own camera's table, not the first camera's).
            (
                GOOD.replace("threshold = 0.5", "threshold = \"high\""),
                "camera 'porch': line 5, column 1: threshold: invalid type: string \"high\"",
            ),
            (
                GOOD.replace("detect = \"always\"", "threshold = \"0.5\""),
                "camera 'garage': line 12, column 1: threshold: invalid type: string \"0.5\"",
            ),
            (
                GOOD.replace("detect = \"always\"", "top_k = -1"),
                "camera 'garage': line 12, column 1: top_k: invalid value",
            ),
            (
                GOOD.replace("zones = [\"door=0,0,100,0,100,100,0,100\"]", "zones = \"door=0,0,100,0,100,100,0,100\""),
                "camera 'porch': line 7, column 1: zones: invalid type: string",
            ),
            ("[defaults]\nfps = \"x\"\n".to_string(), "defaults: line 2, column 1: fps: invalid type"),
            (GOOD.replace("[[camera]]\nname = \"garage\"", "[[camera]\nname = \"garage\""), "line 9, column "),
            (
                GOOD.replace("detect = \"always\"", "track = \"maybe\""),
                "camera 'garage': track: 'maybe' is not on or off",
            ),
            (
                GOOD.replace("threshold = 0.5", "stationary_after = -1"),
                "camera 'porch': stationary_after: -1 is not a number of seconds, 0 or more",
            ),
            ("[other]\nx = 1\n".to_string(), "line 1, column 1: unknown key 'other'"),
            (String::new(), "no [[camera]] table"),
        ];
        for (text, want) in cases {
            let err = parse_cameras(&text).unwrap_err();
            assert!(err.starts_with(want), "{err:?} does not start with {want:?}");
            assert!(!err.contains('\n'), "{err:?} is not one line");
        }
    }

    /// Issue 51, point 11: a cameras file's relative source is its own
    /// folder's, as most tools read paths in their files.
    #[test]
    fn a_relative_source_is_taken_from_the_cameras_file_s_folder() {
        let folder = std::path::Path::new("/etc/ssd-cam");
        let from = |s: &str| Input::Source(s.into()).relative_to(folder).spec().to_owned();
        assert_eq!(from("walk.mp4"), "/etc/ssd-cam/walk.mp4");
        assert_eq!(from("frames/*.jpg"), "/etc/ssd-cam/frames/*.jpg");
        for kept in ["/srv/walk.mp4", "rtsp://cam/s", "demo", "demo:fps=5", "-"] {
            assert_eq!(from(kept), kept);
        }
        assert_eq!(Input::Device("video0".into()).relative_to(folder).spec(), "video0");
    }

    #[test]
    fn more_zones_than_a_camera_takes_is_one_error_line() {
        let zones: Vec<String> = (0..70).map(|i| format!("\"z{i}=0,0,10,0,10,10\"")).collect();
        let text = format!("[[camera]]\nname = \"door\"\nsource = \"demo\"\nzones = [{}]\n", zones.join(", "));
        let base = crate::cli::default_camera(Input::Source("demo".into())).unwrap();
        let e = parse_cameras_over(&text, &base).unwrap_err();
        assert_eq!(e, "camera 'door': zones: 70 zones; a camera takes at most 64");
    }

    #[test]
    fn every_camera_flag_s_key_is_a_key_of_the_camera_tables() {
        let base = crate::cli::default_camera(Input::Source("demo".into())).unwrap();
        for (flag, key) in CAMERA_FLAGS {
            // A value of no key's type: a known key says so, an unknown
            // one is named as unknown.
            let text = format!("[[camera]]\nname = \"door\"\nsource = \"demo\"\n{key} = 1979-05-27\n");
            let e = parse_cameras_over(&text, &base).unwrap_err();
            assert!(!e.contains("unknown key"), "--{flag}: {key}: {e}");
        }
    }
}
