//! A sink on its own thread behind a bounded queue. Closing a recording
//! segment, encoding a snapshot, a slow SD card or a stuck encoder then hold
//! up only that sink: on a live source it drops its own frames (counted,
//! warned about at most once a minute) and detection, the JSON lines and the
//! other sinks keep their pace. On a file every frame still reaches it (the
//! queue waits: a file has no clock to keep up with).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ssd_core::postprocess::Detection;

use super::{FrameResult, Latency, Sink, SinkError};
use crate::source::Frame;

/// How long the end of a run waits for an offloaded sink to finish (an
/// encoder writing its last frames) before leaving it.
const FINISH_PATIENCE: Duration = Duration::from_secs(30);

/// The most events of dropped frames kept for a sink that is stuck.
const MAX_PENDING: usize = 10_000;

/// At most one warning about dropped frames per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A frame's result, owned, for the sink's thread.
struct Owned {
    frame: Frame,
    detections: Vec<Detection>,
    track_ids: Vec<Option<u64>>,
    events: Vec<crate::events::Event>,
    gate: Option<crate::gate::Plan>,
    latency: Latency,
    dropped: u64,
    fps: f64,
    /// The places (the same every frame: shared) and this frame's counts.
    places: Shared,
    counts: Vec<[u64; 2]>,
}

/// A camera's zones and lines, copied once for the sink's thread.
type Shared = Arc<(Vec<crate::zones::Zone>, Vec<crate::zones::Line>)>;

enum Job {
    Frame(Box<Owned>),
    Events(Vec<crate::events::Event>),
}

/// A sink moved to its own thread. See the module documentation.
pub struct Offloaded {
    name: String,
    live: bool,
    queue: Option<Sender<Job>>,
    /// Pixel buffers the thread is done with, reused for the next copies.
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Result<(), SinkError>>>,
    dropped: Arc<AtomicU64>,
    warned: Option<(Instant, u64)>,
    places: Shared,
    /// Events of the frames dropped since the last one sent.
    pending: Vec<crate::events::Event>,
    /// While false, frames go without their pixels (a sink that only
    /// follows events and times: copying a 1080p frame costs more than it
    /// does).
    pixels: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Offloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offloaded").field("name", &self.name).field("live", &self.live).finish_non_exhaustive()
    }
}

impl Offloaded {
    /// Starts `sink` on a thread named after `name` (`--record`,
    /// `--snapshots`, …), with room for `depth` frames. `live`: drop when
    /// the queue is full rather than wait.
    pub fn start(name: &str, sink: Box<dyn Sink>, depth: usize, live: bool) -> Result<Self, String> {
        let depth = depth.max(1);
        let (queue, jobs) = crossbeam_channel::bounded::<Job>(depth);
        let (give_back, spare) = crossbeam_channel::bounded::<Vec<u8>>(depth + 1);
        let worker = std::thread::Builder::new()
            .name(format!("sink {name}"))
            .spawn(move || serve(sink, &jobs, &give_back))
            .map_err(|e| format!("{name}: cannot start a thread: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            live,
            queue: Some(queue),
            spare,
            worker: Some(worker),
            dropped: Arc::new(AtomicU64::new(0)),
            warned: None,
            places: Shared::default(),
            pending: Vec::new(),
            pixels: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        })
    }

    /// Frames reach the sink with their pixels only while `pixels` holds.
    pub fn with_pixels(mut self, pixels: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.pixels = pixels;
        self
    }

    /// Frames this sink dropped because it could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The count behind [`Offloaded::dropped`], for `/metrics`.
    pub fn drop_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }

    fn drop_one(&mut self) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let due = self.warned.is_none_or(|(at, _)| now.duration_since(at) >= WARN_EVERY);
        if due {
            let since = self.warned.map_or(dropped, |(_, before)| dropped - before);
            log::warn!("{}: cannot keep up; dropped {since} frame(s) of its own (detection goes on)", self.name);
            self.warned = Some((now, dropped));
        }
    }
}

/// How much lower than detection a sink's thread (and the encoders it
/// starts, which inherit it) runs: on a board with every core busy,
/// detection gets the CPU first and a file sink drops its own frames.
const NICENESS: i32 = 10;

