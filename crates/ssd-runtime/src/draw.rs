//! Drawing on RGB buffers: filled and outlined rectangles, lines and text
//! from an embedded 8×8 bitmap font, so no system fonts are needed. Every
//! primitive clips to the buffer; nothing here can index out of bounds.

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Side of a font glyph in pixels (before scaling).
pub const GLYPH: u32 = 8;

/// A mutable view of a packed RGB buffer.
pub struct Canvas<'a> {
    rgb: &'a mut [u8],
    width: u32,
    height: u32,
}

impl<'a> Canvas<'a> {
    /// Wraps `rgb` (`width × height × 3` bytes); `None` if it is too short.
    pub fn new(rgb: &'a mut [u8], width: u32, height: u32) -> Option<Self> {
        (rgb.len() >= width as usize * height as usize * 3).then_some(Self { rgb, width, height })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Sets one pixel (ignored outside the buffer).
    pub fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && x < i64::from(self.width) && y < i64::from(self.height) {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The pixel at (`x`, `y`), if inside.
    pub fn get(&self, x: u32, y: u32) -> Option<Rgb> {
        (x < self.width && y < self.height).then(|| {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        })
    }

    /// Fills the rectangle `[x0, x1) × [y0, y1)`.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        let (x0, x1) = (x0.clamp(0, i64::from(self.width)), x1.clamp(0, i64::from(self.width)));
        let (y0, y1) = (y0.clamp(0, i64::from(self.height)), y1.clamp(0, i64::from(self.height)));
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            for px in self.rgb[(row + x0 as usize) * 3..(row + x1.max(x0) as usize) * 3].chunks_exact_mut(3) {
                px.copy_from_slice(&c);
            }
        }
    }

    /// Outlines `[x0, x1) × [y0, y1)` with lines `thickness` pixels wide,
    /// drawn inside the rectangle.
    pub fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, thickness: i64, c: Rgb) {
        let t = thickness.max(1);
        self.fill_rect(x0, y0, x1, (y0 + t).min(y1), c);
        self.fill_rect(x0, (y1 - t).max(y0), x1, y1, c);
        self.fill_rect(x0, y0, (x0 + t).min(x1), y1, c);
        self.fill_rect((x1 - t).max(x0), y0, x1, y1, c);
    }

    /// A one-pixel line from (`x0`, `y0`) to (`x1`, `y1`), both ends included.
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        // Bresenham over all octants.
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        // Long lines far outside the buffer are bounded by their length.
        for _ in 0..=(dx - dy).min(1 << 20) {
            self.put(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Writes `text` with its top-left corner at (`x`, `y`), each glyph pixel
    /// `scale × scale`; returns the width drawn. Characters outside ASCII
    /// are shown as `?`.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, c: Rgb) -> i64 {
        let s = i64::from(scale.max(1));
        let mut cx = x;
        for ch in text.chars() {
            let rows = glyph(ch);
            for (gy, bits) in rows.iter().enumerate() {
                for gx in 0..8 {
                    if bits & (1 << gx) != 0 {
                        let (px, py) = (cx + gx * s, y + gy as i64 * s);
                        self.fill_rect(px, py, px + s, py + s, c);
                    }
                }
            }
            cx += i64::from(GLYPH) * s;
        }
        cx - x
    }
}

/// Width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * GLYPH * scale.max(1)
}

/// The 8×8 bitmap of `ch` (row by row, bit 0 is the leftmost pixel).
pub fn glyph(ch: char) -> [u8; 8] {
    let i = if ch.is_ascii() && !ch.is_ascii_control() { ch as usize } else { '?' as usize };
    font8x8::legacy::BASIC_LEGACY[i]
}

/// A stable, well-separated colour for class `k` (golden-ratio hue steps,
/// full saturation, bright enough to read on most scenes).
pub fn class_color(k: usize) -> Rgb {
    let h = (k as f32 * 0.618_034).fract() * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    [r, g, b].map(|v: f32| (55.0 + 200.0 * v) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> Vec<u8> {
        vec![0; (w * h * 3) as usize]
    }

    #[test]
    fn a_short_buffer_is_refused() {
        let mut buf = vec![0; 10];
        assert!(Canvas::new(&mut buf, 4, 4).is_none());
    }

    #[test]
    fn rect_outline_covers_the_border_and_leaves_the_inside() {
        let mut buf = blank(10, 8);
        let mut c = Canvas::new(&mut buf, 10, 8).unwrap();
        c.rect(2, 1, 8, 7, 1, [255, 0, 0]);
        let red = Some([255, 0, 0]);
        assert_eq!(c.get(2, 1), red);
        assert_eq!(c.get(7, 6), red);
        assert_eq!(c.get(2, 4), red);
        assert_eq!(c.get(4, 3), Some([0, 0, 0]), "inside untouched");
        assert_eq!(c.get(8, 4), Some([0, 0, 0]), "right edge is exclusive");
        assert_eq!(c.get(1, 1), Some([0, 0, 0]));
    }

    #[test]
    fn drawing_off_the_buffer_clips_instead_of_panicking() {
        let mut buf = blank(6, 6);
        let mut c = Canvas::new(&mut buf, 6, 6).unwrap();
        c.fill_rect(-10, -10, 3, 3, [9, 9, 9]);
        c.rect(4, 4, 100, 100, 3, [1, 2, 3]);
        c.line(-50, 2, 50, 2, [7, 7, 7]);
        c.text(-20, 5, "clip", 2, [5, 5, 5]);
        assert_eq!(c.get(0, 0), Some([9, 9, 9]));
        assert_eq!(c.get(5, 5), Some([1, 2, 3]));
        assert_eq!(c.get(5, 2), Some([7, 7, 7]));
        assert_eq!(c.get(3, 3), Some([0, 0, 0]));
    }

    #[test]
    fn line_hits_both_ends_and_the_diagonal() {
        let mut buf = blank(5, 5);
        let mut c = Canvas::new(&mut buf, 5, 5).unwrap();
        c.line(4, 4, 0, 0, [1, 1, 1]);
        for i in 0..5 {
            assert_eq!(c.get(i, i), Some([1, 1, 1]));
        }
        assert_eq!(c.get(1, 0), Some([0, 0, 0]));
    }

    #[test]
    fn text_draws_the_glyph_bits_at_scale() {
        let mut buf = blank(40, 20);
        let mut c = Canvas::new(&mut buf, 40, 20).unwrap();
        let w = c.text(1, 2, "I1", 2, [255, 255, 255]);
        assert_eq!(w, 32);
        assert_eq!(text_width("I1", 2), 32);
        let g = glyph('I');
        for (gy, bits) in g.iter().enumerate() {
            for gx in 0..8u32 {
                let on = bits & (1 << gx) != 0;
                let px = c.get(1 + gx * 2 + 1, 2 + gy as u32 * 2 + 1).unwrap();
                assert_eq!(px == [255, 255, 255], on, "glyph pixel ({gx}, {gy})");
            }
        }
        assert!(g.iter().any(|r| *r != 0), "the font has a shape for 'I'");
        assert_eq!(glyph('é'), glyph('?'));
    }

    #[test]
    fn class_colours_differ_between_neighbouring_classes() {
        for k in 0..20 {
            let (a, b) = (class_color(k), class_color(k + 1));
            let d: i32 = a.iter().zip(b).map(|(x, y)| (i32::from(*x) - i32::from(y)).abs()).sum();
            assert!(d > 100, "classes {k} and {} look alike: {a:?} {b:?}", k + 1);
        }
    }
}
