//! The model manifest: `models/NAME.json` beside `models/NAME.onnx`, telling
//! the runtime how to feed the network and how to read its outputs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::boxes::BoxCoder;
use crate::priors::PriorSpec;

/// Errors reading or checking a manifest. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path} (a model NAME.onnx needs NAME.json beside it; see README, Models)")]
    Io {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or does not have the manifest's fields.
    #[error("invalid manifest {path}: {message} (line {line}, column {column})")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// serde's message.
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// A field has a value that cannot work.
    #[error("invalid manifest {path}: {field}: {message}")]
    Invalid {
        /// The manifest path.
        path: PathBuf,
        /// The field, as a JSON path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Memory layout of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[1, 3, H, W]`.
    Nchw,
    /// `[1, H, W, 3]`.
    Nhwc,
}

/// Channel order the network expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red (Caffe models).
    Bgr,
}

/// How 0–255 pixel values become network input values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Normalize {
    /// `(x − mean) / std` per channel, on the 0–255 scale, in the network's channel order.
    MeanStd {
        /// Per-channel mean.
        mean: [f32; 3],
        /// Per-channel standard deviation.
        std: [f32; 3],
    },
    /// `x · scale + offset` (e.g. 1/127.5 and −1 for [−1, 1]).
    ScaleOffset {
        /// Multiplier.
        scale: f32,
        /// Added after scaling.
        offset: f32,
    },
}

impl Normalize {
    /// Per-channel `(a, b)` so that input = a·x + b.
    pub fn affine(&self) -> [(f32, f32); 3] {
        match *self {
            Normalize::MeanStd { mean, std } => [0, 1, 2].map(|c| (1.0 / std[c], -mean[c] / std[c])),
            Normalize::ScaleOffset { scale, offset } => [(scale, offset); 3],
        }
    }
}

/// The network input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input name in the graph (informative; the first input is used).
    #[serde(default)]
    pub name: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Tensor layout.
    pub layout: Layout,
    /// Channel order.
    pub color: ColorOrder,
    /// Pixel normalization.
    pub normalize: Normalize,
    /// How frames are resized to the input (default: antialiased bilinear).
    #[serde(default)]
    pub resize: ResizeFilter,
}

/// The resize a model was trained (and is best run) with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeFilter {
    /// Bilinear with the filter widened when shrinking (antialiased;
    /// Pillow's and torchvision's `antialias=True`).
    #[default]
    Bilinear,
    /// TensorFlow 1's `ResizeBilinear` with `align_corners=false` and no
    /// half-pixel centres: source sample `x·in/out`, two taps, no antialias
    /// (what TF Object Detection API graphs resize with).
    TfLegacyBilinear,
}

/// How class scores come out of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreActivation {
    /// Logits; softmax over the class axis (SSD, torchvision).
    Softmax,
    /// Logits; independent sigmoid per class (TF Object Detection API, MediaPipe).
    Sigmoid,
    /// Already probabilities (softmax inside the graph).
    None,
}

/// One graph output: a whole head, or one part of a head that the graph
/// splits over several outputs (one per feature map, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output name in the graph.
    pub name: String,
    /// Expected shape.
    pub shape: Vec<usize>,
    /// How rows are laid out: `nhwc` (default) reads the tensor in memory
    /// order as rows of K values, one row per prior (`[1, P, K]`,
    /// `[1, H, W, A·K]`); `nchw` is a raw convolution head `[1, A·K, H, W]`,
    /// moved to channels-last first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

impl OutputSpec {
    /// An output of `shape` read in memory order.
    pub fn new(name: &str, shape: Vec<usize>) -> Self {
        Self { name: name.to_owned(), shape, layout: None }
    }