fn serve(mut sink: Box<dyn Sink>, jobs: &Receiver<Job>, give_back: &Sender<Vec<u8>>) -> Result<(), SinkError> {
    lower_priority();
    let mut first_error = None;
    for job in jobs {
        let written = match job {
            Job::Frame(owned) => {
                let result = FrameResult {
                    frame: &owned.frame,
                    detections: &owned.detections,
                    track_ids: &owned.track_ids,
                    events: &owned.events,
                    gate: owned.gate.as_ref(),
                    latency: owned.latency,
                    dropped: owned.dropped,
                    places: super::Places { zones: &owned.places.0, lines: &owned.places.1, counts: &owned.counts },
                    stationary: &[],
                    fps: owned.fps,
                };
                let written = sink.write(&result);
                let _ = give_back.try_send(owned.frame.rgb);
                written
            }
            Job::Events(events) => sink.write_events(&events),
        };
        if let Err(e) = written {
            first_error.get_or_insert(e);
        }
    }
    let finished = sink.finish();
    first_error.map_or(finished, Err)
}

/// Lowers this thread's priority by [`NICENESS`] (on Linux the nice value
/// belongs to the thread). Failing is harmless: the sink still runs.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; who = 0 is this thread.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
}

impl Sink for Offloaded {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        let Some(queue) = self.queue.clone() else { return Ok(()) };
        if self.live && queue.is_full() {
            // Known before the copy: a stuck sink costs nothing per frame
            // (but the frame's events wait for the next one sent).
            self.pending.extend_from_slice(r.events);
            if self.pending.len() > MAX_PENDING {
                // A sink stuck for hours: its oldest events go.
                self.pending.drain(..self.pending.len() - MAX_PENDING);
            }
            self.drop_one();
            return Ok(());
        }
        let mut rgb = self.spare.try_recv().unwrap_or_default();
        rgb.clear();
        if self.pixels.load(Ordering::Relaxed) {
            rgb.extend_from_slice(&r.frame.rgb);
        }
        let f = r.frame;
        let frame = Frame {
            index: f.index,
            captured_at: f.captured_at,
            timestamp_ms: f.timestamp_ms,
            width: f.width,
            height: f.height,
            rgb,
            file: f.file.clone(),
            pts_ms: f.pts_ms,
            time_ms: f.time_ms,
        };
        let p = r.places;
        if p.zones != self.places.0.as_slice() || p.lines != self.places.1.as_slice() {
            self.places = Arc::new((p.zones.to_vec(), p.lines.to_vec()));
        }
        // Events of frames dropped for this sink ride on the next frame
        // that reaches it: a dropped frame costs a picture, never an
        // object's `new` or `end`.
        let mut events = std::mem::take(&mut self.pending);
        events.extend_from_slice(r.events);
        let job = Job::Frame(Box::new(Owned {
            frame,
            detections: r.detections.to_vec(),
            track_ids: r.track_ids.to_vec(),
            events,
            gate: r.gate.cloned(),
            latency: r.latency,
            dropped: r.dropped,
            fps: r.fps,
            places: Arc::clone(&self.places),
            counts: p.counts.to_vec(),
        }));
        let sent =
            if self.live { queue.try_send(job) } else { queue.send(job).map_err(|e| TrySendError::Disconnected(e.0)) };
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                if let Job::Frame(owned) = job {
                    self.pending = owned.events;
                }
                self.drop_one();
            }
            // The thread ended (a panic in the sink): finish reports it.
            Err(TrySendError::Disconnected(_)) => self.queue = None,
        }
        Ok(())
    }

    fn write_events(&mut self, events: &[crate::events::Event]) -> Result<(), SinkError> {
        if let Some(queue) = &self.queue {
            let mut all = std::mem::take(&mut self.pending);
            all.extend_from_slice(events);
            // The last events of the run: worth a wait, not a hang.
            if queue.send_timeout(Job::Events(all), FINISH_PATIENCE).is_err() {
                log::warn!("{}: did not take the run's last events within {FINISH_PATIENCE:?}", self.name);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.queue = None;
        let dropped = self.dropped();
        if dropped > 0 {
            log::warn!("{}: dropped {dropped} frame(s) in all, not keeping up with the camera", self.name);
        }
        let Some(worker) = self.worker.take() else { return Ok(()) };
        let until = Instant::now() + FINISH_PATIENCE;
        while !worker.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !worker.is_finished() {
            log::warn!("{}: still busy {FINISH_PATIENCE:?} after the run ended; leaving it", self.name);
            return Ok(());
        }
        match worker.join() {
            Ok(result) => result,
            Err(_) => {
                Err(SinkError::Io { what: self.name.clone(), source: std::io::Error::other("its thread panicked") })
            }
        }
    }
}

impl Drop for Offloaded {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(worker) = self.worker.take() {
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that records the frames it got, and can be held up.
    #[derive(Default)]
    struct Slow {
        seen: Arc<Mutex<Vec<u64>>>,
        gate: Arc<Mutex<()>>,
        events: Arc<AtomicU64>,
        /// The ids of every event that reached it, in order.
        ids: Arc<Mutex<Vec<u64>>>,
    }

    impl Sink for Slow {
        fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
            let _held = self.gate.lock().unwrap();
            assert_eq!(r.frame.rgb.len(), 12, "the pixels travel with the frame");
            self.seen.lock().unwrap().push(r.frame.index);
            self.ids.lock().unwrap().extend(r.events.iter().map(|e| e.id));
            Ok(())
        }
        fn write_events(&mut self, events: &[crate::events::Event]) -> Result<(), SinkError> {
            self.events.fetch_add(1, Ordering::Relaxed);
            self.ids.lock().unwrap().extend(events.iter().map(|e| e.id));
            Ok(())
        }
        fn finish(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    fn frame(index: u64) -> Frame {
        Frame {
            index,
            captured_at: Instant::now(),
            timestamp_ms: 0.0,
            width: 2,
            height: 2,
            rgb: vec![7; 12],
            file: None,
            pts_ms: None,
            time_ms: 0.0,
        }
    }

    fn write(sink: &mut Offloaded, index: u64) {
        write_with(sink, index, &[]);
    }

    fn write_with(sink: &mut Offloaded, index: u64, events: &[crate::events::Event]) {
        let f = frame(index);
        let r = FrameResult {
            frame: &f,
            detections: &[],
            track_ids: &[],
            events,
            gate: None,
            latency: Latency::default(),
            dropped: 0,
            places: Default::default(),
            stationary: &[],
            fps: 0.0,
        };
        sink.write(&r).unwrap();
    }

    #[test]
    fn a_stuck_sink_on_a_live_source_drops_its_own_frames_and_never_blocks() {
        let sink = Slow::default();
        let (seen, gate, events) = (Arc::clone(&sink.seen), Arc::clone(&sink.gate), Arc::clone(&sink.events));
        let mut offloaded = Offloaded::start("stuck", Box::new(sink), 2, true).unwrap();
        let held = gate.lock().unwrap();
        for i in 0..100 {
            write(&mut offloaded, i);
        }
        // 100 frames went by while the sink was stuck (a write that waited
        // would hang here); at most the queue and the frame in its hands
        // were kept.
        assert!(offloaded.dropped() >= 96, "{}", offloaded.dropped());
        drop(held);
        offloaded.write_events(&[]).unwrap();
        offloaded.finish().unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len() as u64 + offloaded.dropped(), 100);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(events.load(Ordering::Relaxed), 1, "the last events arrive");
    }

    #[test]
    fn events_of_dropped_frames_still_arrive_in_order() {
        let sink = Slow::default();
        let (ids, gate) = (Arc::clone(&sink.ids), Arc::clone(&sink.gate));
        let mut offloaded = Offloaded::start("stuck", Box::new(sink), 2, true).unwrap();
        let held = gate.lock().unwrap();
        let event = |id| crate::events::Event {
            kind: crate::events::EventKind::New,
            id,
            class_id: 0,
            frame: id,
            first_ms: 0.0,
            last_ms: 0.0,
            score: 0.5,
            top_score: 0.5,
            bbox: ssd_core::boxes::BBox { x1: 0.0, y1: 0.0, x2: 1.0, y2: 1.0 },
            zones: Vec::new(),
            entered_zones: Vec::new(),
            crossed: Vec::new(),
            reasons: Vec::new(),
            stationary: false,
            clip: None,
        };
        for i in 0..40 {
            write_with(&mut offloaded, i, &[event(i)]);
        }
        assert!(offloaded.dropped() >= 30, "{}", offloaded.dropped());
        drop(held);
        offloaded.write_events(&[event(40)]).unwrap();
        offloaded.finish().unwrap();
        assert_eq!(*ids.lock().unwrap(), (0..=40).collect::<Vec<_>>(), "no event lost with its frame");
    }

    #[test]
    fn on_a_file_every_frame_arrives_in_order() {
        let sink = Slow::default();
        let (seen, gate) = (Arc::clone(&sink.seen), Arc::clone(&sink.gate));
        let mut offloaded = Offloaded::start("file", Box::new(sink), 2, false).unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..50 {
                write(&mut offloaded, i);
            }
            offloaded.finish().unwrap();
            offloaded.dropped()
        });
        // Held up a while: the writer waits instead of dropping.
        let held = gate.lock().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        assert_eq!(writer.join().unwrap(), 0);
        assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }
}
