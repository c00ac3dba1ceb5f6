//! Model loading on arbitrary bytes as the ONNX file, checked against the
//! shipped model's manifest: a clear error or a model, never a panic or an
//! unbounded allocation.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ssd_core::manifest::Manifest;
use ssd_cam::model::Model;

const MANIFEST: &str = include_str!("../../models/ssd300-shapes.json");

fn setup() -> &'static (Manifest, PathBuf) {
    static SETUP: OnceLock<(Manifest, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let manifest = Manifest::from_json(MANIFEST, Path::new("ssd300-shapes.json")).expect("shipped manifest");
        let file = std::env::temp_dir().join(format!("ssd-cam-fuzz-{}.onnx", std::process::id()));
        (manifest, file)
    })
}

fuzz_target!(|data: &[u8]| {
    let (manifest, file) = setup();
    std::fs::write(file, data).expect("temp file");
    let _ = Model::load(file, manifest, Path::new("ssd300-shapes.json"));
});
