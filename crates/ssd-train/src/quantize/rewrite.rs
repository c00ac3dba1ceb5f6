//! The graph rewrite: float convolutions into `QLinearConv` with the
//! calibrated ranges, ReLUs folded, dequantization only where needed.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

use super::plan::Plan;
use super::ranges::{uint8_params, Ranges, WeightScales};
use super::{err, QuantizeError};

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
    /// Points where a float operation needs a quantized value back.
    pub dequantizations: usize,
}

/// A uint8 tensor standing for a float one.
#[derive(Debug, Clone)]
struct Quantized {
    name: String,
    scale: String,
    zero_point: String,
}

/// Builds the quantized graph node by node.
struct Writer {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    quantized: HashMap<String, Quantized>,
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

    /// The uint8 version of float tensor `name`, quantized here if no
    /// quantized operation produced it.
    fn quantized(&mut self, name: &str, ranges: &Ranges) -> Result<(Quantized, f32), QuantizeError> {
        if let Some(q) = self.quantized.get(name) {
            let scale = self.scale_of(&q.scale)?;
            return Ok((q.clone(), scale));
        }
        let &(low, high) = ranges.get(name).ok_or_else(|| err(format!("no calibration range for '{name}'")))?;
        let (scale, zp) = uint8_params(low, high);
        let (s, z) = self.scalars(name, scale, zp);
        let q = Quantized { name: format!("{name}.q"), scale: s, zero_point: z };
        self.push(
            "QuantizeLinear",
            format!("{name}.quantize"),
            vec![name.to_owned(), q.scale.clone(), q.zero_point.clone()],
            q.name.clone(),
            vec![],
        );
        self.quantized.insert(name.to_owned(), q.clone());
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

    /// Makes float tensor `name` available, dequantizing it if needed.
    fn need_float(&mut self, name: &str) {
        if name.is_empty() || self.available.contains(name) {
            return;
        }
        if let Some(q) = self.quantized.get(name).cloned() {
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

/// Quantizes `model` with the activation `ranges` (see
/// [`calibration_tensors`](super::calibration_tensors) and [`RangeCollector`](super::RangeCollector)). The inputs and outputs
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
        quantized: HashMap::new(),
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
        if plan.quantizable_conv(node) {
            let out = plan.conv_output(i);
            if ranges.contains_key(&node.input[0]) && ranges.contains_key(out) {
                if let Some(j) = plan.fused_relu(i) {
                    folded.insert(j);
                    w.report.fused_relus += 1;
                }
                quantize_conv(&mut w, &plan, node, out, ranges, weights)?;
                w.report.convolutions += 1;
                continue;
            }
        }
        if node.op_type == "Conv" {
            w.report.float_convolutions += 1;
        }
        if node.op_type == "MaxPool" && node.output.len() == 1 {
            if let Some(q) = w.quantized.get(&node.input[0]).cloned() {
                let pooled = Quantized { name: format!("{}.q", node.output[0]), ..q.clone() };
                w.push("MaxPool", node.name.clone(), vec![q.name], pooled.name.clone(), node.attribute.clone());
                w.quantized.insert(node.output[0].clone(), pooled);
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

fn quantize_conv(
    w: &mut Writer,
    plan: &Plan<'_>,
    node: &pb::NodeProto,
    out: &str,
    ranges: &Ranges,
    weights: WeightScales,
) -> Result<(), QuantizeError> {
    let (x, x_scale) = w.quantized(&node.input[0], ranges)?;
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
    let y = Quantized { name: format!("{out}.q"), scale: ys, zero_point: yz };
    w.push("QLinearConv", node.name.clone(), inputs, y.name.clone(), node.attribute.clone());
    w.quantized.insert(out.to_owned(), y);
    Ok(())
}
