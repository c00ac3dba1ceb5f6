//! ssd-train: the host-side trainer of the SSD networks ssd-cam runs.
//!
//! Prior matching and hard negative mining, the MultiBox loss, augmentation,
//! batches, the training loop, synthetic scenes, evaluation of a model on a
//! dataset, the SSD300 and SSDLite networks in burn (SSDLite also from a
//! pretrained TF graph), ONNX export (through ssd-onnx) and
//! INT8 quantization. It runs the exported models with ssd-cam's own tract
//! runtime (a dependency in this direction keeps burn and the ONNX writer
//! out of the edge binary).
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod augment;
pub mod calibrate;
pub mod data;
pub mod detector;
pub mod evaluate;
pub mod loss;
pub mod matching;
pub mod net;
pub mod plot;
pub mod quantize;
pub mod ssdlite;
pub mod synth;
pub mod trainer;