    /// Priors this part covers when each prior has `k` values, or why the
    /// shape cannot hold whole rows of `k`.
    pub fn rows(&self, k: usize) -> Result<usize, String> {
        let total: usize = self.shape.iter().product();
        if self.shape.is_empty() || total == 0 {
            return Err(format!("{:?} is empty", self.shape));
        }
        if self.layout == Some(Layout::Nchw) {
            if self.shape.len() != 4 || self.shape[0] != 1 {
                return Err(format!("{:?}: layout nchw needs [1, A·{k}, H, W]", self.shape));
            }
            if !self.shape[1].is_multiple_of(k) {
                return Err(format!("{:?}: {} channels are not a multiple of {k}", self.shape, self.shape[1]));
            }
        } else if self.shape.last().is_some_and(|&last| last % k != 0) {
            return Err(format!("{:?}: the last axis is not a multiple of {k} values per prior", self.shape));
        }
        Ok(total / k)
    }
}

/// A head as one graph output or as several, concatenated in order along
/// the prior axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OneOrMany", into = "OneOrMany")]
pub struct OutputParts(pub Vec<OutputSpec>);

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(OutputSpec),
    Many(Vec<OutputSpec>),
}

impl From<OneOrMany> for OutputParts {
    fn from(v: OneOrMany) -> Self {
        match v {
            OneOrMany::One(o) => OutputParts(vec![o]),
            OneOrMany::Many(v) => OutputParts(v),
        }
    }
}

impl From<OutputParts> for OneOrMany {
    fn from(mut p: OutputParts) -> Self {
        match p.0.len() {
            1 => OneOrMany::One(p.0.remove(0)),
            _ => OneOrMany::Many(p.0),
        }
    }
}

impl From<OutputSpec> for OutputParts {
    fn from(o: OutputSpec) -> Self {
        OutputParts(vec![o])
    }
}

/// Most keypoints a box may carry (MediaPipe's palm detector has 7).
pub const MAX_KEYPOINTS: usize = 8;

/// The two heads the runtime reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// Box offsets, `[1, P, 4 + 2·keypoints]` in all.
    pub boxes: OutputParts,
    /// Class scores, `[1, P, C]` in all.
    pub scores: OutputParts,
    /// `(x, y)` offset pairs after the four box offsets of each prior,
    /// decoded like box centres (MediaPipe's face and hand landmarks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub keypoints: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Outputs {
    /// Values per prior in the box head.
    pub fn box_row(&self) -> usize {
        4 + 2 * self.keypoints
    }
}

/// Post-processing defaults, overridable on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Minimum class score to report.
    #[serde(default = "d_score")]
    pub score_threshold: f32,
    /// IoU above which NMS suppresses a box.
    #[serde(default = "d_iou")]
    pub nms_iou: f32,
    /// Candidates per class before NMS.
    #[serde(default = "d_topk")]
    pub top_k_per_class: usize,
    /// Detections kept per frame.
    #[serde(default = "d_keep")]
    pub keep_top_k: usize,
}

fn d_score() -> f32 {
    0.3
}
fn d_iou() -> f32 {
    0.45
}
fn d_topk() -> usize {
    400
}
fn d_keep() -> usize {
    200
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { score_threshold: d_score(), nms_iou: d_iou(), top_k_per_class: d_topk(), keep_top_k: d_keep() }
    }
}

/// Everything the runtime needs to know about a model besides its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short model name.
    pub name: String,
    /// What the model is and where it came from.
    #[serde(default)]
    pub description: String,
    /// The input.
    pub input: InputSpec,
    /// One label per entry of the class axis (background included).
    pub labels: Vec<String>,
    /// Index of the background class on the class axis, if the model has one.
    pub background_index: Option<usize>,
    /// Default boxes.
    pub priors: PriorSpec,
    /// Box offset coding.
    #[serde(default)]
    pub box_coding: BoxCoder,
    /// How scores are turned into probabilities.
    pub score_activation: ScoreActivation,
    /// Logits are clamped to ±this before the activation (MediaPipe's
    /// `score_clipping_thresh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_clip: Option<f32>,
    /// Output tensors.
    pub outputs: Outputs,
    /// Default thresholds.
    #[serde(default)]
    pub defaults: Thresholds,
}

