//! Command-line arguments (clap derive). Parsing and range checks only; the
//! objects they describe are built in [`crate::app`].

pub use crate::config::EngineArgs;
use clap::Parser;

const EXAMPLES: &str = "\
Examples:
  ssd-cam --device /dev/video0
  ssd-cam --device 0 --resolution 1280x720 --fps 30 --format mjpeg --headless
  ssd-cam --list-devices
  ssd-cam inspect path/to/model.onnx
  ssd-cam inspect person-ssdlite --plan
  ssd-cam bench --frames 300
  ssd-cam --source demo --headless --max-frames 100
  ssd-cam --source 'photos/*.jpg' --headless > detections.jsonl
  ssd-cam --source clip.mp4 --headless > detections.jsonl
  ssd-cam --source 'rtsp://user:password@192.168.1.20:554/stream1' --headless
  ffmpeg -i clip.mp4 -f yuv4mpegpipe - | ssd-cam --source - --headless
  ssd-cam --model path/to/model.onnx --source frames/ --headless --threshold 0.5
  ssd-cam --source demo --headless --max-frames 90 --save shots/ --save-every 30
  ssd-cam --device /dev/video0 --headless --http 127.0.0.1:8080
  ssd-cam --device /dev/video0 --headless --http 0.0.0.0:8080 --http-token-file /etc/ssd-cam/token
  RUST_LOG=debug ssd-cam --source demo --headless | head -3";

/// Real-time SSD object detection for edge boards. No Debug: sources,
/// `--mqtt` and `--http-token` hold secrets (a camera's settings,
/// `config::Camera`, show them redacted).
#[derive(Clone, Parser)]
#[command(name = "ssd-cam", version, about, after_help = EXAMPLES)]
pub struct Args {
    /// Check everything a run would check before its first frame (these
    /// flags or --config, zones, the model and its manifest, output
    /// folders, the broker URL, the web options) without opening a camera,
    /// a stream or a connection; print `ok`, or every problem, one a line.
    /// For a service's ExecStartPre=.
    #[arg(long)]
    pub check_config: bool,

    /// A command instead of a detection run.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Camera device: /dev/videoN, a /dev/v4l/by-id/… link, or an index (0 is
    /// /dev/video0). Repeat for more cameras (devices come before sources).
    #[arg(long, help_heading = "Sources", value_name = "PATH|N", value_parser = device_path)]
    pub device: Vec<String>,

    /// List the cameras and the formats, sizes and frame rates they offer, then exit.
    #[arg(long, help_heading = "Sources", conflicts_with_all = ["source", "device"])]
    pub list_devices: bool,

    /// Camera frame size [default: the size nearest 640x480]; for video files
    /// and streams, the size ffmpeg scales to [default: the stream's].
    #[arg(long, help_heading = "Sources", value_name = "WxH", value_parser = crate::values::parse_size)]
    pub resolution: Option<(u32, u32)>,

    /// Camera frame rate [default: the highest at the chosen size].
    #[arg(long, help_heading = "Sources", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub fps: Option<u32>,

    /// Camera pixel format [default: the cheapest to convert among the best modes].
    #[arg(long, help_heading = "Sources", value_name = "FORMAT", value_enum)]
    pub format: Option<crate::config::CameraFormat>,

    /// Seconds to keep trying when the camera or network stream fails or is
    /// unplugged mid-run [default: 30].
    #[arg(long, help_heading = "Sources", value_name = "SECS", value_parser = positive_seconds)]
    pub reconnect_timeout: Option<f64>,

    /// Input: `demo[:size=WxH,fps=N,seed=N,frames=N,scene=S,light=N]`, a video file (.mp4,
    /// .mkv, .mov, .avi, .ts, …), a network URL (rtsp://, rtsps://, rtmp://,
    /// http(s)://, udp://, srt://), a .y4m file, `-` for Y4M on stdin, an
    /// image, a directory of images, or a quoted glob. Video files and URLs
    /// are decoded by ffmpeg. Repeat for more cameras: they share one model.
    #[arg(long, help_heading = "Sources", value_name = "SPEC")]
    pub source: Vec<String>,

