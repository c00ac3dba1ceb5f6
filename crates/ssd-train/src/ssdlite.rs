//! SSDLite-MobileNetV2 in burn, layer for layer the TF Object Detection API
//! network of `models/person-ssdlite.onnx` (the table is
//! [`ssd_onnx::ssdlite::layout`], shared with the ONNX writer), so that its
//! weights load by TF scope name and a fine-tuned network exports to the
//! same graph family.

use anyhow::{bail, Result};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::TensorData;

use ssd_onnx::pretrained::Pretrained;
use ssd_onnx::ssd::WeightSource;
use ssd_onnx::ssdlite::{layout, Layer, Layout, Step};

use super::net::folded_conv;

/// One convolution and, when training from scratch with batch norm, the
/// batch norm after it (folded into the convolution at export).
#[derive(Module, Debug)]
pub struct Unit {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

impl Unit {
    fn new(l: &Layer, batch_norm: bool, dev: &Device) -> Self {
        let [t, left, b, r] = l.pads;
        let conv = Conv2dConfig::new([l.cin, l.cout], [l.kernel, l.kernel])
            .with_stride([l.stride, l.stride])
            .with_padding(PaddingConfig2d::Explicit(t, left, b, r))
            .with_groups(l.groups())
            .init(dev);
        let norm = batch_norm.then(|| BatchNormConfig::new(l.cout).init(dev));
        Self { conv, norm }
    }

    fn forward(&self, l: &Layer, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let y = match &self.norm {
            Some(n) => n.forward(y),
            None => y,
        };
        if l.relu6 {
            y.clamp(0.0, 6.0)
        } else {
            y
        }
    }

    /// Weights and bias with the batch norm folded in.
    fn folded(&self) -> (Vec<f32>, Vec<f32>) {
        folded_conv(&self.conv, self.norm.as_ref())
    }

    fn set(&mut self, weight: Vec<f32>, bias: Vec<f32>, dev: &Device) {
        let shape = self.conv.weight.dims();
        self.conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weight, shape), dev));
        let n = bias.len();
        self.conv.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias, [n]), dev)));
    }
}

/// Unit of layer `i` of the layout, split into `backbone` and `rest`.
fn layer_unit<'a>(backbone: &'a [Unit], rest: &'a [Unit], i: usize) -> Option<&'a Unit> {
    match i.checked_sub(backbone.len()) {
        None => backbone.get(i),
        Some(k) => rest.get(k),
    }
}

/// The network: MobileNetV2 (`backbone`), then the extra layers and the
/// predictors (`rest`), both in [`Layout::layers`] order.
#[derive(Module, Debug)]
pub struct SsdLite {
    backbone: Vec<Unit>,
    rest: Vec<Unit>,
    #[module(skip)]
    classes: usize,
}

/// How `--init` mapped a pretrained network onto this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitReport {
    /// Convolutions whose weights came from the pretrained graph.
    pub loaded: usize,
    /// Class predictors whose rows were partly or wholly re-initialised.
    pub class_heads_reset: usize,
    /// Classes whose predictor rows were kept (background included).
    pub kept_classes: usize,
}

