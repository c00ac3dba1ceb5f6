//! Default boxes (priors) for SSD heads.
//!
//! This file is the single home of prior generation: `build.rs` includes it by
//! `#[path]` to bake tables into the binary, and the runtime, the trainer's
//! matcher and the evaluator call the same functions. It must therefore depend
//! on nothing but `std` and `serde`.
//!
//! Every prior is `[cx, cy, w, h]`, normalized to the model input (0..1).

use serde::{Deserialize, Serialize};

/// How a model lays out its default boxes. Stored in the model manifest under
/// `"priors"`, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PriorSpec {
    /// Caffe SSD `PriorBox` layers (Liu et al.'s reference implementation):
    /// sizes in input pixels, one layer per feature map.
    Caffe(CaffeSpec),
    /// torchvision `DefaultBoxGenerator`: relative scales, one more scale than
    /// feature maps (the last one only feeds the extra square box).
    Torchvision(TorchvisionSpec),
    /// The TensorFlow Object Detection API's SSD anchors
    /// (`MultipleGridAnchorGenerator` via `create_ssd_anchors`) as MediaPipe's
    /// `SsdAnchorsCalculator` reproduces them: scales spread linearly from
    /// `min_scale` to `max_scale` over the layers; consecutive layers with
    /// the same stride share one grid (BlazeFace).
    SsdAnchors(SsdAnchorsSpec),
}

/// Caffe `PriorBox` parameters for all feature maps of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaffeSpec {
    /// Side of the (square) network input in pixels, e.g. 300.
    pub image_size: u32,
    /// Side of each (square) feature map, e.g. `[38, 19, 10, 5, 3, 1]`.
    pub feature_maps: Vec<u32>,
    /// Distance between cell centres in input pixels, per feature map.
    pub steps: Vec<f32>,
    /// Smallest box side in pixels, per feature map.
    pub min_sizes: Vec<f32>,
    /// Larger size per feature map: adds the √(min·max) square box.
    #[serde(default)]
    pub max_sizes: Vec<f32>,
    /// Extra aspect ratios per feature map (1 is implicit), e.g. `[[2], [2, 3], …]`.
    pub aspect_ratios: Vec<Vec<f32>>,
    /// Also add 1/ar for every ratio ar.
    #[serde(default = "default_true")]
    pub flip: bool,
    /// Cell-centre offset in cells (0.5 = centre).
    #[serde(default = "default_offset")]
    pub offset: f32,
    /// Clip the box corners to the image.
    #[serde(default)]
    pub clip: bool,
}

/// torchvision `DefaultBoxGenerator` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchvisionSpec {
    /// Side of the (square) network input in pixels, e.g. 300.
    pub image_size: u32,
    /// Side of each (square) feature map.
    pub feature_maps: Vec<u32>,
    /// Distance between cell centres in input pixels, per feature map.
    pub steps: Vec<f32>,
    /// Relative box scales: one per feature map plus one final scale.
    pub scales: Vec<f32>,
    /// Extra aspect ratios per feature map; each adds ar and 1/ar.
    pub aspect_ratios: Vec<Vec<f32>>,
    /// Clamp box widths and heights to [0, 1].
    #[serde(default = "default_true")]
    pub clip: bool,
}

/// `SsdAnchorsCalculator` / `create_ssd_anchors` parameters (square input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsdAnchorsSpec {
    /// Side of the (square) network input in pixels, e.g. 128 or 300.
    pub image_size: u32,
    /// Stride of each layer in input pixels; a layer's grid side is
    /// ⌈image_size / stride⌉. Consecutive equal strides share one grid.
    pub strides: Vec<u32>,
    /// Scale of the first layer (relative to the input side).
    pub min_scale: f32,
    /// Scale of the last layer.
    pub max_scale: f32,
    /// Aspect ratios (w/h) of each layer's boxes.
    #[serde(default = "default_ratios")]
    pub aspect_ratios: Vec<f32>,
    /// Adds a box between this layer's scale and the next one's (1.0 after the
    /// last) with this ratio; 0 turns it off.
    #[serde(default = "default_interpolated")]
    pub interpolated_scale_aspect_ratio: f32,
    /// The first layer gets only (0.1, 1), (scale, 2), (scale, 1/2), as in TF's
    /// SSD MobileNet configs.
    #[serde(default)]
    pub reduce_boxes_in_lowest_layer: bool,
    /// Cell-centre offset in cells (0.5 = centre).
    #[serde(default = "default_offset")]
    pub anchor_offset: f32,
    /// Every anchor is 1 × 1 (MediaPipe's face and hand detectors, whose
    /// regressors give sizes in input pixels directly).
    #[serde(default)]
    pub fixed_anchor_size: bool,
}

