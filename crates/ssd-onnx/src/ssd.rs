//! SSD graphs written with [`GraphBuilder`]: the SSD300-VGG16 layout (used
//! with random weights for tests and benchmarks, and by the trainer's
//! exporter with real ones) and the "oracle" model whose outputs are
//! constants chosen so that decoding must give known boxes.

use tract_onnx::pb;

use super::{attr_int, attr_ints, GraphBuilder};
use ssd_core::rng::SplitMix;

/// The manifest and tensor names of the networks written here (one home:
/// ssd-core, where the trainer and the tests read them too).
pub use ssd_core::manifest::{
    ssd300_manifest as manifest, SSD300_BOXES as BOXES, SSD300_INPUT as INPUT, SSD300_SCORES as SCORES,
};

/// One box the oracle model must produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OracleTarget {
    /// Index of the prior that fires.
    pub prior: usize,
    /// Class that fires on it.
    pub class: usize,
    /// Logit of that class (others stay at 0, the background too).
    pub logit: f32,
    /// Encoded offsets `[dx, dy, dw, dh]` on that prior.
    pub offsets: [f32; 4],
}

/// A model with a 300×300 input whose outputs ignore the image: box offsets
/// are zero and the background logit is `background_logit` on every prior
/// except the targets. The input still feeds the graph (times zero) so that
/// the runtime's input handling is exercised.
pub fn oracle(
    num_priors: usize,
    num_classes: usize,
    background_logit: f32,
    targets: &[OracleTarget],
) -> pb::ModelProto {
    let mut loc = vec![0f32; num_priors * 4];
    let mut conf = vec![0f32; num_priors * num_classes];
    for p in 0..num_priors {
        conf[p * num_classes] = background_logit;
    }
    for t in targets {
        loc[t.prior * 4..t.prior * 4 + 4].copy_from_slice(&t.offsets);
        conf[t.prior * num_classes] = 0.0;
        conf[t.prior * num_classes + t.class] = t.logit;
    }
    let (p, c) = (num_priors as i64, num_classes as i64);
    let mut g = GraphBuilder::new();
    let x = g.input(INPUT, &[1, 3, 300, 300]);
    let mean = g.node("ReduceMean", &[&x], vec![attr_ints("axes", &[1, 2, 3]), attr_int("keepdims", 0)]);
    let zero = g.constant("zero", &[1, 1, 1], &[0.0]);
    let tied = g.node("Mul", &[&mean, &zero], vec![]);
    let loc_c = g.constant("loc", &[1, p, 4], &loc);
    let conf_c = g.constant("conf", &[1, p, c], &conf);
    g.node_into("Add", &[&loc_c, &tied], vec![], BOXES);
    g.node_into("Add", &[&conf_c, &tied], vec![], SCORES);
    g.output(BOXES, &[1, p, 4]);
    g.output(SCORES, &[1, p, c]);
    g.into_model("oracle")
}

/// Supplies the weights of one layer, given its name and shape.
pub trait WeightSource {
    /// Values for `name` with `shape`, row-major, `shape.product()` long.
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32>;
}

/// Deterministic random weights (He-uniform for kernels, zero biases, 20 for
/// the L2Norm scale), enough to exercise the layout and measure speed.
#[derive(Debug, Clone)]
pub struct RandomWeights {
    rng: SplitMix,
}

impl RandomWeights {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: SplitMix::new(seed) }
    }
}

impl WeightSource for RandomWeights {
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        if name.ends_with(".bias") {
            return vec![0.0; n];
        }
        if name.ends_with(".scale") {
            return vec![20.0; n];
        }
        let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
        let a = (6.0 / fan_in as f32).sqrt();
        (0..n).map(|_| (self.rng.unit() * 2.0 - 1.0) * a).collect()
    }
}

