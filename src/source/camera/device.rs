//! The device seam: what the capture logic needs of a camera ([`Device`]),
//! the start-up sequence, and the errors a user sees, each naming the fix.

use super::mode::{Mode, ModeRequest};

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
