//! `demo`: the shapes the shipped model detects (circle, square, triangle,
//! star, drawn as in its training scenes) moving and turning over a
//! textured background, rendered deterministically from a seed, for demos,
//! tests and benchmarks.
//!
//! `demo[:size=WxH,fps=N,seed=N,frames=N,scene=S,light=N]`. With `fps` above
//! zero it behaves as a live camera (paced, stale frames dropped); `fps=0`
//! renders as fast as the pipeline consumes, like a file, nothing dropped.
//!
//! Scenes: `bounce` (the default: five shapes always moving), `visits` (a
//! still scene that one shape crosses now and then, big, medium or small
//! and distant: what a camera over a door sees), `shake` (bounce on a
//! background that jitters: motion everywhere) and `still` (bounce's first
//! frame, unchanging: boxes that stay put for tests of what viewers see). `light=N` makes the whole
//! frame brighter from frame N on (a lamp, the camera's exposure).

use std::time::{Duration, Instant};

use super::{Source, SourceError};
use ssd_core::boxes::BBox;
use ssd_core::rng::SplitMix;
use ssd_core::scene::{background, distinct_color, Shape, CLASSES};

/// How the shapes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// Five shapes bouncing around, always moving.
    Bounce,
    /// A still scene; every [`VISIT_PERIOD`] frames one shape crosses it
    /// in [`VISIT_FRAMES`] frames.
    Visits,
    /// Bounce, with the background jittering by a few pixels.
    Shake,
    /// Bounce's first frame, for ever: boxes that never move.
    Still,
}

/// Frames between the starts of two visits.
pub const VISIT_PERIOD: u64 = 300;
/// Frames a visit takes to cross the frame.
pub const VISIT_FRAMES: u64 = 30;

#[derive(Debug, Clone)]
struct Mover {
    shape: Shape,
    vel: [f32; 2],
    spin: f32,
    /// Radius of the circle the shape turns in, so it stays inside the frame.
    radius: f32,
}

/// The demo source.
#[derive(Debug)]
pub struct DemoSource {
    width: u32,
    height: u32,
    fps: f32,
    frames: Option<u64>,
    movers: Vec<Mover>,
    background: Vec<u8>,
    scene: Scene,
    seed: u64,
    light: Option<u64>,
    produced: u64,
    started: Option<Instant>,
}

