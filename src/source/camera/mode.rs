//! Mode negotiation: the pixel formats ssd-cam reads, the modes a camera
//! offers, the choice among them for a request, and their `--list-devices`
//! description.

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
            .filter(|m| self.format.is_none_or(|f| f == m.format) && m.width > 0 && m.height > 0)
            .min_by_key(|m| (size_distance(m), fps_distance(m), m.format.conversion_cost()))
            .copied()
    }
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
