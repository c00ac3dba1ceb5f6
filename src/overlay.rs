//! Draws detections and a status line over a frame: one box per detection
//! in a stable colour per class, a label tag with class and score, and a
//! heads-up display (FPS, inference time, end-to-end latency, dropped
//! frames). A pure function of its inputs, so the window, `--save` and the
//! tests all see the same pixels.

use crate::draw::{class_color, text_width, Canvas, Rgb, GLYPH};
use ssd_core::postprocess::Detection;

/// What the heads-up display shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hud {
    /// Frames per second over the recent past.
    pub fps: f64,
    /// Network time of this frame, ms.
    pub inference_ms: f64,
    /// Capture to output of this frame, ms.
    pub latency_ms: f64,
    /// Frames dropped so far.
    pub dropped: u64,
}

impl Hud {
    /// The status line. A rate needs two frames, so a single image or the
    /// first frame shows none rather than a made-up one.
    pub fn text(&self) -> String {
        let figures = format!(
            "inference {:.1} ms  latency {:.1} ms  dropped {}",
            self.inference_ms, self.latency_ms, self.dropped
        );
        if self.fps > 0.0 {
            format!("{:.1} fps  {figures}", self.fps)
        } else {
            figures
        }
    }
}

/// Text colour on the coloured tags and the HUD.
const TEXT: Rgb = [0, 0, 0];
const HUD_BACK: Rgb = [20, 20, 20];
const HUD_TEXT: Rgb = [240, 240, 240];

/// Box outline thickness for a frame: 2 px up to 640 wide, thicker above.
pub fn thickness(width: u32) -> i64 {
    i64::from((width / 320).max(2))
}

/// Text scale (a multiple of the 8 px font) for a frame: 1 up to 480p, 2 at
/// 720p, 3 at 1080p, so tags stay readable on a screen of any size.
pub fn text_scale(width: u32, height: u32) -> u32 {
    (width.min(height) / 360).clamp(1, 6)
}

/// Where each detection's tag goes, `[x, y, w, h]`, given its box and tag
/// size: above the box, else inside its top, else below it, else inside its
/// bottom — the first place that covers no tag placed before. Better
/// detections are placed first; when every place collides the first is
/// used. A tag that would run off the right edge is moved left.
pub fn place_tags(boxes: &[[i64; 4]], sizes: &[[i64; 2]], [width, height]: [i64; 2]) -> Vec<[i64; 4]> {
    let mut placed: Vec<[i64; 4]> = Vec::with_capacity(boxes.len());
    for (&[x1, y1, _, y2], &[w, h]) in boxes.iter().zip(sizes) {
        let x1 = x1.min(width - w).max(0);
        let candidates = [y1 - h, y1, y2, y2 - h];
        let fits = |y: i64| y >= 0 && y + h <= height.max(h);
        let free =
            |y: i64| placed.iter().all(|p| x1 + w <= p[0] || p[0] + p[2] <= x1 || y + h <= p[1] || p[1] + p[3] <= y);
        let y = candidates
            .iter()
            .copied()
            .find(|&y| fits(y) && free(y))
            .or_else(|| candidates.iter().copied().find(|&y| fits(y)))
            .unwrap_or(y1);
        placed.push([x1, y, w, h]);
    }
    placed
}

/// A detection's tag: its class, its track id when it has one, its score.
fn tag_text(d: &Detection, track_id: Option<u64>, labels: &[String]) -> String {
    let name = labels.get(d.class_id as usize).cloned().unwrap_or_else(|| d.class_id.to_string());
    match track_id {
        Some(id) => format!("{name} #{id} {:.2}", d.score),
        None => format!("{name} {:.2}", d.score),
    }
}