    /// The camera's name in outputs (JSON `source`, events, MQTT topics):
    /// the first --name for the first camera (devices, then sources), and
    /// so on [default: the source's own name, made unique].
    #[arg(long, help_heading = "Sources", value_name = "NAME", value_parser = camera_name)]
    pub name: Vec<String>,

    /// Cameras from a file: `[[camera]]` tables with name, source or device,
    /// and optionally threshold, classes, min_size, detect, zones, lines,
    /// motion_mask and the other per-camera keys of the README, each laid
    /// over an optional `[defaults]` table, laid over these options.
    #[arg(long, help_heading = "Sources", value_name = "FILE", conflicts_with_all = ["source", "device", "name"])]
    pub config: Option<std::path::PathBuf>,

    /// ffmpeg hardware decoder for video files and streams (`-hwaccel`), e.g.
    /// v4l2m2m (Raspberry Pi), cuda (Jetson with an ffmpeg built for it), vaapi.
    #[arg(long, help_heading = "Sources", value_name = "NAME")]
    pub hwaccel: Option<String>,

    /// More ffmpeg input options, split at spaces, placed before `-i`
    /// (e.g. "-stream_loop -1" to loop a file).
    #[arg(long, help_heading = "Sources", value_name = "ARGS", allow_hyphen_values = true)]
    pub ffmpeg_input_args: Option<String>,

    /// RTSP transport for rtsp:// sources.
    #[arg(long, help_heading = "Sources", value_name = "PROTOCOL", value_enum, default_value_t)]
    pub rtsp_transport: crate::config::RtspTransport,

    /// Record the annotated video (what the window shows) to FILE (.mp4,
    /// .mkv, .mov or .avi), encoded by ffmpeg at the source's frame rate.
    #[arg(long, help_heading = "Output", value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,

    /// Record the frames as they came, without the overlay.
    #[arg(long, help_heading = "Output", requires = "record")]
    pub record_raw: bool,

    /// Start a new file every SECONDS of video (FILE-000.mp4, FILE-001.mp4, …).
    #[arg(long, help_heading = "Output", value_name = "SECONDS", value_parser = positive_seconds, requires = "record")]
    pub record_segment: Option<f64>,

    /// Model name under models/ or a path to an .onnx file (manifest beside it)
    /// [default: ssd300-shapes for the demo source, person-ssdlite for real ones].
    #[arg(long, help_heading = "Model", value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// Write one JSON object per frame to stdout instead of opening a window.
    #[arg(long, help_heading = "Output")]
    pub headless: bool,

    /// With the window open, also write the JSON lines to stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Minimum class score to report [default: from the manifest].
    #[arg(long, help_heading = "Model", value_name = "F", value_parser = unit_interval, allow_negative_numbers = true)]
    pub threshold: Option<f32>,

    /// Track objects across frames: each detection gets a `track_id`
    /// (SORT: a Kalman prediction matched by IoU; --track-low adds
    /// ByteTrack's second pass over low-score detections).
    #[arg(long, help_heading = "Tracking and events", value_name = "on|off", value_enum, default_value_t)]
    pub track: crate::config::Track,

    /// Detections before a track is confirmed.
    #[arg(long, help_heading = "Tracking and events", value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub track_min_hits: u32,

    /// Frames a track outlives its last detection (a hidden object keeps its id this long).
    #[arg(long, help_heading = "Tracking and events", value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub track_max_age: u32,

    /// Least IoU between a track's predicted box and a detection to join them.
    #[arg(long, help_heading = "Tracking and events", value_name = "F", default_value_t = 0.3, value_parser = unit_interval)]
    pub track_iou: f32,

    /// Write object events (new, update, end; one JSON object each, schema
    /// `ssd-cam.event/1`) on stdout instead of a line per frame. Needs tracking.
    #[arg(long, help_heading = "Tracking and events")]
    pub events: bool,

    /// An update event while an object stays, at least this often (seconds).
    #[arg(long, help_heading = "Tracking and events", value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub event_every: f64,

    /// An update event when an object's score beats its best told by this much...
    #[arg(long, help_heading = "Tracking and events", value_name = "F", default_value_t = 0.1, value_parser = unit_interval)]
    pub event_score_step: f32,

    /// ...and at least this long has passed since the last event on it (seconds).
    #[arg(long, help_heading = "Tracking and events", value_name = "SECS", default_value_t = 5.0, value_parser = seconds)]
    pub event_score_interval: f64,

