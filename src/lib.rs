//! ssd-cam: real-time SSD object detection for edge boards.
//!
//! Frames come from a [`source`], run through an SSD network with tract
//! ([`model`]), are decoded against the default boxes baked in at build time
//! ([`priors`], [`prior_table`]), filtered by [`nms`] and written by a [`sink`].
//! The [`pipeline`] runs those stages on three threads.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod bench;
pub mod boxes;
pub mod cli;
pub mod draw;
pub mod eval;
pub mod inspect;
pub mod manifest;
pub mod model;
pub mod nms;
pub mod onnx;
pub mod overlay;
pub mod pipeline;
pub mod postprocess;
pub mod preprocess;
pub mod prior_table;
pub mod priors;
pub mod resize;
pub mod shapes;
pub mod sink;
pub mod source;
#[cfg(feature = "datasets")]
pub mod train;

/// The model `--model` uses when none is given.
pub const DEFAULT_MODEL: &str = "ssd300-shapes";
