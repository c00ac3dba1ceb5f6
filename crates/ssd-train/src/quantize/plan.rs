//! The graph as the quantizer reads it: who consumes each tensor, which
//! initializers are float constants, which convolutions can be quantized and
//! which ReLUs fold into them. Shared by calibration and the rewrite.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

/// Which nodes consume each tensor, and which initializers hold constants.
pub(super) struct Plan<'a> {
    pub(super) consumers: HashMap<&'a str, Vec<usize>>,
    pub(super) initializers: HashMap<&'a str, &'a pb::TensorProto>,
    pub(super) graph_outputs: HashSet<&'a str>,
    pub(super) nodes: &'a [pb::NodeProto],
}

impl<'a> Plan<'a> {
    pub(super) fn new(graph: &'a pb::GraphProto) -> Self {
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

    pub(super) fn float_constant(&self, name: &str) -> Option<Vec<f32>> {
        self.initializers.get(name).and_then(|t| float_data(t))
    }

    /// A Conv whose weights (and bias, if any) are float initializers.
    pub(super) fn quantizable_conv(&self, node: &pb::NodeProto) -> bool {
        node.op_type == "Conv"
            && node.domain.is_empty()
            && node.output.len() == 1
            && (2..=3).contains(&node.input.len())
            && self.initializers.get(node.input[1].as_str()).is_some_and(|w| w.dims.len() == 4)
            && node.input[1..].iter().all(|n| self.float_constant(n).is_some())
    }

    /// The ReLU node that alone consumes conv `i`'s output, if any.
    pub(super) fn fused_relu(&self, i: usize) -> Option<usize> {
        let out = self.nodes[i].output[0].as_str();
        match self.consumers.get(out).map(Vec::as_slice) {
            Some(&[j]) if self.nodes[j].op_type == "Relu" && !self.graph_outputs.contains(out) => Some(j),
            _ => None,
        }
    }

    /// The float tensor a quantized conv `i` stands for (its ReLU's output
    /// when the ReLU is folded in).
    pub(super) fn conv_output(&self, i: usize) -> &'a String {
        match self.fused_relu(i) {
            Some(j) => &self.nodes[j].output[0],
            None => &self.nodes[i].output[0],
        }
    }
}

pub(super) fn float_data(t: &pb::TensorProto) -> Option<Vec<f32>> {
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
