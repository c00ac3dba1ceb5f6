//! Reads the weights of a converted TensorFlow graph (tf2onnx) by TF scope:
//! the convolution under `scope/`, its bias, and a `scope/BatchNorm/`
//! BatchNormalization left unfolded (tf2onnx folds most but not those behind
//! a Reshape) folded into it. Fine-tuning starts from these.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use tract_onnx::pb;

/// Why a pretrained graph could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not an ONNX model.
    #[error("not an ONNX model: {0}")]
    Decode(#[from] prost::DecodeError),
    /// An initializer the layer needs is missing or not float.
    #[error("{scope}: {what}")]
    Layer {
        /// TF scope of the layer.
        scope: String,
        /// What is wrong.
        what: String,
    },
}

/// A convolution's weights, batch norm folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWeights {
    /// Weight shape as stored, `[cout, cin/groups, k, k]`.
    pub shape: Vec<usize>,
    /// Row-major weights.
    pub weight: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
}

/// Folds a per-output-channel `y = scale·conv(x) + shift` (a batch norm in
/// inference form) into the convolution's weights `[cout, …]` and bias.
pub fn fold_scale_shift(weight: &mut [f32], bias: &mut [f32], scale: &[f32], shift: &[f32]) {
    let per_out = weight.len() / scale.len().max(1);
    for (o, (s, t)) in scale.iter().zip(shift).enumerate() {
        if let Some(w) = weight.get_mut(o * per_out..(o + 1) * per_out) {
            w.iter_mut().for_each(|v| *v *= s);
        }
        if let Some(b) = bias.get_mut(o) {
            *b = *b * s + t;
        }
    }
}

/// The initializers and nodes of one ONNX graph.
#[derive(Debug)]
pub struct Pretrained {
    nodes: Vec<pb::NodeProto>,
    tensors: HashMap<String, pb::TensorProto>,
}

fn floats(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != pb::tensor_proto::DataType::Float as i32 {
        return None;
    }
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(4) {
            return None;
        }
        return Some(t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
    }
    Some(t.float_data.clone())
}

impl Pretrained {
    /// Reads an `.onnx` file.
    pub fn open(path: &Path) -> Result<Self, PretrainedError> {
        Self::from_bytes(&std::fs::read(path)?)
    }

    /// Parses ONNX bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PretrainedError> {
        let model = pb::ModelProto::decode(bytes)?;
        let graph = model.graph.unwrap_or_default();
        let tensors = graph.initializer.into_iter().map(|t| (t.name.clone(), t)).collect();
        Ok(Self { nodes: graph.node, tensors })
    }

    fn tensor(&self, scope: &str, name: &str) -> Result<(Vec<usize>, Vec<f32>), PretrainedError> {
        let err = |what: String| PretrainedError::Layer { scope: scope.to_owned(), what };
        let t = self.tensors.get(name).ok_or_else(|| err(format!("{name} is not an initializer")))?;
        let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
        let values = floats(t).ok_or_else(|| err(format!("{name} is not a float tensor")))?;
        if Some(values.len()) != shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
            return Err(err(format!("{name} holds {} values for shape {shape:?}", values.len())));
        }
        Ok((shape, values))
    }

    /// The convolution of TF scope `scope` (a Conv node named `scope/…`),
    /// with a `scope/BatchNorm/` BatchNormalization folded in if present.
    /// `None` if the graph has no such convolution.
    pub fn conv(&self, scope: &str) -> Result<Option<ConvWeights>, PretrainedError> {
        let prefix = format!("{scope}/");
        let Some(node) = self.nodes.iter().find(|n| n.op_type == "Conv" && n.name.starts_with(&prefix)) else {
            return Ok(None);
        };
        let err = |what: &str| PretrainedError::Layer { scope: scope.to_owned(), what: what.to_owned() };
        let wname = node.input.get(1).ok_or_else(|| err("Conv without weights"))?;
        let (shape, mut weight) = self.tensor(scope, wname)?;
        let cout = shape.first().copied().unwrap_or(0);
        let mut bias = match node.input.get(2).filter(|b| !b.is_empty()) {
            Some(b) => self.tensor(scope, b)?.1,
            None => vec![0.0; cout],
        };
        if bias.len() != cout {
            return Err(err("bias length differs from the output channels"));
        }
        let bn_prefix = format!("{scope}/BatchNorm/");
        if let Some(bn) =
            self.nodes.iter().find(|n| n.op_type == "BatchNormalization" && n.name.starts_with(&bn_prefix))
        {
            let eps = bn.attribute.iter().find(|a| a.name == "epsilon").map_or(1e-5, |a| a.f);
            let get = |k: usize| -> Result<Vec<f32>, PretrainedError> {
                let name = bn.input.get(k).ok_or_else(|| err("BatchNormalization with too few inputs"))?;
                let v = self.tensor(scope, name)?.1;
                if v.len() == cout {
                    Ok(v)
                } else {
                    Err(err("batch norm size differs from the output channels"))
                }
            };
            let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
            let scale: Vec<f32> = gamma.iter().zip(&var).map(|(g, v)| g / (v + eps).sqrt()).collect();
            let shift: Vec<f32> = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
            fold_scale_shift(&mut weight, &mut bias, &scale, &shift);
        }
        Ok(Some(ConvWeights { shape, weight, bias }))
    }
}