impl DemoSource {
    /// Parses `demo[:key=value,...]`.
    pub fn from_spec(spec: &str) -> Result<Self, SourceError> {
        let bad = |message: String| SourceError::Open { what: spec.into(), message };
        let (mut width, mut height, mut fps, mut seed, mut frames) = (640u32, 480u32, 30f32, 1u64, None);
        let (mut scene, mut light) = (Scene::Bounce, None);
        let opts = spec.strip_prefix("demo").unwrap_or_default().trim_start_matches(':');
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            let (key, value) = opt.split_once('=').ok_or_else(|| bad(format!("option '{opt}' is not key=value")))?;
            match key {
                "size" => {
                    let (w, h) = value.split_once('x').ok_or_else(|| bad(format!("size '{value}' is not WxH")))?;
                    width = w.parse().map_err(|_| bad(format!("bad width '{w}'")))?;
                    height = h.parse().map_err(|_| bad(format!("bad height '{h}'")))?;
                }
                "fps" => fps = value.parse().map_err(|_| bad(format!("bad fps '{value}'")))?,
                "seed" => seed = value.parse().map_err(|_| bad(format!("bad seed '{value}'")))?,
                "frames" => frames = Some(value.parse().map_err(|_| bad(format!("bad frame count '{value}'")))?),
                "scene" => {
                    scene = match value {
                        "bounce" => Scene::Bounce,
                        "visits" => Scene::Visits,
                        "shake" => Scene::Shake,
                        "still" => Scene::Still,
                        _ => return Err(bad(format!("scene '{value}' is not bounce, visits, shake or still"))),
                    }
                }
                "light" => light = Some(value.parse().map_err(|_| bad(format!("bad light frame '{value}'")))?),
                _ => return Err(bad(format!("unknown option '{key}' (size, fps, seed, frames, scene, light)"))),
            }
        }
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(bad(format!("size {width}x{height} is outside 16..=8192 per side")));
        }
        if !(fps.is_finite() && (0.0..=1000.0).contains(&fps)) {
            return Err(bad(format!("fps {fps} is outside 0..=1000")));
        }
        let mut demo = Self::new(width, height, fps, seed, frames);
        (demo.scene, demo.light) = (scene, light);
        Ok(demo)
    }

    /// A scene of the given size; `fps = 0` means unpaced.
    pub fn new(width: u32, height: u32, fps: f32, seed: u64, frames: Option<u64>) -> Self {
        let mut rng = SplitMix::new(seed);
        let side = width.min(height) as f32;
        let background = background(&mut rng, width as usize, height as usize);
        let movers = (0..5)
            .map(|i| {
                let class = i % CLASSES.len();
                let size = rng.range(0.12, 0.3) * side;
                let aspect = rng.range(0.8, 1.25f32).sqrt();
                let (sw, sh) = (size * aspect, size / aspect);
                // Circles do not turn, as in the training scenes.
                let (angle, spin) = if class == 0 {
                    (0.0, 0.0)
                } else {
                    (rng.range(0.0, std::f32::consts::TAU), rng.range(-0.04, 0.04))
                };
                let shape = Shape { class, center: [0.0; 2], size: [sw, sh], angle, color: distinct_color(&mut rng) };
                let radius = 0.5 * (sw * sw + sh * sh).sqrt();
                let center = [rng.range(0.0, width as f32), rng.range(0.0, height as f32)];
                let vel = [rng.range(-3.0, 3.0), rng.range(-3.0, 3.0)].map(|v| v * side / 300.0);
                Mover { shape: Shape { center, ..shape }, vel, spin, radius }
            })
            .collect();
        Self {
            width,
            height,
            fps,
            frames,
            movers,
            background,
            scene: Scene::Bounce,
            seed,
            light: None,
            produced: 0,
            started: None,
        }
    }

    /// The shapes as drawn in frame `t`: they bounce off the frame edges and
    /// turn, always wholly inside the frame.
    pub fn shapes(&self, t: u64) -> Vec<Shape> {
        self.shapes_at(t).collect()
    }

    fn shapes_at(&self, t: u64) -> impl Iterator<Item = Shape> + '_ {
        let visits = (self.scene == Scene::Visits).then(|| self.visitor(t)).into_iter().flatten();
        let bouncing = if self.scene == Scene::Visits { &self.movers[..0] } else { &self.movers[..] };
        // A still scene shows the bounce scene's first frame for ever.
        let t = if self.scene == Scene::Still { 0 } else { t };
        visits.chain(bouncing.iter().map(move |m| {
            let dims = [self.width as f32, self.height as f32];
            let center = [0, 1].map(|a| {
                let span = dims[a] - 2.0 * m.radius;
                m.radius + bounce(m.shape.center[a] + m.vel[a] * t as f32, span)
            });
            Shape { center, angle: m.shape.angle + m.spin * t as f32, ..m.shape.clone() }
        }))
    }

    /// The shape crossing a `visits` scene in frame `t`, if any: visit k
    /// crosses left to right (even k) or back, at a height and size of its
    /// own; every third is small (a distant object).
    fn visitor(&self, t: u64) -> Option<Shape> {
        let (k, phase) = (t / VISIT_PERIOD, t % VISIT_PERIOD);
        if phase >= VISIT_FRAMES {
            return None;
        }
        let mut rng = SplitMix::new(self.seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let side = self.width.min(self.height) as f32;
        let size = side * if k % 3 == 2 { rng.range(0.06, 0.08) } else { rng.range(0.15, 0.3) };
        let class = (k as usize) % CLASSES.len();
        let y = rng.range(size, self.height as f32 - size);
        let color = distinct_color(&mut rng);
        // From just outside one edge to just outside the other.
        let f = (phase as f32 + 0.5) / VISIT_FRAMES as f32;
        let span = self.width as f32 + 2.0 * size;
        let x = if k % 2 == 0 { -size + f * span } else { self.width as f32 + size - f * span };
        Some(Shape { class, center: [x, y], size: [size, size], angle: 0.0, color })
    }

    /// Class index ([`CLASSES`]) and box of every shape in frame `t`, in
    /// drawing order (later shapes cover earlier ones).
    pub fn layout(&self, t: u64) -> Vec<(usize, BBox)> {
        self.shapes(t)
            .iter()
            .map(|s| (s.class, s.extent().clip(self.width as f32, self.height as f32)))
            .filter(|(_, b)| b.width() > 0.0 && b.height() > 0.0)
            .collect()
    }

    fn render(&self, t: u64, rgb: &mut Vec<u8>) {
        rgb.clear();
        if self.scene == Scene::Shake {
            // The background moved by up to 3 pixels (a shaking camera).
            let dx = [0, 2, 3, 1][(t % 4) as usize] * 3;
            rgb.extend_from_slice(&self.background[dx..]);
            rgb.extend_from_slice(&self.background[..dx]);
        } else {
            rgb.extend_from_slice(&self.background);
        }
        // Shape by shape, without collecting: a frame allocates nothing.
        for s in self.shapes_at(t) {
            s.paint(rgb, self.width as usize, self.height as usize, |_| {});
        }
        if self.light.is_some_and(|from| t >= from) {
            for v in rgb.iter_mut() {
                *v = v.saturating_add(60);
            }
        }
    }
}

