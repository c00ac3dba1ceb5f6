//! SSD300 in burn, as in the paper: VGG16 to conv5_3, pool5 3×3 stride 1,
//! atrous fc6 (dilation 6) and fc7, L2Norm with a learned per-channel scale
//! (20 at start) on conv4_3, extra layers conv8–conv11, and 3×3 loc/conf
//! heads. The layer table is the ONNX writer's ([`ssd_onnx::ssd::VGG`],
//! [`ssd_onnx::ssd::EXTRAS`]), so export writes the same graph; the
//! output order is the runtime's 8732-prior order.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use ssd_core::manifest::{Manifest, Normalize, ScoreActivation};
use ssd_core::priors::ssd300_voc;
use ssd_onnx::pretrained::fold_scale_shift;
use ssd_onnx::ssd::{scaled, WeightSource, EXTRAS, FC_CHANNELS, VGG};

/// Input normalization of networks trained here: the SSD mean, and a spread
/// that brings pixels to about ±2, which a network trained from scratch
/// (no pretrained VGG expecting 0–255 inputs) learns faster with.
pub const NORMALIZE: Normalize = Normalize::MeanStd { mean: [123.0, 117.0, 104.0], std: [58.0, 57.0, 57.0] };

/// The manifest describing a network trained here: 300×300 RGB input with
/// [`NORMALIZE`], the built-in 8732 VOC-convention priors, softmax logits.
pub fn manifest_for(name: &str, description: &str, labels: Vec<String>) -> Manifest {
    let mut m = ssd_core::manifest::ssd300_manifest(name, description, labels, ssd300_voc(), ScoreActivation::Softmax);
    m.input.normalize = NORMALIZE;
    m
}

/// Boxes per cell of the six SSD300 feature maps.
pub const BOXES_PER_CELL: [usize; 6] = [4, 6, 6, 6, 4, 4];

/// The SSD300 network. With batch norm, every backbone and extra-layer
/// convolution is followed by a BatchNorm (not in the paper; it lets a
/// network without pretrained VGG weights train at a high rate) that export
/// folds into the convolution, so the exported graph is the paper's.
#[derive(Module, Debug)]
pub struct Ssd300 {
    backbone: Vec<Conv2d>,
    /// One per backbone, fc6/fc7 and extra convolution, in that order; empty
    /// without batch norm.
    norms: Vec<BatchNorm>,
    l2norm_scale: Param<Tensor<1>>,
    fc6: Conv2d,
    fc7: Conv2d,
    extras: Vec<Conv2d>,
    loc: Vec<Conv2d>,
    conf: Vec<Conv2d>,
    pool: MaxPool2d,
    pool_ceil: MaxPool2d,
    pool5: MaxPool2d,
    #[module(skip)]
    classes: usize,
}

fn conv(cin: usize, cout: usize, kernel: usize, stride: usize, pad: usize, dilation: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_dilation([dilation, dilation])
        .init(dev)
}

impl Ssd300 {
    /// A freshly initialised network for `classes` classes (background
    /// included) with every layer's channels scaled by `width`.
    pub fn new(classes: usize, width: f32, batch_norm: bool, dev: &Device) -> Self {
        let mut backbone = Vec::new();
        let mut c = 3;
        let mut conv4_3 = 0;
        for &(name, ch) in VGG {
            if ch > 0 {
                let out = scaled(ch, width);
                backbone.push(conv(c, out, 3, 1, 1, 1, dev));
                c = out;
                if name == "conv4_3" {
                    conv4_3 = out;
                }
            }
        }
        let fc = scaled(FC_CHANNELS, width);
        let fc6 = conv(c, fc, 3, 1, 6, 6, dev);
        let fc7 = conv(fc, fc, 1, 1, 0, 1, dev);
        let mut sources = vec![conv4_3, fc];
        let mut extras = Vec::new();
        c = fc;
        for &(_, mid, out, stride, pad) in EXTRAS {
            let (mid, out) = (scaled(mid, width), scaled(out, width));
            extras.push(conv(c, mid, 1, 1, 0, 1, dev));
            extras.push(conv(mid, out, 3, stride, pad, 1, dev));
            c = out;
            sources.push(out);
        }
        let norms = if batch_norm {
            backbone
                .iter()
                .chain([&fc6, &fc7])
                .chain(&extras)
                .map(|c| BatchNormConfig::new(c.weight.dims()[0]).init(dev))
                .collect()
        } else {
            Vec::new()
        };
        let heads = |per_box: usize| -> Vec<Conv2d> {
            sources.iter().zip(BOXES_PER_CELL).map(|(&ch, b)| conv(ch, b * per_box, 3, 1, 1, 1, dev)).collect()
        };
        Self {
            backbone,
            norms,
            l2norm_scale: Param::from_tensor(Tensor::<1>::ones([conv4_3], dev).mul_scalar(20.0)),
            fc6,
            fc7,
            extras,
            loc: heads(4),
            conf: heads(classes),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            pool_ceil: MaxPool2dConfig::new([2, 2]).with_ceil_mode(true).init(),
            pool5: MaxPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            classes,
        }
    }

