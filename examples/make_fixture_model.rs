//! Writes `models/ssd300-fixture.onnx` and its manifest: the stand-in default
//! model until a trained one ships. Its outputs ignore the image and always
//! decode to the same three VOC boxes, which makes it a fixture for the whole
//! runtime path (priors, decoding, NMS, scaling, JSON), not a detector.
//!
//! `cargo run --example make_fixture_model [OUT_DIR]`

use ssd_cam::manifest::ScoreActivation;
use ssd_cam::onnx::ssd::{self, OracleTarget};
use ssd_cam::priors::ssd300_voc;

const VOC: [&str; 21] = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "models".into());
    let spec = ssd300_voc();
    let at = |layer, row, col, b| spec.index_of(layer, row, col, b).ok_or("prior index out of range");
    let targets = [
        // A person on the 19x19 map, a dog on 10x10, a car on 5x5, off-centre and resized.
        OracleTarget { prior: at(1, 9, 6, 2)?, class: 15, logit: 6.0, offsets: [0.5, -0.3, 0.2, 0.1] },
        OracleTarget { prior: at(2, 6, 7, 0)?, class: 12, logit: 4.0, offsets: [0.0, 0.0, 0.0, 0.0] },
        OracleTarget { prior: at(3, 1, 1, 1)?, class: 7, logit: 5.0, offsets: [-1.0, 0.5, -0.5, 0.0] },
    ];
    let model = ssd::oracle(spec.count(), VOC.len(), 8.0, &targets);
    let manifest = ssd::manifest(
        "ssd300-fixture",
        "Fixture, not a detector: an SSD300-shaped ONNX graph whose outputs ignore the image and always decode to the same three VOC boxes. Written by `cargo run --example make_fixture_model`.",
        VOC.iter().map(|s| s.to_string()).collect(),
        spec,
        ScoreActivation::Softmax,
    );
    let dir = std::path::Path::new(&out);
    ssd_cam::onnx::write(&model, &dir.join("ssd300-fixture.onnx"))?;
    std::fs::write(dir.join("ssd300-fixture.json"), manifest.to_json() + "\n")?;
    eprintln!("wrote {}/ssd300-fixture.{{onnx,json}}", dir.display());
    Ok(())
}
