//! The host-side trainer (feature `train`): prior matching and hard negative
//! mining, the MultiBox loss, augmentation, batches, the training loop, the
//! synthetic scene generator, the Pascal VOC reader and writer, evaluation,
//! and the SSD300 network in burn.

pub mod augment;
pub mod calibrate;
pub mod coco;
pub mod data;
pub mod evaluate;
pub mod loss;
pub mod matching;
pub mod net;
pub mod plot;
pub mod synth;
pub mod trainer;
pub mod voc;
