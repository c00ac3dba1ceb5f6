//! Clocks: the wall clock in the form outputs write it, and the clock that
//! object events follow.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::source::Frame;

/// Now, in milliseconds since the Unix epoch (0 on a clock set before 1970).
pub fn now_unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The time object events and their heartbeats follow. A live source's
/// frames are on the wall clock. A file's frames are on its own timeline
/// (its media time, or its index at the source's frame rate, 30 when it has
/// none), so that two runs of the same file tell the same story however
/// fast the machine runs them; and no event is later than the moment it is
/// told: the timeline ends at the wall time of the first frame when the
/// file's duration is known (the file is read as if it had just been
/// recorded), and where it is not known (a looped file, a pipe) the
/// timeline slides back whenever it would run ahead of the wall clock.
#[derive(Debug, Clone)]
pub struct EventClock {
    live: bool,
    frame_ms: f64,
    duration_ms: Option<f64>,
    start_ms: Option<f64>,
}

impl EventClock {
    /// The clock of a source that is `live` or not, delivering `rate`
    /// frames a second when it says, and lasting `duration_ms` when known.
    pub fn new(live: bool, rate: Option<f64>, duration_ms: Option<f64>) -> Self {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0).unwrap_or(30.0);
        let duration_ms = duration_ms.filter(|d| d.is_finite() && *d >= 0.0);
        EventClock { live, frame_ms: 1000.0 / rate, duration_ms, start_ms: None }
    }

    /// The frame's time, in milliseconds since the Unix epoch.
    pub fn at(&mut self, frame: &Frame) -> f64 {
        if self.live {
            return frame.timestamp_ms;
        }
        let media = frame.pts_ms.unwrap_or(frame.index as f64 * self.frame_ms);
        let start = self.start_ms.get_or_insert(frame.timestamp_ms - self.duration_ms.unwrap_or(0.0) - media);
        // Never ahead of the moment the frame was read: times stay in
        // order (each frame's is at most its own read time, and a slide
        // puts the frame at exactly its read time).
        if *start + media > frame.timestamp_ms {
            *start = frame.timestamp_ms - media;
        }
        *start + media
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, timestamp_ms: f64, pts_ms: Option<f64>) -> Frame {
        Frame {
            index,
            captured_at: std::time::Instant::now(),
            timestamp_ms,
            width: 1,
            height: 1,
            rgb: vec![0; 3],
            file: None,
            pts_ms,
            time_ms: timestamp_ms,
        }
    }

    #[test]
    fn a_file_follows_its_own_timeline_whatever_the_wall_clock_did() {
        // A file of three frames at 25 frames/s lasts 120 ms: its timeline
        // ends where its first frame is read.
        let mut slow = EventClock::new(false, Some(25.0), Some(120.0));
        let mut fast = EventClock::new(false, Some(25.0), Some(120.0));
        let start = 1_000_000.0;
        // The same frames read 10 s apart on a slow machine, 10 ms on a fast one.
        let slow_times: Vec<f64> = (0..3).map(|i| slow.at(&frame(i, start + i as f64 * 10_000.0, None))).collect();
        let fast_times: Vec<f64> = (0..3).map(|i| fast.at(&frame(i, start + i as f64 * 10.0, None))).collect();
        assert_eq!(slow_times, vec![start - 120.0, start - 80.0, start - 40.0]);
        assert_eq!(slow_times, fast_times);
        // A media time, when the file has one, wins over the index.
        let mut timed = EventClock::new(false, None, Some(1000.0));
        assert_eq!(timed.at(&frame(0, start, Some(0.0))), start - 1000.0);
        assert_eq!(timed.at(&frame(1, start + 5.0, Some(500.0))), start - 500.0);
    }

    #[test]
    fn a_file_of_unknown_length_never_runs_ahead_of_the_wall_clock() {
        // A looped file at 10 frames/s read ten times faster than real time.
        let mut clock = EventClock::new(false, Some(10.0), None);
        let start = 1_000_000.0;
        let times: Vec<f64> = (0..30).map(|i| clock.at(&frame(i, start + i as f64 * 10.0, None))).collect();
        for (i, t) in times.iter().enumerate() {
            assert!(*t <= start + i as f64 * 10.0, "frame {i} at {t} is ahead of its read time");
        }
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order: {times:?}");
        // Read slower than real time, the file keeps its own timeline.
        let mut slow = EventClock::new(false, Some(10.0), None);
        let times: Vec<f64> = (0..3).map(|i| slow.at(&frame(i, start + i as f64 * 500.0, None))).collect();
        assert_eq!(times, vec![start, start + 100.0, start + 200.0]);
        // A duration that lies (shorter than the file) is caught the same way.
        let mut short = EventClock::new(false, Some(10.0), Some(100.0));
        let times: Vec<f64> = (0..5).map(|i| short.at(&frame(i, start, None))).collect();
        assert_eq!(times, vec![start - 100.0, start, start, start, start]);
    }

    #[test]
    fn a_live_source_follows_the_wall_clock() {
        let mut live = EventClock::new(true, Some(30.0), None);
        assert_eq!(live.at(&frame(0, 5_000.0, None)), 5_000.0);
        assert_eq!(live.at(&frame(1, 9_000.0, None)), 9_000.0);
    }
}
