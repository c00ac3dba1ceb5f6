//! Line charts as PNG (loss curves, precision-recall curves) drawn with
//! [`ssd_runtime::draw`], so the trainer needs no plotting library or fonts.

use std::path::Path;

use anyhow::{Context, Result};
use image::RgbImage;

use ssd_runtime::draw::{class_color, text_width, Canvas, Rgb, GLYPH};

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points in data coordinates.
    pub points: Vec<(f64, f64)>,
}

/// A chart: title, axis labels, fixed or data-driven ranges, lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label under the x axis.
    pub x_label: String,
    /// Label left of the y axis (written horizontally above it).
    pub y_label: String,
    /// X range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// Y range; `None` fits the data (from 0 when all values are positive).
    pub y_range: Option<(f64, f64)>,
    /// The lines, coloured by index.
    pub series: Vec<Series>,
}

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

/// About five round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 10_000.0 || v.abs() < 0.01 {
        format!("{v:.0e}")
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_owned()
    }
}

fn fit(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return None;
    }
    Some(if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) })
}

impl Chart {
    /// Draws the chart on a `width × height` white image.
    pub fn render(&self, width: u32, height: u32) -> RgbImage {
        let mut img = RgbImage::from_pixel(width.max(200), height.max(150), image::Rgb(WHITE));
        let (w, h) = (img.width(), img.height());
        let points = || self.series.iter().flat_map(|s| s.points.iter().copied());
        let (x0, x1) = self.x_range.or_else(|| fit(points().map(|p| p.0))).unwrap_or((0.0, 1.0));
        let (mut y0, y1) = self.y_range.or_else(|| fit(points().map(|p| p.1))).unwrap_or((0.0, 1.0));
        if self.y_range.is_none() && y0 > 0.0 {
            y0 = 0.0;
        }
        let Some(mut c) = Canvas::new(&mut img, w, h) else { return RgbImage::new(1, 1) };
        let g = i64::from(GLYPH);
        // Plot area.
        let (left, right, top, bottom) = (8 * g, i64::from(w) - 2 * g, 4 * g, i64::from(h) - 5 * g);
        let px = |x: f64| left + ((x - x0) / (x1 - x0) * (right - left) as f64).round() as i64;
        let py = |y: f64| bottom - ((y - y0) / (y1 - y0) * (bottom - top) as f64).round() as i64;
        for t in ticks(x0, x1) {
            let x = px(t);
            c.line(x, top, x, bottom, GRID);
            let s = label(t);
            c.text(x - i64::from(text_width(&s, 1)) / 2, bottom + g / 2, &s, 1, INK);
        }
        for t in ticks(y0, y1) {
            let y = py(t);
            c.line(left, y, right, y, GRID);
            let s = label(t);
            c.text(left - i64::from(text_width(&s, 1)) - g / 2, y - g / 2, &s, 1, INK);
        }
        c.line(left, bottom, right, bottom, INK);
        c.line(left, top, left, bottom, INK);
        let title_x = (i64::from(w) - i64::from(text_width(&self.title, 2))) / 2;
        c.text(title_x, g / 2, &self.title, 2, INK);
        let xl = (left + right - i64::from(text_width(&self.x_label, 1))) / 2;
        c.text(xl, bottom + 2 * g, &self.x_label, 1, INK);
        c.text(g / 2, top - 3 * g / 2, &self.y_label, 1, INK);
        for (k, s) in self.series.iter().enumerate() {
            let color = class_color(k + 1).map(|v| v.saturating_sub(40));
            let mut prev: Option<(i64, i64)> = None;
            for &(x, y) in &s.points {
                if !(x.is_finite() && y.is_finite()) {
                    prev = None;
                    continue;
                }
                let p = (px(x.clamp(x0, x1)), py(y.clamp(y0, y1)));
                if let Some(q) = prev {
                    c.line(q.0, q.1, p.0, p.1, color);
                    c.line(q.0, q.1 + 1, p.0, p.1 + 1, color);
                }
                prev = Some(p);
            }
            // Legend, top right.
            let ly = top + g / 2 + k as i64 * (g + 4);
            let lx = right - i64::from(text_width(&s.name, 1)) - 3 * g;
            c.fill_rect(lx, ly + 2, lx + 2 * g - 4, ly + g - 2, color);
            c.text(lx + 2 * g, ly, &s.name, 1, INK);
        }
        img
    }

    /// Renders at 800×500 and writes a PNG.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.render(800, 500).save(path).with_context(|| format!("writing {}", path.display()))
    }
}

/// Training loss per iteration (moving average over 50), total and parts.
pub fn loss_chart(history: &[crate::trainer::HistoryPoint]) -> Chart {
    let line = |name: &str, f: &dyn Fn(&crate::trainer::HistoryPoint) -> f32| Series {
        name: name.into(),
        points: smooth(&history.iter().map(|p| (p.iteration as f64 + 1.0, f64::from(f(p)))).collect::<Vec<_>>(), 50),
    };
    Chart {
        title: "Training loss".into(),
        x_label: "iteration".into(),
        y_label: "loss (50-iteration average)".into(),
        x_range: None,
        y_range: None,
        series: vec![line("total", &|p| p.loss), line("conf", &|p| p.conf), line("loc", &|p| p.loc)],
    }
}

/// Moving average over `window` points, for noisy loss curves.
pub fn smooth(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let w = window.max(1);
    let mut sum = 0.0;
    let mut out = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        sum += y;
        if i >= w {
            sum -= points[i - w].1;
        }
        out.push((x, sum / (i + 1).min(w) as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(0.0, 10_000.0), vec![0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10_000.0]);
        let t = ticks(3.3, 17.9);
        assert!(t.iter().all(|v| (3.3..=17.9).contains(v)) && t.len() >= 3, "{t:?}");
        assert_eq!(ticks(2.0, 2.0), vec![2.0]);
    }

    #[test]
    fn smoothing_averages_the_trailing_window() {
        let p: Vec<(f64, f64)> = [4.0, 2.0, 6.0, 0.0].iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
        let s: Vec<f64> = smooth(&p, 2).iter().map(|q| q.1).collect();
        assert_eq!(s, vec![4.0, 3.0, 4.0, 3.0]);
    }

    #[test]
    fn a_rising_line_is_drawn_from_bottom_left_to_top_right() {
        let chart = Chart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
            series: vec![Series { name: "a".into(), points: vec![(0.0, 0.0), (1.0, 1.0)] }],
        };
        let img = chart.render(400, 300);
        let color = class_color(1).map(|v| v.saturating_sub(40));
        // Plot area: x 64..384, y 32..260 (see render's margins).
        let at = |x: u32, y: u32| img.get_pixel(x, y).0;
        let (mid_x, mid_y) = ((64 + 384) / 2, (32 + 260) / 2);
        let near = |x: u32, y: u32| (0..3).any(|d| at(x, y + d) == color || at(x, y - d) == color);
        assert!(near(mid_x, mid_y), "the line passes through the middle");
        assert!(!near(mid_x, 60), "nothing near the top at mid-x");
    }
}