fn default_ratios() -> Vec<f32> {
    vec![1.0]
}

fn default_interpolated() -> f32 {
    1.0
}

fn default_true() -> bool {
    true
}

fn default_offset() -> f32 {
    0.5
}

/// Why a prior spec cannot be generated.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorSpecError(pub String);

impl std::fmt::Display for PriorSpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid prior spec: {}", self.0)
    }
}

impl std::error::Error for PriorSpecError {}

/// The prior layout of the paper's SSD300 on VOC, in the Caffe convention.
pub fn ssd300_voc() -> PriorSpec {
    PriorSpec::Caffe(CaffeSpec {
        image_size: 300,
        feature_maps: vec![38, 19, 10, 5, 3, 1],
        steps: vec![8.0, 16.0, 32.0, 64.0, 100.0, 300.0],
        min_sizes: vec![30.0, 60.0, 111.0, 162.0, 213.0, 264.0],
        max_sizes: vec![60.0, 111.0, 162.0, 213.0, 264.0, 315.0],
        aspect_ratios: ssd300_aspect_ratios(),
        flip: true,
        offset: 0.5,
        clip: false,
    })
}

/// The prior layout of torchvision's `ssd300_vgg16` (COCO).
pub fn ssd300_torchvision() -> PriorSpec {
    PriorSpec::Torchvision(TorchvisionSpec {
        image_size: 300,
        feature_maps: vec![38, 19, 10, 5, 3, 1],
        steps: vec![8.0, 16.0, 32.0, 64.0, 100.0, 300.0],
        scales: vec![0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        aspect_ratios: ssd300_aspect_ratios(),
        clip: true,
    })
}

fn ssd300_aspect_ratios() -> Vec<Vec<f32>> {
    vec![vec![2.0], vec![2.0, 3.0], vec![2.0, 3.0], vec![2.0, 3.0], vec![2.0], vec![2.0]]
}

impl PriorSpec {
    /// Boxes per cell for each feature map, in head order.
    pub fn boxes_per_cell(&self) -> Vec<usize> {
        match self {
            PriorSpec::Caffe(s) => (0..s.feature_maps.len()).map(|k| caffe_shapes(s, k).len()).collect(),
            PriorSpec::Torchvision(s) => {
                (0..s.feature_maps.len()).map(|k| 2 + 2 * s.aspect_ratios.get(k).map_or(0, Vec::len)).collect()
            }
            PriorSpec::SsdAnchors(s) => ssd_anchor_grids(s).into_iter().map(|g| g.shapes.len()).collect(),
        }
    }

    /// Side of each feature map (grid), in head order.
    pub fn feature_maps(&self) -> Vec<u32> {
        match self {
            PriorSpec::Caffe(s) => s.feature_maps.clone(),
            PriorSpec::Torchvision(s) => s.feature_maps.clone(),
            PriorSpec::SsdAnchors(s) => ssd_anchor_grids(s).into_iter().map(|g| g.side).collect(),
        }
    }

    /// Total number of priors this spec generates.
    pub fn count(&self) -> usize {
        let maps = self.feature_maps();
        maps.iter().zip(self.boxes_per_cell()).map(|(&f, b)| (f as usize) * (f as usize) * b).sum()
    }

    /// Index in the prior table of box `b` of cell (`row`, `col`) of feature map `layer`.
    pub fn index_of(&self, layer: usize, row: u32, col: u32, b: usize) -> Option<usize> {
        let maps = self.feature_maps();
        let per_cell = self.boxes_per_cell();
        let f = *maps.get(layer)?;
        if row >= f || col >= f || b >= per_cell[layer] {
            return None;
        }
        let before: usize = (0..layer).map(|k| (maps[k] as usize).pow(2) * per_cell[k]).sum();
        Some(before + (row as usize * f as usize + col as usize) * per_cell[layer] + b)
    }

    /// Checks lengths and ranges so that generation cannot misbehave.
    pub fn validate(&self) -> Result<(), PriorSpecError> {
        let err = |m: String| Err(PriorSpecError(m));
        let (image_size, maps, steps, ratios) = match self {
            PriorSpec::Caffe(s) => (s.image_size, &s.feature_maps, &s.steps, &s.aspect_ratios),
            PriorSpec::Torchvision(s) => (s.image_size, &s.feature_maps, &s.steps, &s.aspect_ratios),
            PriorSpec::SsdAnchors(s) => return validate_ssd_anchors(s),
        };
        let n = maps.len();
        if n == 0 {
            return err("feature_maps is empty".into());
        }
        if image_size == 0 || image_size > 8192 {
            return err(format!("image_size {image_size} is outside 1..=8192"));
        }
        if let Some(&f) = maps.iter().find(|&&f| f == 0 || f > 1024) {
            return err(format!("feature map side {f} is outside 1..=1024"));
        }
        if steps.len() != n || ratios.len() != n {
            return err(format!("{n} feature_maps but {} steps and {} aspect_ratios lists", steps.len(), ratios.len()));
        }
        if let Some(s) = steps.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return err(format!("step {s} must be a positive number"));
        }
        if let Some(a) = ratios.iter().flatten().find(|a| !(a.is_finite() && **a > 0.0)) {
            return err(format!("aspect ratio {a} must be a positive number"));
        }
        match self {
            PriorSpec::Caffe(s) => {
                if s.min_sizes.len() != n {
                    return err(format!("{n} feature_maps but {} min_sizes", s.min_sizes.len()));
                }
                if !s.max_sizes.is_empty() && s.max_sizes.len() != n {
                    return err(format!("{n} feature_maps but {} max_sizes", s.max_sizes.len()));
                }
                for (k, &min) in s.min_sizes.iter().enumerate() {
                    if !(min.is_finite() && min > 0.0) {
                        return err(format!("min_sizes[{k}] = {min} must be positive"));
                    }
                    if let Some(&max) = s.max_sizes.get(k) {
                        if !(max.is_finite() && max > min) {
                            return err(format!("max_sizes[{k}] = {max} must exceed min_sizes[{k}] = {min}"));
                        }
                    }
                }
                if !(s.offset.is_finite() && (0.0..=1.0).contains(&s.offset)) {
                    return err(format!("offset {} is outside 0..=1", s.offset));
                }
            }
            PriorSpec::SsdAnchors(_) => {}
            PriorSpec::Torchvision(s) => {
                if s.scales.len() != n + 1 {
                    return err(format!("{n} feature_maps need {} scales, found {}", n + 1, s.scales.len()));
                }
                if let Some(x) = s.scales.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                    return err(format!("scale {x} must be a positive number"));
                }
            }
        }
        Ok(())
    }

    /// Generates every prior as `[cx, cy, w, h]`, feature map by feature map,
    /// row by row, cell by cell, box shape by box shape.
    pub fn generate(&self) -> Result<Vec<[f32; 4]>, PriorSpecError> {
        self.validate()?;
        let mut out = Vec::with_capacity(self.count());
        match self {
            PriorSpec::Caffe(s) => generate_caffe(s, &mut out),
            PriorSpec::Torchvision(s) => generate_torchvision(s, &mut out),
            PriorSpec::SsdAnchors(s) => generate_ssd_anchors(s, &mut out),
        }
        Ok(out)
    }
}