    /// An object whose box stays put this long is stationary: an update says
    /// so, and another when it moves again (seconds; 0: never).
    #[arg(long, help_heading = "Tracking and events", value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    pub stationary_after: f64,

    /// Save each object's best-scoring frame, its box drawn, as
    /// DIR/FIRST-ID.jpg, FIRST the object's first time in ms (events name
    /// the file in "snapshot"). Needs tracking.
    #[arg(long, help_heading = "Output", value_name = "DIR")]
    pub snapshots: Option<std::path::PathBuf>,

    /// A video clip of each object event in DIR (FIRST-ID.mp4, H.264 in
    /// MP4; events name it in "clip"): from --pre-capture seconds before
    /// the object came to --post-capture seconds after it left; objects
    /// that overlap share one. Network cameras and H.264/H.265 files are
    /// copied as they come, other sources encoded. Needs tracking.
    #[arg(long, help_heading = "Output", value_name = "DIR")]
    pub clips: Option<std::path::PathBuf>,

    /// Seconds of video in a clip before its first object came.
    #[arg(long, help_heading = "Output", value_name = "SECS", default_value_t = 5.0, value_parser = seconds, requires = "clips")]
    pub pre_capture: f64,

    /// Seconds of video in a clip after its last object left.
    #[arg(long, help_heading = "Output", value_name = "SECS", default_value_t = 5.0, value_parser = seconds, requires = "clips")]
    pub post_capture: f64,

    /// Clips with the boxes drawn (encoded, never a copy of the stream).
    #[arg(long, help_heading = "Output", requires = "clips")]
    pub clips_annotated: bool,

    /// Keep the few seconds of pre-roll segments under DIR/ssd-cam-buffer
    /// rather than in the clips folder: a tmpfs (/dev/shm, /run) spares an
    /// SD card the stream's continuous writes.
    #[arg(long, help_heading = "Output", value_name = "DIR", requires = "clips")]
    pub clips_buffer: Option<std::path::PathBuf>,

    /// Delete clips, snapshots and recordings older than DAYS, oldest
    /// first, at start and every 5 minutes; KIND= (clips, snapshots or
    /// recordings) for one kind only. Repeatable.
    #[arg(long, help_heading = "Output", value_name = "[KIND=]DAYS")]
    pub retain_days: Vec<String>,

    /// Delete the oldest clips, snapshots and recordings while a kind
    /// holds more than SIZE (500M, 20G); KIND= for one kind only.
    /// Repeatable.
    #[arg(long, help_heading = "Output", value_name = "[KIND=]SIZE")]
    pub retain_size: Vec<String>,

    /// Publish events to an MQTT broker: mqtt://user:pass@host:port/prefix,
    /// login and port optional (mqtts:// for TLS). Topics: PREFIX/SOURCE/events (QoS 1, every event),
    /// PREFIX/SOURCE/LABEL (retained count of objects now in view),
    /// PREFIX/SOURCE/state (retained online/offline). Needs tracking.
    /// `${NAME}` takes a part from the environment; `%40` writes an `@`
    /// in the user or password.
    // Parsed by the application, not clap: clap's errors repeat the value,
    // password included.
    #[arg(long, help_heading = "MQTT", value_name = "URL")]
    pub mqtt: Option<String>,

    /// A file holding the MQTT password (its first line), instead of
    /// writing it in --mqtt's URL, which every user of the board can read
    /// in the process list.
    #[arg(long, help_heading = "MQTT", value_name = "FILE", requires = "mqtt")]
    pub mqtt_password_file: Option<std::path::PathBuf>,

    /// The CA certificate (PEM) that signed the broker's, for mqtts://
    /// (default: the system's roots).
    #[arg(long, help_heading = "MQTT", value_name = "FILE", requires = "mqtt")]
    pub mqtt_ca: Option<std::path::PathBuf>,

    /// Also publish each frame's detections on PREFIX/SOURCE/detections,
    /// at most F times a second (QoS 0, while connected).
    #[arg(long, help_heading = "MQTT", value_name = "F", requires = "mqtt", value_parser = positive_hz)]
    pub mqtt_detections_hz: Option<f64>,

