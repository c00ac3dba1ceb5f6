//! The shipped default model: its files agree with the prior table build.rs
//! baked in, ssd-cam's detections follow the demo's moving shapes, and its
//! accuracy through the binary on a held-out synthetic set does not regress
//! (nor does its INT8 form's, by more than a point).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;

use ssd_cam::source::demo::DemoSource;
use ssd_core::manifest::Manifest;
use ssd_core::scene::CLASSES;
use ssd_runtime::model::Model;
use ssd_runtime::model_search::locate_model;

const SHIPPED: &str = "ssd300-shapes";

#[test]
fn the_demo_sources_default_model_is_the_shipped_shapes_model() {
    assert_eq!(ssd_cam::DEMO_MODEL, SHIPPED);
}

#[test]
fn shipped_files_match_the_baked_prior_table_and_load() {
    let paths = locate_model(&common::shipped(SHIPPED)).unwrap();
    let manifest = Manifest::from_path(&paths.manifest).unwrap();
    let baked = ssd_runtime::baked_priors::builtin(&manifest.priors).expect("build.rs baked the manifest's priors");
    assert_eq!(baked.boxes.len(), 8732);
    assert_eq!(baked.boxes.len(), manifest.priors.count());
    assert_eq!(manifest.outputs.boxes.0[0].shape, vec![1, 8732, 4]);
    assert_eq!(manifest.outputs.scores.0[0].shape, vec![1, 8732, 1 + CLASSES.len()]);
    let mut labels = manifest.labels[1..].to_vec();
    labels.sort();
    let mut classes: Vec<String> = CLASSES.iter().map(|c| c.to_string()).collect();
    classes.sort();
    assert_eq!(labels, classes, "the model detects the demo's shape classes");
    // Loading checks the graph's output shapes against the manifest.
    Model::load(&paths.onnx, &manifest, &paths.manifest).unwrap();
    let size = std::fs::metadata(&paths.onnx).unwrap().len();
    assert!(size < 8 << 20, "small enough for git: {size} bytes");
}

#[test]
fn detections_follow_the_demo_shapes() {
    let (frames, seed) = (24u64, 5u64);
    let spec = format!("demo:fps=0,frames={frames},seed={seed}");
    let run = common::ssd_cam(&["--source", &spec, "--headless"]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    let lines = common::json_lines(&run);
    assert_eq!(lines.len(), frames as usize);
    let labels = Manifest::from_path(&locate_model(&common::shipped(SHIPPED)).unwrap().manifest).unwrap().labels;
    let demo = DemoSource::new(640, 480, 0.0, seed, None);
    let (mut shapes, mut found) = (0, 0);
    for (t, line) in lines.iter().enumerate() {
        let dets = line["detections"].as_array().unwrap();
        for (class, truth) in demo.layout(t as u64) {
            shapes += 1;
            let hit = dets.iter().any(|d| {
                let [x1, y1, x2, y2] = common::bbox(d);
                let b = ssd_core::boxes::BBox::new(x1, y1, x2, y2);
                d["label"].as_str() == Some(CLASSES[class]) && b.iou(&truth) >= 0.5
            });
            found += usize::from(hit);
        }
        assert!(dets.iter().all(|d| labels.iter().any(|l| Some(l.as_str()) == d["label"].as_str())));
    }
    // Shapes can overlap and hide one another; most must still be found.
    assert!(found * 10 >= shapes * 8, "found {found} of {shapes} shapes");
}

#[test]
fn held_out_accuracy_through_the_binary() {
    use ssd_core::dataset::voc::{load_split, OnBadAnnotation};
    use ssd_train::evaluate::evaluate_jsonl;
    use ssd_train::synth::{write_dataset, SynthParams};

    // Seed 777 is never used for training (see models/ssd300-shapes.md).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_dataset(root, "test", 777, 120, 300, &SynthParams::default()).unwrap();
    let images = root.join("JPEGImages");
    let samples = load_split(root, "test", OnBadAnnotation::Fail).unwrap();
    let labels = Manifest::from_path(&locate_model(&common::shipped(SHIPPED)).unwrap().manifest).unwrap().labels;
    let map = |model: &str| {
        let run = common::ssd_cam(&[
            "--model",
            model,
            "--source",
            images.to_str().unwrap(),
            "--headless",
            "--threshold",
            "0.01",
        ]);
        assert!(run.status.success(), "{model}: {}: {}", run.status, common::stderr(&run));
        let jsonl = root.join(format!("{model}.jsonl"));
        std::fs::write(&jsonl, &run.stdout).unwrap();
        let acc = evaluate_jsonl(Path::new(&jsonl), &samples, &labels).unwrap();
        assert_eq!(acc.images, 120);
        eprintln!("{model}: VOC mAP@0.5 on the CI subset: {:.4} (COCO AP {:.4})", acc.voc.map, acc.coco);
        acc.voc.map
    };
    let float = map(SHIPPED);
    // The bar for this subset. The model in models/ today reaches
    // 0.854 here (0.826 on the 500-image held-out set; see
    // models/ssd300-shapes.md). Inference is deterministic on one machine,
    // so the small margin does not make the test flaky.
    const FLOOR: f64 = 0.85;
    assert!(float >= FLOOR, "VOC mAP@0.5 {float:.4} on the CI held-out subset, below {FLOOR}");
    // The INT8 model ships only because it loses at most one point.
    let int8 = map(&format!("{SHIPPED}.int8"));
    assert!(int8 >= float - 0.01, "INT8 mAP@0.5 {int8:.4} is more than a point below f32's {float:.4}");
}
