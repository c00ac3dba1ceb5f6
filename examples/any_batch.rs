//! Rewrites an exported SSD's Reshape shapes from `[1, -1, K]` to
//! `[0, -1, K]` (ONNX: 0 copies the batch dimension), so that tract can run
//! it on a batch of several frames, for measuring whether batching the
//! cameras' frames would beat running them side by side:
//!
//! ```text
//! cargo run --release --example any_batch -- models/ssd300-shapes.onnx target/anybatch.onnx
//! target/release/examples/time_onnx target/anybatch.onnx 2,3,300,300 50 1 1
//! ```
//!
//! Only the copy changes; the shipped file stays as it is (batch 1).

use prost::Message;
use tract_onnx::pb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(from), Some(to)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: any_batch IN.onnx OUT.onnx");
        std::process::exit(2);
    };
    let mut model = pb::ModelProto::decode(std::fs::read(from)?.as_slice())?;
    let graph = model.graph.as_mut().ok_or("no graph")?;
    let shapes: Vec<String> =
        graph.node.iter().filter(|n| n.op_type == "Reshape").filter_map(|n| n.input.get(1).cloned()).collect();
    let mut changed = 0;
    for init in graph.initializer.iter_mut().filter(|i| shapes.contains(&i.name)) {
        if init.int64_data.first() == Some(&1) {
            init.int64_data[0] = 0;
            changed += 1;
        }
    }
    if let Some(input) = graph.input.first_mut() {
        // The declared batch becomes symbolic; tract is given the real one.
        if let Some(pb::type_proto::Value::TensorType(t)) = input.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            if let Some(d) = t.shape.as_mut().and_then(|s| s.dim.first_mut()) {
                d.value = Some(pb::tensor_shape_proto::dimension::Value::DimParam("N".into()));
            }
        }
    }
    std::fs::write(to, model.encode_to_vec())?;
    eprintln!("{to}: {changed} Reshape shape(s) made batch-agnostic");
    Ok(())
}