    /// Tell Home Assistant about each camera by MQTT discovery under PREFIX
    /// (default homeassistant): occupancy and count sensors, detection switches.
    #[arg(long, help_heading = "MQTT", value_name = "PREFIX", num_args = 0..=1,
          default_missing_value = "homeassistant", requires = "mqtt", value_parser = discovery_prefix)]
    pub ha_discovery: Option<String>,

    /// Serve a web viewer, metrics and a health check on ADDR:PORT (e.g.
    /// 127.0.0.1:8080; 0.0.0.0:8080 for the whole network, which needs
    /// --http-token-file). Pages: / (live video, detections, events),
    /// /review (past events with their clips, with --clips), /stream.mjpg,
    /// /snapshot.jpg, /clips/, /snapshots/, /api/detections, /api/events,
    /// /api/info, /metrics, /healthz.
    #[arg(long, help_heading = "Web", value_name = "ADDR:PORT", value_parser = http_addr)]
    pub http: Option<std::net::SocketAddr>,

    /// The token browsers and scripts must give (`Authorization: Bearer
    /// TOKEN`, or the page's login form), at least 16 characters. Prefer
    /// --http-token-file: a command line is visible to every user of the board.
    #[arg(long, help_heading = "Web", value_name = "TOKEN", requires = "http", conflicts_with = "http_token_file")]
    pub http_token: Option<String>,

    /// A file holding the --http-token.
    #[arg(long, help_heading = "Web", value_name = "FILE", requires = "http")]
    pub http_token_file: Option<std::path::PathBuf>,

    /// Allow --http on an address other than the loopback one without a token.
    #[arg(long, help_heading = "Web", requires = "http")]
    pub http_insecure: bool,

    /// The most video and detection streams served at once.
    #[arg(long, help_heading = "Web", value_name = "N", default_value_t = 32, requires = "http",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub http_max_clients: u32,

    /// The most frames a second encoded for the video viewers (each frame
    /// JPEG-encoded once, shared by all of them).
    #[arg(long, help_heading = "Web", value_name = "F", default_value_t = 15.0, requires = "http", value_parser = positive_hz)]
    pub http_fps: f64,

    /// Serve HTTPS with this certificate chain (PEM; needs --http-key).
    #[arg(long, help_heading = "Web", value_name = "FILE", requires_all = ["http", "http_key"])]
    pub http_cert: Option<std::path::PathBuf>,

    /// The private key (PEM) of --http-cert.
    #[arg(long, help_heading = "Web", value_name = "FILE", requires_all = ["http", "http_cert"])]
    pub http_key: Option<std::path::PathBuf>,

    /// /healthz reports unhealthy after this many seconds without a frame.
    #[arg(long, help_heading = "Web", value_name = "SECS", default_value_t = 30.0, requires = "http", value_parser = positive_seconds)]
    pub health_timeout: f64,

    /// An object filter for one label (Frigate's names; repeat for more):
    /// LABEL:KEY=VALUE[,…] with min_score, min_area / max_area (pixels, or
    /// up to 1 a fraction of the frame), min_ratio / max_ratio (width /
    /// height), threshold (the median of its last 10 scores must reach it
    /// before the object counts) and required_zones=ZONE[+ZONE…] (events,
    /// MQTT and snapshots only once it entered one).
    #[arg(long, help_heading = "Tracking and events", value_name = "LABEL:KEY=VALUE,…", value_parser = crate::filters::ObjectFilter::parse)]
    pub filter: Vec<crate::filters::ObjectFilter>,

    /// A named zone for events, a polygon in source pixels:
    /// NAME=x1,y1,x2,y2,x3,y3[,…] (repeat for more zones). Events say which
    /// zones an object is in (at its box's bottom centre) and has entered.
    /// NAME:person+car=… counts only those labels.
    #[arg(long, help_heading = "Tracking and events", value_name = "NAME[:LABELS]=POLYGON", value_parser = crate::zones::Zone::parse)]
    pub zone: Vec<crate::zones::Zone>,

    /// A named counting line: `NAME=x1,y1,x2,y2[,IN,OUT]` (repeat for more);
    /// IN and OUT name the crossings from its left to its right and back.
    /// Each crossing is an update event with the line's counts per way.
    #[arg(long, help_heading = "Tracking and events", value_name = "NAME=x1,y1,x2,y2[,IN,OUT]", value_parser = crate::zones::Line::parse)]
    pub line: Vec<crate::zones::Line>,

    /// Zones and lines from a file: one per line, `zone NAME=x1,y1,…` or
    /// `line NAME=x1,y1,x2,y2[,IN,OUT]` (`#` comments), besides --zone and --line.
    #[arg(long, help_heading = "Tracking and events", value_name = "FILE")]
    pub zones_file: Option<std::path::PathBuf>,

    /// Turn on ByteTrack's second pass: detections scoring between F (e.g.
    /// 0.1) and --threshold continue existing tracks, and are written only
    /// when they do. Off by default: on the demo scene it found more objects
    /// but added more false ones (BENCHMARKS.md, "Tracking").
    #[arg(long, help_heading = "Tracking and events", value_name = "F", value_parser = unit_interval)]
    pub track_low: Option<f32>,

    /// IoU above which NMS suppresses a box [default: from the manifest].
    #[arg(long, help_heading = "Model", value_name = "F", value_parser = unit_interval, allow_negative_numbers = true)]
    pub nms_iou: Option<f32>,

    /// Report only these classes: labels or class ids, comma-separated
    /// (e.g. `person,car` or `1,3`).
    #[arg(long, help_heading = "Model", value_name = "LIST", value_delimiter = ',')]
    pub classes: Vec<String>,

    /// Report only boxes at least this many source pixels wide and high.
    #[arg(long, help_heading = "Model", value_name = "PIXELS", value_parser = min_size)]
    pub min_size: Option<f32>,

    /// Detections kept per frame [default: from the manifest].
    #[arg(long, help_heading = "Model", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub top_k: Option<u32>,

    /// Threads for the network's matrix kernels, per worker [default: the
    /// cores left to each worker, at least 1].
    #[arg(long, help_heading = "Performance", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: Option<u32>,

    /// Inference workers, each running whole frames on its own copy of the
    /// network's state; results stay in frame order [default: one per core].
    #[arg(long, help_heading = "Performance", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub workers: Option<u32>,

    /// The engine that runs the network.
    #[command(flatten)]
    pub engine: EngineArgs,

    /// Where the model runs: on every frame (always), or only where
    /// something moves or is tracked (motion: a cheap motion detector on
    /// each frame, the model on crops around what it finds, the whole frame
    /// now and then). auto: motion for live sources (cameras, streams),
    /// always for files. See README.
    #[arg(long, help_heading = "Motion", value_name = "auto|always|motion", value_enum, default_value_t)]
    pub detect: crate::config::Detect,

    /// With --detect motion: run the whole frame every N frames, or every
    /// N seconds with an s (5s), to catch objects that stopped moving.
    #[arg(long, help_heading = "Motion", value_name = "N|Ns", default_value = "5s", value_parser = crate::gate::FullEvery::parse)]
    pub full_frame_every: crate::gate::FullEvery,

    /// With --detect motion: a stationary object (--stationary-after) is
    /// looked at on a crop of its box this often instead of every frame
    /// (seconds above 0); it ends when a look no longer finds it.
    #[arg(long, help_heading = "Motion", value_name = "SECS", default_value_t = 10.0, value_parser = positive_seconds)]
    pub stationary_check: f64,

    /// With --detect motion: an area where motion never counts (a clock
    /// overlay, a tree), a polygon in source pixels x1,y1,x2,y2,x3,y3,…
    /// (repeat for more).
    #[arg(long, help_heading = "Motion", value_name = "POLYGON", value_parser = crate::zones::parse_mask)]
    pub motion_mask: Vec<crate::zones::Zone>,

    /// With --detect motion: grey levels (0-255) a pixel must change by to
    /// count as moving.
    #[arg(long, help_heading = "Motion", value_name = "N", default_value_t = 25, value_parser = clap::value_parser!(u8).range(1..))]
    pub motion_threshold: u8,

    /// Draw the regions the model ran on (window, --save).
    #[arg(long, help_heading = "Motion")]
    pub show_regions: bool,

    /// The most pixels a frame may have (width × height), checked on what a
    /// file, stream or image announces before any memory is taken for it
    /// (default 8K UHD, 7680 × 4320).
    #[arg(long, help_heading = "Sources", value_name = "N", default_value_t = ssd_runtime::source::DEFAULT_MAX_PIXELS, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: u64,

    /// Stop after writing N frames.
    #[arg(long, help_heading = "Output", value_name = "N", value_parser = frame_count)]
    pub max_frames: Option<u64>,

    /// Keep the frame's aspect ratio (pad) instead of stretching it to the model input.
    #[arg(long, help_heading = "Model")]
    pub letterbox: bool,

    /// Also save frames with their detections drawn, as DIR/frame_NNNNNNNN.jpg.
    #[arg(long, help_heading = "Output", value_name = "DIR")]
    pub save: Option<std::path::PathBuf>,

    /// Save every N-th frame.
    #[arg(long, help_heading = "Output", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), requires = "save")]
    pub save_every: u64,

    /// Save the frames as they came, without boxes (e.g. calibration images).
    #[arg(long, help_heading = "Output", requires = "save")]
    pub save_raw: bool,

    /// Save lossless PNG instead of JPEG.
    #[arg(long, help_heading = "Output", requires = "save")]
    pub save_png: bool,

    /// Replace saved frames that already exist.
    #[arg(long, help_heading = "Output", requires = "save")]
    pub overwrite: bool,
}

