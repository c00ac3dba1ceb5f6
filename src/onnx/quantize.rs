//! Static post-training INT8 quantisation of an ONNX graph into the operator
//! form tract runs with integer kernels: every `Conv` with constant weights
//! becomes a `QLinearConv` on uint8 activations, a `Relu` that alone follows
//! a convolution is folded into its output range, `MaxPool` stays in uint8,
//! and a `DequantizeLinear` appears only where a float operation needs the
//! value. tract does not run QuantizeLinear/DequantizeLinear pairs around
//! float convolutions with integer kernels, hence this form rather than
//! ONNX's "QDQ" one.
//!
//! Activation ranges come from running the float graph on calibration
//! inputs ([`RangeCollector`]); weights are quantised per tensor (uint8,
//! asymmetric) or per output channel (int8, symmetric).

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::prelude::*;

/// A quantisation failure, with the tensor or node it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QuantizeError(pub String);

fn err(message: impl Into<String>) -> QuantizeError {
    QuantizeError(message.into())
}

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

/// How weights are quantised.
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

/// The tensors whose ranges [`quantize`] needs: each quantisable
/// convolution's data input and its output (the ReLU's output when a ReLU
/// alone consumes the convolution).
pub fn calibration_tensors(graph: &pb::GraphProto) -> Vec<String> {
    let plan = Plan::new(graph);
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    for (i, node) in graph.node.iter().enumerate() {
        if plan.quantisable_conv(node) {
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
        let mut inference = crate::model::read_onnx(&super::encode(model))
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
fn percentile_range(values: &[f32], p: f32, scratch: &mut Vec<f32>) -> (f32, f32) {
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

/// What [`quantize`] did, for the log and the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuantizeReport {
    /// Convolutions turned into QLinearConv.
    pub convolutions: usize,
    /// Convolutions left in float (weights not constant, or no range).
    pub float_convolutions: usize,
    /// ReLUs folded into a convolution's output range.
    pub fused_relus: usize,
    /// MaxPools run on uint8.
    pub int8_max_pools: usize,
    /// Points where a float operation needs a quantised value back.
    pub dequantizations: usize,
}

/// Which nodes consume each tensor, and which initializers hold constants.
struct Plan<'a> {
    consumers: HashMap<&'a str, Vec<usize>>,
    initializers: HashMap<&'a str, &'a pb::TensorProto>,
    graph_outputs: HashSet<&'a str>,
    nodes: &'a [pb::NodeProto],
}

impl<'a> Plan<'a> {
    fn new(graph: &'a pb::GraphProto) -> Self {
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for input in &node.input {
                consumers.entry(input.as_str()).or_default().push(i);
            }
        }
        Plan {
            consumers,
            initializers: graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect(),
            graph_outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
            nodes: &graph.node,
        }
    }

    fn float_constant(&self, name: &str) -> Option<Vec<f32>> {
        self.initializers.get(name).and_then(|t| float_data(t))
    }

    /// A Conv whose weights (and bias, if any) are float initializers.
    fn quantisable_conv(&self, node: &pb::NodeProto) -> bool {
        node.op_type == "Conv"
            && node.domain.is_empty()
            && node.output.len() == 1
            && (2..=3).contains(&node.input.len())
            && self.initializers.get(node.input[1].as_str()).is_some_and(|w| w.dims.len() == 4)
            && node.input[1..].iter().all(|n| self.float_constant(n).is_some())
    }

    /// The ReLU node that alone consumes conv `i`'s output, if any.
    fn fused_relu(&self, i: usize) -> Option<usize> {
        let out = self.nodes[i].output[0].as_str();
        match self.consumers.get(out).map(Vec::as_slice) {
            Some(&[j]) if self.nodes[j].op_type == "Relu" && !self.graph_outputs.contains(out) => Some(j),
            _ => None,
        }
    }

    /// The float tensor a quantised conv `i` stands for (its ReLU's output
    /// when the ReLU is folded in).
    fn conv_output(&self, i: usize) -> &'a String {
        match self.fused_relu(i) {
            Some(j) => &self.nodes[j].output[0],
            None => &self.nodes[i].output[0],
        }
    }
}

