//! ssd-cam: real-time SSD object detection for edge boards.
//!
//! Frames come from a [`source`], run through an SSD network with tract
//! ([`model`]), are decoded against the default boxes baked in at build time
//! ([`baked_priors`]) with [`ssd_core`]'s decoder and NMS, and written by a
//! [`sink`]. The [`pipeline`] runs those stages on their threads (inference
//! on several workers), gives detections track ids and turns tracks into
//! [`events`] (written on stdout, as snapshots or over [`mqtt`]); [`app`] wires them from the command line ([`cli`]).
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod bench;
pub mod cli;
pub mod clips;
pub mod clock;
pub mod config;
pub mod events;
#[cfg(feature = "failpoints")]
pub mod failpoint;
pub mod filters;
pub mod gate;
pub mod inspect;
pub mod jpeg;
pub mod motion;
pub mod mqtt;
pub mod net;
pub mod notify;
pub mod overlay;
pub mod pipeline;
pub mod records;
pub mod regions;
pub mod retention;
pub mod run_file;
pub mod secrets;
pub mod settings_reference;
pub mod sink;
pub mod source;
pub mod store;
pub mod switches;
pub mod values;
pub mod web;
pub mod zones;

pub use model_search::{default_model, DEMO_MODEL, REAL_MODEL};
pub use ssd_runtime::{baked_priors, draw, model, model_search};