/// Commands besides detection.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a model's graph inputs and outputs, how its manifest reads them
    /// (priors, box coding, scores), and what does not fit; exit 1 if anything.
    Inspect {
        /// Model name under models/ or a path to an .onnx file [default: person-ssdlite].
        #[arg(value_name = "NAME|PATH")]
        model: Option<String>,
        /// Also list how tract lowered the graph: each node of the optimised
        /// plan with its operation, kernel and output shape.
        #[arg(long)]
        plan: bool,
    },
    /// Measure this machine: model load time, each stage alone on one frame,
    /// then the full pipeline (per-stage p50/p95/p99 ms, frames/s).
    Bench {
        /// Model name under models/ or a path to an .onnx file [default:
        /// person-ssdlite, the model real sources run and README's figures
        /// are for, whatever the source; --model ssd300-shapes for the
        /// demo's own].
        #[arg(long, value_name = "NAME|PATH")]
        model: Option<String>,
        /// Input (as for detection); `demo:fps=0` renders frames as fast as they are taken.
        #[arg(long, value_name = "SPEC", default_value = "demo:fps=0")]
        source: String,
        /// Frames measured in each phase.
        #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
        frames: u32,
        /// Frames run before measuring.
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        warmup: u32,
        /// Threads for the network's matrix kernels, per worker [default: the
        /// cores left to each worker, at least 1].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
        threads: Option<u32>,
        /// Inference workers in the pipeline phase [default: one per core].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
        workers: Option<u32>,
        /// The engine that runs the network.
        #[command(flatten)]
        engine: EngineArgs,
        /// One JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// Also time every operation of the network (where inference goes).
        #[arg(long)]
        profile: bool,
    },
}