/// Box shapes `(w, h)` in pixels of one Caffe layer, in Caffe's order:
/// min square, √(min·max) square, then each ratio (and its flip).
fn caffe_shapes(s: &CaffeSpec, k: usize) -> Vec<(f64, f64)> {
    let mut ratios: Vec<f64> = Vec::new();
    for &ar in s.aspect_ratios.get(k).map_or(&[][..], Vec::as_slice) {
        let ar = f64::from(ar);
        // Caffe skips ratios it already has (1 is implicit).
        let seen = |r: f64, list: &[f64]| (r - 1.0).abs() < 1e-6 || list.iter().any(|x| (x - r).abs() < 1e-6);
        if !seen(ar, &ratios) {
            ratios.push(ar);
            if s.flip && !seen(1.0 / ar, &ratios) {
                ratios.push(1.0 / ar);
            }
        }
    }
    let min = f64::from(s.min_sizes.get(k).copied().unwrap_or(0.0));
    let mut shapes = vec![(min, min)];
    if let Some(&max) = s.max_sizes.get(k) {
        let side = (min * f64::from(max)).sqrt();
        shapes.push((side, side));
    }
    for ar in ratios {
        shapes.push((min * ar.sqrt(), min / ar.sqrt()));
    }
    shapes
}

fn generate_caffe(s: &CaffeSpec, out: &mut Vec<[f32; 4]>) {
    let img = f64::from(s.image_size);
    for (k, &f) in s.feature_maps.iter().enumerate() {
        let step = f64::from(s.steps[k]);
        let shapes = caffe_shapes(s, k);
        for i in 0..f {
            for j in 0..f {
                let cx = (f64::from(j) + f64::from(s.offset)) * step / img;
                let cy = (f64::from(i) + f64::from(s.offset)) * step / img;
                for &(w, h) in &shapes {
                    let (w, h) = (w / img, h / img);
                    out.push(if s.clip {
                        // Caffe clips corners, so a clipped box's centre moves.
                        let x1 = (cx - w / 2.0).clamp(0.0, 1.0);
                        let y1 = (cy - h / 2.0).clamp(0.0, 1.0);
                        let x2 = (cx + w / 2.0).clamp(0.0, 1.0);
                        let y2 = (cy + h / 2.0).clamp(0.0, 1.0);
                        to_f32([(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1])
                    } else {
                        to_f32([cx, cy, w, h])
                    });
                }
            }
        }
    }
}

fn generate_torchvision(s: &TorchvisionSpec, out: &mut Vec<[f32; 4]>) {
    let img = f64::from(s.image_size);
    for (k, &f) in s.feature_maps.iter().enumerate() {
        let sk = f64::from(s.scales[k]);
        let sk_prime = (sk * f64::from(s.scales[k + 1])).sqrt();
        let mut shapes = vec![(sk, sk), (sk_prime, sk_prime)];
        for &ar in &s.aspect_ratios[k] {
            let r = f64::from(ar).sqrt();
            shapes.push((sk * r, sk / r));
            shapes.push((sk / r, sk * r));
        }
        if s.clip {
            for (w, h) in &mut shapes {
                *w = w.clamp(0.0, 1.0);
                *h = h.clamp(0.0, 1.0);
            }
        }
        let cells_per_side = img / f64::from(s.steps[k]);
        for i in 0..f {
            for j in 0..f {
                let cx = (f64::from(j) + 0.5) / cells_per_side;
                let cy = (f64::from(i) + 0.5) / cells_per_side;
                for &(w, h) in &shapes {
                    out.push(to_f32([cx, cy, w, h]));
                }
            }
        }
    }
}

fn validate_ssd_anchors(s: &SsdAnchorsSpec) -> Result<(), PriorSpecError> {
    let err = |m: String| Err(PriorSpecError(m));
    if s.image_size == 0 || s.image_size > 8192 {
        return err(format!("image_size {} is outside 1..=8192", s.image_size));
    }
    if s.strides.is_empty() || s.strides.len() > 64 {
        return err(format!("{} strides: need 1 to 64", s.strides.len()));
    }
    // A stride may exceed the input (TF's last 1x1 layer: stride 512 on 300).
    if let Some(st) = s.strides.iter().find(|&&st| st == 0 || st > 8192) {
        return err(format!("stride {st} is outside 1..=8192"));
    }
    if !(s.min_scale.is_finite() && s.max_scale.is_finite() && 0.0 < s.min_scale && s.min_scale <= s.max_scale) {
        return err(format!("scales {}..{} must satisfy 0 < min_scale <= max_scale", s.min_scale, s.max_scale));
    }
    if s.aspect_ratios.is_empty() || s.aspect_ratios.len() > 16 {
        return err(format!("{} aspect_ratios: need 1 to 16", s.aspect_ratios.len()));
    }
    if let Some(a) = s.aspect_ratios.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
        return err(format!("aspect ratio {a} must be a positive number"));
    }
    let r = s.interpolated_scale_aspect_ratio;
    if !(r.is_finite() && r >= 0.0) {
        return err(format!("interpolated_scale_aspect_ratio {r} must be 0 (off) or positive"));
    }
    if !(s.anchor_offset.is_finite() && (0.0..=1.0).contains(&s.anchor_offset)) {
        return err(format!("anchor_offset {} is outside 0..=1", s.anchor_offset));
    }
    Ok(())
}