/// Reflects `x` into `[0, span]`, as a ball bouncing between two walls.
fn bounce(x: f32, span: f32) -> f32 {
    if span <= 0.0 {
        return 0.0;
    }
    let period = 2.0 * span;
    let r = x.rem_euclid(period);
    if r <= span {
        r
    } else {
        period - r
    }
}

impl Source for DemoSource {
    fn name(&self) -> &str {
        "demo"
    }

    fn frame_rate(&self) -> Option<f64> {
        // Unpaced (fps=0) it has no rate of its own; a recording plays it at 30.
        (self.fps > 0.0).then_some(f64::from(self.fps))
    }

    fn is_live(&self) -> bool {
        self.fps > 0.0
    }

    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        if self.frames.is_some_and(|n| self.produced >= n) {
            return Ok(None);
        }
        if self.fps > 0.0 {
            let start = *self.started.get_or_insert_with(Instant::now);
            let due = start + Duration::from_secs_f64(self.produced as f64 / f64::from(self.fps));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        self.render(self.produced, rgb);
        self.produced += 1;
        Ok(Some((self.width, self.height)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_frames_and_other_seed_other_frames() {
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        let mut s1 = DemoSource::from_spec("demo:size=64x48,fps=0,seed=3").unwrap();
        let mut s2 = DemoSource::from_spec("demo:size=64x48,fps=0,seed=3").unwrap();
        let mut s3 = DemoSource::from_spec("demo:size=64x48,fps=0,seed=4").unwrap();
        for _ in 0..3 {
            s1.next_frame(&mut a).unwrap();
            s2.next_frame(&mut b).unwrap();
            s3.next_frame(&mut c).unwrap();
        }
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64 * 48 * 3);
    }

    #[test]
    fn shapes_move_and_stay_inside_the_frame() {
        let s = DemoSource::new(320, 240, 0.0, 9, None);
        let (f0, f50) = (s.layout(0), s.layout(50));
        assert_ne!(f0, f50);
        let classes: Vec<usize> = f0.iter().map(|(c, _)| *c).collect();
        assert_eq!(classes, vec![0, 1, 2, 3, 0], "every class appears");
        for t in [0, 1, 77, 1000, 123_456] {
            for shape in s.shapes(t) {
                let b = shape.extent();
                assert!(b.x1 >= -0.01 && b.y1 >= -0.01 && b.x2 <= 320.01 && b.y2 <= 240.01, "{t}: {b:?}");
            }
        }
    }

    #[test]
    fn the_topmost_shape_owns_its_centre_pixel() {
        let mut s = DemoSource::new(200, 200, 0.0, 5, Some(1));
        let mut rgb = Vec::new();
        s.next_frame(&mut rgb).unwrap();
        // The last mover is drawn last and is a circle, whose centre is inside it.
        let (class, b) = s.layout(0)[4];
        assert_eq!(CLASSES[class], "circle");
        let color = s.movers[4].shape.color;
        let (cx, cy) = (((b.x1 + b.x2) / 2.0) as usize, ((b.y1 + b.y2) / 2.0) as usize);
        let o = (cy * 200 + cx) * 3;
        assert_eq!(&rgb[o..o + 3], &color);
        // A corner of its box is outside the disc: background or another shape.
        let (x, y) = (b.x1.ceil() as usize, b.y1.ceil() as usize);
        let o = (y * 200 + x) * 3;
        assert_ne!(&rgb[o..o + 3], &color);
        assert_eq!(s.next_frame(&mut rgb).unwrap(), None, "frames=1 ends after one frame");
    }

    #[test]
    fn options_are_validated() {
        for (spec, needle) in [
            ("demo:size=10x10", "outside"),
            ("demo:fps=-1", "outside"),
            ("demo:colour=red", "unknown option"),
            ("demo:size=640", "not WxH"),
            ("demo:seed", "not key=value"),
        ] {
            let err = DemoSource::from_spec(spec).unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn paced_demo_is_live_and_unpaced_is_not() {
        assert!(DemoSource::from_spec("demo").unwrap().is_live());
        assert!(!DemoSource::from_spec("demo:fps=0").unwrap().is_live());
    }

    #[test]
    fn a_visits_scene_is_still_but_for_a_shape_crossing_now_and_then() {
        let mut demo = DemoSource::from_spec("demo:fps=0,size=320x240,scene=visits,seed=2").unwrap();
        let mut frames = Vec::new();
        for _ in 0..(2 * VISIT_PERIOD) {
            let mut rgb = Vec::new();
            demo.next_frame(&mut rgb).unwrap();
            frames.push(rgb);
        }
        let moving: Vec<u64> = (1..frames.len()).filter(|&t| frames[t] != frames[t - 1]).map(|t| t as u64).collect();
        let visits = (1..VISIT_FRAMES + 1).chain(VISIT_PERIOD..VISIT_PERIOD + VISIT_FRAMES + 1);
        assert!(moving.iter().all(|t| visits.clone().any(|v| v == *t)), "{moving:?}");
        assert!(moving.len() as u64 >= 2 * (VISIT_FRAMES - 5), "{moving:?}");
        // Visit 0 goes left to right, visit 1 right to left.
        let x = |t| demo.layout(t)[0].1.x1;
        assert!(x(5) < x(20) && x(VISIT_PERIOD + 5) > x(VISIT_PERIOD + 20));
        assert!(demo.layout(VISIT_FRAMES + 1).is_empty());
    }

    #[test]
    fn a_still_scene_is_bounces_first_frame_for_ever() {
        let mut still = DemoSource::from_spec("demo:fps=0,size=160x120,scene=still,seed=4").unwrap();
        let mut bounce = DemoSource::from_spec("demo:fps=0,size=160x120,seed=4").unwrap();
        let (mut first, mut later, mut reference) = (Vec::new(), Vec::new(), Vec::new());
        still.next_frame(&mut first).unwrap();
        bounce.next_frame(&mut reference).unwrap();
        for _ in 0..10 {
            still.next_frame(&mut later).unwrap();
        }
        assert_eq!(first, reference);
        assert_eq!(later, first);
        assert_eq!(still.layout(50), bounce.layout(0));
        assert_eq!(still.layout(0).len(), 5);
    }

    #[test]
    fn light_brightens_everything_from_its_frame_on() {
        let mut demo = DemoSource::from_spec("demo:fps=0,size=64x48,scene=visits,light=2").unwrap();
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        demo.next_frame(&mut a).unwrap();
        demo.next_frame(&mut b).unwrap();
        demo.next_frame(&mut c).unwrap();
        // Frames 0 and 1 have the visitor moving; compare a pixel it does not reach.
        assert_eq!(c[0], b[0].saturating_add(60));
    }
}