/// Draws `detections` (boxes in frame pixels, best first) and, if given, the
/// HUD on `canvas`. `track_ids` (same order, or empty) go in the tags;
/// `labels` names the class axis; unknown classes show their index.
pub fn draw(
    canvas: &mut Canvas<'_>,
    detections: &[Detection],
    track_ids: &[Option<u64>],
    labels: &[String],
    hud: Option<&Hud>,
) {
    let t = thickness(canvas.width());
    let scale = text_scale(canvas.width(), canvas.height());
    let g = i64::from(GLYPH * scale);
    let boxes: Vec<[i64; 4]> = detections
        .iter()
        .map(|d| {
            let b = d.bbox;
            [b.x1.round() as i64, b.y1.round() as i64, b.x2.round() as i64, b.y2.round() as i64]
        })
        .collect();
    let texts: Vec<String> =
        detections.iter().enumerate().map(|(i, d)| tag_text(d, track_ids.get(i).copied().flatten(), labels)).collect();
    let sizes: Vec<[i64; 2]> = texts.iter().map(|s| [i64::from(text_width(s, scale)) + 4, g + 2]).collect();
    let tags = place_tags(&boxes, &sizes, [i64::from(canvas.width()), i64::from(canvas.height())]);
    // Worst first, each box with its tag, so a better detection's box and tag
    // are drawn over a worse one's and the best detection ends up on top.
    for (((d, &[x1, y1, x2, y2]), text), &[x, y, w, h]) in detections.iter().zip(&boxes).zip(&texts).zip(&tags).rev() {
        let color = class_color(d.class_id as usize);
        canvas.rect(x1, y1, x2, y2, t, color);
        for &[kx, ky] in d.keypoints.as_slice() {
            let (kx, ky) = (kx.round() as i64, ky.round() as i64);
            canvas.fill_rect(kx - t, ky - t, kx + t, ky + t, color);
        }
        canvas.fill_rect(x, y, x + w, y + h, color);
        canvas.text(x + 2, y + 1, text, scale, TEXT);
    }
    if let Some(h) = hud {
        let text = h.text();
        let tw = i64::from(text_width(&text, scale));
        canvas.fill_rect(0, 0, tw + 8, hud_height(scale), HUD_BACK);
        canvas.text(4, 3, &text, scale, HUD_TEXT);
    }
}

/// The status line's band: from the frame's top to this row.
fn hud_height(scale: u32) -> i64 {
    i64::from(GLYPH * scale) + 6
}

/// How far back [`FpsMeter`] counts frames.
pub const FPS_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// The most frame times a meter keeps (a bound on its memory whatever the
/// rate: 5 s at 800 frames/s).
const FPS_TIMES: usize = 4096;

/// Frames per second over the last [`FPS_WINDOW`]: the frames counted in
/// it over the time they span. Counting, not smoothing 1/dt, stays true when
/// frames come in bursts (several workers finishing together), so the HUD,
/// the recording's HUD, `/metrics` and the page agree with frames / elapsed
/// time. One per camera, ticked as each frame is written
/// ([`crate::sink::FrameResult::fps`]): a sink that drops frames of its own
/// still shows the camera's rate.
#[derive(Debug, Clone, Default)]
pub struct FpsMeter {
    times: std::collections::VecDeque<std::time::Instant>,
}

impl FpsMeter {
    /// Records a frame at `now` (times in order); returns the rate.
    pub fn tick(&mut self, now: std::time::Instant) -> f64 {
        while self.times.front().is_some_and(|&t| now.saturating_duration_since(t) > FPS_WINDOW)
            || self.times.len() >= FPS_TIMES
        {
            self.times.pop_front();
        }
        self.times.push_back(now);
        let span = self.times.front().map_or(0.0, |&t| now.saturating_duration_since(t).as_secs_f64());
        if span > 0.0 {
            (self.times.len() - 1) as f64 / span
        } else {
            0.0
        }
    }
}

/// The crops a plan ran the model on, as `[x1, y1, x2, y2]` frame pixels:
/// the whole frame, its regions, or none.
pub fn region_boxes(plan: &crate::gate::Plan, width: u32, height: u32) -> Vec<[u32; 4]> {
    if plan.full {
        vec![[0, 0, width, height]]
    } else {
        plan.regions.iter().map(|&[x, y, w, h]| [x, y, x + w, y + h]).collect()
    }
}

/// Colour of zones: outline and name tag.
pub const ZONE: Rgb = [255, 196, 0];
/// Colour of counting lines: the line, the arrow of its first way, the
/// counts.
pub const LINE: Rgb = [0, 214, 255];

