//! Motion detection on a small grey copy of each frame, for `--detect
//! motion`: a running-average background, the difference to it (less the
//! frame's median difference, so that a slow brightness drift is not
//! motion), a threshold, a 3×3 dilation twice, and connected regions.
//! When more than `lighting` of the frame changed (a lamp, the camera's
//! exposure jumping), the background is re-based on the frame and no
//! motion is reported. Masked areas (a timestamp overlay, a tree) never
//! count.

use ssd_core::boxes::BBox;

use crate::zones::Zone;

/// Motion detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionParams {
    /// Width of the grey copy in pixels (its height follows the frame's
    /// aspect); the frame is sampled in square blocks.
    pub width: u32,
    /// A pixel moved when its grey level differs from the background by
    /// more than this (0–255), after the frame's median difference is taken
    /// off.
    pub threshold: u8,
    /// How fast the background follows the frame (per frame): 0.02 takes a
    /// new still object in within about 45 frames.
    pub alpha: f32,
    /// Least size of a moving region, in moving pixels of the grey copy
    /// (noise makes smaller ones).
    pub min_area: u32,
    /// More than this fraction of the frame moving is a lighting change.
    pub lighting: f32,
}

impl Default for MotionParams {
    fn default() -> Self {
        Self { width: 160, threshold: 25, alpha: 0.02, min_area: 3, lighting: 0.5 }
    }
}

/// What the detector saw in one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Motion {
    /// Moving regions in frame pixels.
    pub boxes: Vec<BBox>,
    /// The frame was a lighting change (re-based; no boxes).
    pub lighting: bool,
    /// Fraction of the unmasked grey copy that moved.
    pub changed: f32,
}

/// Keeps the background and finds what moved.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    params: MotionParams,
    masks: Vec<Zone>,
    /// Frame size the buffers are for.
    frame: [u32; 2],
    /// Frame pixels per grey pixel (a square block).
    block: u32,
    size: [usize; 2],
    background: Vec<f32>,
    grey: Vec<u8>,
    /// Grey pixels that never count.
    ignored: Vec<bool>,
    moving: Vec<u8>,
    /// The moving mask before dilation.
    raw: Vec<u8>,
    scratch: Vec<u8>,
    stack: Vec<u32>,
    started: bool,
}

impl MotionDetector {
    /// A detector; `masks` are polygons in frame pixels to ignore.
    pub fn new(params: MotionParams, masks: Vec<Zone>) -> Self {
        Self {
            params,
            masks,
            frame: [0, 0],
            block: 1,
            size: [0, 0],
            background: Vec::new(),
            grey: Vec::new(),
            ignored: Vec::new(),
            moving: Vec::new(),
            raw: Vec::new(),
            scratch: Vec::new(),
            stack: Vec::new(),
            started: false,
        }
    }

    /// Sizes the buffers for a `w × h` frame (again after a size change).
    fn resize(&mut self, w: u32, h: u32) {
        let block = w.div_ceil(self.params.width.max(1)).max(1);
        let size = [(w / block).max(1) as usize, (h / block).max(1) as usize];
        let n = size[0] * size[1];
        self.frame = [w, h];
        self.block = block;
        self.size = size;
        self.background = vec![0.0; n];
        self.grey = vec![0; n];
        self.moving = vec![0; n];
        self.raw = vec![0; n];
        self.scratch = vec![0; n];
        let b = block as f32;
        self.ignored = (0..n)
            .map(|i| {
                let p = [((i % size[0]) as f32 + 0.5) * b, ((i / size[0]) as f32 + 0.5) * b];
                self.masks.iter().any(|m| m.contains(p))
            })
            .collect();
        self.started = false;
    }

