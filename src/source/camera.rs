//! Live cameras as a [`Source`]: mode choice, pixel conversion, and riding
//! out a camera that fails or is unplugged mid-run. The device itself sits
//! behind the small [`Device`] trait, so all of this is tested with a fake
//! device; the V4L2 adapter (`v4l.rs`, nokhwa) stays thin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::convert::{mjpeg_to_rgb, nv12_to_rgb, yuyv_to_rgb, Bt601, ConvertError};
use super::{Source, SourceError};

/// Pixel formats a camera can deliver and ssd-cam can convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// Packed RGB, 3 bytes per pixel.
    Rgb,
    /// Packed BGR, 3 bytes per pixel.
    Bgr,
    /// 8-bit luma only.
    Gray,
    /// YUV 4:2:2 packed as `Y0 U Y1 V`.
    Yuyv,
    /// YUV 4:2:0, Y plane then interleaved `U V`.
    Nv12,
    /// Motion JPEG: each frame a JPEG image.
    Mjpeg,
}

impl PixelFormat {
    /// Relative cost of turning a frame into RGB: copies are cheapest, JPEG
    /// decoding dearest. Used to break ties between equally good modes.
    pub fn conversion_cost(self) -> u8 {
        match self {
            Self::Rgb => 0,
            Self::Bgr | Self::Gray => 1,
            Self::Yuyv | Self::Nv12 => 2,
            Self::Mjpeg => 5,
        }
    }

    /// The V4L2 FourCC.
    pub fn fourcc(self) -> &'static str {
        match self {
            Self::Rgb => "RGB3",
            Self::Bgr => "BGR3",
            Self::Gray => "GREY",
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::Mjpeg => "MJPG",
        }
    }

    /// Parses a `--format` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rgb" | "rgb3" => Some(Self::Rgb),
            "bgr" | "bgr3" => Some(Self::Bgr),
            "gray" | "grey" => Some(Self::Gray),
            "yuyv" | "yuy2" => Some(Self::Yuyv),
            "nv12" => Some(Self::Nv12),
            "mjpeg" | "mjpg" => Some(Self::Mjpeg),
            _ => None,
        }
    }
}

/// One way a camera can stream: pixel format, size and frame rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode {
    /// Pixel format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{} @ {} fps", self.format.fourcc(), self.width, self.height, self.fps)
    }
}

/// What the user asked for (`--format`, `--resolution`, `--fps`); unset
/// fields fall back to a size near 640×480 at the highest frame rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModeRequest {
    /// Only this pixel format.
    pub format: Option<PixelFormat>,
    /// The size closest to this.
    pub size: Option<(u32, u32)>,
    /// The frame rate closest to this.
    pub fps: Option<u32>,
}

/// The size chosen when the user names none: enough for an SSD300 input and
/// the overlay, cheap to capture and convert on a small board.
pub const DEFAULT_SIZE: (u32, u32) = (640, 480);

impl ModeRequest {
    /// Picks the best of `modes`: the size closest to the request (in area
    /// and shape), then the frame rate closest to the request or else the
    /// highest, then the cheapest format to convert. `None` if no mode has
    /// the requested format.
    pub fn choose(&self, modes: &[Mode]) -> Option<Mode> {
        let (tw, th) = self.size.unwrap_or(DEFAULT_SIZE);
        let size_distance = |m: &Mode| {
            let area = (f64::from(m.width) * f64::from(m.height)) / (f64::from(tw) * f64::from(th));
            let shape = (f64::from(m.width) / f64::from(m.height.max(1))) / (f64::from(tw) / f64::from(th.max(1)));
            // Rounded so that sizes equally far (up or down) tie and the
            // later criteria decide.
            ((area.ln().abs() + shape.ln().abs()) * 1000.0).round() as i64
        };
        let fps_distance = |m: &Mode| match self.fps {
            Some(want) => i64::from(m.fps.abs_diff(want)),
            None => -i64::from(m.fps),
        };
        modes
            .iter()
            .filter(|m| self.format.map_or(true, |f| f == m.format) && m.width > 0 && m.height > 0)
            .min_by_key(|m| (size_distance(m), fps_distance(m), m.format.conversion_cost()))
            .copied()
    }
}

