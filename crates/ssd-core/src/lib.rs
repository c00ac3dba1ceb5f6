//! ssd-core: the detection library every part of ssd-cam shares.
//!
//! The prior (default box) generator, boxes and the box coder, IoU, NMS,
//! decoding raw network outputs into detections, the model manifest,
//! preprocessing, and accuracy metrics (mAP) live here once, and are used by
//! the camera app's build script and runtime, the trainer and the evaluator.
//! It depends on std, serde and thiserror only: no inference engine, no
//! training framework, no I/O beyond reading manifests (and, with the
//! `datasets` feature, Pascal VOC and COCO annotations).
//!
//! Decoding a raw SSD output:
//! ```
//! use std::borrow::Cow;
//! use ssd_core::{priors, Decoder, InputMapping, PostParams, ScoreActivation};
//!
//! let spec = priors::ssd300_voc();
//! let table = spec.generate().unwrap();
//! let labels = vec!["background".to_string(), "person".to_string()];
//! let manifest = ssd_core::manifest::ssd300_manifest("demo", "", labels, spec, ScoreActivation::Softmax);
//! let params = PostParams { score_threshold: 0.5, ..PostParams::from(manifest.defaults) };
//! let mut decoder = Decoder::new(&manifest, Cow::Owned(table.clone()), params);
//! // Zero offsets everywhere; every prior sees background but one, which is
//! // sure it sees a person.
//! let loc = vec![0.0; table.len() * 4];
//! let mut conf: Vec<f32> = (0..table.len()).flat_map(|_| [6.0, 0.0]).collect();
//! conf[2 * 100] = 0.0;
//! conf[2 * 100 + 1] = 8.0;
//! let mapping = InputMapping::stretch(640, 480, 300, 300);
//! let mut found = Vec::new();
//! decoder.decode(&loc, &conf, &mapping, &mut found).unwrap();
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].class_id, 1);
//! ```
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod boxes;
#[cfg(feature = "datasets")]
pub mod dataset;
pub mod manifest;
pub mod metrics;
pub mod mot;
pub mod nms;
pub mod postprocess;
pub mod preprocess;
pub mod priors;
pub mod resize;
pub mod rng;
pub mod scene;
pub mod track;

pub use boxes::{BBox, BoxCoder, InputMapping};
pub use manifest::{Manifest, ManifestError, ScoreActivation};
pub use nms::{nms, NmsParams};
pub use postprocess::{Decoder, Detection, DetectionFilter, PostParams};
pub use preprocess::Preprocessor;
pub use priors::{PriorSpec, PriorSpecError};
pub use track::{TrackParams, Tracker};
