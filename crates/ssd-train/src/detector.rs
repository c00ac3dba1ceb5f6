//! The networks ssd-train trains, behind one type: the paper's SSD300-VGG16
//! and the TF Object Detection API's SSDLite-MobileNetV2. The trainer,
//! checkpoints and export go through here; each architecture brings its own
//! manifest (input scaling, priors, box coding), so matching, loss,
//! augmentation and evaluation work from whatever prior spec it describes.

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Gradients;
use serde::{Deserialize, Serialize};
use ssd_core::manifest::{Manifest, ScoreActivation};
use ssd_onnx::pretrained::Pretrained;
use tract_onnx::pb;

use super::net::{manifest_for as vgg_manifest, NetWeights, Ssd300, BOXES_PER_CELL};
use super::ssdlite::{InitReport, LiteWeights, SsdLite};

/// Network architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// SSD300 with a VGG16 backbone, as in the paper (8732 priors).
    #[default]
    Ssd300Vgg16,
    /// SSDLite with MobileNetV2, as in the TF OD API (1917 anchors).
    SsdliteMobilenetv2,
}

impl Arch {
    /// The score activation the architecture trains with unless told
    /// otherwise: softmax for the paper's SSD, sigmoid for the TF network
    /// (whose pretrained class predictors are sigmoid).
    pub fn default_scores(self) -> ScoreActivation {
        match self {
            Arch::Ssd300Vgg16 => ScoreActivation::Softmax,
            Arch::SsdliteMobilenetv2 => ScoreActivation::Sigmoid,
        }
    }

    /// The manifest of a network of this architecture (what the runtime and
    /// the batch maker need: input, priors, box coding, scores).
    pub fn manifest(self, name: &str, description: &str, labels: Vec<String>, scores: ScoreActivation) -> Manifest {
        match self {
            Arch::Ssd300Vgg16 => {
                let mut m = vgg_manifest(name, description, labels);
                m.score_activation = scores;
                m
            }
            Arch::SsdliteMobilenetv2 => ssd_core::manifest::ssdlite_manifest(name, description, labels, scores),
        }
    }
}

/// A network of either architecture.
// One per run, moved once per optimiser step: a kilobyte copy beside a
// training step's seconds, and burn's Module derive does not see through a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Detector {
    /// SSD300-VGG16.
    Vgg(Ssd300),
    /// SSDLite-MobileNetV2.
    Lite(SsdLite),
}

impl Detector {
    /// A freshly initialised network (`width` slims SSD300 only).
    pub fn new(arch: Arch, classes: usize, width: f32, batch_norm: bool, dev: &Device) -> Self {
        match arch {
            Arch::Ssd300Vgg16 => Detector::Vgg(Ssd300::new(classes, width, batch_norm, dev)),
            Arch::SsdliteMobilenetv2 => Detector::Lite(SsdLite::new(classes, batch_norm, dev)),
        }
    }

    /// Box offsets `[B, P, 4]` and class logits `[B, P, C]`; with
    /// `frozen_backbone`, no gradient reaches the backbone (SSDLite only).
    pub fn forward(&self, images: Tensor<4>, frozen_backbone: bool) -> (Tensor<3>, Tensor<3>) {
        match self {
            Detector::Vgg(n) => n.forward(images),
            Detector::Lite(n) => n.forward(images, frozen_backbone),
        }
    }

    /// Classes on the class axis.
    pub fn classes(&self) -> usize {
        match self {
            Detector::Vgg(n) => n.classes(),
            Detector::Lite(n) => n.classes(),
        }
    }

    /// Takes the backbone's gradients out of `grads` (SSDLite only; `None`
    /// for SSD300, whose backbone trains with the rest).
    pub fn take_backbone_grads(&self, grads: &mut Gradients) -> Option<GradientsParams> {
        match self {
            Detector::Vgg(_) => None,
            Detector::Lite(n) => Some(GradientsParams::from_module(grads, n.backbone())),
        }
    }

    /// The network as an ONNX graph for ssd-cam (batch norms folded).
    pub fn to_onnx(&self, width: f32) -> pb::ModelProto {
        match self {
            Detector::Vgg(n) => ssd_onnx::ssd::ssd300_vgg16(n.classes(), &BOXES_PER_CELL, width, &mut NetWeights(n)),
            Detector::Lite(n) => ssd_onnx::ssdlite::ssdlite_mobilenet_v2(&n.layout(), &mut LiteWeights(n)),
        }
    }

    /// Starts from a pretrained SSDLite-MobileNetV2 (`.onnx` with its
    /// manifest next to it): every convolution loads by TF scope; classes
    /// that the pretrained manifest also names keep their predictor rows,
    /// the others start fresh.
    pub fn init_from(self, onnx: &Path, labels: &[String], dev: &Device) -> Result<(Self, InitReport)> {
        let Detector::Lite(net) = self else {
            bail!("--init needs --arch ssdlite-mobilenetv2 (pretrained SSD300-VGG16 weights are not supported)");
        };
        let json = onnx.with_extension("json");
        let old = Manifest::from_path(&json).with_context(|| format!("--init: the manifest of {}", onnx.display()))?;
        let pretrained = Pretrained::open(onnx).with_context(|| format!("--init {}", onnx.display()))?;
        let old_bg = old.background_index.unwrap_or(0);
        let map: Vec<Option<usize>> = labels
            .iter()
            .enumerate()
            .map(|(j, l)| if j == 0 { Some(old_bg) } else { old.labels.iter().position(|o| o == l) })
            .collect();
        let (net, report) = net.load_pretrained(&pretrained, old.labels.len(), &map, dev)?;
        Ok((Detector::Lite(net), report))
    }
}
