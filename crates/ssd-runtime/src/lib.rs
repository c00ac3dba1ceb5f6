//! ssd-runtime: what the detector (ssd-cam) and the trainer (ssd-train) both
//! need to run a model, and nothing of the edge application's network,
//! window or camera stack.
//!
//! - [`model`]: an ONNX SSD loaded, checked against its manifest and run by
//!   a backend (tract, or ONNX Runtime with the `onnxruntime` feature), one
//!   state per inference thread; `onnxruntime` (with that feature) finds ONNX Runtime's library;
//! - [`model_search`]: `--model NAME|PATH` to the network and its manifest;
//! - [`baked_priors`]: the prior tables computed at build time (build.rs,
//!   with ssd-core's generator) for the shipped models;
//! - [`source`] and [`images`]: the frame source trait, and still images as
//!   a source (the trainer's calibration reads them too);
//! - [`draw`]: boxes, labels and plots on RGB buffers, with an 8x8 font;
//! - [`signal`]: Ctrl-C and SIGTERM as a stop flag.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod baked_priors;
pub mod draw;
pub mod images;
pub mod model;
pub mod model_search;
#[cfg(feature = "onnxruntime")]
pub mod onnxruntime;
pub mod signal;
pub mod source;
