//! systemd's notify protocol (`sd_notify(3)`), for a `Type=notify` service
//! with `WatchdogSec=`: `READY=1` once every camera's frames come through
//! detection, and `WATCHDOG=1` pings only while frames keep coming, so that
//! systemd restarts a run that is alive but stuck (a hung camera driver, a
//! wedged stage). Without `NOTIFY_SOCKET` in the environment nothing happens.
//!
//! The protocol is one datagram per message on a Unix socket: a few lines
//! here rather than a crate.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sink::{FrameResult, Sink, SinkError};

/// Where systemd listens, from `NOTIFY_SOCKET` (a path, or `@name` for an
/// abstract socket).
pub struct Notifier {
    socket: UnixDatagram,
    target: String,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("target", &self.target).finish()
    }
}

impl Notifier {
    /// The notifier systemd asked for, if it did. A socket that cannot be
    /// made is a warning: the run goes on without telling systemd.
    pub fn from_env() -> Option<Self> {
        let target = std::env::var("NOTIFY_SOCKET").ok().filter(|t| !t.is_empty())?;
        match UnixDatagram::unbound() {
            Ok(socket) => Some(Self { socket, target }),
            Err(e) => {
                log::warn!("NOTIFY_SOCKET is set but no socket could be made ({e}); systemd is not told");
                None
            }
        }
    }

    /// Sends one message (`READY=1`, `WATCHDOG=1`, `STATUS=…`).
    pub fn send(&self, message: &str) -> std::io::Result<usize> {
        match self.target.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                self.socket.send_to_addr(message.as_bytes(), &addr)
            }
            None => self.socket.send_to(message.as_bytes(), &self.target),
        }
    }
}

/// How often systemd wants a ping: half its `WATCHDOG_USEC`, as
/// `sd_watchdog_enabled(3)` advises. `None` without a watchdog (or when it
/// is meant for another process, `WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

/// A sink that counts the frames of one camera that came all the way
/// through detection: what READY and the watchdog go by.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(pub Arc<AtomicU64>);

impl Sink for Heartbeat {
    fn write(&mut self, _: &FrameResult<'_>) -> Result<(), SinkError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Tells systemd about the run until `stop` is raised: `READY=1` once every
/// camera in `beats` has had a frame through, then (with a watchdog) a ping
/// each `interval` in which some frame came through. Runs on its own thread;
/// join the returned handle after raising `stop`.
pub fn watch(
    notifier: Notifier,
    beats: Vec<Arc<AtomicU64>>,
    interval: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("sd-notify".into()).spawn(move || {
        let total = |beats: &[Arc<AtomicU64>]| beats.iter().map(|b| b.load(Ordering::Relaxed)).sum::<u64>();
        let tick = interval.map_or(Duration::from_millis(200), |i| i.min(Duration::from_millis(200)));
        let (mut ready, mut last_total, mut last_ping) = (false, 0, Instant::now());
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            if !ready && beats.iter().all(|b| b.load(Ordering::Relaxed) > 0) {
                ready = true;
                // Counted before READY goes out, so that a frame coming
                // right after it earns the first ping.
                last_total = total(&beats);
                last_ping = Instant::now();
                let status = format!("READY=1\nSTATUS=detecting on {} camera(s)", beats.len());
                if let Err(e) = notifier.send(&status) {
                    log::warn!("cannot tell systemd the run is ready ({e})");
                }
            }
            let Some(interval) = interval.filter(|_| ready) else { continue };
            if last_ping.elapsed() < interval {
                continue;
            }
            // A ping only for an interval in which frames moved: a stuck
            // pipeline goes quiet and systemd restarts it.
            let now_total = total(&beats);
            if now_total > last_total {
                let _ = notifier.send("WATCHDOG=1");
                last_total = now_total;
                last_ping = Instant::now();
            }
        }
        let _ = notifier.send("STOPPING=1");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier { socket: UnixDatagram::unbound().unwrap(), target: path.to_string_lossy().into() };
        notifier.send("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn pings_come_only_while_frames_move() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier { socket: UnixDatagram::unbound().unwrap(), target: path.to_string_lossy().into() };
        let (beat, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let watcher =
            watch(notifier, vec![Arc::clone(&beat)], Some(Duration::from_millis(50)), Arc::clone(&stop)).unwrap();
        // Waits up to `within`: long for what must come (other tests may
        // keep the cores busy), short where nothing may come.
        let recv = |within: Duration| {
            listener.set_read_timeout(Some(within)).unwrap();
            let mut buf = [0u8; 128];
            listener.recv(&mut buf).ok().map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        };
        let (must, may_not) = (Duration::from_secs(10), Duration::from_millis(500));
        // No frame yet: not ready, nothing sent.
        assert_eq!(recv(may_not), None);
        beat.fetch_add(1, Ordering::Relaxed);
        assert!(recv(must).is_some_and(|m| m.starts_with("READY=1")));
        // Frames flow: pings.
        for _ in 0..3 {
            beat.fetch_add(1, Ordering::Relaxed);
            assert_eq!(recv(must).as_deref(), Some("WATCHDOG=1"));
        }
        // Frames stop: no ping.
        while recv(may_not).is_some() {}
        assert_eq!(recv(may_not), None);
        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
        assert_eq!(recv(must).as_deref(), Some("STOPPING=1"));
    }
}