/// Why a camera cannot be used. Each message names the device and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    /// No device at that path or index.
    #[error("{device}: no such camera (is it plugged in? list cameras with `ssd-cam --list-devices`)")]
    NotFound {
        /// The device as named by the user.
        device: String,
    },
    /// The user may not open the device.
    #[error("{device}: permission denied (add yourself to the video group: `sudo usermod -aG video $USER`, then log in again)")]
    PermissionDenied {
        /// The device.
        device: String,
    },
    /// Another program holds the device.
    #[error("{device}: camera is busy (another program is using it; find it with `fuser {device}`)")]
    Busy {
        /// The device.
        device: String,
    },
    /// The requested format, size or rate is not offered.
    #[error("{device}: no mode matches {wanted}; the camera offers: {offered}")]
    NoMode {
        /// The device.
        device: String,
        /// The request, in words.
        wanted: String,
        /// What the camera lists.
        offered: String,
    },
    /// Anything else: a failed read, a vanished device.
    #[error("{device}: {message}")]
    Failed {
        /// The device.
        device: String,
        /// What failed.
        message: String,
    },
}

impl CameraError {
    /// Classifies an I/O error from opening `device`.
    pub fn from_io(device: &str, e: &std::io::Error) -> Self {
        let device = device.to_owned();
        match e.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound { device },
            std::io::ErrorKind::PermissionDenied => Self::PermissionDenied { device },
            _ if e.raw_os_error() == Some(16) => Self::Busy { device }, // EBUSY
            _ => Self::Failed { device, message: e.to_string() },
        }
    }
}

/// A camera as the capture logic sees it. Implemented by the V4L2 adapter
/// and by test fakes.
pub trait Device: Send {
    /// The device as the user named it (for messages).
    fn name(&self) -> &str;
    /// Opens the device and lists the modes it offers.
    fn open(&mut self) -> Result<Vec<Mode>, CameraError>;
    /// Starts streaming in `mode` (one of those `open` listed).
    fn start(&mut self, mode: Mode) -> Result<(), CameraError>;
    /// Blocks for the next frame and copies its bytes into `buf`.
    fn read(&mut self, buf: &mut Vec<u8>) -> Result<(), CameraError>;
    /// Stops streaming and releases the device (before a reconnect or at the end).
    fn close(&mut self);
}

/// Opens `device`, chooses its mode and starts it; the errors are the
/// one-line messages a user sees at start-up.
pub fn start(device: &mut dyn Device, request: &ModeRequest) -> Result<Mode, CameraError> {
    let modes = device.open()?;
    let Some(mode) = request.choose(&modes) else {
        let mut offered: Vec<String> = modes.iter().map(Mode::to_string).collect();
        offered.dedup();
        let wanted = match request.format {
            Some(f) => format!("format {}", f.fourcc()),
            None => "any format".into(),
        };
        device.close();
        return Err(CameraError::NoMode {
            device: device.name().to_owned(),
            wanted,
            offered: if offered.is_empty() { "nothing".into() } else { offered.join(", ") },
        });
    };
    device.start(mode)?;
    Ok(mode)
}

/// Converts one camera frame of `mode` to RGB; returns its size (MJPEG
/// frames carry their own).
pub fn to_rgb(mode: Mode, data: &[u8], rgb: &mut Vec<u8>) -> Result<(u32, u32), ConvertError> {
    let (w, h) = (mode.width, mode.height);
    let pixels = w as usize * h as usize;
    let short = |format, need| ConvertError::Short { format, width: w, height: h, need, got: data.len() };
    match mode.format {
        PixelFormat::Yuyv => yuyv_to_rgb(data, w, h, Bt601::LIMITED, rgb)?,
        PixelFormat::Nv12 => nv12_to_rgb(data, w, h, Bt601::LIMITED, rgb)?,
        PixelFormat::Mjpeg => return mjpeg_to_rgb(data, rgb),
        PixelFormat::Rgb | PixelFormat::Bgr => {
            let src = data.get(..pixels * 3).ok_or_else(|| short("RGB", pixels * 3))?;
            rgb.clear();
            rgb.extend_from_slice(src);
            if mode.format == PixelFormat::Bgr {
                rgb.chunks_exact_mut(3).for_each(|px| px.swap(0, 2));
            }
        }
        PixelFormat::Gray => {
            let src = data.get(..pixels).ok_or_else(|| short("GREY", pixels))?;
            rgb.clear();
            rgb.extend(src.iter().flat_map(|&g| [g, g, g]));
        }
    }
    Ok((w, h))
}

