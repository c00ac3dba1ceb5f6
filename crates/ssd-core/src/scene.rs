//! The shape classes the shipped model detects, drawn the same way for the
//! synthetic training scenes (`ssd-train synth`) and the `demo` source, so
//! the demo shows the model what it was trained on.

use crate::boxes::BBox;
use crate::rng::SplitMix;

/// The shape classes, in label order (label 0 is the background).
pub const CLASSES: [&str; 4] = ["circle", "square", "triangle", "star"];

/// One filled shape: class, centre and size in pixels, rotation, colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Index into [`CLASSES`].
    pub class: usize,
    /// Centre in pixels.
    pub center: [f32; 2],
    /// Width and height of the unrotated shape in pixels.
    pub size: [f32; 2],
    /// Rotation in radians.
    pub angle: f32,
    /// Fill colour.
    pub color: [u8; 3],
}

const SQUARE: [[f32; 2]; 4] = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]];
const TRIANGLE: [[f32; 2]; 3] = [[0.0, -0.5], [0.5, 0.5], [-0.5, 0.5]];
/// Five points at radius 0.5, inner corners at 0.2, the first pointing up.
static STAR: std::sync::LazyLock<[[f32; 2]; 10]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|k| {
        let r = if k % 2 == 0 { 0.5 } else { 0.2 };
        let a = std::f32::consts::PI * (k as f32 / 5.0 - 0.5);
        [r * a.cos(), r * a.sin()]
    })
});

/// Unit-square polygon of a class (centred on 0, side 1); `None` for the
/// circle. Static, so drawing a frame allocates nothing.
fn polygon(class: usize) -> Option<&'static [[f32; 2]]> {
    match class {
        1 => Some(&SQUARE),
        2 => Some(&TRIANGLE),
        3 => Some(&*STAR),
        _ => None,
    }
}

fn inside_polygon(poly: &[[f32; 2]], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

impl Shape {
    /// Paints the shape into a `w × h` RGB buffer and calls `covered` with
    /// the index of every pixel it covers (pixel centres inside the shape).
    pub fn paint(&self, rgb: &mut [u8], w: usize, h: usize, mut covered: impl FnMut(usize)) {
        let poly = polygon(self.class);
        let (sin, cos) = self.angle.sin_cos();
        let [cx, cy] = self.center;
        let [sw, sh] = self.size;
        let reach = sw.max(sh) * 0.75;
        let x0 = (cx - reach).floor().max(0.0) as usize;
        let x1 = ((cx + reach).ceil().max(0.0) as usize).min(w);
        let y0 = (cy - reach).floor().max(0.0) as usize;
        let y1 = ((cy + reach).ceil().max(0.0) as usize).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                // Into the shape's unit frame: rotate back, then unscale.
                let u = (dx * cos + dy * sin) / sw;
                let v = (-dx * sin + dy * cos) / sh;
                let hit = match poly {
                    None => u * u + v * v <= 0.25,
                    Some(p) => inside_polygon(p, u, v),
                };
                if hit {
                    let o = y * w + x;
                    if let Some(px) = rgb.get_mut(o * 3..o * 3 + 3) {
                        px.copy_from_slice(&self.color);
                    }
                    covered(o);
                }
            }
        }
    }

    /// The box around the whole (unoccluded, unclipped) shape.
    pub fn extent(&self) -> BBox {
        let [cx, cy] = self.center;
        let [sw, sh] = self.size;
        let (sin, cos) = self.angle.sin_cos();
        let (hw, hh) = match polygon(self.class) {
            // An ellipse with semi-axes a, b rotated by θ.
            None => {
                let (a, b) = (sw / 2.0, sh / 2.0);
                ((a * a * cos * cos + b * b * sin * sin).sqrt(), (a * a * sin * sin + b * b * cos * cos).sqrt())
            }
            Some(p) => {
                let rotated = p.iter().map(|[u, v]| (u * sw * cos - v * sh * sin, u * sw * sin + v * sh * cos));
                let (mut left, mut right, mut top, mut bottom) = (0f32, 0f32, 0f32, 0f32);
                for (x, y) in rotated {
                    (left, right, top, bottom) = (left.min(x), right.max(x), top.min(y), bottom.max(y));
                }
                return BBox::new(cx + left, cy + top, cx + right, cy + bottom);
            }
        };
        BBox::new(cx - hw, cy - hh, cx + hw, cy + hh)
    }
}