/// A segment `t` pixels thick.
fn thick_line(canvas: &mut Canvas<'_>, a: [f32; 2], b: [f32; 2], t: i64, c: Rgb) {
    let [ax, ay, bx, by] = [a[0], a[1], b[0], b[1]].map(|v| v.round() as i64);
    for d in 0..t.max(1) {
        canvas.line(ax + d, ay, bx + d, by, c);
        canvas.line(ax, ay + d, bx, by + d, c);
    }
}

/// `text` on a tag of colour `back` whose top left is near `(x, y)`, kept
/// inside the frame.
fn tag(canvas: &mut Canvas<'_>, x: f32, y: f32, text: &str, scale: u32, back: Rgb) {
    let (w, h) = tag_size(text, scale);
    let x = (x.round() as i64).clamp(0, (i64::from(canvas.width()) - w).max(0));
    let y = (y.round() as i64).clamp(0, (i64::from(canvas.height()) - h).max(0));
    canvas.fill_rect(x, y, x + w, y + h, back);
    canvas.text(x + 2, y + 1, text, scale, TEXT);
}

fn tag_size(text: &str, scale: u32) -> (i64, i64) {
    (i64::from(text_width(text, scale)) + 4, i64::from(GLYPH * scale) + 2)
}

/// A tag just beyond `at` in the direction `dir` (a unit vector), so that
/// it never covers what it labels.
fn tag_beyond(canvas: &mut Canvas<'_>, at: [f32; 2], dir: [f32; 2], text: &str, scale: u32, back: Rgb) {
    let (w, h) = tag_size(text, scale);
    let (hw, hh) = (w as f32 / 2.0, h as f32 / 2.0);
    // How far the tag's centre must go along `dir` to clear `at`.
    let reach = (hw / dir[0].abs().max(1e-3)).min(hh / dir[1].abs().max(1e-3)) + 3.0;
    let centre = [at[0] + dir[0] * reach, at[1] + dir[1] * reach];
    tag(canvas, centre[0] - hw, centre[1] - hh, text, scale, back);
}

/// Draws the camera's zones (outline, name) and counting lines (the line,
/// its name, an arrow towards the side its first way crosses to, and the
/// count each way), so that a user sees where the places are and what
/// they counted.
pub fn draw_places(canvas: &mut Canvas<'_>, places: &crate::sink::Places<'_>) {
    let t = thickness(canvas.width());
    let scale = text_scale(canvas.width(), canvas.height());
    let g = (GLYPH * scale) as f32;
    for zone in places.zones {
        for (i, &p) in zone.polygon.iter().enumerate() {
            thick_line(canvas, p, zone.polygon[(i + 1) % zone.polygon.len()], t, ZONE);
        }
        // The name inside the zone, under its topmost corner, and below
        // the status line's band, which is drawn last and would hide it.
        if let Some(top) = zone.polygon.iter().min_by(|a, b| a[1].total_cmp(&b[1])) {
            tag(canvas, top[0] + 2.0, (top[1] + 2.0).max(hud_height(scale) as f32 + 2.0), &zone.name, scale, ZONE);
        }
    }
    for (i, line) in places.lines.iter().enumerate() {
        let [l2r, r2l] = places.counts.get(i).copied().unwrap_or_default();
        thick_line(canvas, line.a, line.b, t, LINE);
        // The arrow: across the line's middle, pointing to its right side
        // (seen from a looking at b, y down), where its first way goes.
        let (dx, dy) = (line.b[0] - line.a[0], line.b[1] - line.a[1]);
        let len = dx.hypot(dy).max(1.0);
        let n = [-dy / len, dx / len];
        let arm = (4.0 * g).max(20.0).min(len / 2.0);
        let mid = [(line.a[0] + line.b[0]) / 2.0, (line.a[1] + line.b[1]) / 2.0];
        let tip = [mid[0] + n[0] * arm, mid[1] + n[1] * arm];
        let tail = [mid[0] - n[0] * arm, mid[1] - n[1] * arm];
        thick_line(canvas, tail, tip, t, LINE);
        // The head: two strokes back from the tip, 30 degrees either side.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        for sign in [1.0, -1.0] {
            let back = [-n[0] * c - sign * n[1] * s, -n[1] * c + sign * n[0] * s];
            thick_line(canvas, tip, [tip[0] + back[0] * arm / 2.5, tip[1] + back[1] * arm / 2.5], t, LINE);
        }
        // Each way's count at its end of the arrow (the tip: crossings the
        // arrow's way), with the user's name for the way when it has one.
        let ways =
            [(crate::zones::Direction::LeftToRight, l2r, tip), (crate::zones::Direction::RightToLeft, r2l, tail)];
        for (way, count, at) in ways {
            let text = match &line.sides {
                Some(_) => format!("{} {count}", line.way_name(way)),
                None => count.to_string(),
            };
            let out = if way == crate::zones::Direction::LeftToRight { n } else { [-n[0], -n[1]] };
            tag_beyond(canvas, at, out, &text, scale, LINE);
        }
        // The name along the line, past the arrow.
        let d = [dx / len, dy / len];
        let by = [mid[0] + d[0] * (arm + g), mid[1] + d[1] * (arm + g)];
        tag_beyond(canvas, by, d, &line.name, scale, LINE);
    }
}

