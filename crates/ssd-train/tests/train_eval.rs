//! ssd-train's dataset and evaluation commands, and agreement between
//! evaluating a model directly and evaluating ssd-cam's JSON output.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use ssd_core::boxes::BBox;
use ssd_core::dataset::voc::{self, VocObject};

fn ssd_train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ssd-train")).args(args).env("RUST_LOG", "warn").output().unwrap()
}

#[test]
fn synth_writes_a_readable_voc_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    let synth = |out: &Path| {
        ssd_train(&[
            "synth",
            "--out",
            out.to_str().unwrap(),
            "--count",
            "5",
            "--seed",
            "3",
            "--size",
            "120",
            "--split",
            "val",
        ])
    };
    let out = synth(&root);
    assert!(out.status.success(), "{}", stderr(&out));
    let samples = voc::load_split(&root, "val", voc::OnBadAnnotation::Fail).unwrap();
    assert_eq!(samples.len(), 5);
    for s in &samples {
        let img = image::open(&s.image).unwrap();
        assert_eq!((img.width(), img.height()), (120, 120));
        assert!(!s.annotation.objects.is_empty());
    }
    // Same seed, same dataset.
    let again = dir.path().join("again");
    assert!(synth(&again).status.success());
    let a = std::fs::read(root.join("Annotations/val_000003.xml")).unwrap();
    let b = std::fs::read(again.join("Annotations/val_000003.xml")).unwrap();
    assert_eq!(a, b);
}

/// A VOC dataset whose ground truth is exactly what the oracle detects.
fn oracle_dataset(root: &Path, images: usize) {
    let rounded = |b: [f32; 4]| BBox::new(b[0].round(), b[1].round(), b[2].round(), b[3].round());
    let mut ids = Vec::new();
    for i in 0..images {
        let id = format!("img{i:02}");
        let img = image::RgbImage::from_pixel(300, 300, image::Rgb([60, 90, 120]));
        let objects = vec![
            VocObject { name: "person".into(), bbox: rounded(BOX_A), difficult: false },
            VocObject { name: "dog".into(), bbox: rounded(BOX_B), difficult: false },
        ];
        ssd_train::synth::write_sample(root, &id, &img, objects).unwrap();
        ids.push(id);
    }
    voc::write_split(root, "test", &ids).unwrap();
}

#[test]
fn direct_evaluation_and_ssd_cam_json_agree() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let m = model.to_str().unwrap();
    let root = dir.path().join("voc");
    oracle_dataset(&root, 4);
    let d = root.to_str().unwrap();

    let direct = ssd_train(&["eval", "--model", m, "--data", d]);
    assert!(direct.status.success(), "{}", stderr(&direct));
    let table = String::from_utf8_lossy(&direct.stdout).into_owned();
    assert!(table.contains("mAP@0.5 (VOC)") && table.contains("1.0000"), "{table}");

    let images = root.join("JPEGImages");
    let cam = ssd_cam(&["--model", m, "--source", images.to_str().unwrap(), "--headless", "--threshold", "0.01"]);
    assert!(cam.status.success(), "{}", stderr(&cam));
    let jsonl = dir.path().join("det.jsonl");
    std::fs::write(&jsonl, &cam.stdout).unwrap();
    let via_json = ssd_train(&["eval", "--model", m, "--data", d, "--detections", jsonl.to_str().unwrap()]);
    assert!(via_json.status.success(), "{}", stderr(&via_json));
    assert_eq!(String::from_utf8_lossy(&via_json.stdout), table, "both paths give the same table");
}

#[test]
fn classes_unknown_to_the_model_and_bad_annotations_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let root = dir.path().join("voc");
    oracle_dataset(&root, 2);
    let img = image::RgbImage::new(300, 300);
    let cat = vec![VocObject { name: "cat".into(), bbox: BBox::new(0.0, 0.0, 10.0, 10.0), difficult: false }];
    ssd_train::synth::write_sample(&root, "img01", &img, cat).unwrap();
    let out = ssd_train(&["eval", "--model", model.to_str().unwrap(), "--data", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("class 'cat' is not among the model's labels"), "{}", stderr(&out));

    std::fs::write(root.join("Annotations/img01.xml"), "<annotation>\n<a></b></annotation>").unwrap();
    let args = ["eval", "--model", model.to_str().unwrap(), "--data", root.to_str().unwrap()];
    let out = ssd_train(&args);
    assert!(stderr(&out).contains("img01.xml:2: malformed XML"), "{}", stderr(&out));
    let skipped = ssd_train(&[&args[..], &["--on-bad", "skip"]].concat());
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert!(stderr(&skipped).contains("skipping"));
}

#[test]
fn a_wrong_pretrained_model_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    let synth = ssd_train(&["synth", "--out", root.to_str().unwrap(), "--count", "2", "--size", "64"]);
    assert!(synth.status.success(), "{}", stderr(&synth));
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let shapes = models.join("ssd300-shapes.onnx");
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xffnot a model").unwrap();
    std::fs::copy(models.join("person-ssdlite.json"), garbage.with_extension("json")).unwrap();
    let train = |run: &str, extra: &[&str]| {
        let out = dir.path().join(run);
        let base = ["train", "--data", root.to_str().unwrap(), "--out", out.to_str().unwrap(), "--iterations", "1"];
        ssd_train(&[&base[..], extra].concat())
    };
    let cases: [(&str, Vec<&str>, &str); 5] = [
        ("a", vec!["--init", shapes.to_str().unwrap()], "not in the pretrained graph"),
        ("b", vec!["--init", garbage.to_str().unwrap()], "not an ONNX model"),
        ("c", vec!["--init", "person-ssdlite", "--arch", "ssd300-vgg16"], "--init needs --arch ssdlite-mobilenetv2"),
        ("d", vec!["--init", "person-ssdlite", "--batch-norm"], "drop --batch-norm"),
        ("e", vec!["--init", "nowhere/x.onnx"], "--init: "),
    ];
    for (run, extra, message) in cases {
        let out = train(run, &extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{extra:?}: {err}");
    }
}