/// The settings of one camera reading `input`, from the command line.
pub fn base_camera(args: &Args, input: crate::config::Input) -> anyhow::Result<crate::config::Camera> {
    use crate::config::*;
    let (mut zones, mut lines) = (args.zone.clone(), args.line.clone());
    if let Some(path) = &args.zones_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--zones-file {}: {e}", path.display()))?;
        let (z, l) =
            crate::zones::parse_places(&text).map_err(|e| anyhow::anyhow!("--zones-file {}: {e}", path.display()))?;
        zones.extend(z);
        lines.extend(l);
    }
    if zones.len() > crate::zones::MAX_ZONES {
        anyhow::bail!("--zone: at most {} zones", crate::zones::MAX_ZONES);
    }
    Ok(Camera {
        name: None,
        input,
        capture: Capture {
            resolution: args.resolution,
            fps: args.fps,
            format: args.format,
            reconnect_timeout: args.reconnect_timeout,
            hwaccel: args.hwaccel.clone(),
            ffmpeg_input_args: args
                .ffmpeg_input_args
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            rtsp_transport: args.rtsp_transport,
        },
        detection: Detection {
            threshold: args.threshold,
            nms_iou: args.nms_iou,
            top_k: args.top_k,
            classes: args.classes.clone(),
            min_size: args.min_size,
            filters: args.filter.iter().fold(Vec::new(), |mut all, f| {
                crate::filters::add(&mut all, f.clone());
                all
            }),
        },
        tracking: Tracking {
            track: args.track,
            min_hits: args.track_min_hits,
            max_age: args.track_max_age,
            iou: args.track_iou,
            low: args.track_low,
        },
        event_timing: EventTiming {
            every: std::time::Duration::from_secs_f64(args.event_every),
            score_step: args.event_score_step,
            score_every: std::time::Duration::from_secs_f64(args.event_score_interval),
            stationary_after: std::time::Duration::from_secs_f64(args.stationary_after),
        },
        zones,
        lines,
        motion: Motion {
            detect: args.detect,
            full_frame_every: args.full_frame_every,
            stationary_check: std::time::Duration::from_secs_f64(args.stationary_check),
            mask: args.motion_mask.clone(),
            threshold: args.motion_threshold,
            show_regions: args.show_regions,
        },
        outputs: Outputs {
            json: args.headless || args.json || args.events,
            events: args.events,
            snapshots: args.snapshots.clone(),
            clips: args.clips.clone().map(|dir| Clips {
                dir,
                capture: crate::clips::Capture {
                    pre_ms: args.pre_capture * 1000.0,
                    post_ms: args.post_capture * 1000.0,
                },
                annotated: args.clips_annotated,
                buffer: args.clips_buffer.clone(),
            }),
            mqtt: mqtt_url(args)?.map(|url| Mqtt {
                url,
                ca: args.mqtt_ca.clone(),
                detections_hz: args.mqtt_detections_hz,
                discovery: args.ha_discovery.clone(),
            }),
            save: args.save.clone().map(|dir| Save {
                dir,
                every: args.save_every,
                png: args.save_png,
                raw: args.save_raw,
                overwrite: args.overwrite,
            }),
            record: args.record.clone().map(|path| Record {
                path,
                raw: args.record_raw,
                segment_seconds: args.record_segment,
            }),
            max_frames: args.max_frames,
        },
    })
}

