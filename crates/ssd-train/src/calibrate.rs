//! `ssd-train quantize`: calibrates a float model on a folder of images and
//! writes its INT8 form (see [`crate::quantize`]) with a manifest, so
//! that `ssd-cam --model NAME.int8` runs it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tract_onnx::prelude::Framework;

use crate::quantize::{calibration_tensors, quantize, QuantizeReport, RangeCollector, RangeMethod, WeightScales};
use ssd_core::manifest::Manifest;
use ssd_core::preprocess::Preprocessor;
use ssd_runtime::images::ImageSource;
use ssd_runtime::model::{input_shape_of, Model};
use ssd_runtime::model_search::locate_model;
use ssd_runtime::source::Source;

/// What to quantize and how.
#[derive(Debug, Clone)]
pub struct CalibrationJob {
    /// `--model`: a model name or an `.onnx` path.
    pub model: String,
    /// Folder of calibration images.
    pub images: PathBuf,
    /// The INT8 ONNX file to write; its manifest goes beside it.
    pub out: PathBuf,
    /// How activation ranges are taken.
    pub method: RangeMethod,
    /// How weights are quantized.
    pub weights: WeightScales,
    /// At most this many images are used (the first ones by name).
    pub max_images: usize,
}

/// The outcome, for the log.
#[derive(Debug, Clone)]
pub struct CalibrationSummary {
    /// Images that went through the float model.
    pub images: usize,
    /// Images that could not be decoded and were skipped.
    pub skipped: u64,
    /// What the graph rewrite did.
    pub report: QuantizeReport,
    /// The manifest written beside the model.
    pub manifest: PathBuf,
}

/// Runs the job: calibrate, quantize, write, and check that the result loads.
pub fn calibrate_and_quantize(job: &CalibrationJob) -> Result<CalibrationSummary> {
    let paths = locate_model(&job.model).map_err(anyhow::Error::msg)?;
    let manifest = Manifest::from_path(&paths.manifest)?;
    let proto = tract_onnx::onnx()
        .proto_model_for_path(&paths.onnx)
        .map_err(|e| anyhow::anyhow!("{}: not a readable ONNX model: {e}", paths.onnx.display()))?;
    let graph = proto.graph.as_ref().with_context(|| format!("{}: the model has no graph", paths.onnx.display()))?;
    let names = calibration_tensors(graph);
    if names.is_empty() {
        bail!("{}: no convolution with constant weights to quantize", paths.onnx.display());
    }

    let shape = input_shape_of(&manifest);
    let mut collector = RangeCollector::new(&proto, names, &shape, job.method)
        .with_context(|| format!("calibrating {}", paths.onnx.display()))?;
    let mut source = ImageSource::from_dir(&job.images)?;
    let mut pre = Preprocessor::new(&manifest, false);
    let mut rgb = Vec::new();
    let mut input = vec![0f32; shape.iter().product()];
    while collector.runs() < job.max_images {
        let Some((w, h)) = source.next_frame(&mut rgb)? else { break };
        pre.run(&rgb, w, h, &mut input)?;
        collector.add(&input)?;
    }
    if collector.runs() == 0 {
        bail!("{}: none of the images could be decoded", job.images.display());
    }
    let ranges = collector.ranges()?;
    let (quantized, report) = quantize(&proto, &ranges, job.weights)?;

    if let Some(dir) = job.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    ssd_onnx::write(&quantized, &job.out).with_context(|| format!("{}", job.out.display()))?;
    let manifest_out = job.out.with_extension("json");
    let int8 = int8_manifest(&manifest, &job.out, collector.runs(), job);
    std::fs::write(&manifest_out, int8.to_json()).with_context(|| format!("{}", manifest_out.display()))?;
    // tract must accept what was written, or the user finds out on the board.
    Model::load(&job.out, &int8, &manifest_out).context("the quantized model does not load")?;
    Ok(CalibrationSummary { images: collector.runs(), skipped: source.skipped(), report, manifest: manifest_out })
}

/// The float model's manifest, renamed after `out` and saying how it was made.
fn int8_manifest(float: &Manifest, out: &Path, images: usize, job: &CalibrationJob) -> Manifest {
    let name = out.file_stem().and_then(|s| s.to_str()).unwrap_or("int8").to_owned();
    let method = match job.method {
        RangeMethod::MinMax => "min/max ranges".to_owned(),
        RangeMethod::Percentile(p) => format!("{p} percentile ranges"),
    };
    let weights = match job.weights {
        WeightScales::PerTensor => "per-tensor uint8 weights",
        WeightScales::PerChannel => "per-channel int8 weights",
    };
    let mut m = float.clone();
    m.description = format!(
        "{} — INT8 (QLinearConv) by ssd-train quantize: {method}, {weights}, {images} calibration images",
        float.description
    );
    m.name = name;
    m
}
