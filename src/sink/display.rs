//! The on-screen window (minifb). The output thread draws the overlay and
//! hands finished frames to the main thread, which owns the window (GUI
//! toolkits want that) and never slows the pipeline: when the window lags,
//! the older frame is replaced. `q`, Esc or closing the window stops the run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::{FrameResult, Sink, SinkError};
use crate::overlay::annotate;

/// Largest window side; bigger frames are shown scaled down.
const MAX_WINDOW: (u32, u32) = (1280, 960);

/// A frame ready for the screen: `0RGB` pixels, as minifb takes them.
#[derive(Debug)]
pub struct Shown {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height` pixels.
    pub pixels: Vec<u32>,
}

/// Why the window could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// No X display to open a window on.
    #[error("no display to open a window on ({0}); run with --headless for JSON output, or under xvfb-run")]
    NoDisplay(String),
}

/// Checks that a window can be opened at all, before the model is loaded.
pub fn check_display() -> Result<(), DisplayError> {
    match std::env::var_os("DISPLAY") {
        Some(d) if !d.is_empty() => Ok(()),
        _ => Err(DisplayError::NoDisplay("DISPLAY is not set".into())),
    }
}

/// Packs RGB8 into minifb's `0x00RRGGBB` pixels.
pub fn pack_xrgb(rgb: &[u8], out: &mut Vec<u32>) {
    out.clear();
    out.extend(rgb.chunks_exact(3).map(|p| (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2])));
}

/// The window size for a frame: the frame's own, or scaled down to fit
/// `MAX_WINDOW` with its aspect ratio.
pub fn window_size(width: u32, height: u32) -> (usize, usize) {
    let scale = (f64::from(MAX_WINDOW.0) / f64::from(width.max(1)))
        .min(f64::from(MAX_WINDOW.1) / f64::from(height.max(1)))
        .min(1.0);
    (((f64::from(width) * scale).round() as usize).max(1), ((f64::from(height) * scale).round() as usize).max(1))
}

/// The output-thread half: draws and passes frames on.
pub struct DisplaySink {
    labels: Vec<String>,
    rgb: Vec<u8>,
    regions: bool,
    tx: Sender<Shown>,
    evict: Receiver<Shown>,
    spare: Receiver<Vec<u32>>,
}

/// The main-thread half: receives frames and returns their buffers.
pub struct Screen {
    frames: Receiver<Shown>,
    spare: Sender<Vec<u32>>,
    title: String,
}

/// A connected sink and screen; `regions` draws where the model ran.
pub fn display(labels: Vec<String>, title: String, regions: bool) -> (DisplaySink, Screen) {
    let (tx, rx) = bounded(1);
    let (spare_tx, spare_rx) = bounded(2);
    let sink = DisplaySink { labels, rgb: Vec::new(), regions, tx, evict: rx.clone(), spare: spare_rx };
    (sink, Screen { frames: rx, spare: spare_tx, title })
}

impl Sink for DisplaySink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        annotate(&mut self.rgb, r, &self.labels, self.regions);
        let mut pixels = self.spare.try_recv().unwrap_or_default();
        pack_xrgb(&self.rgb, &mut pixels);
        let shown = Shown { width: r.frame.width, height: r.frame.height, pixels };
        match self.tx.try_send(shown) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(shown)) => {
                // The window is behind: show the newest frame, not the stale one.
                let _ = self.evict.try_recv();
                let _ = self.tx.try_send(shown);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl Screen {
    /// Runs the window on this thread until the pipeline ends (`done`
    /// delivers its result) or the user closes the window (then `stop` is
    /// raised and the pipeline's result awaited). With `hold`, a finished
    /// file source leaves its last frame on screen until the user closes it.
    /// Returns what `done` delivered (the window knows nothing of the
    /// pipeline beyond whether it succeeded), or why the window failed.
    pub fn run<T, E>(
        self,
        stop: &AtomicBool,
        done: &Receiver<Result<T, E>>,
        hold: bool,
    ) -> Result<Result<T, E>, DisplayError> {
        let mut window: Option<minifb::Window> = None;
        let mut held: Option<Result<T, E>> = None;
        let mut closing = false;
        loop {
            match self.frames.recv_timeout(Duration::from_millis(15)) {
                Ok(shown) if !closing => {
                    if window.is_none() {
                        match self.open(shown.width, shown.height) {
                            Ok(w) => window = Some(w),
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                let _ = done.recv();
                                return Err(e);
                            }
                        }
                    }
                    if let Some(w) = window.as_mut() {
                        if let Err(e) = w.update_with_buffer(&shown.pixels, shown.width as usize, shown.height as usize)
                        {
                            log::warn!("window update failed: {e}");
                        }
                    }
                    let _ = self.spare.try_send(shown.pixels);
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => pump(window.as_mut()),
                Err(RecvTimeoutError::Disconnected) => {
                    pump(window.as_mut());
                    std::thread::sleep(Duration::from_millis(15));
                }
            }
            let user_closed = window
                .as_ref()
                .is_some_and(|w| !w.is_open() || w.is_key_down(minifb::Key::Escape) || w.is_key_down(minifb::Key::Q));
            if user_closed && !closing {
                log::info!("window closed");
                closing = true;
                stop.store(true, Ordering::Relaxed);
            }
            if let Some(result) = held.take() {
                if closing || stop.load(Ordering::Relaxed) {
                    return Ok(result);
                }
                held = Some(result);
                continue;
            }
            if let Ok(result) = done.try_recv() {
                let stopped = closing || stop.load(Ordering::Relaxed);
                if hold && !stopped && result.is_ok() && window.is_some() {
                    log::info!("end of input; the last frame stays on screen: press q or Esc to close");
                    held = Some(result);
                } else {
                    return Ok(result);
                }
            }
        }
    }

    fn open(&self, width: u32, height: u32) -> Result<minifb::Window, DisplayError> {
        let (w, h) = window_size(width, height);
        let options = minifb::WindowOptions {
            resize: true,
            scale_mode: minifb::ScaleMode::AspectRatioStretch,
            ..minifb::WindowOptions::default()
        };
        let mut window =
            minifb::Window::new(&self.title, w, h, options).map_err(|e| DisplayError::NoDisplay(e.to_string()))?;
        // Frames arrive at the camera's pace; the window adds no waiting of its own.
        window.set_target_fps(0);
        Ok(window)
    }
}

/// Keeps the window responsive (events, redraw) between frames.
fn pump(window: Option<&mut minifb::Window>) {
    if let Some(w) = window {
        w.update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_pack_as_0rgb() {
        let mut out = vec![7];
        pack_xrgb(&[255, 0, 0, 1, 2, 3, 0, 0, 255], &mut out);
        assert_eq!(out, vec![0x00FF_0000, 0x0001_0203, 0x0000_00FF]);
    }

    #[test]
    fn big_frames_get_a_window_that_fits_with_their_shape() {
        assert_eq!(window_size(640, 480), (640, 480));
        assert_eq!(window_size(1920, 1080), (1280, 720));
        assert_eq!(window_size(1000, 4000), (240, 960));
    }

    #[test]
    fn a_lagging_window_gets_the_newest_frame() {
        let (mut sink, screen) = display(vec!["background".into()], "t".into(), false);
        let (w, h) = (64u32, 32u32);
        let last = (w * h * 3 - 3) as usize;
        for index in 0..3u8 {
            let mut rgb = vec![0u8; last + 3];
            rgb[last] = index * 100; // the bottom-right pixel (clear of the HUD) tells frames apart
            let frame = crate::source::Frame {
                index: u64::from(index),
                captured_at: std::time::Instant::now(),
                timestamp_ms: 0.0,
                width: w,
                height: h,
                rgb,
                file: None,
                pts_ms: None,
                time_ms: 0.0,
            };
            let r = FrameResult {
                frame: &frame,
                gate: None,
                detections: &[],
                track_ids: &[],
                events: &[],
                latency: Default::default(),
                dropped: 0,
                places: Default::default(),
                stationary: &[],
                fps: 0.0,
            };
            sink.write(&r).unwrap();
        }
        let shown = screen.frames.try_recv().unwrap();
        assert_eq!(shown.pixels.len(), (w * h) as usize);
        assert_eq!(shown.pixels[(w * h - 1) as usize] >> 16, 200, "frame 2, the newest");
        assert!(screen.frames.try_recv().is_err(), "only one frame waits");
    }
}
