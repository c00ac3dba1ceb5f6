//! Annotated datasets (feature `datasets`): the Pascal VOC reader and writer
//! and the COCO JSON reader, which give the ground truth the metrics and the
//! trainer work from.

pub mod coco;
pub mod voc;
