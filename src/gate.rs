//! `--detect motion`: decides, frame by frame on the capture thread, where
//! the model runs: nowhere (nothing moves, nothing tracked), on regions
//! around what moves and what is tracked ([`crate::regions`]), or on the
//! whole frame (the first frame, every `--full-frame-every`, or when the
//! regions would cost more).

use std::sync::{Arc, Mutex};

use ssd_core::boxes::BBox;

use crate::motion::{Motion, MotionDetector, MotionParams};
use crate::regions::{plan, Region, RegionParams};

/// How often the whole frame runs anyway, to catch objects that stopped
/// moving before anything tracked them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FullEvery {
    /// Every N frames.
    Frames(u64),
    /// Every so many seconds of the source's timestamps.
    Seconds(f64),
}

impl FullEvery {
    /// Parses `N` (frames) or `Ns` (seconds), N above zero.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a number of frames (30) or seconds (5s) above 0");
        match s.strip_suffix('s') {
            Some(secs) => {
                let v: f64 = secs.trim().parse().map_err(|_| bad())?;
                (v.is_finite() && v > 0.0 && v <= 1e6).then_some(FullEvery::Seconds(v)).ok_or_else(bad)
            }
            None => s.trim().parse::<u64>().ok().filter(|&n| n > 0).map(FullEvery::Frames).ok_or_else(bad),
        }
    }
}

/// Where the model runs on one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The whole frame.
    pub full: bool,
    /// Else these crops (none: the model does not run).
    pub regions: Vec<Region>,
    /// The motion detector saw something move.
    pub motion: bool,
    /// The model looks at the resting (stationary) objects on this frame:
    /// the whole frame runs, or their check is due. When not, the tracker
    /// holds them as they were.
    pub resting_checked: bool,
}

impl Plan {
    /// The model does not run on the frame (detection switched off).
    pub fn idle() -> Self {
        Self { full: false, regions: Vec::new(), motion: false, resting_checked: false }
    }
}

/// The boxes of the objects being tracked, written by the output stage and
/// read by the gate: where the model must keep looking even if nothing moves.
pub type Tracked = Arc<Mutex<TrackedBoxes>>;

/// The tracked objects' boxes, as the gate sees them.
#[derive(Debug, Clone, Default)]
pub struct TrackedBoxes {
    /// Objects the model looks at on every frame.
    pub moving: Vec<BBox>,
    /// Stationary objects seen when last looked at: the model looks at
    /// them only every `--stationary-check` (a parked car needs no
    /// inference ten times a second to stay parked).
    pub resting: Vec<BBox>,
}

/// How often resting objects are looked at unless the whole frame runs.
pub const STATIONARY_CHECK_MS: f64 = 10_000.0;

/// Motion, tracked objects and the full-frame schedule, turned into plans.
#[derive(Debug)]
pub struct Gate {
    detector: MotionDetector,
    motion: Motion,
    regions: RegionParams,
    every: FullEvery,
    tracked: Tracked,
    /// Frame count and timestamp of the last full-frame run.
    last_full: Option<(u64, f64)>,
    /// How often resting objects are looked at (ms), and when they last were.
    still_every_ms: f64,
    last_still: Option<f64>,
    frames: u64,
    boxes: Vec<BBox>,
    /// Resting boxes already taken into the motion background.
    absorbed: Vec<BBox>,
}

/// How much of a resting box's width and height is taken into the motion
/// background beyond each of its sides.
const REST_MARGIN: f32 = 0.15;

/// A resting box this close to one already taken into the background is
/// the same object standing where it stood.
const SAME_REST_IOU: f32 = 0.8;

impl Gate {
    /// A gate for a model of the given input size.
    pub fn new(
        motion: MotionParams,
        masks: Vec<crate::zones::Zone>,
        input: [u32; 2],
        every: FullEvery,
        tracked: Tracked,
    ) -> Self {
        Self {
            detector: MotionDetector::new(motion, masks),
            motion: Motion::default(),
            regions: RegionParams::for_input(input),
            every,
            tracked,
            last_full: None,
            still_every_ms: STATIONARY_CHECK_MS,
            last_still: None,
            frames: 0,
            boxes: Vec::new(),
            absorbed: Vec::new(),
        }
    }

    /// Looks at resting objects every `ms` (`--stationary-check`).
    pub fn with_stationary_check(mut self, ms: f64) -> Self {
        self.still_every_ms = ms;
        self
    }