impl SsdLite {
    /// A freshly initialised network for `classes` classes (background
    /// included), with batch norm after every convolution but the
    /// predictors' last ones when `batch_norm`.
    pub fn new(classes: usize, batch_norm: bool, dev: &Device) -> Self {
        let layout = layout(classes);
        let heads_last: Vec<usize> = layout.heads.iter().flat_map(|h| [h.boxes[1], h.classes[1]]).collect();
        let split = layout.backbone_layers();
        let mut units: Vec<Unit> = layout
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| Unit::new(l, batch_norm && !heads_last.contains(&i), dev))
            .collect();
        let rest = units.split_off(split);
        Self { backbone: units, rest, classes }
    }

    /// The layer table this network runs.
    pub fn layout(&self) -> Layout {
        layout(self.classes)
    }

    /// Classes on the class axis.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The MobileNetV2 part (for freezing and its own learning rate).
    pub fn backbone(&self) -> &Vec<Unit> {
        &self.backbone
    }

    fn unit(&self, i: usize) -> Option<&Unit> {
        layer_unit(&self.backbone, &self.rest, i)
    }

    fn unit_mut(&mut self, i: usize) -> Option<&mut Unit> {
        let n = self.backbone.len();
        if i < n {
            self.backbone.get_mut(i)
        } else {
            self.rest.get_mut(i - n)
        }
    }

    /// Box encodings `[B, 1917, 4]` (TF's y, x, h, w order) and class logits
    /// `[B, 1917, C]` for images `[B, 3, 300, 300]` scaled to [-1, 1]. With
    /// `frozen_backbone`, MobileNetV2 runs outside autodiff: no gradient
    /// reaches it, and its graph is neither recorded nor kept (a detached
    /// but recorded graph is never freed by burn's autodiff, which ran a
    /// 24 GB machine out of memory in 45 iterations).
    pub fn forward(&self, images: Tensor<4>, frozen_backbone: bool) -> (Tensor<3>, Tensor<3>) {
        let layout = self.layout();
        let frozen = frozen_backbone.then(|| self.backbone.valid());
        let backbone: &[Unit] = frozen.as_deref().unwrap_or(&self.backbone);
        let unit = |i: usize| layer_unit(backbone, &self.rest, i);
        let mut x = if frozen_backbone { images.inner() } else { images };
        let mut kept = x.clone();
        let mut sources: Vec<Tensor<4>> = Vec::with_capacity(6);
        for step in &layout.steps {
            match *step {
                Step::Conv(i) => {
                    if let (Some(u), Some(l)) = (unit(i), layout.layers.get(i)) {
                        x = u.forward(l, x);
                    }
                }
                Step::Keep => kept = x.clone(),
                Step::AddKept => x = x.add(kept.clone()),
                Step::Source => sources.push(x.clone()),
                Step::EndBackbone if frozen_backbone => {
                    x = x.autodiff();
                    sources = sources.into_iter().map(Tensor::autodiff).collect();
                }
                Step::EndBackbone => {}
            }
        }
        let b = x.dims()[0] as i32;
        let run = |pair: [usize; 2], src: Tensor<4>, per: i32| -> Tensor<3> {
            let mut y = src;
            for i in pair {
                if let (Some(u), Some(l)) = (self.unit(i), layout.layers.get(i)) {
                    y = u.forward(l, y);
                }
            }
            y.permute([0, 2, 3, 1]).reshape([b, -1, per])
        };
        let mut locs = Vec::with_capacity(6);
        let mut confs = Vec::with_capacity(6);
        for (head, src) in layout.heads.iter().zip(sources) {
            locs.push(run(head.boxes, src.clone(), 4));
            confs.push(run(head.classes, src, self.classes as i32));
        }
        (Tensor::cat(locs, 1), Tensor::cat(confs, 1))
    }

    /// Loads every convolution the pretrained graph has under the same TF
    /// scope. `class_map[j]` is the pretrained class row that new class `j`
    /// keeps (`None`: freshly initialised), for `old_classes` pretrained
    /// classes; class predictors are rebuilt row by row from it.
    pub fn load_pretrained(
        mut self,
        pretrained: &Pretrained,
        old_classes: usize,
        class_map: &[Option<usize>],
        dev: &Device,
    ) -> Result<(Self, InitReport)> {
        if class_map.len() != self.classes {
            bail!("class map has {} entries for {} classes", class_map.len(), self.classes);
        }
        let layout = self.layout();
        let class_pointwise: Vec<usize> = layout.heads.iter().map(|h| h.classes[1]).collect();
        let classes = self.classes;
        let mut report = InitReport { kept_classes: class_map.iter().flatten().count(), ..InitReport::default() };
        for (i, l) in layout.layers.iter().enumerate() {
            let Some(found) = pretrained.conv(&l.name)? else {
                bail!("{}: not in the pretrained graph (is it an SSDLite-MobileNetV2 from the TF OD API?)", l.name);
            };
            let Some(unit) = self.unit_mut(i) else { continue };
            let want = l.weight_shape();
            if let Some(h) = class_pointwise.iter().position(|&k| k == i) {
                let anchors = layout.heads[h].anchors;
                let per_row = l.cin;
                if found.shape != [anchors * old_classes, l.cin, 1, 1] {
                    bail!(
                        "{}: pretrained shape {:?} is not {} anchors × {old_classes} classes",
                        l.name,
                        found.shape,
                        anchors
                    );
                }
                let (mut w, mut b) = unit.folded();
                let mut changed = false;
                for a in 0..anchors {
                    for (j, old) in class_map.iter().enumerate() {
                        let row = a * classes + j;
                        match old {
                            Some(o) if *o < old_classes => {
                                let src = a * old_classes + o;
                                w[row * per_row..(row + 1) * per_row]
                                    .copy_from_slice(&found.weight[src * per_row..(src + 1) * per_row]);
                                b[row] = found.bias[src];
                            }
                            _ => changed = true,
                        }
                    }
                }
                if changed || old_classes != classes {
                    report.class_heads_reset += 1;
                }
                unit.set(w, b, dev);
            } else {
                if found.shape != want {
                    bail!("{}: pretrained shape {:?}, network needs {want:?}", l.name, found.shape);
                }
                if unit.norm.is_some() {
                    bail!("--init loads batch-norm-folded weights; train without --batch-norm");
                }
                unit.set(found.weight, found.bias, dev);
            }
            report.loaded += 1;
        }
        Ok((self, report))
    }
}

/// Hands the network's (folded) weights to the ONNX writer by TF scope.
pub struct LiteWeights<'a>(pub &'a SsdLite);

impl WeightSource for LiteWeights<'_> {
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let layout = self.0.layout();
        let find = |scope: &str| layout.layers.iter().position(|l| l.name == scope).and_then(|i| self.0.unit(i));
        let found = if let Some(scope) = name.strip_suffix(".weight") {
            find(scope).map(|u| u.folded().0)
        } else if let Some(scope) = name.strip_suffix(".bias") {
            find(scope).map(|u| u.folded().1)
        } else {
            None
        };
        // A missing or mis-sized tensor would be a layout bug; zeros keep the
        // graph well-formed and the export test catches the mismatch.
        found.filter(|v| v.len() == n).unwrap_or_else(|| vec![0.0; n])
    }
}