    /// Box offsets `[B, P, 4]` and class logits `[B, P, C]` for images
    /// `[B, 3, 300, 300]` (normalized like the manifest says).
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
        let mut x = images;
        let mut convs = self.backbone.iter();
        let mut norms = self.norms.iter();
        // Convolution, batch norm when present, ReLU.
        let mut block = |c: &Conv2d, x: Tensor<4>| -> Tensor<4> {
            let y = c.forward(x);
            relu(match norms.next() {
                Some(n) => n.forward(y),
                None => y,
            })
        };
        let mut sources = Vec::with_capacity(6);
        for &(name, ch) in VGG {
            x = match name {
                "pool" => self.pool.forward(x),
                "pool_ceil" => self.pool_ceil.forward(x),
                _ => match convs.next() {
                    Some(c) if ch > 0 => block(c, x),
                    _ => x,
                },
            };
            if name == "conv4_3" {
                let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().add_scalar(1e-10);
                let c = self.l2norm_scale.dims()[0];
                sources.push(x.clone().div(norm).mul(self.l2norm_scale.val().reshape([1, c, 1, 1])));
            }
        }
        x = self.pool5.forward(x);
        x = block(&self.fc6, x);
        x = block(&self.fc7, x);
        sources.push(x.clone());
        for pair in self.extras.chunks(2) {
            for c in pair {
                x = block(c, x);
            }
            sources.push(x.clone());
        }
        let b = sources.first().map_or(1, |s| s.dims()[0]) as i32;
        let mut locs = Vec::with_capacity(6);
        let mut confs = Vec::with_capacity(6);
        for (k, s) in sources.into_iter().enumerate() {
            locs.push(self.loc[k].forward(s.clone()).permute([0, 2, 3, 1]).reshape([b, -1, 4]));
            confs.push(self.conf[k].forward(s).permute([0, 2, 3, 1]).reshape([b, -1, self.classes as i32]));
        }
        (Tensor::cat(locs, 1), Tensor::cat(confs, 1))
    }

    /// Classes on the class axis.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Every convolution by the name the ONNX writer asks for, with the
    /// batch norm that follows it (if any).
    fn conv_named(&self, name: &str) -> Option<(&Conv2d, Option<&BatchNorm>)> {
        let backbone_names = VGG.iter().filter(|(_, ch)| *ch > 0).map(|(n, _)| n.to_string());
        let extra_names = EXTRAS.iter().flat_map(|(n, ..)| [format!("{n}_1"), format!("{n}_2")]);
        let n = self.backbone.len();
        if let Some(i) = backbone_names.clone().position(|n| n == name) {
            return self.backbone.get(i).map(|c| (c, self.norms.get(i)));
        }
        if let Some(i) = extra_names.clone().position(|n| n == name) {
            return self.extras.get(i).map(|c| (c, self.norms.get(n + 2 + i)));
        }
        match name {
            "fc6" => Some((&self.fc6, self.norms.get(n))),
            "fc7" => Some((&self.fc7, self.norms.get(n + 1))),
            _ => head(name, "loc", &self.loc).or_else(|| head(name, "conf", &self.conf)).map(|c| (c, None)),
        }
    }
}

/// Head `k` of `heads` for a name like `loc3`.
fn head<'a>(name: &str, prefix: &str, heads: &'a [Conv2d]) -> Option<&'a Conv2d> {
    name.strip_prefix(prefix).and_then(|k| k.parse::<usize>().ok()).and_then(|k| heads.get(k))
}

pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// A batch norm in inference form, `y = scale·x + shift` per channel.
pub(crate) fn folded(n: &BatchNorm) -> (Vec<f32>, Vec<f32>) {
    let gamma = values(n.gamma.val());
    let beta = values(n.beta.val());
    let mean = values(n.running_mean.value());
    let var = values(n.running_var.value());
    let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + n.epsilon as f32).sqrt()).collect();
    let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
    (scale, shift)
}

/// A convolution's weights and bias with the batch norm after it (if any)
/// folded in, as export writes them.
pub(crate) fn folded_conv(c: &Conv2d, norm: Option<&BatchNorm>) -> (Vec<f32>, Vec<f32>) {
    let mut w = values(c.weight.val());
    let out = c.weight.dims()[0];
    let mut b = c.bias.as_ref().map_or_else(|| vec![0.0; out], |b| values(b.val()));
    if let Some((scale, shift)) = norm.map(folded) {
        fold_scale_shift(&mut w, &mut b, &scale, &shift);
    }
    (w, b)
}

/// Hands the network's parameters to the ONNX writer by layer name, so that
/// [`ssd_onnx::ssd::ssd300_vgg16`] exports exactly this network (batch
/// norms folded into their convolutions).
pub struct NetWeights<'a>(pub &'a Ssd300);

impl WeightSource for NetWeights<'_> {
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let found = if name == "l2norm.scale" {
            Some(values(self.0.l2norm_scale.val()))
        } else if let Some(layer) = name.strip_suffix(".weight") {
            self.0.conv_named(layer).map(|(c, norm)| folded_conv(c, norm).0)
        } else if let Some(layer) = name.strip_suffix(".bias") {
            self.0.conv_named(layer).map(|(c, norm)| folded_conv(c, norm).1)
        } else {
            None
        };
        // A missing or mis-sized tensor would be a layout bug; zeros keep the
        // graph well-formed and the export test catches the mismatch.
        found.filter(|v| v.len() == n).unwrap_or_else(|| vec![0.0; n])
    }
}