/// SSD300-VGG16 backbone in order: conv layers with their channel counts
/// before the width multiplier, and pooling steps (`"pool"`: 2×2 stride 2;
/// `"pool_ceil"`: the same with ceil mode, 75 → 38 as in Caffe). Shared by
/// the ONNX writer and the trainer's network so the two cannot drift apart.
pub const VGG: &[(&str, usize)] = &[
    ("conv1_1", 64),
    ("conv1_2", 64),
    ("pool", 0),
    ("conv2_1", 128),
    ("conv2_2", 128),
    ("pool", 0),
    ("conv3_1", 256),
    ("conv3_2", 256),
    ("conv3_3", 256),
    ("pool_ceil", 0),
    ("conv4_1", 512),
    ("conv4_2", 512),
    ("conv4_3", 512),
    ("pool", 0),
    ("conv5_1", 512),
    ("conv5_2", 512),
    ("conv5_3", 512),
];

/// Extra feature layers: (name, 1×1 channels, 3×3 channels, 3×3 stride, 3×3 padding).
pub const EXTRAS: &[(&str, usize, usize, usize, usize)] =
    &[("conv8", 256, 512, 2, 1), ("conv9", 128, 256, 2, 1), ("conv10", 128, 256, 1, 0), ("conv11", 128, 256, 1, 0)];

/// Channels of fc6/fc7 before the width multiplier.
pub const FC_CHANNELS: usize = 1024;

/// Scales a channel count by the width multiplier, keeping at least 8.
pub fn scaled(channels: usize, width: f32) -> usize {
    ((channels as f32 * width).round() as usize).max(8)
}

/// Kernel geometry of one square convolution.
#[derive(Debug, Clone, Copy)]
struct ConvShape {
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
}

impl ConvShape {
    /// 3×3, stride 1, padded to keep the size.
    const SAME3: ConvShape = ConvShape { kernel: 3, stride: 1, pad: 1, dilation: 1 };
    /// 1×1.
    const POINT: ConvShape = ConvShape { kernel: 1, stride: 1, pad: 0, dilation: 1 };
}

struct Ctx<'a> {
    g: GraphBuilder,
    w: &'a mut dyn WeightSource,
}

impl Ctx<'_> {
    fn conv(&mut self, name: &str, x: &str, cin: usize, cout: usize, shape: ConvShape) -> String {
        let ConvShape { kernel: k, stride, pad, dilation } = shape;
        let wshape = [cout, cin, k, k];
        let wdata = self.w.weights(&format!("{name}.weight"), &wshape);
        let bdata = self.w.weights(&format!("{name}.bias"), &[cout]);
        let dims: Vec<i64> = wshape.iter().map(|&d| d as i64).collect();
        let wn = self.g.constant(&format!("{name}.weight"), &dims, &wdata);
        let bn = self.g.constant(&format!("{name}.bias"), &[cout as i64], &bdata);
        let (k, s, p, d) = (k as i64, stride as i64, pad as i64, dilation as i64);
        self.g.node(
            "Conv",
            &[x, &wn, &bn],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[s, s]),
                attr_ints("pads", &[p, p, p, p]),
                attr_ints("dilations", &[d, d]),
            ],
        )
    }

    fn relu(&mut self, x: &str) -> String {
        self.g.node("Relu", &[x], vec![])
    }

    fn conv_relu(&mut self, name: &str, x: &str, cin: usize, cout: usize, shape: ConvShape) -> String {
        let y = self.conv(name, x, cin, cout, shape);
        self.relu(&y)
    }

    fn max_pool(&mut self, x: &str, k: i64, s: i64, p: i64, ceil: bool) -> String {
        self.g.node(
            "MaxPool",
            &[x],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[s, s]),
                attr_ints("pads", &[p, p, p, p]),
                attr_int("ceil_mode", i64::from(ceil)),
            ],
        )
    }

    /// ParseNet's L2 normalization across channels with a learned scale.
    fn l2norm(&mut self, x: &str, channels: usize) -> String {
        let norm = self.g.node("ReduceL2", &[x], vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)]);
        let eps = self.g.constant("eps", &[1], &[1e-10]);
        let denom = self.g.node("Add", &[&norm, &eps], vec![]);
        let unit = self.g.node("Div", &[x, &denom], vec![]);
        let scale = self.w.weights("l2norm.scale", &[channels]);
        let sn = self.g.constant("l2norm.scale", &[1, channels as i64, 1, 1], &scale);
        self.g.node("Mul", &[&unit, &sn], vec![])
    }

    /// A 3×3 head conv reshaped to `[1, cells·boxes, per_box]`.
    fn head(&mut self, name: &str, x: &str, cin: usize, boxes: usize, per_box: usize) -> String {
        let y = self.conv(name, x, cin, boxes * per_box, ConvShape::SAME3);
        let t = self.g.node("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 3, 1])]);
        let shape = self.g.constant_i64("shape", &[1, -1, per_box as i64]);
        self.g.node("Reshape", &[&t, &shape], vec![])
    }
}

