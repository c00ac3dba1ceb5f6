//! The host-side trainer's building blocks (feature `train`). Only the parts
//! that need no deep-learning framework live here so far: prior matching and
//! hard negative mining, the synthetic scene generator and the Pascal VOC
//! reader and writer. The burn network, loss and training loop build on them.

pub mod augment;
pub mod evaluate;
pub mod matching;
pub mod synth;
pub mod voc;