/// One grid of SSD anchors: its side and the `(w, h)` of each box per cell.
struct AnchorGrid {
    side: u32,
    shapes: Vec<(f64, f64)>,
}

/// The grids of `SsdAnchorsCalculator` / `create_ssd_anchors`, in order.
fn ssd_anchor_grids(s: &SsdAnchorsSpec) -> Vec<AnchorGrid> {
    let n = s.strides.len();
    let (min, max) = (f64::from(s.min_scale), f64::from(s.max_scale));
    let scale = |k: usize| if n == 1 { (min + max) / 2.0 } else { min + (max - min) * k as f64 / (n - 1) as f64 };
    let mut grids = Vec::new();
    let mut k = 0;
    while k < n {
        let stride = s.strides[k];
        // (scale, aspect ratio) of every box of this grid, in the calculator's order.
        let mut boxes: Vec<(f64, f64)> = Vec::new();
        while k < n && s.strides[k] == stride {
            if k == 0 && s.reduce_boxes_in_lowest_layer {
                boxes.extend([(0.1, 1.0), (scale(k), 2.0), (scale(k), 0.5)]);
            } else {
                boxes.extend(s.aspect_ratios.iter().map(|&a| (scale(k), f64::from(a))));
                if s.interpolated_scale_aspect_ratio > 0.0 {
                    let next = if k + 1 == n { 1.0 } else { scale(k + 1) };
                    boxes.push(((scale(k) * next).sqrt(), f64::from(s.interpolated_scale_aspect_ratio)));
                }
            }
            k += 1;
        }
        let shapes = boxes
            .into_iter()
            .map(|(sc, ar)| if s.fixed_anchor_size { (1.0, 1.0) } else { (sc * ar.sqrt(), sc / ar.sqrt()) })
            .collect();
        grids.push(AnchorGrid { side: s.image_size.div_ceil(stride), shapes });
    }
    grids
}

