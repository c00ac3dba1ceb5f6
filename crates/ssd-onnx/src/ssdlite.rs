//! SSDLite-MobileNetV2 as the TensorFlow Object Detection API builds it
//! (`ssdlite_mobilenet_v2`, depth multiplier 1, 300×300): MobileNetV2's
//! inverted residual blocks with ReLU6, the four SSDLite extra layers
//! (1×1, then a depthwise-separable 3×3 stride 2) and separable box and class
//! predictors on six feature maps (19, 10, 5, 3, 2, 1). Layers carry the TF
//! scope names, so that pretrained weights are found by name in a converted
//! graph and the trainer, the ONNX writer and the weight loader walk one
//! table.

use tract_onnx::pb;

use super::{attr_int, attr_ints, GraphBuilder};
use crate::ssd::WeightSource;

/// The manifest and tensor names of the graphs written here (one home:
/// ssd-core, where the trainer and ssd-cam read them too).
pub use ssd_core::manifest::{
    ssdlite_manifest as manifest, SSDLITE_BOXES as BOXES, SSDLITE_INPUT as INPUT, SSDLITE_SCORES as SCORES,
};
/// Input side.
pub const SIZE: usize = 300;
/// Anchors per cell on each feature map (TF's reduced lowest layer has 3).
pub const BOXES_PER_CELL: [usize; 6] = [3, 6, 6, 6, 6, 6];
/// Feature map sides for a 300×300 input.
pub const FEATURE_MAPS: [usize; 6] = [19, 10, 5, 3, 2, 1];
/// Scope of the feature extractor in TF's graphs.
const FE: &str = "FeatureExtractor/MobilenetV2";

/// One convolution with its TF scope name. Every convolution has a bias
/// (TF's batch norms folded in, or the predictors' own biases).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// TF scope, e.g. `FeatureExtractor/MobilenetV2/expanded_conv_3/depthwise`.
    pub name: String,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Square kernel side (1 or 3).
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// TF "SAME" padding as (top, left, bottom, right): stride 2 on an even
    /// side pads only after, unlike a symmetric framework padding.
    pub pads: [usize; 4],
    /// Depthwise (groups = channels).
    pub depthwise: bool,
    /// Followed by ReLU6 (projections and predictors are linear).
    pub relu6: bool,
}

impl Layer {
    /// Weight shape `[cout, cin / groups, k, k]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        let per_group = if self.depthwise { 1 } else { self.cin };
        [self.cout, per_group, self.kernel, self.kernel]
    }
    /// Convolution groups.
    pub fn groups(&self) -> usize {
        if self.depthwise {
            self.cin
        } else {
            1
        }
    }
}

/// One step of the network's forward pass over [`Layout::layers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Runs layer `i` on the current tensor.
    Conv(usize),
    /// Remembers the current tensor as a residual.
    Keep,
    /// Adds the remembered residual to the current tensor.
    AddKept,
    /// The current tensor is the next feature map for the predictors.
    Source,
    /// The MobileNetV2 backbone ends here (extra layers follow).
    EndBackbone,
}

/// The predictors of one feature map: layer indices of the depthwise 3×3
/// and the 1×1 that follows, for boxes and for classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Box encoding predictor (depthwise, pointwise).
    pub boxes: [usize; 2],
    /// Class predictor (depthwise, pointwise).
    pub classes: [usize; 2],
    /// Anchors per cell.
    pub anchors: usize,
}

/// The whole network: layers, the order they run in, and the predictors.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Every convolution.
    pub layers: Vec<Layer>,
    /// Backbone and extra layers, in order.
    pub steps: Vec<Step>,
    /// One per feature map, in output order.
    pub heads: Vec<Head>,
    /// Classes on the class axis (background included).
    pub classes: usize,
}

/// TF "SAME" padding of one axis: (before, after).
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (total / 2, total - total / 2)
}

struct Builder {
    layers: Vec<Layer>,
    steps: Vec<Step>,
    size: usize,
    channels: usize,
}

impl Builder {
    fn layer(
        &mut self,
        name: String,
        cout: usize,
        kernel: usize,
        stride: usize,
        depthwise: bool,
        relu6: bool,
    ) -> usize {
        let (before, after) = same_padding(self.size, kernel, stride);
        let cout = if depthwise { self.channels } else { cout };
        self.layers.push(Layer {
            name,
            cin: self.channels,
            cout,
            kernel,
            stride,
            pads: [before, before, after, after],
            depthwise,
            relu6,
        });
        self.size = self.size.div_ceil(stride);
        self.channels = cout;
        self.layers.len() - 1
    }
    fn run(&mut self, name: String, cout: usize, kernel: usize, stride: usize, depthwise: bool, relu6: bool) {
        let i = self.layer(name, cout, kernel, stride, depthwise, relu6);
        self.steps.push(Step::Conv(i));
    }
}