/// `--mqtt` with `${NAME}` expanded, parsed, and the password of
/// `--mqtt-password-file` in place of the URL's.
fn mqtt_url(args: &Args) -> anyhow::Result<Option<crate::mqtt::MqttUrl>> {
    let Some(spec) = &args.mqtt else { return Ok(None) };
    let spec = crate::secrets::expand_env(spec).map_err(|e| anyhow::anyhow!("--mqtt: {e}"))?;
    let mut url = crate::mqtt::MqttUrl::parse(&spec).map_err(|e| anyhow::anyhow!("--mqtt {e}"))?;
    if let Some(path) = &args.mqtt_password_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--mqtt-password-file {}: {e}", path.display()))?;
        let password = text.lines().next().unwrap_or_default().trim_end_matches('\r').to_owned();
        let Some((_, secret)) = url.login.as_mut() else {
            anyhow::bail!("--mqtt-password-file needs a user name in --mqtt (mqtt://USER@host/…)");
        };
        *secret = password;
    }
    Ok(Some(url))
}

/// The settings of a camera reading `input` when no flag is given: what a
/// cameras file is laid over when read on its own.
pub fn default_camera(input: crate::config::Input) -> anyhow::Result<crate::config::Camera> {
    let args = Args::try_parse_from(["ssd-cam"]).map_err(|e| anyhow::anyhow!("{e}"))?;
    base_camera(&args, input)
}

/// What a run is given: its cameras and the engine they share.
#[derive(Debug)]
pub struct RunSettings {
    /// The cameras, in order.
    pub cameras: Vec<crate::config::Camera>,
    /// The engine: `--config`'s `[engine]` table over the flags.
    pub engine: EngineArgs,
}

/// The run's cameras and engine: those of `--config` (over the command
/// line's settings), else the flags' engine and one camera per `--device`
/// then `--source` (the demo when none), each with its `--name`.
pub fn run_settings(args: &Args) -> anyhow::Result<RunSettings> {
    use crate::config::Input;
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--config {}: {e}", path.display()))?;
        let base = base_camera(args, Input::Source("demo".into()))?;
        let in_file = |e: String| anyhow::anyhow!("{}: {e}", path.display());
        let mut cameras = crate::config::parse_cameras_over(&text, &base).map_err(in_file)?;
        let engine = crate::config::parse_engine_over(&text, args.engine).map_err(in_file)?;
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_owned());
        for camera in &mut cameras {
            camera.input = camera.input.clone().relative_to(&folder);
        }
        return Ok(RunSettings { cameras, engine });
    }
    Ok(RunSettings { cameras: flag_cameras(args)?, engine: args.engine })
}