/// A saturated colour: one channel high, one low, one anywhere.
pub fn distinct_color(rng: &mut SplitMix) -> [u8; 3] {
    let mut c = [rng.range(200.0, 255.0), rng.range(0.0, 70.0), rng.range(0.0, 255.0)];
    let k = (rng.next_u64() % 3) as usize;
    c.rotate_left(k);
    c.map(|v| v as u8)
}

/// A plain, checked or striped background with a colour gradient and noise.
pub fn background(rng: &mut SplitMix, w: usize, h: usize) -> Vec<u8> {
    let kind = rng.next_u64() % 3;
    let base = [0, 1, 2].map(|_| rng.range(30.0, 200.0));
    let tint = [0, 1, 2].map(|_| rng.range(-40.0, 40.0));
    let period = rng.range(6.0, 40.0);
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let texture = match kind {
                0 => 0.0,
                1 => (((x as f32 / period).floor() + (y as f32 / period).floor()) % 2.0) * 25.0,
                _ => ((x as f32 + 0.7 * y as f32) / period).sin() * 20.0,
            };
            let noise = rng.range(-12.0, 12.0);
            let o = (y * w + x) * 3;
            for c in 0..3 {
                let v = base[c] + tint[c] * (fx - fy) + texture + noise;
                rgb[o + c] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(class: usize, angle: f32) -> Shape {
        Shape { class, center: [50.0, 40.0], size: [30.0, 20.0], angle, color: [255, 0, 0] }
    }

    /// The box around the pixels `paint` covers.
    fn painted_box(s: &Shape) -> BBox {
        let (w, h) = (100, 80);
        let mut rgb = vec![0; w * h * 3];
        let (mut x1, mut y1, mut x2, mut y2) = (usize::MAX, usize::MAX, 0, 0);
        s.paint(&mut rgb, w, h, |o| {
            let (x, y) = (o % w, o / w);
            (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1));
        });
        BBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32)
    }

    #[test]
    fn the_extent_agrees_with_the_painted_pixels() {
        for (class, name) in CLASSES.iter().enumerate() {
            for angle in [0.0, 0.4, 1.3, 2.9] {
                let s = shape(class, angle);
                let (e, p) = (s.extent(), painted_box(&s));
                // Pixel-centre sampling loses under a pixel on each side,
                // and up to two at the needle-thin tip of a star point.
                let slack = if *name == "star" { 2.0 } else { 1.0 };
                for (a, b) in [(e.x1, p.x1), (e.y1, p.y1), (e.x2, p.x2), (e.y2, p.y2)] {
                    assert!((a - b).abs() <= slack, "class {class} angle {angle}: extent {e:?} painted {p:?}");
                }
            }
        }
    }

    #[test]
    fn an_unrotated_square_fills_exactly_its_box() {
        let s = shape(1, 0.0);
        assert_eq!(s.extent(), BBox::new(35.0, 30.0, 65.0, 50.0));
        assert_eq!(painted_box(&s), BBox::new(35.0, 30.0, 65.0, 50.0));
    }

    #[test]
    fn shapes_partly_outside_the_buffer_are_clipped() {
        let s = Shape { class: 3, center: [-5.0, 78.0], size: [40.0, 40.0], angle: 0.3, color: [1, 2, 3] };
        let mut rgb = vec![0; 100 * 80 * 3];
        let mut n = 0;
        s.paint(&mut rgb, 100, 80, |o| {
            assert!(o < 100 * 80);
            n += 1;
        });
        assert!(n > 0);
    }
}