/// MobileNetV2's inverted residual blocks after the stem:
/// (expansion, output channels, stride).
const BLOCKS: [(usize, usize, usize); 17] = [
    (1, 16, 1),
    (6, 24, 2),
    (6, 24, 1),
    (6, 32, 2),
    (6, 32, 1),
    (6, 32, 1),
    (6, 64, 2),
    (6, 64, 1),
    (6, 64, 1),
    (6, 64, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 160, 2),
    (6, 160, 1),
    (6, 160, 1),
    (6, 320, 1),
];

/// SSDLite extra layers: (1×1 channels, separable 3×3 stride 2 channels).
const EXTRAS: [(usize, usize); 4] = [(256, 512), (128, 256), (128, 256), (64, 128)];

/// The SSDLite-MobileNetV2 layout for `classes` classes (background
/// included), TF's scope names and all.
pub fn layout(classes: usize) -> Layout {
    let mut b = Builder { layers: Vec::new(), steps: Vec::new(), size: SIZE, channels: 3 };
    b.run(format!("{FE}/Conv"), 32, 3, 2, false, true);
    for (k, &(expansion, out, stride)) in BLOCKS.iter().enumerate() {
        let scope = if k == 0 { format!("{FE}/expanded_conv") } else { format!("{FE}/expanded_conv_{k}") };
        let residual = stride == 1 && b.channels == out;
        if residual {
            b.steps.push(Step::Keep);
        }
        if expansion > 1 {
            b.run(format!("{scope}/expand"), b.channels * expansion, 1, 1, false, true);
            // The first feature map is block 13's expansion, before its stride.
            if k == 13 {
                b.steps.push(Step::Source);
            }
        }
        b.run(format!("{scope}/depthwise"), 0, 3, stride, true, true);
        b.run(format!("{scope}/project"), out, 1, 1, false, false);
        if residual {
            b.steps.push(Step::AddKept);
        }
    }
    b.run(format!("{FE}/Conv_1"), 1280, 1, 1, false, true);
    b.steps.push(Step::Source);
    b.steps.push(Step::EndBackbone);
    for (k, &(mid, out)) in EXTRAS.iter().enumerate() {
        let n = k + 2;
        b.run(format!("{FE}/layer_19_1_Conv2d_{n}_1x1_{mid}"), mid, 1, 1, false, true);
        b.run(format!("{FE}/layer_19_2_Conv2d_{n}_3x3_s2_{out}_depthwise"), 0, 3, 2, true, true);
        b.run(format!("{FE}/layer_19_2_Conv2d_{n}_3x3_s2_{out}"), out, 1, 1, false, true);
        b.steps.push(Step::Source);
    }
    // Source channels and sizes, in order, for the predictors.
    let mut sources = Vec::new();
    let mut current = (3, SIZE);
    for step in &b.steps {
        match *step {
            Step::Conv(i) => {
                let l = &b.layers[i];
                current = (l.cout, current.1.div_ceil(l.stride));
            }
            Step::Source => sources.push(current),
            _ => {}
        }
    }
    let mut heads = Vec::new();
    for (k, (&(channels, size), &anchors)) in sources.iter().zip(&BOXES_PER_CELL).enumerate() {
        let mut pair = |kind: &str, per_anchor: usize| -> [usize; 2] {
            b.size = size;
            b.channels = channels;
            let dw = b.layer(format!("BoxPredictor_{k}/{kind}_depthwise"), 0, 3, 1, true, true);
            let pw = b.layer(format!("BoxPredictor_{k}/{kind}"), anchors * per_anchor, 1, 1, false, false);
            [dw, pw]
        };
        let boxes = pair("BoxEncodingPredictor", 4);
        let classes_pair = pair("ClassPredictor", classes);
        heads.push(Head { boxes, classes: classes_pair, anchors });
    }
    Layout { layers: b.layers, steps: b.steps, heads, classes }
}

impl Layout {
    /// Anchors over all feature maps (1917).
    pub fn anchors(&self) -> usize {
        FEATURE_MAPS.iter().zip(&self.heads).map(|(f, h)| f * f * h.anchors).sum()
    }
    /// Index of the first layer after the backbone (extra layers and
    /// predictors come after it in [`Layout::layers`]).
    pub fn backbone_layers(&self) -> usize {
        let mut n = 0;
        for step in &self.steps {
            match step {
                Step::Conv(i) => n = i + 1,
                Step::EndBackbone => return n,
                _ => {}
            }
        }
        n
    }
}

struct Writer<'a> {
    g: GraphBuilder,
    w: &'a mut dyn WeightSource,
}

