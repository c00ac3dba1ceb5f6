//! The burn network exported through the ONNX writer runs in tract with the
//! same outputs as burn's own forward pass, and ssd-cam runs the export.

#[path = "../../../tests/common/mod.rs"]
mod common;

use burn::prelude::*;
use burn::tensor::Distribution;
use ssd_core::manifest::ScoreActivation;
use ssd_core::priors::ssd300_voc;
use ssd_onnx::ssd;
use ssd_runtime::model::Model;
use ssd_train::net::{NetWeights, Ssd300, BOXES_PER_CELL};

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn exported_network_matches_burn_in_tract_and_runs_in_ssd_cam() {
    export_matches(false);
}

#[test]
fn batch_norm_is_folded_into_the_exported_convolutions() {
    export_matches(true);
}

fn export_matches(batch_norm: bool) {
    let device = Device::flex();
    let classes = 5;
    let width = 0.125;
    let mut net = Ssd300::new(classes, width, batch_norm, &device.clone().autodiff());
    if batch_norm {
        // Training-mode passes move the running statistics away from 0/1,
        // so the fold has real work to do.
        for _ in 0..3 {
            let x = Tensor::<4>::random([2, 3, 300, 300], Distribution::Normal(0.5, 2.0), &device.clone().autodiff());
            let _ = net.forward(x);
        }
    }
    net = net.valid();
    let input = Tensor::<4>::random([1, 3, 300, 300], Distribution::Uniform(-2.0, 2.0), &device);
    let pixels = input.to_data().try_to_vec::<f32>().unwrap();
    let (loc, conf) = net.forward(input);
    assert_eq!(loc.dims(), [1, 8732, 4]);
    assert_eq!(conf.dims(), [1, 8732, classes]);
    let (loc, conf) = (loc.into_data().try_to_vec::<f32>().unwrap(), conf.into_data().try_to_vec::<f32>().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("tiny.onnx");
    let proto = ssd::ssd300_vgg16(classes, &BOXES_PER_CELL, width, &mut NetWeights(&net));
    ssd_onnx::write(&proto, &onnx).unwrap();
    let labels = (0..classes).map(|i| format!("c{i}")).collect();
    let manifest = ssd::manifest("tiny", "", labels, ssd300_voc(), ScoreActivation::Softmax);
    std::fs::write(onnx.with_extension("json"), manifest.to_json()).unwrap();

    let mut model = Model::load(&onnx, &manifest, &onnx.with_extension("json")).unwrap();
    model.input_mut().unwrap().copy_from_slice(&pixels);
    let out = model.run().unwrap();
    let (tract_loc, tract_conf) = out.slices().unwrap();
    let scale = loc.iter().chain(&conf).fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 1e-3, "outputs are not trivially zero ({scale})");
    assert!(max_abs_diff(tract_loc, &loc) < 1e-4, "loc differs by {}", max_abs_diff(tract_loc, &loc));
    assert!(max_abs_diff(tract_conf, &conf) < 1e-4, "conf differs by {}", max_abs_diff(tract_conf, &conf));

    let run = common::ssd_cam(&["--model", onnx.to_str().unwrap(), "--source", "demo:fps=0,frames=2", "--headless"]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    assert_eq!(common::json_lines(&run).len(), 2);
}