/// One camera per `--device` then `--source` (the demo when none), each
/// with its `--name`.
fn flag_cameras(args: &Args) -> anyhow::Result<Vec<crate::config::Camera>> {
    use crate::config::Input;
    let expand =
        |flag: &str, spec: &str| crate::secrets::expand_env(spec).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
    let mut inputs = Vec::with_capacity(args.device.len() + args.source.len());
    for device in &args.device {
        inputs.push(Input::Device(expand("device", device)?));
    }
    for source in &args.source {
        inputs.push(Input::Source(expand("source", source)?));
    }
    if inputs.is_empty() {
        inputs.push(Input::Source("demo".into()));
    }
    if args.name.len() > inputs.len() {
        anyhow::bail!("--name: {} names for {} camera(s)", args.name.len(), inputs.len());
    }
    let mut cameras = inputs.into_iter().map(|input| base_camera(args, input)).collect::<anyhow::Result<Vec<_>>>()?;
    for (camera, name) in cameras.iter_mut().zip(&args.name) {
        camera.name = Some(name.clone());
    }
    Ok(cameras)
}

fn min_size(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a size in pixels (0 or more)")),
    }
}

fn frame_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("0 frames would write nothing: give 1 or more (leave it out to run until the input ends)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number of frames")),
    }
}

/// A camera as a path: an index N names /dev/videoN; anything else must be a
/// path under /dev.
fn device_path(s: &str) -> Result<String, String> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(format!("/dev/video{n}"));
    }
    if s.starts_with('/') {
        return Ok(s.to_owned());
    }
    Err(format!("'{s}' is not a camera: give an index (0 for /dev/video0) or a path such as /dev/video0"))
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds above 0")),
    }
}

/// A discovery prefix: topic levels without wildcards, not empty.
fn discovery_prefix(s: &str) -> Result<String, String> {
    let bad = s.is_empty() || s.split('/').any(|level| level.is_empty()) || s.contains(['+', '#']);
    if bad || s.chars().any(char::is_control) {
        Err(format!("'{s}' is not a topic prefix (levels without + or #, e.g. homeassistant)"))
    } else {
        Ok(s.to_owned())
    }
}

/// Seconds, zero included (zero turns the thing off).
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e6).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds, 0 or more")),
    }
}

fn camera_name(s: &str) -> Result<String, String> {
    crate::config::check_name(s).map(|()| s.to_owned())
}

fn http_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let port_only = s.strip_prefix(':').filter(|p| p.parse::<u16>().is_ok());
    let spec = port_only.map_or_else(|| s.to_owned(), |p| format!("127.0.0.1:{p}"));
    spec.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("'{s}' is not ADDR:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080 or :8080)"))
}

fn positive_hz(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!("'{s}' is not a rate above 0 and up to 1000 per second")),
    }
}

fn unit_interval(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_numbers_are_rejected() {
        for bad in [
            &["ssd-cam", "--threshold", "1.5"][..],
            &["ssd-cam", "--threshold", "x"],
            &["ssd-cam", "--threads", "0"],
            &["ssd-cam", "--top-k", "0"],
            &["ssd-cam", "--config", "cameras.toml", "--source", "demo"],
            &["ssd-cam", "--name", "a/b"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
        // Several cameras: devices and sources mix, each may be named.
        let many = Args::try_parse_from([
            "ssd-cam",
            "--device",
            "/dev/video0",
            "--source",
            "demo",
            "--source",
            "x.mp4",
            "--name",
            "hall",
        ])
        .unwrap();
        assert_eq!((many.device.len(), many.source.len(), many.name.len()), (1, 2, 1));
        let ok = Args::try_parse_from(["ssd-cam", "--threshold", "0.5", "--headless"]).unwrap();
        assert_eq!(ok.threshold, Some(0.5));
        assert_eq!(ok.model, None);
    }
}