    /// Grey copy: the mean of up to 4 samples per block.
    fn sample(&mut self, rgb: &[u8], w: u32) {
        let (b, [sw, sh]) = (self.block as usize, self.size);
        let step = (b / 2).max(1);
        let offsets = if b >= 2 { [0, step] } else { [0, 0] };
        let w = w as usize;
        for y in 0..sh {
            for x in 0..sw {
                let mut sum = 0u32;
                for dy in offsets {
                    let row = (y * b + dy) * w;
                    for dx in offsets {
                        let o = (row + x * b + dx) * 3;
                        let p = &rgb[o..o + 3];
                        sum += (77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8;
                    }
                }
                self.grey[y * sw + x] = (sum / 4) as u8;
            }
        }
    }

    /// Takes what the last frame shows inside `area` (frame pixels) into
    /// the background at once: an object that stopped there is no longer
    /// motion, and moves again the moment it differs from itself.
    pub fn absorb(&mut self, area: &BBox) {
        let [sw, sh] = self.size;
        if !self.started || sw == 0 {
            return;
        }
        let b = self.block as f32;
        let cell = |v: f32, n: usize| ((v / b).max(0.0) as usize).min(n);
        let (x0, x1) = (cell(area.x1, sw), cell(area.x2.ceil(), sw));
        let (y0, y1) = (cell(area.y1, sh), cell(area.y2.ceil(), sh));
        for y in y0..y1.max(y0) {
            for x in x0..x1 {
                let i = y * sw + x;
                self.background[i] = f32::from(self.grey[i]);
            }
        }
    }

    /// Looks at one RGB frame (`w × h × 3` bytes; a short buffer is no
    /// motion) and writes what moved into `out`.
    pub fn detect(&mut self, rgb: &[u8], w: u32, h: u32, out: &mut Motion) {
        out.boxes.clear();
        out.lighting = false;
        out.changed = 0.0;
        if w == 0 || h == 0 || rgb.len() < w as usize * h as usize * 3 {
            return;
        }
        if self.frame != [w, h] {
            self.resize(w, h);
        }
        self.sample(rgb, w);
        if !self.started {
            self.started = true;
            for (b, &g) in self.background.iter_mut().zip(&self.grey) {
                *b = f32::from(g);
            }
            return;
        }
        // The median difference is the frame's brightness shift.
        let mut histogram = [0u32; 511];
        let mut counted = 0u32;
        for ((&g, &b), &ignored) in self.grey.iter().zip(&self.background).zip(&self.ignored) {
            if !ignored {
                let d = (f32::from(g) - b).round().clamp(-255.0, 255.0) as i32;
                histogram[(d + 255) as usize] += 1;
                counted += 1;
            }
        }
        if counted == 0 {
            return;
        }
        let (mut seen, mut shift) = (0u32, 0.0f32);
        for (i, &c) in histogram.iter().enumerate() {
            seen += c;
            if 2 * seen >= counted {
                shift = i as f32 - 255.0;
                break;
            }
        }
        let threshold = f32::from(self.params.threshold);
        let (mut moved, mut changed) = (0u32, 0u32);
        for (((m, &g), &b), &ignored) in self.moving.iter_mut().zip(&self.grey).zip(&self.background).zip(&self.ignored)
        {
            let d = f32::from(g) - b;
            let hit = !ignored && (d - shift).abs() > threshold;
            *m = u8::from(hit);
            moved += u32::from(hit);
            changed += u32::from(!ignored && d.abs() > threshold);
        }
        out.changed = changed as f32 / counted as f32;
        // Judged before the shift is taken off: a lamp lighting most of the
        // frame shifts the median, and would make the rest look moved.
        if out.changed > self.params.lighting {
            out.lighting = true;
            for (b, &g) in self.background.iter_mut().zip(&self.grey) {
                *b = f32::from(g);
            }
            return;
        }
        let alpha = self.params.alpha;
        for (b, &g) in self.background.iter_mut().zip(&self.grey) {
            *b += alpha * (f32::from(g) - *b);
        }
        if moved == 0 {
            return;
        }
        self.raw.copy_from_slice(&self.moving);
        for _ in 0..2 {
            dilate(&mut self.moving, &mut self.scratch, self.size);
        }
        self.regions(out);
    }

    /// Connected regions (8-neighbours) of the moving mask, as frame boxes.
    fn regions(&mut self, out: &mut Motion) {
        let [sw, sh] = self.size;
        let b = self.block as f32;
        let [fw, fh] = self.frame.map(|v| v as f32);
        for start in 0..self.moving.len() {
            if self.moving[start] != 1 {
                continue;
            }
            // Visited pixels become 2.
            self.moving[start] = 2;
            self.stack.clear();
            self.stack.push(start as u32);
            let (mut x1, mut y1, mut x2, mut y2, mut area) = (sw, sh, 0, 0, 0u32);
            while let Some(i) = self.stack.pop() {
                let (x, y) = (i as usize % sw, i as usize / sw);
                (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y));
                area += u32::from(self.raw[i as usize]);
                for ny in y.saturating_sub(1)..=(y + 1).min(sh - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(sw - 1) {
                        let j = ny * sw + nx;
                        if self.moving[j] == 1 {
                            self.moving[j] = 2;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            if area >= self.params.min_area {
                out.boxes.push(BBox::new(
                    x1 as f32 * b,
                    y1 as f32 * b,
                    ((x2 + 1) as f32 * b).min(fw),
                    ((y2 + 1) as f32 * b).min(fh),
                ));
            }
        }
    }
}

/// 3×3 maximum of a 0/1 mask, in place (`scratch` is the same size).
fn dilate(mask: &mut [u8], scratch: &mut [u8], [w, h]: [usize; 2]) {
    for y in 0..h {
        let row = &mask[y * w..(y + 1) * w];
        let out = &mut scratch[y * w..(y + 1) * w];
        for x in 0..w {
            out[x] = row[x.saturating_sub(1)] | row[x] | row[(x + 1).min(w - 1)];
        }
    }
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            mask[y * w + x] = scratch[up * w + x] | scratch[y * w + x] | scratch[down * w + x];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat grey frame with optional filled rectangles of another level.
    fn frame(w: u32, h: u32, level: u8, rects: &[([u32; 4], u8)]) -> Vec<u8> {
        let mut rgb = vec![level; (w * h * 3) as usize];
        for &([x1, y1, x2, y2], v) in rects {
            for y in y1..y2 {
                for x in x1..x2 {
                    let o = ((y * w + x) * 3) as usize;
                    rgb[o..o + 3].fill(v);
                }
            }
        }
        rgb
    }

    fn run(d: &mut MotionDetector, rgb: &[u8], w: u32, h: u32) -> Motion {
        let mut m = Motion::default();
        d.detect(rgb, w, h, &mut m);
        m
    }

    #[test]
    fn a_still_scene_has_no_motion_and_a_new_object_is_boxed_where_it_is() {
        let mut d = MotionDetector::new(MotionParams::default(), vec![]);
        let still = frame(640, 480, 90, &[]);
        for _ in 0..5 {
            assert_eq!(run(&mut d, &still, 640, 480).boxes, vec![]);
        }
        let m = run(&mut d, &frame(640, 480, 90, &[([200, 100, 280, 260], 200)]), 640, 480);
        assert_eq!(m.boxes.len(), 1, "{m:?}");
        let b = m.boxes[0];
        // Within the dilation (2 grey pixels of 4 frame pixels) of the object.
        assert!(b.x1 <= 200.0 && b.x1 >= 184.0 && b.x2 >= 280.0 && b.x2 <= 296.0, "{b:?}");
        assert!(b.y1 <= 100.0 && b.y1 >= 84.0 && b.y2 >= 260.0 && b.y2 <= 276.0, "{b:?}");
        assert!(!m.lighting);
    }

    #[test]
    fn two_objects_apart_are_two_regions_and_specks_are_none() {
        let mut d = MotionDetector::new(MotionParams::default(), vec![]);
        run(&mut d, &frame(640, 480, 90, &[]), 640, 480);
        let m = run(
            &mut d,
            &frame(640, 480, 90, &[([40, 40, 120, 120], 220), ([400, 300, 520, 420], 10), ([600, 10, 602, 12], 255)]),
            640,
            480,
        );
        assert_eq!(m.boxes.len(), 2, "{m:?}");
    }

    #[test]
    fn a_global_brightness_jump_is_not_motion_but_an_object_in_it_is() {
        let mut d = MotionDetector::new(MotionParams::default(), vec![]);
        run(&mut d, &frame(320, 240, 80, &[]), 320, 240);
        let m = run(&mut d, &frame(320, 240, 140, &[]), 320, 240);
        assert_eq!((m.boxes.len(), m.lighting), (0, true), "a jump re-bases");
        // A drift of 20 and an object 30 brighter than the drifted scene:
        // the object only, as the drift is taken off.
        let m = run(&mut d, &frame(320, 240, 160, &[([100, 100, 160, 180], 190)]), 320, 240);
        assert_eq!((m.boxes.len(), m.lighting), (1, false), "{m:?}");
        assert!(m.boxes[0].x1 >= 84.0 && m.boxes[0].x2 <= 176.0, "{m:?}");
    }

    #[test]
    fn an_uneven_lighting_change_rebases_once() {
        let mut d = MotionDetector::new(MotionParams::default(), vec![]);
        // Left 70 % of the frame lights up: more than half moved.
        run(&mut d, &frame(320, 240, 60, &[]), 320, 240);
        let lit = frame(320, 240, 60, &[([0, 0, 224, 240], 200)]);
        let m = run(&mut d, &lit, 320, 240);
        assert!(m.lighting && m.boxes.is_empty(), "{m:?}");
        let m = run(&mut d, &lit, 320, 240);
        assert!(!m.lighting && m.boxes.is_empty(), "re-based: {m:?}");
    }

    #[test]
    fn masked_areas_never_move() {
        let mask = Zone::parse("clock=0,0,200,0,200,40,0,40").unwrap();
        let mut d = MotionDetector::new(MotionParams::default(), vec![mask]);
        run(&mut d, &frame(320, 240, 90, &[]), 320, 240);
        for t in 0..5u8 {
            let m = run(&mut d, &frame(320, 240, 90, &[([10, 10, 180, 30], 200 + t * 10)]), 320, 240);
            assert!(m.boxes.is_empty(), "{m:?}");
        }
    }

    #[test]
    fn a_still_object_becomes_background() {
        let mut d = MotionDetector::new(MotionParams::default(), vec![]);
        run(&mut d, &frame(320, 240, 90, &[]), 320, 240);
        let parked = frame(320, 240, 90, &[([100, 100, 180, 160], 200)]);
        let moving: Vec<usize> = (0..120).map(|_| run(&mut d, &parked, 320, 240).boxes.len()).collect();
        assert_eq!(moving[0], 1);
        assert_eq!(moving[119], 0, "still after 120 frames: {moving:?}");
    }
}
