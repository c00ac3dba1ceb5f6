//! Writes the full-width SSD300-VGG16 layout with random weights (21
//! classes, the VOC priors) and its manifest, for timing runs:
//!
//!     cargo run --release -p ssd-onnx --example write_ssd300_vgg16 -- /tmp/vgg16.onnx

use ssd_core::manifest::ScoreActivation;
use ssd_core::priors::ssd300_voc;
use ssd_onnx::ssd::{self, RandomWeights};

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: write_ssd300_vgg16 OUT.onnx");
        std::process::exit(2);
    };
    let spec = ssd300_voc();
    let model = ssd::ssd300_vgg16(21, &spec.boxes_per_cell(), 1.0, &mut RandomWeights::new(7));
    ssd_onnx::write(&model, &out)?;
    let labels = (0..21).map(|i| format!("c{i}")).collect();
    let manifest =
        ssd::manifest("ssd300-vgg16-random", "random weights, for timing", labels, spec, ScoreActivation::Softmax);
    std::fs::write(out.with_extension("json"), manifest.to_json())?;
    eprintln!("wrote {} and its manifest", out.display());
    Ok(())
}
