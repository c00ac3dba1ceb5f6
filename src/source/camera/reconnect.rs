//! The camera as a live source that rides out failures: a read that fails
//! or stalls closes the device and reopens it with a doubling back-off, the
//! gap is counted, and the source gives up after the reconnect timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::device::{start, CameraError, Device};
use super::mode::{Mode, ModeRequest};
use super::to_rgb;
use crate::source::{Source, SourceError};

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

impl Reconnect {
    /// The waits between attempts.
    pub fn backoff(&self) -> crate::net::backoff::Backoff {
        crate::net::backoff::Backoff::new(self.first_backoff, self.max_backoff)
    }
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
    pub(super) device: D,
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
        let mut backoff = self.reconnect.backoff();
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
            let nap = backoff.next_wait().min(self.reconnect.timeout - waited);
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
/// Sleeps `d`, in short naps so that a stop is seen: `false` when stopped.
pub fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
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

    fn frame_rate(&self) -> Option<f64> {
        Some(f64::from(self.mode.fps))
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
