//! Live cameras as a [`Source`](super::Source): mode choice ([`mode`]), the
//! device seam ([`device`]), pixel conversion, and riding out a camera that
//! fails or is unplugged mid-run ([`reconnect`]). The device itself sits
//! behind the small [`Device`] trait, so all of this is tested with a fake
//! device; the V4L2 adapter (`v4l.rs`, nokhwa) stays thin.

pub mod device;
#[cfg(test)]
pub(crate) mod fake;
pub mod mode;
pub mod reconnect;

pub use device::{start, CameraError, Device};
pub use mode::{describe, Mode, ModeRequest, PixelFormat, DEFAULT_SIZE};
pub use reconnect::{CameraSource, Reconnect};

use super::convert::{mjpeg_to_rgb, nv12_to_rgb, yuyv_to_rgb, Bt601, ConvertError};

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::fake::{FakeCamera, Step};
    use super::*;
    use crate::source::Source;

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