const MAX_INPUT_SIDE: u32 = 4096;

impl Manifest {
    /// Reads, parses and validates a manifest file.
    pub fn from_path(path: &Path) -> Result<Manifest, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Io { path: path.to_owned(), source })?;
        Self::from_json(&text, path)
    }

    /// Parses and validates manifest text; `path` is used in messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: strip_position(&e.to_string()),
            line: e.line(),
            column: e.column(),
        })?;
        m.validate(path)?;
        Ok(m)
    }

    /// Number of classes on the class axis.
    pub fn num_classes(&self) -> usize {
        self.labels.len()
    }

    /// Checks that the manifest is consistent with itself.
    pub fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let bad = |field: &str, message: String| {
            Err(ManifestError::Invalid { path: path.to_owned(), field: field.to_owned(), message })
        };
        let i = &self.input;
        for (field, v) in [("input.width", i.width), ("input.height", i.height)] {
            if v == 0 || v > MAX_INPUT_SIDE {
                return bad(field, format!("{v} is outside 1..={MAX_INPUT_SIDE}"));
            }
        }
        for (c, (a, b)) in i.normalize.affine().iter().enumerate() {
            if !(a.is_finite() && b.is_finite() && *a != 0.0) {
                return bad("input.normalize", format!("channel {c} gives scale {a}, offset {b}"));
            }
        }
        if self.labels.is_empty() {
            return bad("labels", "no labels".into());
        }
        let c = self.labels.len();
        if let Some(bg) = self.background_index {
            if bg >= c {
                return bad("background_index", format!("{bg} but only {c} labels"));
            }
        }
        if let Err(e) = self.priors.validate() {
            return bad("priors", e.0);
        }
        let p = self.priors.count();
        let o = &self.outputs;
        if o.keypoints > MAX_KEYPOINTS {
            return bad("outputs.keypoints", format!("{} is more than {MAX_KEYPOINTS}", o.keypoints));
        }
        for (head, parts, k) in [("boxes", &o.boxes, o.box_row()), ("scores", &o.scores, c)] {
            if parts.0.is_empty() {
                return bad(&format!("outputs.{head}"), "no outputs listed".into());
            }
            let mut rows = 0;
            for (i, part) in parts.0.iter().enumerate() {
                let field = if parts.0.len() == 1 {
                    format!("outputs.{head}.shape")
                } else {
                    format!("outputs.{head}[{i}].shape")
                };
                // One [1, P, C'] score part whose C' is not the label count is
                // almost always labels that do not match the network's classes.
                let classes_axis = (head == "scores" && parts.0.len() == 1 && part.layout != Some(Layout::Nchw))
                    .then(|| part.shape.last().copied())
                    .flatten();
                if let Some(axis) = classes_axis.filter(|&a| a != c && part.shape.len() == 3) {
                    return bad(
                        &field,
                        format!(
                            "{:?}: the network scores {axis} classes but labels lists {c} (one label per class, background included)",
                            part.shape
                        ),
                    );
                }
                match part.rows(k) {
                    Ok(r) => rows += r,
                    Err(e) => return bad(&field, e),
                }
            }
            if rows != p {
                let what = if head == "boxes" { format!("{k} values per box") } else { format!("{c} labels") };
                let shapes: Vec<_> = parts.0.iter().map(|s| format!("{:?}", s.shape)).collect();
                return bad(
                    &format!("outputs.{head}.shape"),
                    format!(
                        "{} hold {rows} priors with {what}, but the priors give {p}, so [1, {p}, {k}] is expected",
                        shapes.join(" + ")
                    ),
                );
            }
        }
        if let Some(clip) = self.score_clip {
            if !(clip.is_finite() && clip > 0.0) {
                return bad("score_clip", format!("{clip} must be positive"));
            }
        }
        let v = &self.box_coding.variances;
        if v.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
            return bad("box_coding.variances", format!("{v:?} must all be positive"));
        }
        let d = &self.defaults;
        if !(0.0..=1.0).contains(&d.score_threshold) {
            return bad("defaults.score_threshold", format!("{} is outside 0..=1", d.score_threshold));
        }
        if !(0.0..=1.0).contains(&d.nms_iou) {
            return bad("defaults.nms_iou", format!("{} is outside 0..=1", d.nms_iou));
        }
        if d.top_k_per_class == 0 || d.keep_top_k == 0 {
            return bad("defaults", "top_k_per_class and keep_top_k must be at least 1".into());
        }
        Ok(())
    }

    /// Writes the manifest as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// serde_json appends " at line L column C"; the error type reports those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Graph input name of the networks ssd-train writes.