fn float_data(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 {
        return None;
    }
    let count: i64 = t.dims.iter().product();
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    (values.len() as i64 == count).then_some(values)
}

/// A uint8 tensor standing for a float one.
#[derive(Debug, Clone)]
struct Quantised {
    name: String,
    scale: String,
    zero_point: String,
}

/// Builds the quantised graph node by node.
struct Writer {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    quantised: HashMap<String, Quantised>,
    available: HashSet<String>,
    report: QuantizeReport,
}

impl Writer {
    fn push(&mut self, op: &str, name: String, inputs: Vec<String>, output: String, attrs: Vec<pb::AttributeProto>) {
        self.nodes.push(pb::NodeProto {
            input: inputs,
            output: vec![output],
            name,
            op_type: op.to_owned(),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn constant(&mut self, name: String, dims: Vec<i64>, data_type: DataType, raw_data: Vec<u8>) -> String {
        self.initializers.push(pb::TensorProto {
            name: name.clone(),
            dims,
            data_type: data_type as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    fn scalars(&mut self, tensor: &str, scale: f32, zero_point: u8) -> (String, String) {
        let s = self.constant(format!("{tensor}.q_scale"), vec![], DataType::Float, scale.to_le_bytes().to_vec());
        let z = self.constant(format!("{tensor}.q_zero_point"), vec![], DataType::Uint8, vec![zero_point]);
        (s, z)
    }

    /// The uint8 version of float tensor `name`, quantised here if no
    /// quantised operation produced it.
    fn quantised(&mut self, name: &str, ranges: &Ranges) -> Result<(Quantised, f32), QuantizeError> {
        if let Some(q) = self.quantised.get(name) {
            let scale = self.scale_of(&q.scale)?;
            return Ok((q.clone(), scale));
        }
        let &(low, high) = ranges.get(name).ok_or_else(|| err(format!("no calibration range for '{name}'")))?;
        let (scale, zp) = uint8_params(low, high);
        let (s, z) = self.scalars(name, scale, zp);
        let q = Quantised { name: format!("{name}.q"), scale: s, zero_point: z };
        self.push(
            "QuantizeLinear",
            format!("{name}.quantize"),
            vec![name.to_owned(), q.scale.clone(), q.zero_point.clone()],
            q.name.clone(),
            vec![],
        );
        self.quantised.insert(name.to_owned(), q.clone());
        Ok((q, scale))
    }

    fn scale_of(&self, scale_name: &str) -> Result<f32, QuantizeError> {
        self.initializers
            .iter()
            .rev()
            .find(|t| t.name == scale_name)
            .and_then(|t| t.raw_data.get(..4))
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| err(format!("lost scale '{scale_name}'")))
    }

    /// Makes float tensor `name` available, dequantising it if needed.
    fn need_float(&mut self, name: &str) {
        if name.is_empty() || self.available.contains(name) {
            return;
        }
        if let Some(q) = self.quantised.get(name).cloned() {
            self.push(
                "DequantizeLinear",
                format!("{name}.dequantize"),
                vec![q.name, q.scale, q.zero_point],
                name.to_owned(),
                vec![],
            );
            self.available.insert(name.to_owned());
            self.report.dequantizations += 1;
        }
    }
}

/// Quantises `model` with the activation `ranges` (see
/// [`calibration_tensors`] and [`RangeCollector`]). The inputs and outputs
/// stay float, so the manifest of the float model describes the result too.
pub fn quantize(
    model: &pb::ModelProto,
    ranges: &Ranges,
    weights: WeightScales,
) -> Result<(pb::ModelProto, QuantizeReport), QuantizeError> {
    let graph = model.graph.as_ref().ok_or_else(|| err("the model has no graph"))?;
    let plan = Plan::new(graph);
    let mut w = Writer {
        nodes: Vec::new(),
        initializers: Vec::new(),
        quantised: HashMap::new(),
        available: graph
            .input
            .iter()
            .map(|i| i.name.clone())
            .chain(plan.initializers.keys().map(|k| k.to_string()))
            .collect(),
        report: QuantizeReport::default(),
    };
    let mut folded = HashSet::new();
    for (i, node) in graph.node.iter().enumerate() {
        if folded.contains(&i) {
            continue;
        }
        if plan.quantisable_conv(node) {
            let out = plan.conv_output(i);
            if ranges.contains_key(&node.input[0]) && ranges.contains_key(out) {
                if let Some(j) = plan.fused_relu(i) {
                    folded.insert(j);
                    w.report.fused_relus += 1;
                }
                quantise_conv(&mut w, &plan, node, out, ranges, weights)?;
                w.report.convolutions += 1;
                continue;
            }
        }
        if node.op_type == "Conv" {
            w.report.float_convolutions += 1;
        }
        if node.op_type == "MaxPool" && node.output.len() == 1 {
            if let Some(q) = w.quantised.get(&node.input[0]).cloned() {
                let pooled = Quantised { name: format!("{}.q", node.output[0]), ..q.clone() };
                w.push("MaxPool", node.name.clone(), vec![q.name], pooled.name.clone(), node.attribute.clone());
                w.quantised.insert(node.output[0].clone(), pooled);
                w.report.int8_max_pools += 1;
                continue;
            }
        }
        for input in &node.input {
            w.need_float(input);
        }
        w.nodes.push(node.clone());
        w.available.extend(node.output.iter().cloned());
    }
    for output in &graph.output {
        w.need_float(&output.name);
    }

    let used: HashSet<&str> = w.nodes.iter().flat_map(|n| n.input.iter().map(String::as_str)).collect();
    let mut initializers: Vec<pb::TensorProto> =
        graph.initializer.iter().filter(|t| used.contains(t.name.as_str())).cloned().collect();
    initializers.extend(w.initializers.into_iter().filter(|t| used.contains(t.name.as_str())));
    let mut out = model.clone();
    out.producer_name = "ssd-train quantize".into();
    out.graph = Some(pb::GraphProto { node: w.nodes, initializer: initializers, ..graph.clone() });
    Ok((out, w.report))
}

fn quantise_conv(
    w: &mut Writer,
    plan: &Plan,
    node: &pb::NodeProto,
    out: &str,
    ranges: &Ranges,
    weights: WeightScales,
) -> Result<(), QuantizeError> {
    let (x, x_scale) = w.quantised(&node.input[0], ranges)?;
    let kernel = plan.float_constant(&node.input[1]).ok_or_else(|| err("conv weights vanished"))?;
    let dims = plan.initializers.get(node.input[1].as_str()).map(|t| t.dims.clone()).unwrap_or_default();
    let channels = dims.first().copied().unwrap_or(0).max(0) as usize;
    if channels == 0 || kernel.len() % channels != 0 {
        return Err(err(format!("conv '{}' has weights of shape {dims:?}", node.name)));
    }
    let per_channel = kernel.len() / channels;

    // Weights: uint8 asymmetric per tensor, or int8 symmetric per channel.
    let wname = &node.input[1];
    let (w_bytes, w_type, w_scales, w_zero) = match weights {
        WeightScales::PerTensor => {
            let (lo, hi) = kernel.iter().fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
            let (scale, zp) = uint8_params(lo, hi);
            let q = kernel.iter().map(|&v| ((v / scale).round() + zp as f32).clamp(0.0, 255.0) as u8).collect();
            (q, DataType::Uint8, vec![scale], vec![zp])
        }
        WeightScales::PerChannel => {
            let mut bytes = Vec::with_capacity(kernel.len());
            let mut scales = Vec::with_capacity(channels);
            for row in kernel.chunks(per_channel) {
                let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
                bytes.extend(row.iter().map(|&v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8));
                scales.push(scale);
            }
            (bytes, DataType::Int8, scales, vec![0; channels])
        }
    };
    let scale_dims = if w_scales.len() == 1 { vec![] } else { vec![channels as i64] };
    let wq = w.constant(format!("{wname}.q"), dims.clone(), w_type, w_bytes);
    let ws = w.constant(
        format!("{wname}.q_scale"),
        scale_dims.clone(),
        DataType::Float,
        w_scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
    );
    let wz = w.constant(format!("{wname}.q_zero_point"), scale_dims, w_type, w_zero);

    let &(lo, hi) = ranges.get(out).ok_or_else(|| err(format!("no calibration range for '{out}'")))?;
    let (y_scale, y_zp) = uint8_params(lo, hi);
    let (ys, yz) = w.scalars(out, y_scale, y_zp);
    let mut inputs = vec![x.name, x.scale, x.zero_point, wq, ws, wz, ys.clone(), yz.clone()];
    if let Some(bias_name) = node.input.get(2) {
        let bias = plan.float_constant(bias_name).ok_or_else(|| err("conv bias vanished"))?;
        if bias.len() != channels {
            return Err(err(format!("conv '{}' has {} biases for {channels} channels", node.name, bias.len())));
        }
        let q: Vec<u8> = bias
            .iter()
            .enumerate()
            .map(|(c, &b)| {
                let s = x_scale * w_scales[if w_scales.len() == 1 { 0 } else { c }];
                ((b / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).to_le_bytes()
            })
            .flat_map(|b| b.into_iter())
            .collect();
        inputs.push(w.constant(format!("{bias_name}.q"), vec![channels as i64], DataType::Int32, q));
    }
    let y = Quantised { name: format!("{out}.q"), scale: ys, zero_point: yz };
    w.push("QLinearConv", node.name.clone(), inputs, y.name.clone(), node.attribute.clone());
    w.quantised.insert(out.to_owned(), y);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{attr_ints, GraphBuilder};

    #[test]
    fn uint8_params_cover_the_range_and_keep_zero_exact() {
        let (s, z) = uint8_params(-1.0, 3.0);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(z, 64);
        // Zero maps to the zero point exactly; the ends to 0 and 255.
        assert!(((-1.0 / s).round() + z as f32).abs() < 0.5);
        assert!(((3.0 / s).round() + z as f32 - 255.0).abs() < 0.5);
        // A ReLU output range starts at 0: zero point 0, so uint8 clamps like ReLU.
        assert_eq!(uint8_params(0.0, 6.0).1, 0);
        // Ranges that exclude zero are widened to include it.
        assert_eq!(uint8_params(2.0, 5.0), (5.0 / 255.0, 0));
        // An all-zero tensor gets a harmless scale rather than NaN.
        assert_eq!(uint8_params(0.0, 0.0), (1.0, 0));
    }

    #[test]
    fn percentiles_ignore_rare_outliers() {
        let mut values: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        values[17] = 1000.0;
        values[400] = -500.0;
        let (lo, hi) = percentile_range(&values, 99.0, &mut Vec::new());
        assert!((0.0..0.02).contains(&lo), "{lo}");
        assert!((0.98..1.0).contains(&hi), "{hi}");
        let (lo, hi) = percentile_range(&values, 100.0, &mut Vec::new());
        assert_eq!((lo, hi), (-500.0, 1000.0));
    }

    /// input -> Conv(3x3) -> Relu -> MaxPool -> Conv(1x1) -> output, plus a
    /// float branch (Mul) reading the ReLU output.
    fn small_graph() -> pb::ModelProto {
        let mut g = GraphBuilder::new();
        let x = g.input("x", &[1, 2, 8, 8]);
        let w1: Vec<f32> = (0..4 * 2 * 9).map(|i| ((i * 37 % 17) as f32 - 8.0) / 10.0).collect();
        let w1 = g.constant("w1", &[4, 2, 3, 3], &w1);
        let b1 = g.constant("b1", &[4], &[0.1, -0.2, 0.3, 0.0]);
        let c1 = g.node("Conv", &[&x, &w1, &b1], vec![attr_ints("pads", &[1, 1, 1, 1])]);
        let r1 = g.node("Relu", &[&c1], vec![]);
        let p1 = g.node("MaxPool", &[&r1], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
        let w2: Vec<f32> = (0..3 * 4).map(|i| (i as f32 - 6.0) / 8.0).collect();
        let w2 = g.constant("w2", &[3, 4, 1, 1], &w2);
        g.node_into("Conv", &[&p1, &w2], vec![], "y");
        let two = g.constant("two", &[], &[2.0]);
        g.node_into("Mul", &[&r1, &two], vec![], "z");
        g.output("y", &[1, 3, 4, 4]);
        g.output("z", &[1, 4, 8, 8]);
        g.into_model("small")
    }

    fn run(model: &pb::ModelProto, input: &[f32]) -> Vec<Vec<f32>> {
        let plan = crate::model::read_onnx(&crate::onnx::encode(model))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 2, 8, 8]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .unwrap();
        let t = Tensor::from_shape(&[1, 2, 8, 8], input).unwrap();
        plan.run(tvec!(t.into()))
            .unwrap()
            .iter()
            .map(|o| o.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec())
            .collect()
    }

    fn calibrated(model: &pb::ModelProto, inputs: &[Vec<f32>]) -> Ranges {
        let graph = model.graph.as_ref().unwrap();
        let names = calibration_tensors(graph);
        let mut c = RangeCollector::new(model, names, &[1, 2, 8, 8], RangeMethod::MinMax).unwrap();
        for input in inputs {
            c.add(input).unwrap();
        }
        assert_eq!(c.runs(), inputs.len());
        c.ranges().unwrap()
    }

    fn wave(seed: f32) -> Vec<f32> {
        (0..128).map(|i| (i as f32 * 0.37 + seed).sin() * 2.0).collect()
    }

    #[test]
    fn the_quantised_graph_computes_what_the_float_graph_does() {
        let model = small_graph();
        let inputs: Vec<Vec<f32>> = (0..4).map(|s| wave(s as f32)).collect();
        let ranges = calibrated(&model, &inputs);
        for weights in [WeightScales::PerTensor, WeightScales::PerChannel] {
            let (q, report) = quantize(&model, &ranges, weights).unwrap();
            assert_eq!(
                report,
                QuantizeReport {
                    convolutions: 2,
                    float_convolutions: 0,
                    fused_relus: 1,
                    int8_max_pools: 1,
                    dequantizations: 2
                }
            );
            let ops: Vec<&str> = q.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_str()).collect();
            assert_eq!(
                ops,
                [
                    "QuantizeLinear",
                    "QLinearConv",
                    "MaxPool",
                    "QLinearConv",
                    "DequantizeLinear",
                    "Mul",
                    "DequantizeLinear"
                ]
            );
            let probe = wave(0.5);
            let (want, got) = (run(&model, &probe), run(&q, &probe));
            for (w, g) in want.iter().zip(&got) {
                let range = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                let worst = w.iter().zip(g).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(worst <= 0.03 * range, "{weights:?}: error {worst} on a range of {range}");
                // ReLU folded into the range: nothing negative comes out of z.
            }
            assert!(got[1].iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn missing_ranges_leave_convolutions_in_float() {
        let model = small_graph();
        let (q, report) = quantize(&model, &Ranges::new(), WeightScales::PerTensor).unwrap();
        assert_eq!(report.convolutions, 0);
        assert_eq!(report.float_convolutions, 2);
        assert_eq!(q.graph.unwrap().node.len(), model.graph.unwrap().node.len());
    }
}