/// `--list-devices` text for one camera: its path and name, then one line
/// per format and size with the frame rates offered, best first.
pub fn describe(path: &str, name: &str, modes: &[Mode]) -> String {
    let mut sizes: Vec<(PixelFormat, u32, u32)> = modes.iter().map(|m| (m.format, m.width, m.height)).collect();
    sizes.sort_by_key(|&(f, w, h)| (f.conversion_cost(), f, std::cmp::Reverse(u64::from(w) * u64::from(h))));
    sizes.dedup();
    let mut out = format!("{path}  {name}\n");
    if sizes.is_empty() {
        out.push_str("  (no formats ssd-cam can read)\n");
    }
    for (format, w, h) in sizes {
        let mut rates: Vec<u32> =
            modes.iter().filter(|m| (m.format, m.width, m.height) == (format, w, h)).map(|m| m.fps).collect();
        rates.sort_unstable_by(|a, b| b.cmp(a));
        rates.dedup();
        let rates: Vec<String> = rates.iter().map(u32::to_string).collect();
        out.push_str(&format!("  {} {w}x{h} @ {} fps\n", format.fourcc(), rates.join(", ")));
    }
    out
}

/// How a live camera source rides out failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    /// Give up when the camera has been gone this long.
    pub timeout: Duration,
    /// First wait between attempts; doubles up to `max_backoff`.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// A camera as a live [`Source`].
pub struct CameraSource<D: Device> {
    device: D,
    request: ModeRequest,
    mode: Mode,
    reconnect: Reconnect,
    stop: Arc<AtomicBool>,
    raw: Vec<u8>,
    streaming: bool,
    last_frame: Option<Instant>,
    skipped: u64,
    lost: u64,
    outages: u64,
}

impl<D: Device> std::fmt::Debug for CameraSource<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource").field("device", &self.device.name()).field("mode", &self.mode).finish()
    }
}

impl<D: Device> CameraSource<D> {
    /// Opens and starts the camera now, so start-up errors reach the user
    /// before the pipeline runs. `stop` interrupts reconnect waits.
    pub fn new(
        mut device: D,
        request: ModeRequest,
        reconnect: Reconnect,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, CameraError> {
        let mode = start(&mut device, &request)?;
        log::info!("camera {}: {mode}", device.name());
        Ok(Self {
            device,
            request,
            mode,
            reconnect,
            stop,
            raw: Vec::new(),
            streaming: true,
            last_frame: None,
            skipped: 0,
            lost: 0,
            outages: 0,
        })
    }

    /// The mode streaming now.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Times the camera failed and came back.
    pub fn outages(&self) -> u64 {
        self.outages
    }

    /// Reopens the camera with growing waits until it works, `stop` is set
    /// (`Ok(false)`) or the timeout passes.
    fn reconnect(&mut self, cause: &CameraError) -> Result<bool, SourceError> {
        let gone = Instant::now();
        log::warn!(
            "camera failed: {cause}; reconnecting (giving up after {:.0} s)",
            self.reconnect.timeout.as_secs_f64()
        );
        self.device.close();
        self.streaming = false;
        let mut backoff = self.reconnect.first_backoff;
        let mut last_error = cause.clone();
        loop {
            let waited = gone.elapsed();
            if waited >= self.reconnect.timeout {
                return Err(SourceError::Open {
                    what: self.device.name().to_owned(),
                    message: format!(
                        "camera did not come back within {:.0} s (last error: {last_error}); raise --reconnect-timeout to wait longer",
                        self.reconnect.timeout.as_secs_f64()
                    ),
                });
            }
            let nap = backoff.min(self.reconnect.timeout - waited);
            if !sleep_unless_stopped(nap, &self.stop) {
                return Ok(false);
            }
            match start(&mut self.device, &self.request) {
                Ok(mode) => {
                    if mode != self.mode {
                        log::warn!("camera {} came back in a different mode: {mode}", self.device.name());
                    }
                    self.mode = mode;
                    self.streaming = true;
                    self.outages += 1;
                    log::warn!("camera {} is back after {:.1} s", self.device.name(), gone.elapsed().as_secs_f64());
                    return Ok(true);
                }
                Err(e) => {
                    log::debug!("reconnect attempt failed: {e}");
                    last_error = e;
                }
            }
            backoff = (backoff * 2).min(self.reconnect.max_backoff);
        }
    }

    /// Frames the camera would have delivered in a gap of `gap`, beyond
    /// the one that ends it. Small jitter (under three frame times) is not a gap.
    fn missed_in(&self, gap: Duration) -> u64 {
        let period = 1.0 / f64::from(self.mode.fps.max(1));
        let frames = gap.as_secs_f64() / period;
        if frames < 3.0 {
            0
        } else {
            frames.round() as u64 - 1
        }
    }
}

/// Sleeps for `d` in short steps; `false` if `stop` was raised meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

impl<D: Device> Source for CameraSource<D> {
    fn name(&self) -> &str {
        self.device.name()
    }

