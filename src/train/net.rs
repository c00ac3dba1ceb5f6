//! SSD300 in burn, as in the paper: VGG16 to conv5_3, pool5 3×3 stride 1,
//! atrous fc6 (dilation 6) and fc7, L2Norm with a learned per-channel scale
//! (20 at start) on conv4_3, extra layers conv8–conv11, and 3×3 loc/conf
//! heads. The layer table is the ONNX writer's ([`crate::onnx::ssd::VGG`],
//! [`crate::onnx::ssd::EXTRAS`]), so export writes the same graph; the
//! output order is the runtime's 8732-prior order.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::onnx::ssd::{scaled, WeightSource, EXTRAS, FC_CHANNELS, VGG};

/// Boxes per cell of the six SSD300 feature maps.
pub const BOXES_PER_CELL: [usize; 6] = [4, 6, 6, 6, 4, 4];

/// The SSD300 network.
#[derive(Module, Debug)]
pub struct Ssd300 {
    backbone: Vec<Conv2d>,
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
    pub fn new(classes: usize, width: f32, dev: &Device) -> Self {
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
        let heads = |per_box: usize| -> Vec<Conv2d> {
            sources.iter().zip(BOXES_PER_CELL).map(|(&ch, b)| conv(ch, b * per_box, 3, 1, 1, 1, dev)).collect()
        };
        Self {
            backbone,
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
    /// `[B, 3, 300, 300]` (normalised like the manifest says).
    pub fn forward(&self, images: Tensor<4>) -> (Tensor<3>, Tensor<3>) {
        let mut x = images;
        let mut convs = self.backbone.iter();
        let mut sources = Vec::with_capacity(6);
        for &(name, ch) in VGG {
            x = match name {
                "pool" => self.pool.forward(x),
                "pool_ceil" => self.pool_ceil.forward(x),
                _ => match convs.next() {
                    Some(c) if ch > 0 => relu(c.forward(x)),
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
        x = relu(self.fc7.forward(relu(self.fc6.forward(x))));
        sources.push(x.clone());
        for pair in self.extras.chunks(2) {
            for c in pair {
                x = relu(c.forward(x));
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

    /// Every convolution by the name the ONNX writer asks for.
    fn conv_named(&self, name: &str) -> Option<&Conv2d> {
        let backbone_names = VGG.iter().filter(|(_, ch)| *ch > 0).map(|(n, _)| n.to_string());
        let extra_names = EXTRAS.iter().flat_map(|(n, ..)| [format!("{n}_1"), format!("{n}_2")]);
        if let Some(i) = backbone_names.clone().position(|n| n == name) {
            return self.backbone.get(i);
        }
        if let Some(i) = extra_names.clone().position(|n| n == name) {
            return self.extras.get(i);
        }
        match name {
            "fc6" => Some(&self.fc6),
            "fc7" => Some(&self.fc7),
            _ => head(name, "loc", &self.loc).or_else(|| head(name, "conf", &self.conf)),
        }
    }
}

/// Head `k` of `heads` for a name like `loc3`.
fn head<'a>(name: &str, prefix: &str, heads: &'a [Conv2d]) -> Option<&'a Conv2d> {
    name.strip_prefix(prefix).and_then(|k| k.parse::<usize>().ok()).and_then(|k| heads.get(k))
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// Hands the network's parameters to the ONNX writer by layer name, so that
/// [`crate::onnx::ssd::ssd300_vgg16`] exports exactly this network.
pub struct NetWeights<'a>(pub &'a Ssd300);

impl WeightSource for NetWeights<'_> {
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let found = if name == "l2norm.scale" {
            Some(values(self.0.l2norm_scale.val()))
        } else if let Some(layer) = name.strip_suffix(".weight") {
            self.0.conv_named(layer).map(|c| values(c.weight.val()))
        } else if let Some(layer) = name.strip_suffix(".bias") {
            self.0.conv_named(layer).and_then(|c| c.bias.as_ref()).map(|b| values(b.val()))
        } else {
            None
        };
        // A missing or mis-sized tensor would be a layout bug; zeros keep the
        // graph well-formed and the export test catches the mismatch.
        found.filter(|v| v.len() == n).unwrap_or_else(|| vec![0.0; n])
    }
}
