//! Where to run the model under `--detect motion`: the moving areas and the
//! tracked objects, each grown into a crop of the model input's aspect and
//! at least 4/3 of its size (a small, distant object is seen far larger
//! than in the whole frame, shrunk by 4/3 at most: measured, person-ssdlite
//! misses people in 1:1 crops that it finds a little shrunk), overlapping
//! crops merged. When
//! the crops would cost more than the whole frame (too many, or covering
//! too much of it) the whole frame is run instead, so motion gating is
//! never much slower than detecting always.

use ssd_core::boxes::BBox;

/// A crop of the frame: `[x, y, width, height]` in frame pixels.
pub type Region = [u32; 4];

/// How regions are made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionParams {
    /// The model input's width and height (regions take its aspect).
    pub input: [u32; 2],
    /// Least crop size as a multiple of the input's.
    pub min_scale: f32,
    /// Margin around each box, as a fraction of its larger side.
    pub margin: f32,
    /// More regions than this run the whole frame instead.
    pub max_regions: usize,
    /// Regions covering more than this fraction of the frame run the whole
    /// frame instead (one run of the model beats several that cover it).
    pub max_cover: f32,
}

impl RegionParams {
    /// Defaults for a model input.
    pub fn for_input(input: [u32; 2]) -> Self {
        Self { input, min_scale: 4.0 / 3.0, margin: 0.25, max_regions: 3, max_cover: 0.5 }
    }
}

/// The crops for `boxes` (frame pixels) in a `frame`-sized frame, into
/// `out`; `false` when the whole frame should run instead (`out` is then
/// empty). No boxes, no regions.
pub fn plan(boxes: &[BBox], frame: [u32; 2], p: &RegionParams, out: &mut Vec<Region>) -> bool {
    out.clear();
    let mut crops: Vec<[f32; 4]> = Vec::with_capacity(boxes.len());
    for b in boxes {
        let grow = p.margin * b.width().max(b.height());
        let Some(c) = fit(BBox::new(b.x1 - grow, b.y1 - grow, b.x2 + grow, b.y2 + grow), frame, p) else {
            return false;
        };
        crops.push(c);
    }
    // Merge overlapping crops until none overlap.
    'merge: loop {
        for i in 0..crops.len() {
            for j in i + 1..crops.len() {
                if overlap(&crops[i], &crops[j]) {
                    let (a, b) = (crops[i], crops[j]);
                    let union = BBox::new(a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3]));
                    let Some(c) = fit(union, frame, p) else { return false };
                    crops.swap_remove(j);
                    crops[i] = c;
                    continue 'merge;
                }
            }
        }
        break;
    }
    let area: f32 = crops.iter().map(|c| (c[2] - c[0]) * (c[3] - c[1])).sum();
    if crops.len() > p.max_regions || area > p.max_cover * frame[0] as f32 * frame[1] as f32 {
        return false;
    }
    out.extend(crops.iter().map(|c| {
        let (x, y) = (c[0].round() as u32, c[1].round() as u32);
        let w = ((c[2] - c[0]).round() as u32).clamp(1, frame[0] - x.min(frame[0] - 1));
        let h = ((c[3] - c[1]).round() as u32).clamp(1, frame[1] - y.min(frame[1] - 1));
        [x, y, w, h]
    }));
    true
}

/// Whether two crops share area.
fn overlap(a: &[f32; 4], b: &[f32; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// The crop of the input's aspect, at least `min_scale` times the input's
/// size, centred on `b` and holding it, moved inside the frame; `None` when
/// the frame cannot hold such a crop.
fn fit(b: BBox, [fw, fh]: [u32; 2], p: &RegionParams) -> Option<[f32; 4]> {
    let (fw, fh, iw, ih) = (fw as f32, fh as f32, p.input[0] as f32, p.input[1] as f32);
    let aspect = iw / ih;
    let w = b.width().max(b.height() * aspect).max(iw * p.min_scale);
    let h = w / aspect;
    if w > fw || h > fh {
        return None;
    }
    let (cx, cy) = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
    let x = (cx - w / 2.0).clamp(0.0, fw - w);
    let y = (cy - h / 2.0).clamp(0.0, fh - h);
    Some([x, y, x + w, y + h])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crops of at least the input's own size, for round numbers.
    fn p() -> RegionParams {
        RegionParams { min_scale: 1.0, ..RegionParams::for_input([300, 300]) }
    }

    #[test]
    fn by_default_a_crop_is_at_least_four_thirds_of_the_input() {
        let mut out = Vec::new();
        let p = RegionParams::for_input([300, 300]);
        assert!(plan(&[BBox::new(900.0, 500.0, 940.0, 560.0)], [1920, 1080], &p, &mut out));
        assert_eq!(out, vec![[720, 330, 400, 400]]);
    }

    #[test]
    fn a_small_object_gets_an_input_sized_square_around_it_inside_the_frame() {
        let mut out = Vec::new();
        assert!(plan(&[BBox::new(1800.0, 40.0, 1840.0, 120.0)], [1920, 1080], &p(), &mut out));
        assert_eq!(out, vec![[1620, 0, 300, 300]], "pushed inside at the top right");
        let [x, y, w, h] = out[0];
        assert!(x <= 1800 && x + w >= 1840 && y <= 40 && y + h >= 120);
    }

    #[test]
    fn a_big_object_gets_a_square_holding_it_with_its_margin() {
        let mut out = Vec::new();
        assert!(plan(&[BBox::new(500.0, 300.0, 900.0, 500.0)], [1920, 1080], &p(), &mut out));
        // 400 wide + 2 × 100 margin = 600 square, centred on (700, 400).
        assert_eq!(out, vec![[400, 100, 600, 600]]);
    }

    #[test]
    fn overlapping_crops_merge_and_distant_ones_stay_apart() {
        let mut out = Vec::new();
        let near = [BBox::new(100.0, 100.0, 140.0, 180.0), BBox::new(200.0, 150.0, 240.0, 230.0)];
        assert!(plan(&near, [1920, 1080], &p(), &mut out));
        assert_eq!(out.len(), 1, "{out:?}");
        let far = [BBox::new(100.0, 100.0, 140.0, 180.0), BBox::new(1500.0, 700.0, 1540.0, 780.0)];
        assert!(plan(&far, [1920, 1080], &p(), &mut out));
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn too_much_or_too_many_runs_the_whole_frame() {
        let mut out = Vec::new();
        // Two input-sized crops are 59 % of a 640x480 frame.
        let two = [BBox::new(10.0, 10.0, 50.0, 50.0), BBox::new(560.0, 400.0, 600.0, 440.0)];
        assert!(!plan(&two, [640, 480], &p(), &mut out));
        assert!(out.is_empty());
        let four: Vec<BBox> =
            (0..4).map(|i| BBox::new(100.0 + 450.0 * i as f32, 500.0, 120.0 + 450.0 * i as f32, 520.0)).collect();
        assert!(!plan(&four, [1920, 1080], &p(), &mut out), "{out:?}");
        // An object larger than the frame's height allows at the input aspect.
        assert!(!plan(&[BBox::new(0.0, 0.0, 640.0, 200.0)], [640, 480], &p(), &mut out));
        assert!(plan(&[], [640, 480], &p(), &mut out) && out.is_empty(), "nothing to look at");
    }
}