    fn is_live(&self) -> bool {
        true
    }

    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if !self.streaming {
                let cause =
                    CameraError::Failed { device: self.device.name().to_owned(), message: "not streaming".into() };
                if !self.reconnect(&cause)? {
                    return Ok(None);
                }
            }
            if let Err(e) = self.device.read(&mut self.raw) {
                if !self.reconnect(&e)? {
                    return Ok(None);
                }
                continue;
            }
            let now = Instant::now();
            if let Some(last) = self.last_frame.replace(now) {
                let missed = self.missed_in(now - last);
                if missed > 0 {
                    log::warn!(
                        "camera {}: {missed} frame(s) missed in a {:.0} ms gap",
                        self.device.name(),
                        (now - last).as_secs_f64() * 1000.0
                    );
                    self.lost += missed;
                }
            }
            match to_rgb(self.mode, &self.raw, rgb) {
                Ok(size) => return Ok(Some(size)),
                Err(e) => {
                    // A torn or corrupt frame: skip it, keep streaming.
                    self.skipped += 1;
                    log::warn!("camera {}: frame skipped: {e}", self.device.name());
                }
            }
        }
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn lost(&self) -> u64 {
        self.lost
    }
}

impl<D: Device> Drop for CameraSource<D> {
    fn drop(&mut self) {
        self.device.close();
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted camera for tests: yields frames of any format, stalls,
    //! fails mid-stream and refuses to reopen for a while.

    use super::*;
    use std::collections::VecDeque;

    /// One step of the script.
    #[derive(Debug, Clone)]
    pub enum Step {
        /// Deliver these bytes.
        Frame(Vec<u8>),
        /// Block this long, then continue with the next step.
        Stall(Duration),
        /// Fail the read (unplugged).
        Fail,
        /// Refuse this many reopen attempts.
        RefuseOpens(u32),
    }

    /// The fake.
    #[derive(Debug)]
    pub struct FakeCamera {
        pub modes: Vec<Mode>,
        pub script: VecDeque<Step>,
        pub open_error: Option<CameraError>,
        pub refuse: u32,
        pub opens: u32,
        pub started: Vec<Mode>,
        pub open: bool,
    }

    impl FakeCamera {
        pub fn new(modes: Vec<Mode>, script: Vec<Step>) -> Self {
            Self { modes, script: script.into(), open_error: None, refuse: 0, opens: 0, started: vec![], open: false }
        }
    }

    impl Device for FakeCamera {
        fn name(&self) -> &str {
            "/dev/fake0"
        }
        fn open(&mut self) -> Result<Vec<Mode>, CameraError> {
            self.opens += 1;
            if let Some(e) = &self.open_error {
                return Err(e.clone());
            }
            if self.refuse > 0 {
                self.refuse -= 1;
                return Err(CameraError::NotFound { device: self.name().into() });
            }
            self.open = true;
            Ok(self.modes.clone())
        }
        fn start(&mut self, mode: Mode) -> Result<(), CameraError> {
            self.started.push(mode);
            Ok(())
        }
        fn read(&mut self, buf: &mut Vec<u8>) -> Result<(), CameraError> {
            assert!(self.open, "read from a closed device");
            loop {
                match self.script.pop_front() {
                    Some(Step::Frame(bytes)) => {
                        buf.clear();
                        buf.extend_from_slice(&bytes);
                        return Ok(());
                    }
                    Some(Step::Stall(d)) => std::thread::sleep(d),
                    Some(Step::Fail) => {
                        return Err(CameraError::Failed {
                            device: self.name().into(),
                            message: "device unplugged".into(),
                        })
                    }
                    Some(Step::RefuseOpens(n)) => self.refuse = n,
                    // End of script: the camera is gone for good.
                    None => return Err(CameraError::NotFound { device: self.name().into() }),
                }
            }
        }
        fn close(&mut self) {
            self.open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeCamera, Step};
    use super::*;

    fn mode(format: PixelFormat, width: u32, height: u32, fps: u32) -> Mode {
        Mode { format, width, height, fps }
    }

    fn webcam_modes() -> Vec<Mode> {
        use PixelFormat::*;
        vec![
            mode(Yuyv, 1280, 720, 10),
            mode(Yuyv, 640, 480, 30),
            mode(Yuyv, 320, 240, 30),
            mode(Mjpeg, 1280, 720, 30),
            mode(Mjpeg, 640, 480, 30),
            mode(Mjpeg, 640, 480, 60),
            mode(Nv12, 640, 360, 30),
        ]
    }

    #[test]
    fn default_choice_is_near_vga_at_the_highest_rate() {
        let chosen = ModeRequest::default().choose(&webcam_modes()).unwrap();
        assert_eq!(chosen, mode(PixelFormat::Mjpeg, 640, 480, 60));
    }

    #[test]
    fn equal_size_and_rate_prefers_the_cheaper_format() {
        let modes = [mode(PixelFormat::Mjpeg, 640, 480, 30), mode(PixelFormat::Yuyv, 640, 480, 30)];
        assert_eq!(ModeRequest::default().choose(&modes).unwrap().format, PixelFormat::Yuyv);
    }

    #[test]
    fn requests_narrow_the_choice() {
        let modes = webcam_modes();
        let yuyv = ModeRequest { format: Some(PixelFormat::Yuyv), ..Default::default() };
        assert_eq!(yuyv.choose(&modes).unwrap(), mode(PixelFormat::Yuyv, 640, 480, 30));
        let hd = ModeRequest { size: Some((1280, 720)), ..Default::default() };
        assert_eq!(hd.choose(&modes).unwrap(), mode(PixelFormat::Mjpeg, 1280, 720, 30));
        let slow = ModeRequest { size: Some((1280, 720)), fps: Some(10), ..Default::default() };
        assert_eq!(slow.choose(&modes).unwrap(), mode(PixelFormat::Yuyv, 1280, 720, 10));
        let nv12 = ModeRequest { format: Some(PixelFormat::Nv12), size: Some((1920, 1080)), ..Default::default() };
        assert_eq!(nv12.choose(&modes).unwrap(), mode(PixelFormat::Nv12, 640, 360, 30), "nearest size of that format");
        let rgb = ModeRequest { format: Some(PixelFormat::Rgb), ..Default::default() };
        assert_eq!(rgb.choose(&modes), None);
    }

    #[test]
    fn device_listing_groups_rates_per_format_and_size() {
        let text = describe("/dev/video0", "HD Webcam", &webcam_modes());
        assert_eq!(
            text,
            "/dev/video0  HD Webcam\n\
             \x20 YUYV 1280x720 @ 10 fps\n\
             \x20 YUYV 640x480 @ 30 fps\n\
             \x20 YUYV 320x240 @ 30 fps\n\
             \x20 NV12 640x360 @ 30 fps\n\
             \x20 MJPG 1280x720 @ 30 fps\n\
             \x20 MJPG 640x480 @ 60, 30 fps\n"
        );
    }

    #[test]
    fn missing_format_names_what_the_camera_offers() {
        let mut cam = FakeCamera::new(vec![mode(PixelFormat::Yuyv, 640, 480, 30)], vec![]);
        let req = ModeRequest { format: Some(PixelFormat::Nv12), ..Default::default() };
        let err = start(&mut cam, &req).unwrap_err().to_string();
        assert_eq!(err, "/dev/fake0: no mode matches format NV12; the camera offers: YUYV 640x480 @ 30 fps");
        assert!(!cam.open, "device released after the refusal");
    }

    #[test]
    fn open_errors_name_the_device_and_the_fix() {
        let denied = CameraError::from_io("/dev/video0", &std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(denied.to_string().starts_with("/dev/video0: permission denied"), "{denied}");
        assert!(denied.to_string().contains("video group"));
        let busy = CameraError::from_io("/dev/video0", &std::io::Error::from_raw_os_error(16));
        assert!(matches!(busy, CameraError::Busy { .. }), "{busy:?}");
        let missing = CameraError::from_io("/dev/video9", &std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(missing.to_string().contains("--list-devices"));
        for e in [denied, busy, missing] {
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }

    fn stopped() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    fn quick() -> Reconnect {
        Reconnect {
            timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    /// A 4×2 frame in `format` whose first pixel is `level` grey.
    fn grey_frame(format: PixelFormat, level: u8) -> Vec<u8> {
        match format {
            PixelFormat::Yuyv => [level, 128, level, 128].repeat(4),
            PixelFormat::Nv12 => [vec![level; 8], vec![128; 4]].concat(),
            PixelFormat::Rgb | PixelFormat::Bgr => vec![level; 24],
            PixelFormat::Gray => vec![level; 8],
            PixelFormat::Mjpeg => {
                let img = image::RgbImage::from_pixel(4, 2, image::Rgb([level; 3]));
                let mut jpeg = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100).encode_image(&img).unwrap();
                jpeg
            }
        }
    }

    #[test]
    fn each_pixel_format_streams_as_rgb() {
        use PixelFormat::*;
        for format in [Rgb, Bgr, Gray, Yuyv, Nv12, Mjpeg] {
            let cam = FakeCamera::new(vec![mode(format, 4, 2, 30)], vec![Step::Frame(grey_frame(format, 200))]);
            let mut src = CameraSource::new(cam, ModeRequest::default(), quick(), stopped()).unwrap();
            assert!(src.is_live());
            let mut rgb = Vec::new();
            assert_eq!(src.next_frame(&mut rgb).unwrap(), Some((4, 2)), "{format:?}");
            let want: u8 = if matches!(format, Yuyv | Nv12) { 215 } else { 200 }; // limited range expands
            assert!(rgb.iter().all(|&c| c.abs_diff(want) <= 2), "{format:?}: {:?}", &rgb[..6]);
        }
    }

    #[test]
    fn unplugged_camera_is_reopened_and_streaming_resumes() {
        let m = mode(PixelFormat::Gray, 4, 2, 30);
        let script = vec![
            Step::Frame(grey_frame(PixelFormat::Gray, 10)),
            Step::RefuseOpens(3),
            Step::Fail,
            Step::Frame(grey_frame(PixelFormat::Gray, 20)),
        ];
        let mut src =
            CameraSource::new(FakeCamera::new(vec![m], script), ModeRequest::default(), quick(), stopped()).unwrap();
        let mut rgb = Vec::new();
        src.next_frame(&mut rgb).unwrap();
        assert_eq!(rgb[0], 10);
        assert_eq!(src.next_frame(&mut rgb).unwrap(), Some((4, 2)));
        assert_eq!(rgb[0], 20, "the frame after the outage");
        assert_eq!(src.outages(), 1);
        assert_eq!(src.device.opens, 1 + 3 + 1, "three refused attempts, then success");
        assert_eq!(src.device.started, vec![m, m]);
    }

    #[test]
    fn camera_that_never_returns_ends_with_an_error_after_the_timeout() {
        let m = mode(PixelFormat::Gray, 4, 2, 30);
        let script = vec![Step::RefuseOpens(u32::MAX), Step::Fail];
        let reconnect = Reconnect { timeout: Duration::from_millis(60), ..quick() };
        let mut src =
            CameraSource::new(FakeCamera::new(vec![m], script), ModeRequest::default(), reconnect, stopped()).unwrap();
        let err = src.next_frame(&mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("did not come back within"), "{err}");
        assert!(err.contains("--reconnect-timeout"), "{err}");
    }

    #[test]
    fn stop_interrupts_a_reconnect_wait() {
        let m = mode(PixelFormat::Gray, 4, 2, 30);
        let stop = stopped();
        let script = vec![Step::RefuseOpens(u32::MAX), Step::Fail];
        let reconnect =
            Reconnect { timeout: Duration::from_secs(3600), first_backoff: Duration::from_secs(3600), ..quick() };
        let mut src =
            CameraSource::new(FakeCamera::new(vec![m], script), ModeRequest::default(), reconnect, Arc::clone(&stop))
                .unwrap();
        let flag = Arc::clone(&stop);
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        });
        assert_eq!(src.next_frame(&mut Vec::new()).unwrap(), None, "stop ends the stream cleanly");
        raiser.join().unwrap();
    }

    #[test]
    fn a_stall_is_counted_as_lost_frames_and_torn_frames_are_skipped() {
        let m = mode(PixelFormat::Yuyv, 4, 2, 100);
        let script = vec![
            Step::Frame(grey_frame(PixelFormat::Yuyv, 50)),
            Step::Stall(Duration::from_millis(200)),
            Step::Frame(vec![1, 2, 3]), // torn
            Step::Frame(grey_frame(PixelFormat::Yuyv, 60)),
        ];
        let mut src =
            CameraSource::new(FakeCamera::new(vec![m], script), ModeRequest::default(), quick(), stopped()).unwrap();
        let mut rgb = Vec::new();
        src.next_frame(&mut rgb).unwrap();
        src.next_frame(&mut rgb).unwrap();
        assert_eq!(src.skipped(), 1);
        // 200 ms at 100 fps: about 19 frames missing (timer slack allowed).
        assert!((15..=40).contains(&src.lost()), "lost {}", src.lost());
    }
}