pub const SSD300_INPUT: &str = "images";
/// Box-offset output name.
pub const SSD300_BOXES: &str = "loc";
/// Class-score output name.
pub const SSD300_SCORES: &str = "conf";

/// The manifest of a 300×300 RGB SSD as ssd-train writes it (NCHW, Caffe
/// means, outputs `loc` `[1, P, 4]` and `conf` `[1, P, C]`).
pub fn ssd300_manifest(
    name: &str,
    description: &str,
    labels: Vec<String>,
    priors: PriorSpec,
    activation: ScoreActivation,
) -> Manifest {
    let p = priors.count();
    let c = labels.len();
    Manifest {
        name: name.to_owned(),
        description: description.to_owned(),
        input: InputSpec {
            name: Some(SSD300_INPUT.to_owned()),
            width: 300,
            height: 300,
            layout: Layout::Nchw,
            color: ColorOrder::Rgb,
            normalize: Normalize::MeanStd { mean: [123.0, 117.0, 104.0], std: [1.0, 1.0, 1.0] },
            resize: ResizeFilter::Bilinear,
        },
        labels,
        background_index: Some(0),
        priors,
        box_coding: BoxCoder::default(),
        score_activation: activation,
        score_clip: None,
        outputs: Outputs {
            boxes: OutputSpec::new(SSD300_BOXES, vec![1, p, 4]).into(),
            scores: OutputSpec::new(SSD300_SCORES, vec![1, p, c]).into(),
            keypoints: 0,
        },
        defaults: Thresholds::default(),
    }
}

/// Graph input name of the SSDLite networks ssd-train writes.
pub const SSDLITE_INPUT: &str = "images";
/// Box-encoding output name, `[1, 1917, 4]` in (y, x, h, w) order.
pub const SSDLITE_BOXES: &str = "box_encodings";
/// Class-logit output name, `[1, 1917, C]`.
pub const SSDLITE_SCORES: &str = "class_logits";

/// The TF Object Detection API anchors of SSDLite-MobileNetV2 at 300×300:
/// six layers (19, 10, 5, 3, 2, 1), scales 0.2 to 0.95, ratios 1, 2, 1/2,
/// 3, 1/3 and the interpolated square, 3 boxes on the lowest layer; 1917.
pub fn ssdlite_anchors() -> PriorSpec {
    PriorSpec::SsdAnchors(crate::priors::SsdAnchorsSpec {
        image_size: 300,
        strides: vec![16, 30, 60, 100, 150, 300],
        min_scale: 0.2,
        max_scale: 0.95,
        aspect_ratios: vec![1.0, 2.0, 0.5, 3.0, 0.3333],
        interpolated_scale_aspect_ratio: 1.0,
        reduce_boxes_in_lowest_layer: true,
        anchor_offset: 0.5,
        fixed_anchor_size: false,
    })
}

