//! SSDLite-MobileNetV2 in burn against the shipped TF person detector: the
//! weights load by TF scope and burn's forward equals tract's run of the
//! original ONNX; the class predictors are rebuilt for other classes; the
//! export runs in ssd-cam with burn's outputs.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use ssd_core::manifest::{Manifest, ScoreActivation};
use ssd_core::preprocess::Preprocessor;
use ssd_onnx::pretrained::Pretrained;
use ssd_onnx::ssdlite::ssdlite_mobilenet_v2;
use ssd_runtime::model::Model;
use ssd_train::ssdlite::{LiteWeights, SsdLite};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The astronaut photo preprocessed as ssd-cam does for the person model.
fn photo(manifest: &Manifest) -> Vec<f32> {
    let img = image::open(root().join("models/person-ssdlite-demo-input.jpg")).unwrap().into_rgb8();
    let mut input = vec![0f32; 3 * 300 * 300];
    Preprocessor::new(manifest, false).run(img.as_raw(), img.width(), img.height(), &mut input).unwrap();
    input
}

/// tract's outputs for `pixels` through the ONNX at `onnx`.
fn tract_run(onnx: &Path, manifest: &Manifest, pixels: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut model = Model::load(onnx, manifest, &onnx.with_extension("json")).unwrap();
    model.input_mut().unwrap().copy_from_slice(pixels);
    let out = model.run().unwrap();
    let (loc, conf) = out.slices().unwrap();
    (loc.to_vec(), conf.to_vec())
}

fn burn_run(net: &SsdLite, pixels: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let dev = Device::flex();
    let x = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [1, 3, 300, 300]), &dev);
    let (loc, conf) = net.forward(x, false);
    (loc.into_data().try_to_vec::<f32>().unwrap(), conf.into_data().try_to_vec::<f32>().unwrap())
}

fn person_model() -> (PathBuf, Manifest, Pretrained) {
    let onnx = root().join("models/person-ssdlite.onnx");
    let manifest = Manifest::from_path(&onnx.with_extension("json")).unwrap();
    let pretrained = Pretrained::open(&onnx).unwrap();
    (onnx, manifest, pretrained)
}

#[test]
fn pretrained_weights_give_the_person_detectors_outputs() {
    let (onnx, manifest, pretrained) = person_model();
    let dev = Device::flex();
    let (net, report) =
        SsdLite::new(2, false, &dev).load_pretrained(&pretrained, 2, &[Some(0), Some(1)], &dev).unwrap();
    assert_eq!(report.loaded, 88, "every convolution comes from the graph");
    assert_eq!(report.class_heads_reset, 0);
    let pixels = photo(&manifest);
    let (loc, conf) = burn_run(&net, &pixels);
    let (tl, tc) = tract_run(&onnx, &manifest, &pixels);
    assert_eq!(loc.len(), 1917 * 4);
    let dl = max_abs_diff(&loc, &tl);
    let dc = max_abs_diff(&conf, &tc);
    eprintln!("max |burn - tract|: loc {dl:.2e}, conf {dc:.2e}");
    assert!(dl < 1e-4, "loc differs by {dl}");
    assert!(dc < 1e-4, "conf differs by {dc}");
    // The astronaut is found: some anchor's person logit is confidently high.
    let best = conf.chunks(2).map(|c| c[1]).fold(f32::MIN, f32::max);
    assert!(best > 2.0, "best person logit {best}");
}

#[test]
fn other_classes_keep_the_person_row_and_reset_the_rest() {
    let (_, manifest, pretrained) = person_model();
    let dev = Device::flex();
    // background, cat, person: person keeps the pretrained row 1.
    let (net, report) =
        SsdLite::new(3, false, &dev).load_pretrained(&pretrained, 2, &[Some(0), None, Some(1)], &dev).unwrap();
    assert_eq!(report.class_heads_reset, 6);
    assert_eq!(report.kept_classes, 2);
    let (orig, _) = SsdLite::new(2, false, &dev).load_pretrained(&pretrained, 2, &[Some(0), Some(1)], &dev).unwrap();
    let pixels = photo(&manifest);
    let (loc3, conf3) = burn_run(&net, &pixels);
    let (loc2, conf2) = burn_run(&orig, &pixels);
    assert!(max_abs_diff(&loc3, &loc2) < 1e-6, "box predictors are untouched");
    let person3: Vec<f32> = conf3.chunks(3).map(|c| c[2]).collect();
    let person2: Vec<f32> = conf2.chunks(2).map(|c| c[1]).collect();
    assert!(max_abs_diff(&person3, &person2) < 1e-6);
    let cat: Vec<f32> = conf3.chunks(3).map(|c| c[1]).collect();
    assert!(max_abs_diff(&cat, &person2) > 0.1, "the new class starts fresh");
}

#[test]
fn export_runs_in_ssd_cam_with_burns_outputs() {
    let (_, manifest, pretrained) = person_model();
    let dev = Device::flex();
    let (net, _) =
        SsdLite::new(3, false, &dev).load_pretrained(&pretrained, 2, &[Some(0), None, Some(1)], &dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("lite.onnx");
    ssd_onnx::write(&ssdlite_mobilenet_v2(&net.layout(), &mut LiteWeights(&net)), &onnx).unwrap();
    let labels = vec!["background".to_owned(), "cat".to_owned(), "person".to_owned()];
    let exported = ssd_core::manifest::ssdlite_manifest("lite", "", labels, ScoreActivation::Sigmoid);
    std::fs::write(onnx.with_extension("json"), exported.to_json()).unwrap();
    let pixels = photo(&manifest);
    let (loc, conf) = burn_run(&net, &pixels);
    let (tl, tc) = tract_run(&onnx, &exported, &pixels);
    assert!(max_abs_diff(&loc, &tl) < 1e-4, "loc differs by {}", max_abs_diff(&loc, &tl));
    assert!(max_abs_diff(&conf, &tc) < 1e-4, "conf differs by {}", max_abs_diff(&conf, &tc));

    let photo = root().join("models/person-ssdlite-demo-input.jpg");
    let run = common::ssd_cam(&[
        "--model",
        onnx.to_str().unwrap(),
        "--source",
        photo.to_str().unwrap(),
        "--headless",
        "--classes",
        "person",
    ]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    let lines = common::json_lines(&run);
    assert_eq!(lines.len(), 1);
    let dets = lines[0]["detections"].as_array().unwrap();
    assert!(dets.iter().any(|d| d["label"] == "person"), "{dets:?}");
}