/// Colour of the regions' outlines (`--show-regions`).
const REGION: crate::draw::Rgb = [255, 255, 255];

/// Copies a frame into `out` and draws its detections and HUD on the copy:
/// what the window shows and `--save` writes; with `regions`, also where
/// the model ran.
pub fn annotate(out: &mut Vec<u8>, r: &crate::sink::FrameResult<'_>, labels: &[String], regions: bool) {
    out.clear();
    out.extend_from_slice(&r.frame.rgb);
    if let Some(mut canvas) = Canvas::new(out, r.frame.width, r.frame.height) {
        if let Some(plan) = r.gate.filter(|_| regions) {
            for [x1, y1, x2, y2] in region_boxes(plan, r.frame.width, r.frame.height) {
                canvas.rect(i64::from(x1), i64::from(y1), i64::from(x2), i64::from(y2), 1, REGION);
            }
        }
        draw_places(&mut canvas, &r.places);
        let hud =
            Hud { fps: r.fps, inference_ms: r.latency.inference, latency_ms: r.latency.total, dropped: r.dropped };
        draw(&mut canvas, r.detections, r.track_ids, labels, Some(&hud));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_track_when_there_is_one() {
        let labels = vec!["background".to_string(), "person".to_string()];
        let d = det(1, 0.914, [0.0, 0.0, 10.0, 10.0]);
        assert_eq!(tag_text(&d, Some(12), &labels), "person #12 0.91");
        assert_eq!(tag_text(&d, None, &labels), "person 0.91");
        assert_eq!(tag_text(&det(7, 0.5, [0.0, 0.0, 1.0, 1.0]), None, &labels), "7 0.50");
    }

    #[test]
    fn fps_meter_counts_frames_and_bursts_do_not_fool_it() {
        let t0 = std::time::Instant::now();
        let ms = |n: u64| t0 + std::time::Duration::from_millis(n);
        let mut m = FpsMeter::default();
        assert_eq!(m.tick(t0), 0.0, "one frame has no rate");
        assert!((m.tick(ms(40)) - 25.0).abs() < 1e-6);
        // Two workers: frames in pairs 1 ms apart, a pair every 100 ms, is
        // 20 frames/s (1/dt smoothing said far more).
        let mut m = FpsMeter::default();
        let mut rate = 0.0;
        for pair in 0..40 {
            m.tick(ms(pair * 100));
            rate = m.tick(ms(pair * 100 + 1));
        }
        assert!((rate - 20.0).abs() < 0.5, "{rate}");
        // It forgets what is older than the window: after a pause, the new
        // rate alone.
        let mut m = FpsMeter::default();
        for i in 0..100 {
            m.tick(ms(i * 10));
        }
        for i in 0..=60 {
            rate = m.tick(ms(20_000 + i * 100));
        }
        assert!((rate - 10.0).abs() < 1e-6, "{rate}");
    }

    use ssd_core::boxes::BBox;

    fn frame(w: u32, h: u32) -> Vec<u8> {
        vec![128; (w * h * 3) as usize]
    }

    fn det(class_id: u32, score: f32, b: [f32; 4]) -> Detection {
        Detection { class_id, score, bbox: BBox::new(b[0], b[1], b[2], b[3]), ..Default::default() }
    }

    #[test]
    fn boxes_are_outlined_in_their_class_colour_with_a_tag_above() {
        let mut buf = frame(200, 150);
        let mut c = Canvas::new(&mut buf, 200, 150).unwrap();
        let labels = vec!["bg".to_string(), "circle".to_string()];
        draw(&mut c, &[det(1, 0.9, [40.0, 50.0, 120.0, 130.0])], &[], &labels, None);
        let color = class_color(1);
        // Outline: two pixels thick on every side, inside the box.
        for (x, y) in [(40, 90), (41, 90), (119, 90), (118, 90), (80, 129), (80, 128)] {
            assert_eq!(c.get(x, y), Some(color), "({x}, {y})");
        }
        assert_eq!(c.get(42, 90), Some([128; 3]), "the inside stays untouched");
        assert_eq!(c.get(80, 90), Some([128; 3]));
        // The tag: a bar of the class colour just above the box holding
        // black text ("circle 0.90" is 11 glyphs = 88 px + padding).
        let tag_row: Vec<_> = (40..132).map(|x| c.get(x, 45).unwrap()).collect();
        assert!(tag_row.contains(&TEXT) && tag_row.contains(&color));
        assert_eq!(c.get(133, 45), Some([128; 3]), "the tag ends after the text");
    }

    #[test]
    fn regions_are_outlined_only_when_asked() {
        let f = crate::source::Frame {
            index: 0,
            captured_at: std::time::Instant::now(),
            timestamp_ms: 0.0,
            width: 200,
            height: 150,
            rgb: frame(200, 150),
            file: None,
            pts_ms: None,
            time_ms: 0.0,
        };
        let plan =
            crate::gate::Plan { full: false, regions: vec![[20, 30, 100, 100]], motion: true, resting_checked: true };
        let r = crate::sink::FrameResult {
            frame: &f,
            detections: &[],
            track_ids: &[],
            events: &[],
            gate: Some(&plan),
            latency: crate::sink::Latency::default(),
            dropped: 0,
            places: Default::default(),
            stationary: &[],
            fps: 0.0,
        };
        assert_eq!(region_boxes(&plan, 200, 150), vec![[20, 30, 120, 130]]);
        let mut out = Vec::new();
        annotate(&mut out, &r, &[], true);
        let px = |out: &[u8], x: usize, y: usize| {
            [out[(y * 200 + x) * 3], out[(y * 200 + x) * 3 + 1], out[(y * 200 + x) * 3 + 2]]
        };
        assert_eq!(px(&out, 20, 80), REGION, "left edge");
        assert_eq!(px(&out, 119, 80), REGION, "right edge");
        assert_eq!(px(&out, 60, 80), [128; 3], "inside untouched");
        annotate(&mut out, &r, &[], false);
        assert_eq!(px(&out, 20, 80), [128; 3], "not asked, not drawn");
    }

    #[test]
    fn a_box_at_the_top_gets_its_tag_inside() {
        let mut buf = frame(100, 100);
        let mut c = Canvas::new(&mut buf, 100, 100).unwrap();
        draw(&mut c, &[det(3, 0.5, [10.0, 0.0, 90.0, 60.0])], &[], &[], None);
        // Unknown labels show the class index: "3 0.50".
        let color = class_color(3);
        assert_eq!(c.get(60, 5), Some(color), "tag bar inside the box, below its top edge");
        assert_eq!(c.get(60, 15), Some([128; 3]));
    }

    #[test]
    fn the_hud_is_drawn_top_left_and_boxes_off_the_frame_are_clipped() {
        let mut buf = frame(400, 100);
        let mut c = Canvas::new(&mut buf, 400, 100).unwrap();
        let hud = Hud { fps: 29.97, inference_ms: 12.3, latency_ms: 20.1, dropped: 4 };
        draw(&mut c, &[det(1, 0.7, [-50.0, 60.0, 1000.0, 300.0])], &[], &[], Some(&hud));
        assert_eq!(c.get(1, 1), Some(HUD_BACK));
        let hud_row: Vec<_> = (0..380).map(|x| c.get(x, 6).unwrap()).collect();
        assert!(hud_row.contains(&HUD_TEXT));
        assert_eq!(c.get(200, 60), Some(class_color(1)), "top edge of the clipped box");
    }

    /// Issue 51, point 14: a zone whose top corner is the frame's keeps its
    /// name in sight, below the status line.
    #[test]
    fn a_zone_s_name_in_the_top_left_corner_is_not_under_the_hud() {
        let mut buf = frame(320, 240);
        let mut c = Canvas::new(&mut buf, 320, 240).unwrap();
        let zones = [crate::zones::Zone::parse("porch=0,0,320,0,320,240,0,240").unwrap()];
        draw_places(&mut c, &crate::sink::Places { zones: &zones, lines: &[], counts: &[] });
        let hud = Hud { fps: 29.97, inference_ms: 12.3, latency_ms: 20.1, dropped: 4 };
        draw(&mut c, &[], &[], &[], Some(&hud));
        let band = hud_height(1) as u32;
        // The name's tag (zone colour, behind the name's text) below the
        // band, clear of the zone's outline along the frame's edges.
        let below: Vec<_> = (band..band + 12).flat_map(|y| (6..40).map(move |x| (x, y))).collect();
        assert!(below.iter().any(|&(x, y)| c.get(x, y) == Some(ZONE)), "no zone tag below the HUD");
    }

    #[test]
    fn text_scales_with_the_frame() {
        assert_eq!(text_scale(640, 480), 1);
        assert_eq!(text_scale(1280, 720), 2);
        assert_eq!(text_scale(1920, 1080), 3);
        assert_eq!(text_scale(100, 50), 1);
    }

    #[test]
    fn tags_of_neighbouring_boxes_do_not_cover_each_other() {
        // Two boxes side by side with tops at the same height: the second tag,
        // wide enough to reach over the first, goes inside its box instead.
        let boxes = [[10, 50, 60, 120], [40, 50, 200, 150]];
        let sizes = [[80, 10], [80, 10]];
        let tags = place_tags(&boxes, &sizes, [400, 300]);
        assert_eq!(tags[0], [10, 40, 80, 10], "above the first box");
        assert_eq!(tags[1], [40, 50, 80, 10], "inside the second box's top");
        let [a, b] = [tags[0], tags[1]];
        assert!(a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1] || a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0]);
        // A box at the top edge has its tag inside; at the bottom of a full
        // column, below is refused for want of room.
        assert_eq!(place_tags(&[[0, 0, 50, 50]], &[[30, 10]], [100, 100])[0], [0, 0, 30, 10]);
        // A tag that would leave the frame on the right moves left.
        assert_eq!(place_tags(&[[90, 40, 100, 60]], &[[30, 10]], [100, 100])[0], [70, 30, 30, 10]);
    }

    #[test]
    fn hud_text_shows_the_figures_and_no_rate_before_there_is_one() {
        let hud = Hud { fps: 29.97, inference_ms: 12.34, latency_ms: 20.06, dropped: 4 };
        assert_eq!(hud.text(), "30.0 fps  inference 12.3 ms  latency 20.1 ms  dropped 4");
        assert_eq!(Hud { fps: 0.0, ..hud }.text(), "inference 12.3 ms  latency 20.1 ms  dropped 4");
    }

    #[test]
    fn keypoints_are_dots_in_the_class_colour() {
        let mut buf = frame(100, 100);
        let mut c = Canvas::new(&mut buf, 100, 100).unwrap();
        let mut d = det(1, 0.9, [10.0, 10.0, 90.0, 90.0]);
        d.keypoints.push([40.0, 50.0]);
        d.keypoints.push([60.0, 50.0]);
        draw(&mut c, &[d], &[], &[], None);
        for (x, y) in [(40, 50), (38, 48), (41, 51), (60, 50)] {
            assert_eq!(c.get(x, y), Some(class_color(1)), "({x}, {y})");
        }
        assert_eq!(c.get(50, 50), Some([128; 3]), "between the dots");
        assert_eq!(c.get(40, 53), Some([128; 3]), "the dot is small");
    }

    #[test]
    fn the_best_detection_is_drawn_last() {
        let mut buf = frame(100, 100);
        let mut c = Canvas::new(&mut buf, 100, 100).unwrap();
        // Same box, two classes: the first (best) one's colour wins.
        let b = [20.0, 30.0, 80.0, 90.0];
        draw(&mut c, &[det(2, 0.9, b), det(5, 0.4, b)], &[], &[], None);
        assert_eq!(c.get(20, 60), Some(class_color(2)));
    }
}
