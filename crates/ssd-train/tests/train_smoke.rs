//! Training smoke tests, for SSD300 from scratch and SSDLite fine-tuned from
//! the shipped person detector: a few iterations on a handful of synthetic
//! images lower the loss, a resumed run takes exactly the step an
//! uninterrupted one takes, and the trained network exports to a model
//! ssd-cam runs.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use burn::prelude::Device;
use ssd_core::dataset::voc::{load_split, OnBadAnnotation};
use ssd_train::data::{labels_of, train_samples, BatchMaker};
use ssd_train::detector::{Arch, Detector};
use ssd_train::synth::{write_dataset, SynthParams};
use ssd_train::trainer::{train, Checkpoint, Decay, HistoryPoint, Progress, Schedule, Start, TrainConfig};

/// burn's device seed is process-wide: two runs initialising at once would
/// draw from one stream and neither would be reproducible.
static ONE_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Quiet;
impl Progress for Quiet {
    fn step(&mut self, _: &HistoryPoint, _: f64, _: u64) {}
}

fn dataset(root: &Path, count: u64) {
    write_dataset(root, "train", 5, count, 300, &SynthParams::default()).unwrap();
}

fn config(iterations: u64, augment: bool) -> TrainConfig {
    TrainConfig {
        arch: Arch::Ssd300Vgg16,
        scores: ssd_core::manifest::ScoreActivation::Softmax,
        init: None,
        freeze_backbone: 0,
        backbone_lr: 1.0,
        width: 0.125,
        batch: 2,
        schedule: Schedule { base: 0.01, warmup: 1, iterations, decay: Decay::Cosine },
        optimizer: Default::default(),
        momentum: 0.9,
        weight_decay: 5e-4,
        clip_norm: 10.0,
        seed: 3,
        checkpoint_every: 0,
        augment,
        batch_norm: true,
    }
}

fn batches(root: &Path, config: &TrainConfig) -> (BatchMaker, Vec<String>) {
    let voc = load_split(root, "train", OnBadAnnotation::Fail).unwrap();
    let labels = labels_of(&voc);
    let manifest = config.arch.manifest("t", "", labels.clone(), config.scores);
    let priors = ssd_runtime::baked_priors::priors_for(&manifest.priors).unwrap().into_owned();
    let samples = train_samples(&voc, &labels).unwrap();
    (BatchMaker::new(samples, &manifest, priors, config.batch, config.seed, config.augment).unwrap(), labels)
}

