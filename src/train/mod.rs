//! The host-side trainer's building blocks (feature `train`): prior matching
//! and hard negative mining, augmentation, the synthetic scene generator, the
//! Pascal VOC reader and writer, evaluation, and the SSD300 network in burn.
//! The loss and the training loop build on them.

pub mod augment;
pub mod evaluate;
pub mod matching;
pub mod net;
pub mod synth;
pub mod voc;
