//! `ssd-train quantize`: the shipped model calibrated on the repo's
//! calibration images gives an INT8 model that ssd-cam runs with the float
//! model's detections, and bad calibration input is a one-line error.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use ssd_core::boxes::BBox;
use ssd_train::synth::{write_dataset, SynthParams};

fn ssd_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssd-train")).args(args).env("RUST_LOG", "warn").output().unwrap()
}

fn calibration_dir() -> String {
    common::repo_root().join("calibration").display().to_string()
}

/// Detections scoring at least `min` as (class, score, box), per frame.
fn detections(out: &Output, min: f64) -> Vec<Vec<(u64, f64, BBox)>> {
    json_lines(out)
        .iter()
        .map(|frame| {
            frame["detections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["score"].as_f64().unwrap() >= min)
                .map(|d| {
                    let [x1, y1, x2, y2] = bbox(d);
                    (d["class_id"].as_u64().unwrap(), d["score"].as_f64().unwrap(), BBox::new(x1, y1, x2, y2))
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_int8_model_finds_what_the_float_model_finds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shapes.int8.onnx");
    let q = ssd_train(&[
        "quantize",
        "--model",
        "ssd300-shapes",
        "--calibration",
        &calibration_dir(),
        "--out",
        out.to_str().unwrap(),
        "--max-images",
        "8",
    ]);
    assert!(q.status.success(), "{}", stderr(&q));
    let manifest = ssd_core::manifest::Manifest::from_path(&out.with_extension("json")).unwrap();
    assert_eq!(manifest.name, "shapes.int8");
    assert!(manifest.description.contains("8 calibration images"), "{}", manifest.description);
    let ops = quantized_ops(&out);
    assert!(ops.iter().filter(|op| *op == "QLinearConv").count() >= 30, "{ops:?}");
    assert!(!ops.iter().any(|op| op == "Conv"), "{ops:?}");

    // Held-out scenes (the seed of the shipped model's test set).
    let data = dir.path().join("scenes");
    write_dataset(&data, "test", 9000, 12, 300, &SynthParams::default()).unwrap();
    let images = data.join("JPEGImages");
    let run = |model: &str| {
        let o = ssd_cam(&["--model", model, "--source", images.to_str().unwrap(), "--headless", "--threshold", "0.3"]);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    let float = detections(&run("ssd300-shapes"), 0.6);
    let int8 = detections(&run(out.to_str().unwrap()), 0.3);
    assert_eq!(float.len(), 12);
    assert_eq!(int8.len(), 12);
    let mut matched = 0;
    for (f, q) in float.iter().zip(&int8) {
        for (class, score, b) in f {
            let found = q.iter().any(|(c, s, qb)| c == class && (s - score).abs() < 0.2 && b.iou(qb) > 0.8);
            assert!(found, "float detection {class} {score} {b:?} has no int8 counterpart in {q:?}");
            matched += 1;
        }
    }
    assert!(matched >= 12, "only {matched} confident float detections: the comparison says little");
}

fn quantized_ops(onnx: &Path) -> Vec<String> {
    use tract_onnx::prelude::Framework;
    let proto = tract_onnx::onnx().proto_model_for_path(onnx).unwrap();
    proto.graph.unwrap().node.into_iter().map(|n| n.op_type).collect()
}

#[test]
fn bad_calibration_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.int8.onnx");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("a.jpg"), b"not a jpeg").unwrap();
    for (calibration, model, want) in [
        (empty.to_str().unwrap(), "ssd300-shapes", "no images"),
        ("/nonexistent/calibration", "ssd300-shapes", "/nonexistent/calibration"),
        (junk.to_str().unwrap(), "ssd300-shapes", "none of the images could be decoded"),
        (&calibration_dir(), "no-such-model", "model 'no-such-model' not found"),
    ] {
        let o =
            ssd_train(&["quantize", "--model", model, "--calibration", calibration, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{calibration} {model}: {}", stderr(&o));
        let err = stderr(&o);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(want), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "a failed run left {}", out.display());
    }
    let o = ssd_train(&["quantize", "--model", "ssd300-shapes", "--out", "x.onnx", "--percentile", "20"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
