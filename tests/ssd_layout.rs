//! The full SSD300-VGG16 layout written by the ONNX writer loads in tract,
//! runs, and lines its outputs up with the 8732-prior table.

use ssd_cam::model::Model;
use ssd_core::manifest::ScoreActivation;
use ssd_core::priors::ssd300_voc;
use ssd_onnx::ssd::{self, RandomWeights, WeightSource};

/// Random weights, except that the box heads output a constant that names
/// the prior's feature map and box-in-cell: `10·layer + box`.
struct LabelledHeads(RandomWeights);

impl WeightSource for LabelledHeads {
    fn weights(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        if let Some(rest) = name.strip_prefix("loc") {
            let layer: usize = rest.split('.').next().unwrap().parse().unwrap();
            let n: usize = shape.iter().product();
            if name.ends_with(".weight") {
                return vec![0.0; n];
            }
            // Bias channel b·4 + coord belongs to box b of the cell.
            return (0..n).map(|ch| (10 * layer + ch / 4) as f32).collect();
        }
        self.0.weights(name, shape)
    }
}

#[test]
fn random_weight_ssd300_vgg16_runs_and_matches_the_prior_table() {
    let spec = ssd300_voc();
    let labels: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
    let mut weights = LabelledHeads(RandomWeights::new(1));
    // Full width: the paper's channel counts (26M parameters).
    let model = ssd::ssd300_vgg16(21, &spec.boxes_per_cell(), 1.0, &mut weights);
    let params: usize = model.graph.as_ref().unwrap().initializer.iter().map(|t| t.raw_data.len() / 4).sum();
    assert!((26_000_000..26_500_000).contains(&params), "{params} parameters");
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("vgg.onnx");
    ssd_onnx::write(&model, &onnx).unwrap();
    let manifest = ssd::manifest("vgg", "", labels, spec.clone(), ScoreActivation::Softmax);
    let mut net = Model::load(&onnx, &manifest, &dir.path().join("vgg.json")).unwrap();
    assert_eq!(net.input_shape(), [1, 3, 300, 300]);
    let input = net.input_mut().unwrap();
    for (i, v) in input.iter_mut().enumerate() {
        *v = (i % 255) as f32 - 120.0;
    }
    let buffer = net.input_mut().unwrap().as_ptr();
    let out = net.run().unwrap();
    assert_eq!(net.input_mut().unwrap().as_ptr(), buffer, "input buffer reused");
    let (boxes, scores) = out.slices().unwrap();
    assert_eq!((boxes.len(), scores.len()), (8732 * 4, 8732 * 21), "[1, 8732, 4] and [1, 8732, 21]");
    assert!(scores.iter().all(|v| v.is_finite()));
    // Walk the prior table: prior p must carry the label of its map and box.
    let per_cell = spec.boxes_per_cell();
    let maps = [38u32, 19, 10, 5, 3, 1];
    for (layer, (&f, &b_count)) in maps.iter().zip(&per_cell).enumerate() {
        for row in 0..f {
            for col in 0..f {
                for b in 0..b_count {
                    let p = spec.index_of(layer, row, col, b).unwrap();
                    let want = (10 * layer + b) as f32;
                    assert_eq!(&boxes[p * 4..p * 4 + 4], &[want; 4], "prior {p}");
                }
            }
        }
    }
}
