//! Accuracy of a model on a VOC-layout dataset, either by running the
//! model here (the same preprocessing and decoding as ssd-cam) or from
//! ssd-cam's own `--headless` JSON lines.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::plot::{Chart, Series};
use ssd_core::boxes::BBox;
use ssd_core::dataset::voc::VocSample;
use ssd_core::manifest::Manifest;
use ssd_core::metrics::{coco_map, map_by_size, voc_map, GroundTruth, Prediction, Report, SIZES};
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;
use ssd_runtime::model::Model;
use ssd_runtime::model_search::locate_model;

/// VOC and COCO figures for one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    /// VOC mAP@0.5 with per-class AP.
    pub voc: Report,
    /// COCO AP@[.5:.95].
    pub coco: f64,
    /// Images evaluated.
    pub images: usize,
    /// (VOC mAP@0.5, COCO AP) per COCO size range ([`SIZES`] order); `None`
    /// where no object has that size.
    pub by_size: Vec<Option<(f64, f64)>>,
}

/// Ground truth of the samples with class names mapped to label indices.
pub fn ground_truth(samples: &[VocSample], labels: &[String]) -> Result<Vec<GroundTruth>> {
    let mut gts = Vec::new();
    for (image, s) in samples.iter().enumerate() {
        for o in &s.annotation.objects {
            let class = labels.iter().position(|l| l == &o.name).with_context(|| {
                format!("{}: class '{}' is not among the model's labels", s.image.display(), o.name)
            })?;
            gts.push(GroundTruth { image, class: class as u32, bbox: o.bbox, difficult: o.difficult });
        }
    }
    Ok(gts)
}

fn accuracy(preds: &[Prediction], gts: &[GroundTruth], images: usize) -> Accuracy {
    let by_size = SIZES.iter().map(|&(_, lo, hi)| map_by_size(preds, gts, 0.5, lo, hi)).collect();
    Accuracy { voc: voc_map(preds, gts, 0.5), coco: coco_map(preds, gts), images, by_size }
}

/// Runs `model` (a `--model` argument) over the samples at a low score
/// threshold, as mAP needs the whole precision-recall curve.
pub fn evaluate_model(model: &str, samples: &[VocSample], score_threshold: f32) -> Result<Accuracy> {
    let paths = locate_model(model).map_err(anyhow::Error::msg)?;
    let manifest = Manifest::from_path(&paths.manifest)?;
    let priors = ssd_runtime::baked_priors::priors_for(&manifest.priors)?;
    let mut net = Model::load(&paths.onnx, &manifest, &paths.manifest)?;
    let mut pre = Preprocessor::new(&manifest, false);
    let params = PostParams { score_threshold, ..PostParams::from(manifest.defaults) };
    let mut decoder = Decoder::new(&manifest, priors, params);
    let gts = ground_truth(samples, &manifest.labels)?;
    let mut preds = Vec::new();
    let mut detections = Vec::new();
    for (image, s) in samples.iter().enumerate() {
        let img = image::open(&s.image).with_context(|| format!("{}", s.image.display()))?.into_rgb8();
        let (w, h) = img.dimensions();
        let mapping = pre.run(img.as_raw(), w, h, net.input_mut()?)?;
        let out = net.run()?;
        let (boxes, scores) = out.slices()?;
        decoder.decode(boxes, scores, &mapping, &mut detections)?;
        preds.extend(detections.iter().map(|d| Prediction { image, class: d.class_id, score: d.score, bbox: d.bbox }));
    }
    Ok(accuracy(&preds, &gts, samples.len()))
}

/// Scores ssd-cam's JSON lines against the samples: line `i` (by its
/// `frame` field) is the i-th image, as `ssd-cam --source DIR` reads a
/// directory in sorted order. `samples` must be in that order too.
pub fn evaluate_jsonl(jsonl: &Path, samples: &[VocSample], labels: &[String]) -> Result<Accuracy> {
    let text = std::fs::read_to_string(jsonl).with_context(|| format!("{}", jsonl.display()))?;
    let gts = ground_truth(samples, labels)?;
    let mut preds = Vec::new();
    let mut frames = 0;
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}: not JSON", jsonl.display(), n + 1))?;
        let image =
            v["frame"].as_u64().with_context(|| format!("{}:{}: no frame index", jsonl.display(), n + 1))? as usize;
        if image >= samples.len() {
            bail!("{}:{}: frame {image} but the dataset has {} images", jsonl.display(), n + 1, samples.len());
        }
        frames += 1;
        for d in v["detections"].as_array().into_iter().flatten() {
            let b = &d["bbox"];
            let num = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN) as f32;
            preds.push(Prediction {
                image,
                class: d["class_id"].as_u64().unwrap_or(u64::MAX) as u32,
                score: num(&d["score"]),
                bbox: BBox::new(num(&b["x1"]), num(&b["y1"]), num(&b["x2"]), num(&b["y2"])),
            });
        }
    }
    if frames != samples.len() {
        bail!("{} has {frames} frames but the dataset has {} images", jsonl.display(), samples.len());
    }
    Ok(accuracy(&preds, &gts, samples.len()))
}

/// The per-class table printed by `ssd-train eval`.
pub fn table(acc: &Accuracy, labels: &[String]) -> String {
    let mut s = format!("{:<16} {:>8} {:>8}\n", "class", "objects", "AP@0.5");
    for c in &acc.voc.per_class {
        let name = labels.get(c.class as usize).map_or("?", String::as_str);
        s += &format!("{name:<16} {:>8} {:>8.4}\n", c.positives, c.ap);
    }
    s += &format!("{:<16} {:>8} {:>8.4}\n", "mAP@0.5 (VOC)", "", acc.voc.map);
    s += &format!("{:<16} {:>8} {:>8.4}\n", "AP@[.5:.95]", "", acc.coco);
    s += &format!("\n{:<16} {:>8} {:>12}\n", "size (px²)", "AP@0.5", "AP@[.5:.95]");
    for ((name, ..), v) in SIZES.iter().zip(&acc.by_size) {
        match v {
            Some((voc, coco)) => s += &format!("{name:<16} {voc:>8.4} {coco:>12.4}\n"),
            None => s += &format!("{name:<16} {:>8} {:>12}\n", "-", "-"),
        }
    }
    s
}

/// Precision against recall at IoU 0.5, one line per class.
pub fn pr_chart(acc: &Accuracy, labels: &[String]) -> Chart {
    let series = acc
        .voc
        .per_class
        .iter()
        .map(|c| Series {
            name: format!("{} ({:.3})", labels.get(c.class as usize).map_or("?", String::as_str), c.ap),
            points: c.recall.iter().copied().zip(c.precision.iter().copied()).collect(),
        })
        .collect();
    Chart {
        title: format!("Precision-recall at IoU 0.5, mAP {:.4}", acc.voc.map),
        x_label: "recall".into(),
        y_label: "precision".into(),
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        series,
    }
}
