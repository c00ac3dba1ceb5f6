//! Calibration: which tensors need a range, and their ranges gathered over
//! runs of the float graph.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::plan::Plan;
use super::{err, QuantizeError};

/// How a tensor's range is taken from the calibration runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeMethod {
    /// The smallest and largest value seen over all inputs.
    MinMax,
    /// Per input, this percentile of the values (and its mirror image for
    /// the minimum), averaged over the inputs: rare outliers do not stretch
    /// the scale and cost the common values their resolution.
    Percentile(f32),
}

/// How weights are quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightScales {
    /// One uint8 scale and zero point per convolution.
    PerTensor,
    /// One int8 scale per output channel, zero point 0.
    PerChannel,
}

/// Float range `(low, high)` of each named tensor.
pub type Ranges = HashMap<String, (f32, f32)>;

/// Scale and zero point of an asymmetric uint8 encoding of `[low, high]`
/// (widened to contain 0, so that zero padding and ReLU are exact).
pub fn uint8_params(low: f32, high: f32) -> (f32, u8) {
    let (low, high) = (low.min(0.0), high.max(0.0));
    let scale = (high - low) / 255.0;
    if !(scale.is_finite() && scale > 0.0) {
        return (1.0, 0);
    }
    let zero_point = (-low / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zero_point)
}

/// The tensors whose ranges [`quantize`](super::quantize) needs: each quantizable
/// convolution's data input and its output (the ReLU's output when a ReLU
/// alone consumes the convolution).
pub fn calibration_tensors(graph: &pb::GraphProto) -> Vec<String> {
    let plan = Plan::new(graph);
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    for (i, node) in graph.node.iter().enumerate() {
        if plan.quantizable_conv(node) {
            for name in [&node.input[0], plan.conv_output(i)] {
                if seen.insert(name.clone()) {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

/// Gathers activation ranges over calibration runs of the float graph.
pub struct RangeCollector {
    plan: Arc<TypedRunnableModel>,
    names: Vec<String>,
    shape: Vec<usize>,
    method: RangeMethod,
    lows: Vec<Vec<f32>>,
    highs: Vec<Vec<f32>>,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for RangeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeCollector").field("tensors", &self.names.len()).field("runs", &self.runs()).finish()
    }
}

impl RangeCollector {
    /// Prepares the float `model` to report `names` as well as its outputs,
    /// for inputs of `input_shape`.
    pub fn new(
        model: &pb::ModelProto,
        names: Vec<String>,
        input_shape: &[usize],
        method: RangeMethod,
    ) -> Result<Self, QuantizeError> {
        let mut inference = ssd_runtime::model::read_onnx(&ssd_onnx::encode(model))
            .map_err(|e| err(format!("the float model does not load: {e}")))?;
        // Graph inputs are not labelled outlets: an input node's outlet 0 is
        // the tensor of that name.
        let outlets = names
            .iter()
            .map(|n| {
                inference
                    .find_outlet_label(n)
                    .or_else(|| inference.node_id_by_name(n).ok().map(|id| OutletId::new(id, 0)))
                    .ok_or_else(|| err(format!("the graph has no tensor '{n}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        inference.select_output_outlets(&outlets).map_err(|e| err(e.to_string()))?;
        let plan = inference
            .with_input_fact(0, f32::fact(input_shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| err(format!("the float model does not run on {input_shape:?}: {e}")))?;
        let n = names.len();
        Ok(Self {
            plan,
            names,
            shape: input_shape.to_vec(),
            method,
            lows: vec![Vec::new(); n],
            highs: vec![Vec::new(); n],
            scratch: Vec::new(),
        })
    }

    /// Calibration inputs seen so far.
    pub fn runs(&self) -> usize {
        self.lows.first().map_or(0, Vec::len)
    }

    /// Runs one preprocessed input and records each tensor's range.
    pub fn add(&mut self, input: &[f32]) -> Result<(), QuantizeError> {
        let tensor = Tensor::from_shape(&self.shape, input).map_err(|e| err(e.to_string()))?;
        let outputs = self.plan.run(tvec!(tensor.into())).map_err(|e| err(format!("calibration run: {e}")))?;
        for (i, out) in outputs.iter().enumerate() {
            let values = out
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>())
                .map_err(|e| err(format!("tensor '{}': {e}", self.names[i])))?;
            let (low, high) = match self.method {
                RangeMethod::MinMax => {
                    values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
                }
                RangeMethod::Percentile(p) => percentile_range(values, p, &mut self.scratch),
            };
            self.lows[i].push(low);
            self.highs[i].push(high);
        }
        Ok(())
    }

    /// The ranges, one per tensor: the extremes over all runs for
    /// [`RangeMethod::MinMax`], the mean of the per-run percentiles otherwise.
    pub fn ranges(&self) -> Result<Ranges, QuantizeError> {
        if self.runs() == 0 {
            return Err(err("no calibration input was run"));
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        Ok(self
            .names
            .iter()
            .zip(self.lows.iter().zip(&self.highs))
            .map(|(name, (lows, highs))| {
                let range = match self.method {
                    RangeMethod::MinMax => (
                        lows.iter().copied().fold(f32::INFINITY, f32::min),
                        highs.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    ),
                    RangeMethod::Percentile(_) => (mean(lows), mean(highs)),
                };
                (name.clone(), range)
            })
            .collect())
    }
}

/// The `100 - p` and `p` percentiles of `values` (nearest rank).
pub(super) fn percentile_range(values: &[f32], p: f32, scratch: &mut Vec<f32>) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    scratch.clear();
    scratch.extend_from_slice(values);
    let last = scratch.len() - 1;
    let rank = |q: f32| ((q / 100.0).clamp(0.0, 1.0) * last as f32).round() as usize;
    let (hi_rank, lo_rank) = (rank(p), rank(100.0 - p));
    let high = *scratch.select_nth_unstable_by(hi_rank, f32::total_cmp).1;
    let low = *scratch.select_nth_unstable_by(lo_rank, f32::total_cmp).1;
    (low, high)
}