/// The manifest of an SSDLite-MobileNetV2 as ssd-train writes it: the TF OD
/// API conventions (300×300 RGB scaled to [-1, 1] with TF's resize, the
/// 1917 [`ssdlite_anchors`], box coder scales 10, 10, 5, 5 in (y, x, h, w)
/// order), scores as trained.
pub fn ssdlite_manifest(name: &str, description: &str, labels: Vec<String>, activation: ScoreActivation) -> Manifest {
    let mut m = ssd300_manifest(name, description, labels, ssdlite_anchors(), activation);
    m.input.name = Some(SSDLITE_INPUT.to_owned());
    m.input.normalize = Normalize::ScaleOffset { scale: 1.0 / 127.5, offset: -1.0 };
    m.input.resize = ResizeFilter::TfLegacyBilinear;
    m.box_coding = BoxCoder {
        variances: [0.1, 0.1, 0.2, 0.2],
        clamp_log_wh: None,
        order: crate::boxes::OffsetOrder::Yxhw,
        size: crate::boxes::SizeCoding::Exp,
        clip: true,
    };
    let (p, c) = (m.priors.count(), m.labels.len());
    m.outputs.boxes = OutputSpec::new(SSDLITE_BOXES, vec![1, p, 4]).into();
    m.outputs.scores = OutputSpec::new(SSDLITE_SCORES, vec![1, p, c]).into();
    m.defaults = Thresholds { score_threshold: 0.5, nms_iou: 0.6, ..Thresholds::default() };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn voc_manifest_json() -> serde_json::Value {
        serde_json::json!({
            "name": "t",
            "input": {"width": 300, "height": 300, "layout": "nchw", "color": "rgb",
                      "normalize": {"mean": [123.0, 117.0, 104.0], "std": [1.0, 1.0, 1.0]}},
            "labels": ["background", "a", "b"],
            "background_index": 0,
            "priors": serde_json::to_value(crate::priors::ssd300_voc()).unwrap(),
            "score_activation": "softmax",
            "outputs": {"boxes": {"name": "loc", "shape": [1, 8732, 4]},
                        "scores": {"name": "conf", "shape": [1, 8732, 3]}}
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Manifest, ManifestError> {
        Manifest::from_json(&v.to_string(), Path::new("m.json"))
    }

    #[test]
    fn a_complete_manifest_parses_with_defaults_filled_in() {
        let m = parse(&voc_manifest_json()).unwrap();
        assert_eq!(m.defaults, Thresholds::default());
        assert_eq!(m.box_coding, BoxCoder::default());
        assert_eq!(m.num_classes(), 3);
        // Round trip through our own writer.
        assert_eq!(Manifest::from_json(&m.to_json(), Path::new("x")).unwrap(), m);
    }

    #[test]
    fn invalid_json_reports_file_and_line() {
        let err = Manifest::from_json("{\n  \"name\": }", Path::new("models/x.json")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("invalid manifest models/x.json:"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut v = voc_manifest_json();
        v["labelz"] = serde_json::json!([]);
        assert!(parse(&v).unwrap_err().to_string().contains("labelz"));
    }

    #[test]
    fn shapes_must_agree_with_priors_and_labels() {
        let mut v = voc_manifest_json();
        v["outputs"]["scores"]["shape"] = serde_json::json!([1, 8732, 21]);
        let msg = parse(&v).unwrap_err().to_string();
        assert!(msg.contains("outputs.scores.shape") && msg.contains("scores 21 classes but labels lists 3"), "{msg}");
        let mut v = voc_manifest_json();
        v["outputs"]["boxes"]["shape"] = serde_json::json!([1, 100, 4]);
        let msg = parse(&v).unwrap_err().to_string();
        assert!(msg.contains("hold 100 priors") && msg.contains("priors give 8732"), "{msg}");
    }

    /// The heads of the 8732-prior table split per feature map, as a
    /// converted Caffe or TF graph gives them.
    fn split_heads(c: usize, nchw: bool) -> (serde_json::Value, serde_json::Value) {
        let maps = [(38, 4), (19, 6), (10, 6), (5, 6), (3, 4), (1, 4)];
        let part = |name: &str, i: usize, f: usize, a: usize, k: usize| {
            if nchw {
                serde_json::json!({"name": format!("{name}{i}"), "shape": [1, a * k, f, f], "layout": "nchw"})
            } else {
                serde_json::json!({"name": format!("{name}{i}"), "shape": [1, f, f, a * k]})
            }
        };
        let boxes = maps.iter().enumerate().map(|(i, &(f, a))| part("loc", i, f, a, 4)).collect();
        let scores = maps.iter().enumerate().map(|(i, &(f, a))| part("conf", i, f, a, c)).collect();
        (serde_json::Value::Array(boxes), serde_json::Value::Array(scores))
    }

    #[test]
    fn heads_split_over_several_outputs_add_up_to_the_priors() {
        for nchw in [false, true] {
            let mut v = voc_manifest_json();
            let (b, s) = split_heads(3, nchw);
            v["outputs"]["boxes"] = b;
            v["outputs"]["scores"] = s;
            let m = parse(&v).unwrap();
            assert_eq!(m.outputs.boxes.0.len(), 6);
            assert_eq!(m.outputs.scores.0[1].rows(3), Ok(19 * 19 * 6));
            assert_eq!(Manifest::from_json(&m.to_json(), Path::new("x")).unwrap(), m);
        }
        // One map missing: the sum falls short and the message says by how much.
        let mut v = voc_manifest_json();
        let (mut b, _) = split_heads(3, false);
        b.as_array_mut().unwrap().pop();
        v["outputs"]["boxes"] = b;
        let msg = parse(&v).unwrap_err().to_string();
        assert!(msg.contains("outputs.boxes.shape") && msg.contains("hold 8728 priors"), "{msg}");
        // A part whose channels are not whole rows names its index.
        let mut v = voc_manifest_json();
        let (_, mut s) = split_heads(3, true);
        s[2]["shape"] = serde_json::json!([1, 17, 10, 10]);
        v["outputs"]["scores"] = s;
        let msg = parse(&v).unwrap_err().to_string();
        assert!(msg.contains("outputs.scores[2].shape") && msg.contains("not a multiple of 3"), "{msg}");
    }

    #[test]
    fn keypoints_widen_the_box_rows() {
        let mut v = voc_manifest_json();
        v["outputs"]["keypoints"] = serde_json::json!(6);
        // Still 4 values per box where 16 are needed.
        let msg = parse(&v).unwrap_err().to_string();
        assert!(msg.contains("outputs.boxes.shape") && msg.contains("multiple of 16"), "{msg}");
        v["outputs"]["boxes"]["shape"] = serde_json::json!([1, 8732, 16]);
        let m = parse(&v).unwrap();
        assert_eq!(m.outputs.box_row(), 16);
        v["outputs"]["keypoints"] = serde_json::json!(MAX_KEYPOINTS + 1);
        assert!(parse(&v).unwrap_err().to_string().contains("outputs.keypoints"));
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        for (ptr, value, field) in [
            ("/background_index", serde_json::json!(3), "background_index"),
            ("/input/width", serde_json::json!(0), "input.width"),
            ("/input/normalize/std", serde_json::json!([1.0, 0.0, 1.0]), "input.normalize"),
            ("/score_clip", serde_json::json!(-1.0), "score_clip"),
        ] {
            let mut v = voc_manifest_json();
            match v.pointer_mut(ptr) {
                Some(slot) => *slot = value,
                None => v[&ptr[1..]] = value,
            }
            let msg = parse(&v).unwrap_err().to_string();
            assert!(msg.contains(field), "{ptr}: {msg}");
        }
    }

    #[test]
    fn scale_offset_normalization_is_accepted() {
        let mut v = voc_manifest_json();
        v["input"]["normalize"] = serde_json::json!({"scale": 0.0078125, "offset": -1.0});
        let m = parse(&v).unwrap();
        assert_eq!(m.input.normalize.affine()[0], (0.0078125, -1.0));
    }
}
