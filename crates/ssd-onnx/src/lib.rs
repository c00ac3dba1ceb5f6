//! ssd-onnx: a small ONNX graph writer on `tract_onnx::pb` and prost, shared
//! by the trainer's exporter and the test kit (oracle and random-weight
//! models). The edge binary never links it: only ssd-train and the tests do.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod pretrained;
pub mod ssd;
pub mod ssdlite;

use std::path::Path;

use prost::Message;
use tract_onnx::pb;

/// ONNX opset written by [`GraphBuilder`]; 13 keeps `axes` as attributes.
pub const OPSET: i64 = 13;

/// Builds one ONNX graph node by node. Names are generated so that callers
/// only keep the strings the builder returns.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    inputs: Vec<pb::ValueInfoProto>,
    outputs: Vec<pb::ValueInfoProto>,
    counter: usize,
}

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    let shape = pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| pb::tensor_shape_proto::Dimension {
                value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d)),
                ..Default::default()
            })
            .collect(),
    };
    pb::ValueInfoProto {
        name: name.to_owned(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(shape),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_owned(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_owned(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

/// A float attribute.
pub fn attr_float(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_owned(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// Declares a float graph input and returns its name.
    pub fn input(&mut self, name: &str, dims: &[i64]) -> String {
        self.inputs.push(value_info(name, dims));
        name.to_owned()
    }

    /// Declares `name` as a float graph output of the given shape.
    pub fn output(&mut self, name: &str, dims: &[i64]) {
        self.outputs.push(value_info(name, dims));
    }

    /// Adds a float initializer (stored as little-endian raw bytes).
    pub fn constant(&mut self, hint: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh(hint);
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(pb::TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// Adds a 1-D int64 initializer (shapes for Reshape and the like).
    pub fn constant_i64(&mut self, hint: &str, data: &[i64]) -> String {
        let name = self.fresh(hint);
        self.initializers.push(pb::TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: pb::tensor_proto::DataType::Int64 as i32,
            int64_data: data.to_vec(),
            ..Default::default()
        });
        name
    }

    /// Adds a node with one output and returns the output's (generated) name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_into(op, inputs, attrs, &out);
        out
    }

    /// Adds a node whose single output has the given name (for graph outputs).
    pub fn node_into(&mut self, op: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>, out: &str) {
        let name = self.fresh(&format!("n_{op}"));
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_owned()],
            name,
            op_type: op.to_owned(),
            attribute: attrs,
            ..Default::default()
        });
    }

    /// Number of float parameters stored in initializers.
    pub fn parameter_count(&self) -> usize {
        self.initializers.iter().map(|t| t.raw_data.len() / 4).sum()
    }

    /// The finished model.
    pub fn into_model(self, graph_name: &str) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 7,
            opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "ssd-cam".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(pb::GraphProto {
                node: self.nodes,
                name: graph_name.to_owned(),
                initializer: self.initializers,
                input: self.inputs,
                output: self.outputs,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// Serialises a model to ONNX bytes.
pub fn encode(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes a model to an `.onnx` file.
pub fn write(model: &pb::ModelProto, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, encode(model))
}
