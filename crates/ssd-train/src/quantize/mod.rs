//! Static post-training INT8 quantization of an ONNX graph into the operator
//! form tract runs with integer kernels: every `Conv` with constant weights
//! becomes a `QLinearConv` on uint8 activations, a `Relu` that alone follows
//! a convolution is folded into its output range, `MaxPool` stays in uint8,
//! and a `DequantizeLinear` appears only where a float operation needs the
//! value. tract does not run QuantizeLinear/DequantizeLinear pairs around
//! float convolutions with integer kernels, hence this form rather than
//! ONNX's "QDQ" one.
//!
//! Activation ranges come from running the float graph on calibration
//! inputs ([`RangeCollector`]); weights are quantized per tensor (uint8,
//! asymmetric) or per output channel (int8, symmetric).

mod plan;
mod ranges;
mod rewrite;

pub use ranges::{calibration_tensors, uint8_params, RangeCollector, RangeMethod, Ranges, WeightScales};
pub use rewrite::{quantize, QuantizeReport};

/// A quantization failure, with the tensor or node it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QuantizeError(pub String);

pub(crate) fn err(message: impl Into<String>) -> QuantizeError {
    QuantizeError(message.into())
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb;
    use tract_onnx::prelude::*;

    use super::ranges::percentile_range;
    use super::*;
    use ssd_onnx::{attr_ints, GraphBuilder};

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
        let plan = ssd_runtime::model::read_onnx(&ssd_onnx::encode(model))
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
    fn the_quantized_graph_computes_what_the_float_graph_does() {
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