/// Builds SSD300 with a VGG16 backbone (atrous fc6/fc7, L2Norm on conv4_3,
/// extra layers conv8–conv11) producing `loc [1, P, 4]` and class logits
/// `conf [1, P, C]` for `boxes_per_cell` (4, 6, 6, 6, 4, 4 for the paper's
/// 8732 priors). `width` slims every layer's channels.
pub fn ssd300_vgg16(
    num_classes: usize,
    boxes_per_cell: &[usize],
    width: f32,
    weights: &mut dyn WeightSource,
) -> pb::ModelProto {
    let mut cx = Ctx { g: GraphBuilder::new(), w: weights };
    let mut x = cx.g.input(INPUT, &[1, 3, 300, 300]);
    let mut c = 3;
    let mut sources: Vec<(String, usize)> = Vec::new();
    for &(name, ch) in VGG {
        match name {
            "pool" => x = cx.max_pool(&x, 2, 2, 0, false),
            "pool_ceil" => x = cx.max_pool(&x, 2, 2, 0, true), // 75 → 38 as in Caffe
            _ => {
                let out = scaled(ch, width);
                x = cx.conv_relu(name, &x, c, out, ConvShape::SAME3);
                c = out;
                if name == "conv4_3" {
                    let normed = cx.l2norm(&x, c);
                    sources.push((normed, c));
                }
            }
        }
    }
    x = cx.max_pool(&x, 3, 1, 1, false);
    let fc = scaled(FC_CHANNELS, width);
    x = cx.conv_relu("fc6", &x, c, fc, ConvShape { kernel: 3, stride: 1, pad: 6, dilation: 6 });
    x = cx.conv_relu("fc7", &x, fc, fc, ConvShape::POINT);
    c = fc;
    sources.push((x.clone(), c));
    // (name, mid channels, out channels, stride, padding) of the extra layers.
    for &(name, mid, out, stride, pad) in EXTRAS {
        let (mid, out) = (scaled(mid, width), scaled(out, width));
        let y = cx.conv_relu(&format!("{name}_1"), &x, c, mid, ConvShape::POINT);
        x = cx.conv_relu(&format!("{name}_2"), &y, mid, out, ConvShape { kernel: 3, stride, pad, dilation: 1 });
        c = out;
        sources.push((x.clone(), c));
    }
    let mut locs = Vec::new();
    let mut confs = Vec::new();
    for (k, ((src, ch), &b)) in sources.iter().zip(boxes_per_cell).enumerate() {
        locs.push(cx.head(&format!("loc{k}"), src, *ch, b, 4));
        confs.push(cx.head(&format!("conf{k}"), src, *ch, b, num_classes));
    }
    let l: Vec<&str> = locs.iter().map(String::as_str).collect();
    let f: Vec<&str> = confs.iter().map(String::as_str).collect();
    cx.g.node_into("Concat", &l, vec![attr_int("axis", 1)], BOXES);
    cx.g.node_into("Concat", &f, vec![attr_int("axis", 1)], SCORES);
    let p: usize = [38usize, 19, 10, 5, 3, 1].iter().zip(boxes_per_cell).map(|(f, b)| f * f * b).sum();
    cx.g.output(BOXES, &[1, p as i64, 4]);
    cx.g.output(SCORES, &[1, p as i64, num_classes as i64]);
    cx.g.into_model("ssd300_vgg16")
}
