//! The V4L2 camera through nokhwa: a thin [`Device`] adapter. Everything
//! with logic in it (mode choice, conversion, reconnects) lives in
//! `camera.rs`, where a fake device tests it.

use std::path::{Path, PathBuf};

use nokhwa::utils::{ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::Camera;

use super::camera::{CameraError, Device, Mode, PixelFormat};

/// Every format nokhwa can hand over raw; conversion is ours.
const ALL_FORMATS: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

fn to_pixel_format(f: FrameFormat) -> PixelFormat {
    match f {
        FrameFormat::MJPEG => PixelFormat::Mjpeg,
        FrameFormat::YUYV => PixelFormat::Yuyv,
        FrameFormat::NV12 => PixelFormat::Nv12,
        FrameFormat::GRAY => PixelFormat::Gray,
        FrameFormat::RAWRGB => PixelFormat::Rgb,
        FrameFormat::RAWBGR => PixelFormat::Bgr,
    }
}

fn to_frame_format(f: PixelFormat) -> FrameFormat {
    match f {
        PixelFormat::Mjpeg => FrameFormat::MJPEG,
        PixelFormat::Yuyv => FrameFormat::YUYV,
        PixelFormat::Nv12 => FrameFormat::NV12,
        PixelFormat::Gray => FrameFormat::GRAY,
        PixelFormat::Rgb => FrameFormat::RAWRGB,
        PixelFormat::Bgr => FrameFormat::RAWBGR,
    }
}

/// Resolves `--device`: `/dev/videoN`, a symlink to it (`/dev/v4l/by-id/…`)
/// or a bare index `N`. Returns the path and the index nokhwa wants.
pub fn resolve(device: &str) -> Result<(PathBuf, u32), CameraError> {
    if let Ok(n) = device.parse::<u32>() {
        return Ok((PathBuf::from(format!("/dev/video{n}")), n));
    }
    let path = Path::new(device);
    let real = std::fs::canonicalize(path).map_err(|e| CameraError::from_io(device, &e))?;
    let index = real
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("video"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| CameraError::Failed {
            device: device.into(),
            message: "not a V4L2 capture device (expected /dev/videoN or an index)".into(),
        })?;
    Ok((path.to_path_buf(), index))
}

/// Reads nokhwa's error text for the cases a user can fix.
fn classify(device: &str, e: &nokhwa::NokhwaError) -> CameraError {
    let text = e.to_string();
    let device = device.to_owned();
    if text.contains("os error 13") || text.contains("Permission denied") {
        CameraError::PermissionDenied { device }
    } else if text.contains("os error 16") || text.contains("busy") {
        CameraError::Busy { device }
    } else if text.contains("os error 2)") || text.contains("os error 19") || text.contains("No such") {
        CameraError::NotFound { device }
    } else {
        CameraError::Failed { device, message: text }
    }
}

/// A V4L2 camera.
pub struct V4lDevice {
    name: String,
    path: PathBuf,
    index: u32,
    camera: Option<Camera>,
}

impl V4lDevice {
    /// A camera named as on the command line (nothing is opened yet).
    pub fn new(device: &str) -> Result<Self, CameraError> {
        let (path, index) = resolve(device)?;
        Ok(Self { name: device.to_owned(), path, index, camera: None })
    }

    fn camera(&mut self) -> Result<&mut Camera, CameraError> {
        let name = self.name.clone();
        self.camera.as_mut().ok_or(CameraError::Failed { device: name, message: "not open".into() })
    }
}

impl Device for V4lDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn open(&mut self) -> Result<Vec<Mode>, CameraError> {
        self.close();
        // Opening the node ourselves first gives exact errno-based messages
        // (missing, permission) that nokhwa's strings would blur.
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| CameraError::from_io(&self.name, &e))?;
        let request = RequestedFormat::with_formats(RequestedFormatType::None, &ALL_FORMATS);
        let mut camera = Camera::with_backend(CameraIndex::Index(self.index), request, ApiBackend::Video4Linux)
            .map_err(|e| classify(&self.name, &e))?;
        let formats = camera.compatible_camera_formats().map_err(|e| classify(&self.name, &e))?;
        self.camera = Some(camera);
        Ok(formats
            .into_iter()
            .map(|f| Mode {
                format: to_pixel_format(f.format()),
                width: f.width(),
                height: f.height(),
                fps: f.frame_rate(),
            })
            .collect())
    }

    fn start(&mut self, mode: Mode) -> Result<(), CameraError> {
        let name = self.name.clone();
        let camera = self.camera()?;
        let format = CameraFormat::new_from(mode.width, mode.height, to_frame_format(mode.format), mode.fps);
        let request = RequestedFormat::with_formats(RequestedFormatType::Exact(format), &ALL_FORMATS);
        camera.set_camera_requset(request).map_err(|e| classify(&name, &e))?;
        camera.open_stream().map_err(|e| classify(&name, &e))
    }

    fn read(&mut self, buf: &mut Vec<u8>) -> Result<(), CameraError> {
        let name = self.name.clone();
        let data = self.camera()?.frame_raw().map_err(|e| classify(&name, &e))?;
        buf.clear();
        buf.extend_from_slice(&data);
        Ok(())
    }

    fn close(&mut self) {
        if let Some(mut camera) = self.camera.take() {
            if let Err(e) = camera.stop_stream() {
                log::debug!("{}: stopping the stream: {e}", self.name);
            }
        }
    }
}

/// Every V4L2 camera with the modes it offers, for `--list-devices`.
pub fn list() -> Result<Vec<(String, String, Vec<Mode>)>, CameraError> {
    let cameras = nokhwa::query(ApiBackend::Video4Linux)
        .map_err(|e| CameraError::Failed { device: "V4L2".into(), message: e.to_string() })?;
    let mut out = Vec::new();
    for info in cameras {
        let Ok(index) = info.index().as_index() else { continue };
        let path = format!("/dev/video{index}");
        let modes = match V4lDevice::new(&path).and_then(|mut d| {
            let modes = d.open();
            d.close();
            modes
        }) {
            Ok(modes) => modes,
            Err(e) => {
                log::warn!("{e}");
                Vec::new()
            }
        };
        out.push((path, info.human_name(), modes));
    }
    Ok(out)
}