#[test]
fn training_lowers_the_loss_resumes_exactly_and_exports() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two images and batch 2: every step sees the same images, so the loss
    // must fall as the network fits them.
    dataset(&data, 2);
    let dev = Device::flex().autodiff();
    let stop = AtomicBool::new(false);

    let cfg = config(8, false);
    let (maker, labels) = batches(&data, &cfg);
    assert_eq!(labels[0], "background");
    let fit_dir = dir.path().join("fit");
    let fit = Checkpoint::new(&fit_dir);
    let state = train(&fit, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, None, &stop, &mut Quiet).unwrap();
    let losses: Vec<f32> = state.history.iter().map(|p| p.loss).collect();
    assert_eq!(losses.len(), 8);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[7] < 0.7 * losses[0], "loss did not fall: {losses:?}");

    // Interrupted after 2 steps and resumed: step 3 equals the uninterrupted run's.
    let cfg = config(3, true);
    let whole = Checkpoint::new(&dir.path().join("whole"));
    let (maker, _) = batches(&data, &cfg);
    let a = train(&whole, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, None, &stop, &mut Quiet).unwrap();
    let split = Checkpoint::new(&dir.path().join("split"));
    let (maker, _) = batches(&data, &cfg);
    let first =
        train(&split, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, Some(2), &stop, &mut Quiet).unwrap();
    assert_eq!(first.completed, 2);
    let (maker, _) = batches(&data, &cfg);
    let b = train(&split, Start::Resume { iterations: None }, maker, &dev, None, &stop, &mut Quiet).unwrap();
    assert_eq!(b.completed, 3);
    let (x, y) = (a.history[2].loss, b.history[2].loss);
    assert!((x - y).abs() <= 1e-5 * x.abs(), "resumed step {y} vs uninterrupted {x}");
    assert_eq!(a.history[..2], b.history[..2], "the history is carried over");
    // Resuming with a longer schedule runs the extra iterations.
    let (maker, _) = batches(&data, &cfg);
    let c = train(&split, Start::Resume { iterations: Some(4) }, maker, &dev, None, &stop, &mut Quiet).unwrap();
    assert_eq!((c.completed, c.config.schedule.iterations, c.history.len()), (4, 4, 4));

    // Export through the binary (into a folder it creates), then ssd-cam runs the model.
    let onnx = dir.path().join("exported").join("tiny.onnx");
    let out = Command::new(env!("CARGO_BIN_EXE_ssd-train"))
        .args(["export", "--run", fit_dir.to_str().unwrap(), "--out", onnx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = common::ssd_cam(&["--model", onnx.to_str().unwrap(), "--source", "demo:fps=0,frames=2", "--headless"]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    assert_eq!(common::json_lines(&run).len(), 2);
}

/// Fine-tuning as a user would: the shipped person detector's weights, the
/// shapes' classes on fresh class predictors, the backbone frozen first.
fn fine_tune_config(iterations: u64, augment: bool) -> TrainConfig {
    let person = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/person-ssdlite.onnx");
    TrainConfig {
        arch: Arch::SsdliteMobilenetv2,
        scores: ssd_core::manifest::ScoreActivation::Sigmoid,
        init: Some(person),
        freeze_backbone: 2,
        backbone_lr: 0.1,
        batch_norm: false,
        schedule: Schedule { base: 0.02, warmup: 1, iterations, decay: Decay::Cosine },
        ..config(iterations, augment)
    }
}

/// The stem convolution's weights as exported (the graph's first initializer).
fn backbone_weights(net: &Detector) -> Vec<u8> {
    net.to_onnx(1.0).graph.unwrap().initializer[0].raw_data.clone()
}

#[test]
fn ssdlite_fine_tunes_from_the_person_detector_resumes_exactly_and_exports() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 2);
    let dev = Device::flex().autodiff();
    let stop = AtomicBool::new(false);

    let cfg = fine_tune_config(6, false);
    let (maker, labels) = batches(&data, &cfg);
    let fit_dir = dir.path().join("fit");
    let fit = Checkpoint::new(&fit_dir);
    let two = train(&fit, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, Some(2), &stop, &mut Quiet).unwrap();
    let start = Detector::new(Arch::SsdliteMobilenetv2, labels.len(), 1.0, false, &dev)
        .init_from(cfg.init.as_ref().unwrap(), &labels, &dev)
        .unwrap()
        .0;
    let (frozen, _) = fit.load_model(&dev).unwrap();
    assert_eq!(backbone_weights(&frozen), backbone_weights(&start), "the backbone stays put while frozen");
    let (maker, _) = batches(&data, &cfg);
    let state = train(&fit, Start::Resume { iterations: None }, maker, &dev, None, &stop, &mut Quiet).unwrap();
    assert_eq!(two.completed, 2);
    let (trained, _) = fit.load_model(&dev).unwrap();
    assert_ne!(backbone_weights(&trained), backbone_weights(&start), "the backbone trains once unfrozen");
    let losses: Vec<f32> = state.history.iter().map(|p| p.loss).collect();
    assert_eq!(losses.len(), 6);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[5] < 0.7 * losses[0], "loss did not fall: {losses:?}");

    // Resumed after 3 steps, step 4 equals an uninterrupted run's.
    let cfg = fine_tune_config(4, true);
    let (maker, _) = batches(&data, &cfg);
    let whole = Checkpoint::new(&dir.path().join("whole"));
    let a = train(&whole, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, None, &stop, &mut Quiet).unwrap();
    let split = Checkpoint::new(&dir.path().join("split"));
    let (maker, _) = batches(&data, &cfg);
    train(&split, Start::Fresh(cfg.clone(), labels.clone()), maker, &dev, Some(3), &stop, &mut Quiet).unwrap();
    let (maker, _) = batches(&data, &cfg);
    let b = train(&split, Start::Resume { iterations: None }, maker, &dev, None, &stop, &mut Quiet).unwrap();
    let (x, y) = (a.history[3].loss, b.history[3].loss);
    assert!((x - y).abs() <= 1e-5 * x.abs(), "resumed step {y} vs uninterrupted {x}");

    let onnx = dir.path().join("lite.onnx");
    let out = Command::new(env!("CARGO_BIN_EXE_ssd-train"))
        .args(["export", "--run", fit_dir.to_str().unwrap(), "--out", onnx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = ssd_core::manifest::Manifest::from_path(&onnx.with_extension("json")).unwrap();
    assert_eq!(manifest.score_activation, ssd_core::manifest::ScoreActivation::Sigmoid);
    assert_eq!(manifest.priors.count(), 1917);
    let run = common::ssd_cam(&["--model", onnx.to_str().unwrap(), "--source", "demo:fps=0,frames=2", "--headless"]);
    assert!(run.status.success(), "{}", common::stderr(&run));
    assert_eq!(common::json_lines(&run).len(), 2);
}
