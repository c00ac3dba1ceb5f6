//! The host-side trainer (feature `train`): prior matching and hard negative
//! mining, the MultiBox loss, augmentation, batches, the training loop, the
//! synthetic scene generator, the Pascal VOC reader and writer, evaluation,
//! and the SSD300 network in burn. The dataset readers (`voc`, `coco`) need
//! only the `datasets` feature.

#[cfg(feature = "train")]
pub mod augment;
#[cfg(feature = "train")]
pub mod calibrate;
pub mod coco;
#[cfg(feature = "train")]
pub mod data;
#[cfg(feature = "train")]
pub mod evaluate;
#[cfg(feature = "train")]
pub mod loss;
#[cfg(feature = "train")]
pub mod matching;
#[cfg(feature = "train")]
pub mod net;
#[cfg(feature = "train")]
pub mod plot;
#[cfg(feature = "train")]
pub mod synth;
#[cfg(feature = "train")]
pub mod trainer;
pub mod voc;