fn generate_ssd_anchors(s: &SsdAnchorsSpec, out: &mut Vec<[f32; 4]>) {
    let offset = f64::from(s.anchor_offset);
    for g in ssd_anchor_grids(s) {
        let side = f64::from(g.side);
        for i in 0..g.side {
            for j in 0..g.side {
                let (cx, cy) = ((f64::from(j) + offset) / side, (f64::from(i) + offset) / side);
                for &(w, h) in &g.shapes {
                    out.push(to_f32([cx, cy, w, h]));
                }
            }
        }
    }
}

fn to_f32(v: [f64; 4]) -> [f32; 4] {
    v.map(|x| x as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 4], b: [f32; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn ssd300_has_8732_priors_in_4_6_6_6_4_4_layout() {
        for spec in [ssd300_voc(), ssd300_torchvision()] {
            assert_eq!(spec.boxes_per_cell(), vec![4, 6, 6, 6, 4, 4]);
            assert_eq!(spec.count(), 8732);
            assert_eq!(spec.generate().unwrap().len(), 8732);
        }
    }

    #[test]
    fn caffe_voc_entries_match_the_paper_formulas() {
        let p = ssd300_voc().generate().unwrap();
        let c0 = 0.5 * 8.0 / 300.0;
        // Cell (0, 0) of conv4_3: min square, sqrt(min·max) square, then 2 and 1/2.
        assert!(close(p[0], [c0, c0, 0.1, 0.1]));
        let s = (30.0f32 * 60.0).sqrt() / 300.0;
        assert!(close(p[1], [c0, c0, s, s]));
        let r = 2f32.sqrt();
        assert!(close(p[2], [c0, c0, 0.1 * r, 0.1 / r]));
        assert!(close(p[3], [c0, c0, 0.1 / r, 0.1 * r]));
        // Cell (0, 1) moves right by one step.
        assert!(close(p[4], [1.5 * 8.0 / 300.0, c0, 0.1, 0.1]));
        // conv7 (19x19, step 16) starts at 38·38·4 = 5776 with ratios 2, 1/2, 3, 1/3.
        let c = 0.5 * 16.0 / 300.0;
        let r3 = 3f32.sqrt();
        assert!(close(p[5776], [c, c, 0.2, 0.2]));
        assert!(close(p[5776 + 4], [c, c, 0.2 * r3, 0.2 / r3]));
        assert!(close(p[5776 + 5], [c, c, 0.2 / r3, 0.2 * r3]));
        // The last prior: the 1x1 map's 1/2 box, unclipped (Caffe VOC deploys with clip off).
        let min = 264.0 / 300.0;
        assert!(close(p[8731], [0.5, 0.5, min / r, min * r]));
        assert!(p[8731][3] > 1.0);
    }

    #[test]
    fn torchvision_entries_follow_scales_and_clip_sizes() {
        let p = ssd300_torchvision().generate().unwrap();
        let c0 = 0.5 / (300.0 / 8.0);
        assert!(close(p[0], [c0, c0, 0.07, 0.07]));
        let s = (0.07f32 * 0.15).sqrt();
        assert!(close(p[1], [c0, c0, s, s]));
        // Last map: 0.87·√2 = 1.23 is clipped to 1.
        let r = 2f32.sqrt();
        assert!(close(p[8730], [0.5, 0.5, 1.0, 0.87 / r]));
        assert!(close(p[8731], [0.5, 0.5, 0.87 / r, 1.0]));
        assert!(p.iter().all(|b| b[2] <= 1.0 && b[3] <= 1.0));
    }

    #[test]
    fn caffe_clip_keeps_corners_inside_the_image() {
        let mut spec = ssd300_voc();
        if let PriorSpec::Caffe(s) = &mut spec {
            s.clip = true;
        }
        let p = spec.generate().unwrap();
        for b in &p {
            let (x1, x2) = (b[0] - b[2] / 2.0, b[0] + b[2] / 2.0);
            assert!(x1 >= -1e-6 && x2 <= 1.0 + 1e-6, "{b:?}");
        }
        // The first conv4_3 box (0.1 wide around x = 0.0133) loses its left part.
        assert!(close(p[0], [(0.0 + 0.0633333) / 2.0, (0.0 + 0.0633333) / 2.0, 0.0633333, 0.0633333]));
    }

    #[test]
    fn index_of_walks_maps_cells_and_boxes() {
        let s = ssd300_voc();
        assert_eq!(s.index_of(0, 0, 0, 0), Some(0));
        assert_eq!(s.index_of(0, 0, 1, 0), Some(4));
        assert_eq!(s.index_of(1, 0, 0, 0), Some(5776));
        assert_eq!(s.index_of(5, 0, 0, 3), Some(8731));
        assert_eq!(s.index_of(5, 0, 0, 4), None);
        assert_eq!(s.index_of(6, 0, 0, 0), None);
    }

    #[test]
    fn invalid_specs_are_rejected_with_the_reason() {
        let mut s = ssd300_voc();
        if let PriorSpec::Caffe(c) = &mut s {
            c.steps.pop();
        }
        assert!(s.generate().unwrap_err().to_string().contains("6 feature_maps but 5 steps"));
        let mut t = ssd300_torchvision();
        if let PriorSpec::Torchvision(c) = &mut t {
            c.scales.pop();
        }
        assert!(t.validate().unwrap_err().to_string().contains("need 7 scales"));
        let mut m = ssd300_voc();
        if let PriorSpec::Caffe(c) = &mut m {
            c.max_sizes[2] = 10.0;
        }
        assert!(m.validate().unwrap_err().to_string().contains("max_sizes[2]"));
    }

    /// MediaPipe's BlazeFace front-camera anchors (face_detection_front.pbtxt).
    fn blazeface() -> PriorSpec {
        serde_json::from_str(
            r#"{"kind":"ssd_anchors","image_size":128,"strides":[8,16,16,16],"min_scale":0.1484375,
                "max_scale":0.75,"fixed_anchor_size":true}"#,
        )
        .unwrap()
    }

    #[test]
    fn blazeface_anchors_are_896_unit_boxes_on_16x16_and_8x8_grids() {
        let s = blazeface();
        assert_eq!(s.feature_maps(), vec![16, 8]);
        assert_eq!(s.boxes_per_cell(), vec![2, 6]);
        assert_eq!(s.count(), 896);
        let p = s.generate().unwrap();
        assert_eq!(p.len(), 896);
        assert!(close(p[0], [0.5 / 16.0, 0.5 / 16.0, 1.0, 1.0]));
        assert_eq!(p[0], p[1], "two anchors per cell of the first grid");
        assert!(close(p[2], [1.5 / 16.0, 0.5 / 16.0, 1.0, 1.0]));
        assert!(close(p[511], [15.5 / 16.0, 15.5 / 16.0, 1.0, 1.0]));
        assert!(close(p[512], [0.5 / 8.0, 0.5 / 8.0, 1.0, 1.0]));
        assert!(close(p[895], [7.5 / 8.0, 7.5 / 8.0, 1.0, 1.0]));
        assert_eq!(s.index_of(1, 0, 0, 0), Some(512));
    }

    #[test]
    fn tf_ssd_mobilenet_anchors_follow_create_ssd_anchors() {
        // ssd_mobilenet_v1_coco: 6 layers on 19, 10, 5, 3, 2, 1 grids, scales
        // 0.2..0.95, ratios 1, 2, 1/2, 3, 1/3, reduced lowest layer: 1917 anchors.
        let s: PriorSpec = serde_json::from_str(
            r#"{"kind":"ssd_anchors","image_size":300,"strides":[16,32,64,128,256,512],"min_scale":0.2,
                "max_scale":0.95,"aspect_ratios":[1.0,2.0,0.5,3.0,0.3333],"reduce_boxes_in_lowest_layer":true}"#,
        )
        .unwrap();
        assert_eq!(s.feature_maps(), vec![19, 10, 5, 3, 2, 1]);
        assert_eq!(s.boxes_per_cell(), vec![3, 6, 6, 6, 6, 6]);
        assert_eq!(s.count(), 1917);
        let p = s.generate().unwrap();
        let (c, r) = (0.5 / 19.0, 2f32.sqrt());
        assert!(close(p[0], [c, c, 0.1, 0.1]));
        assert!(close(p[1], [c, c, 0.2 * r, 0.2 / r]));
        assert!(close(p[2], [c, c, 0.2 / r, 0.2 * r]));
        // Second layer: scale 0.2 + 0.75 / 5 = 0.35, its interpolated box √(0.35 · 0.5).
        let c = 0.5 / 10.0;
        assert!(close(p[1083], [c, c, 0.35, 0.35]));
        let i = (0.35f32 * 0.5).sqrt();
        assert!(close(p[1083 + 5], [c, c, i, i]));
        // The last layer interpolates towards 1.0.
        let l = 0.95f32.sqrt();
        assert!(close(p[1916], [0.5, 0.5, l, l]));
    }

    #[test]
    fn bad_ssd_anchor_specs_are_rejected() {
        let mut s = blazeface();
        if let PriorSpec::SsdAnchors(a) = &mut s {
            a.strides = vec![8, 0];
        }
        assert!(s.generate().unwrap_err().to_string().contains("stride 0"));
        if let PriorSpec::SsdAnchors(a) = &mut s {
            a.strides = vec![8];
            a.max_scale = 0.01;
        }
        assert!(s.validate().unwrap_err().to_string().contains("min_scale <= max_scale"));
    }

    #[test]
    fn spec_json_round_trips_and_defaults_apply() {
        let json = r#"{"kind":"caffe","image_size":300,"feature_maps":[3],"steps":[100],"min_sizes":[100],"aspect_ratios":[[2]]}"#;
        let s: PriorSpec = serde_json::from_str(json).unwrap();
        let PriorSpec::Caffe(c) = &s else { panic!("not caffe") };
        assert!(c.flip && !c.clip && c.offset == 0.5 && c.max_sizes.is_empty());
        assert_eq!(s.count(), 9 * 3);
        let back: PriorSpec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