    /// The plan for one RGB frame taken at `timestamp_ms`.
    pub fn plan(&mut self, rgb: &[u8], width: u32, height: u32, timestamp_ms: f64) -> Plan {
        self.detector.detect(rgb, width, height, &mut self.motion);
        let frames = self.frames;
        self.frames += 1;
        let due = match (self.last_full, self.every) {
            (None, _) => true,
            (Some((n, _)), FullEvery::Frames(every)) => frames - n >= every,
            (Some((_, t)), FullEvery::Seconds(every)) => timestamp_ms - t >= every * 1000.0,
        };
        let motion = !self.motion.boxes.is_empty();
        self.boxes.clear();
        self.boxes.extend_from_slice(&self.motion.boxes);
        let still_due = self.last_still.is_none_or(|t| timestamp_ms - t >= self.still_every_ms);
        let mut resting = false;
        if let Ok(tracked) = self.tracked.lock() {
            let clip = |b: &BBox| b.clip(width as f32, height as f32);
            self.boxes.extend(tracked.moving.iter().map(clip));
            resting = !tracked.resting.is_empty();
            if still_due {
                self.boxes.extend(tracked.resting.iter().map(clip));
            }
            // An object that came to rest is part of the scene from now on:
            // its own stillness is not motion (the running background
            // would take seconds to learn it, waking the model all along).
            self.absorbed.retain(|a| tracked.resting.iter().any(|r| r.iou(a) >= SAME_REST_IOU));
            for r in &tracked.resting {
                if !self.absorbed.iter().any(|a| r.iou(a) >= SAME_REST_IOU) {
                    // With a margin: a box is tighter than what the object
                    // changed in the picture (a limb, a shadow, the edge
                    // the detector left out).
                    let (mx, my) = (r.width() * REST_MARGIN, r.height() * REST_MARGIN);
                    self.detector.absorb(&BBox::new(r.x1 - mx, r.y1 - my, r.x2 + mx, r.y2 + my));
                    self.absorbed.push(*r);
                }
            }
        }
        self.boxes.retain(|b| b.width() > 0.0 && b.height() > 0.0);
        let mut regions = Vec::new();
        let full = due || !plan(&self.boxes, [width, height], &self.regions, &mut regions);
        if full {
            regions.clear();
            self.last_full = Some((frames, timestamp_ms));
        }
        let resting_checked = full || still_due;
        if full || (still_due && resting) {
            self.last_still = Some(timestamp_ms);
        }
        Plan { full, regions, motion, resting_checked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_frame_every_takes_frames_or_seconds() {
        assert_eq!(FullEvery::parse("30"), Ok(FullEvery::Frames(30)));
        assert_eq!(FullEvery::parse("2.5s"), Ok(FullEvery::Seconds(2.5)));
        for bad in ["0", "0s", "-1", "s", "x", "1e9s", "inf s"] {
            assert!(FullEvery::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_still_scene_runs_the_whole_frame_on_schedule_only_and_tracked_objects_keep_regions() {
        let tracked = Tracked::default();
        let mut gate =
            Gate::new(MotionParams::default(), vec![], [300, 300], FullEvery::Frames(10), Arc::clone(&tracked));
        let still = vec![80u8; 1280 * 720 * 3];
        let runs: Vec<bool> = (0..25).map(|i| gate.plan(&still, 1280, 720, i as f64 * 33.0).full).collect();
        let full_at: Vec<usize> = runs.iter().enumerate().filter(|(_, &f)| f).map(|(i, _)| i).collect();
        assert_eq!(full_at, [0, 10, 20]);
        // A tracked object gets its region though nothing moves.
        tracked.lock().unwrap().moving = vec![BBox::new(600.0, 300.0, 650.0, 400.0)];
        let p = gate.plan(&still, 1280, 720, 25.0 * 33.0);
        assert!(!p.full && !p.motion && p.regions.len() == 1, "{p:?}");
    }

    #[test]
    fn resting_objects_are_looked_at_only_when_their_check_is_due() {
        let tracked = Tracked::default();
        let gate =
            Gate::new(MotionParams::default(), vec![], [300, 300], FullEvery::Seconds(60.0), Arc::clone(&tracked));
        let mut gate = gate.with_stationary_check(1_000.0);
        let still = vec![80u8; 1280 * 720 * 3];
        assert!(gate.plan(&still, 1280, 720, 0.0).full, "the first frame runs whole");
        tracked.lock().unwrap().resting = vec![BBox::new(600.0, 300.0, 650.0, 400.0)];
        // 10 frames a second for 3 s: a crop on the resting box once a
        // second (the full frame at 0 counted as its check), none between.
        let plans: Vec<Plan> = (1..30).map(|i| gate.plan(&still, 1280, 720, i as f64 * 100.0)).collect();
        let looked: Vec<usize> =
            plans.iter().enumerate().filter(|(_, p)| !p.regions.is_empty()).map(|(i, _)| i + 1).collect();
        assert_eq!(looked, [10, 20]);
        assert!(plans.iter().all(|p| !p.full && p.resting_checked != p.regions.is_empty()), "{plans:?}");
        // A moving object keeps its crop on every frame.
        tracked.lock().unwrap().moving = vec![BBox::new(100.0, 300.0, 150.0, 400.0)];
        assert!((30..40).all(|i| !gate.plan(&still, 1280, 720, i as f64 * 100.0).regions.is_empty()));
    }

    #[test]
    fn an_object_that_came_to_rest_is_no_motion_until_it_moves_again() {
        let tracked = Tracked::default();
        let mut gate =
            Gate::new(MotionParams::default(), vec![], [300, 300], FullEvery::Seconds(600.0), Arc::clone(&tracked));
        let (w, h) = (640u32, 360u32);
        let scene = |x: Option<usize>| {
            let mut rgb = vec![90u8; (w * h * 3) as usize];
            if let Some(x0) = x {
                for y in 100..300 {
                    for x in x0..x0 + 80 {
                        rgb[(y * w as usize + x) * 3..][..3].copy_from_slice(&[230, 200, 180]);
                    }
                }
            }
            rgb
        };
        assert!(gate.plan(&scene(None), w, h, 0.0).full);
        // Someone walks in and stops at x = 300: motion...
        assert!(gate.plan(&scene(Some(300)), w, h, 100.0).motion);
        // ...which the running background would keep seeing for seconds.
        assert!(gate.plan(&scene(Some(300)), w, h, 200.0).motion);
        // Tracked and at rest: taken into the background at once.
        tracked.lock().unwrap().resting = vec![BBox::new(300.0, 100.0, 380.0, 300.0)];
        gate.plan(&scene(Some(300)), w, h, 300.0);
        for i in 4..20 {
            let p = gate.plan(&scene(Some(300)), w, h, f64::from(i) * 100.0);
            assert!(!p.motion && p.regions.is_empty() && !p.full, "frame {i}: {p:?}");
        }
        // She moves: motion on the next frame.
        let p = gate.plan(&scene(Some(320)), w, h, 2_000.0);
        assert!(p.motion && (p.full || !p.regions.is_empty()), "{p:?}");
    }
}