impl Writer<'_> {
    fn conv(&mut self, l: &Layer, x: &str) -> String {
        let shape = l.weight_shape();
        let wdata = self.w.weights(&format!("{}.weight", l.name), &shape);
        let bdata = self.w.weights(&format!("{}.bias", l.name), &[l.cout]);
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let wn = self.g.constant(&format!("{}.weight", l.name), &dims, &wdata);
        let bn = self.g.constant(&format!("{}.bias", l.name), &[l.cout as i64], &bdata);
        let (k, s) = (l.kernel as i64, l.stride as i64);
        let pads: Vec<i64> = l.pads.iter().map(|&p| p as i64).collect();
        let y = self.g.node(
            "Conv",
            &[x, &wn, &bn],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[s, s]),
                attr_ints("pads", &pads),
                attr_int("group", l.groups() as i64),
            ],
        );
        if l.relu6 {
            let lo = self.g.constant("zero", &[], &[0.0]);
            let hi = self.g.constant("six", &[], &[6.0]);
            self.g.node("Clip", &[&y, &lo, &hi], vec![])
        } else {
            y
        }
    }

    /// A predictor's two convolutions, reshaped to `[1, cells·anchors, per]`.
    fn predictor(&mut self, layout: &Layout, pair: [usize; 2], x: &str, per: usize) -> String {
        let y = self.conv(&layout.layers[pair[0]], x);
        let y = self.conv(&layout.layers[pair[1]], &y);
        let t = self.g.node("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 3, 1])]);
        let shape = self.g.constant_i64("shape", &[1, -1, per as i64]);
        self.g.node("Reshape", &[&t, &shape], vec![])
    }
}

/// Writes the network of `layout` with weights from `weights` (asked for
/// by `"<scope>.weight"` and `"<scope>.bias"`), producing [`BOXES`] and
/// [`SCORES`] (logits) for one 300×300 NCHW image named [`INPUT`].
pub fn ssdlite_mobilenet_v2(layout: &Layout, weights: &mut dyn WeightSource) -> pb::ModelProto {
    let mut w = Writer { g: GraphBuilder::new(), w: weights };
    let mut x = w.g.input(INPUT, &[1, 3, SIZE as i64, SIZE as i64]);
    let mut kept = x.clone();
    let mut sources = Vec::new();
    for step in &layout.steps {
        match *step {
            Step::Conv(i) => x = w.conv(&layout.layers[i], &x),
            Step::Keep => kept = x.clone(),
            Step::AddKept => x = w.g.node("Add", &[&x, &kept], vec![]),
            Step::Source => sources.push(x.clone()),
            Step::EndBackbone => {}
        }
    }
    let mut locs = Vec::new();
    let mut confs = Vec::new();
    for (head, src) in layout.heads.iter().zip(&sources) {
        locs.push(w.predictor(layout, head.boxes, src, 4));
        confs.push(w.predictor(layout, head.classes, src, layout.classes));
    }
    let l: Vec<&str> = locs.iter().map(String::as_str).collect();
    let c: Vec<&str> = confs.iter().map(String::as_str).collect();
    w.g.node_into("Concat", &l, vec![attr_int("axis", 1)], BOXES);
    w.g.node_into("Concat", &c, vec![attr_int("axis", 1)], SCORES);
    let p = layout.anchors() as i64;
    w.g.output(BOXES, &[1, p, 4]);
    w.g.output(SCORES, &[1, p, layout.classes as i64]);
    w.g.into_model("ssdlite_mobilenet_v2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_pads_after_on_even_sides_as_tensorflow_does() {
        assert_eq!(same_padding(300, 3, 2), (0, 1));
        assert_eq!(same_padding(75, 3, 2), (1, 1));
        assert_eq!(same_padding(19, 3, 1), (1, 1));
        assert_eq!(same_padding(2, 3, 2), (0, 1));
        assert_eq!(same_padding(10, 1, 1), (0, 0));
    }

    #[test]
    fn layout_has_the_tf_feature_maps_and_1917_anchors() {
        let l = layout(2);
        assert_eq!(l.anchors(), 1917);
        assert_eq!(l.heads.len(), 6);
        let first = &l.layers[l.heads[0].boxes[0]];
        assert_eq!((first.name.as_str(), first.cin), ("BoxPredictor_0/BoxEncodingPredictor_depthwise", 576));
        let second = &l.layers[l.heads[1].classes[1]];
        assert_eq!((second.cin, second.cout), (1280, 12));
        assert_eq!(l.layers[l.heads[5].classes[0]].cin, 128);
        // MobileNetV2's 52 convolutions, then 12 extra and 24 predictor ones.
        assert_eq!(l.backbone_layers(), 52);
        assert_eq!(l.layers.len(), 52 + 12 + 24);
        assert_eq!(l.steps.iter().filter(|s| **s == Step::AddKept).count(), 10);
    }
}
