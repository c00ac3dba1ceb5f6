//! SSD's MultiBox loss: softmax cross-entropy (or, for networks with sigmoid
//! scores as in the TF Object Detection API, sigmoid cross-entropy against
//! one-hot targets, background column included) over the positives and the
//! hard negatives (3 per positive, chosen per image by confidence loss) plus
//! smooth L1 on the positives' box offsets, both divided by the number of
//! matched priors in the batch.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::TensorData;
use ssd_core::manifest::ScoreActivation;

use super::matching::hard_negatives;

/// Negatives kept per positive.
pub const NEGATIVE_RATIO: usize = 3;

/// Matching targets of a batch: `labels[b·P + p]` and `offsets[b·P + p]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTargets {
    /// Images in the batch.
    pub batch: usize,
    /// Priors per image.
    pub priors: usize,
    /// Class per prior (0 is background).
    pub labels: Vec<u32>,
    /// Encoded offsets per prior.
    pub offsets: Vec<[f32; 4]>,
}

impl BatchTargets {
    /// Positive priors in the whole batch.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&l| l != 0).count()
    }
}

/// The loss and its two parts (already divided by the positives).
#[derive(Debug, Clone)]
pub struct Loss {
    /// Total, for `backward`.
    pub total: Tensor<1>,
    /// Smooth L1 part.
    pub loc: f32,
    /// Confidence part.
    pub conf: f32,
}

/// MultiBox loss of `loc` `[B, P, 4]` and class logits `conf` `[B, P, C]`
/// for scores that go through `activation` (`None` is taken as softmax:
/// probabilities cannot be trained through).
pub fn multibox_loss(loc: Tensor<3>, conf: Tensor<3>, targets: &BatchTargets, activation: ScoreActivation) -> Loss {
    let dev = loc.device();
    let (b, p) = (targets.batch, targets.priors);
    let ce = match activation {
        ScoreActivation::Sigmoid => {
            let c = conf.dims()[2];
            let mut onehot = vec![0f32; b * p * c];
            for (k, &l) in targets.labels.iter().enumerate() {
                if let Some(v) = onehot.get_mut(k * c + l as usize) {
                    *v = 1.0;
                }
            }
            let t = Tensor::<3>::from_data(TensorData::new(onehot, [b, p, c]), &dev);
            // −[t·log σ(x) + (1 − t)·log σ(−x)], summed over the classes.
            let pos = log_sigmoid(conf.clone()).mul(t.clone());
            let neg = log_sigmoid(conf.neg()).mul(t.neg().add_scalar(1.0));
            pos.add(neg).sum_dim(2).neg().reshape([b, p])
        }
        ScoreActivation::Softmax | ScoreActivation::None => {
            let labels: Vec<i64> = targets.labels.iter().map(|&l| i64::from(l)).collect();
            let labels = Tensor::<3, Int>::from_data(TensorData::new(labels, [b, p, 1]), &dev);
            log_softmax(conf, 2).gather(2, labels).neg().reshape([b, p])
        }
    };

    // Negatives are ranked on the current loss values, outside the graph.
    let ce_values = ce.clone().detach().into_data().try_to_vec::<f32>().unwrap_or_default();
    let mut conf_mask = vec![0f32; b * p];
    let mut pos_mask = vec![0f32; b * p];
    for i in 0..b {
        let range = i * p..(i + 1) * p;
        let labels = &targets.labels[range.clone()];
        let negatives = match ce_values.get(range.clone()) {
            Some(values) => hard_negatives(values, labels, 0, NEGATIVE_RATIO),
            None => vec![false; p],
        };
        for (k, (&label, neg)) in labels.iter().zip(negatives).enumerate() {
            let positive = label != 0;
            pos_mask[i * p + k] = f32::from(u8::from(positive));
            conf_mask[i * p + k] = f32::from(u8::from(positive || neg));
        }
    }
    let n = targets.positives().max(1) as f32;
    let conf_mask = Tensor::<2>::from_data(TensorData::new(conf_mask, [b, p]), &dev);
    let pos = Tensor::<2>::from_data(TensorData::new(pos_mask, [b, p]), &dev);
    let conf_loss = ce.mul(conf_mask).sum().div_scalar(n);

    let offsets: Vec<f32> = targets.offsets.iter().flatten().copied().collect();
    let offsets = Tensor::<3>::from_data(TensorData::new(offsets, [b, p, 4]), &dev);
    let loc_loss = smooth_l1(loc.sub(offsets)).sum_dim(2).reshape([b, p]).mul(pos).sum().div_scalar(n);

    let loc_value = loc_loss.clone().into_scalar::<f32>();
    let conf_value = conf_loss.clone().into_scalar::<f32>();
    Loss { total: loc_loss.add(conf_loss), loc: loc_value, conf: conf_value }
}

/// Element-wise smooth L1 (β = 1): ½d² below 1, |d| − ½ above, written as
/// m·(|d| − ½m) with m = min(|d|, 1) so it stays one differentiable graph.
pub fn smooth_l1<const D: usize>(d: Tensor<D>) -> Tensor<D> {
    let a = d.abs();
    let m = a.clone().clamp_max(1.0);
    m.clone().mul(a.sub(m.mul_scalar(0.5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn smooth_l1_is_quadratic_below_one_and_linear_above() {
        let dev = Device::flex();
        let d = Tensor::<1>::from_floats([-3.0, -0.5, 0.0, 0.5, 1.0, 2.5], &dev);
        let got = values(smooth_l1(d));
        let want = [2.5, 0.125, 0.0, 0.125, 0.5, 2.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    /// Two images, four priors, three classes.
    fn targets() -> BatchTargets {
        BatchTargets {
            batch: 2,
            priors: 4,
            labels: vec![0, 2, 0, 0, 0, 0, 0, 0],
            offsets: vec![[0.0; 4], [2.0, 0.0, 0.5, 0.0], [0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4]],
        }
    }

    #[test]
    fn loss_counts_positives_and_three_hard_negatives_per_positive() {
        let dev = Device::flex();
        // Uniform logits: every prior's cross-entropy is ln 3.
        let conf = Tensor::<3>::zeros([2, 4, 3], &dev);
        // Offsets predicted as zero: smooth L1 of (2, 0, 0.5, 0) = 1.5 + 0.125.
        let loc = Tensor::<3>::zeros([2, 4, 4], &dev);
        let loss = multibox_loss(loc, conf, &targets(), ScoreActivation::Softmax);
        // One positive: conf = (1 positive + 3 negatives)·ln 3 / 1; image 2
        // has no positive, so none of its negatives count.
        assert!((loss.conf - 4.0 * 3f32.ln()).abs() < 1e-5, "{}", loss.conf);
        assert!((loss.loc - 1.625).abs() < 1e-6, "{}", loss.loc);
        let total = loss.total.into_scalar::<f32>();
        assert!((total - loss.conf - loss.loc).abs() < 1e-5);
    }

    #[test]
    fn a_confident_correct_prediction_costs_almost_nothing() {
        let dev = Device::flex();
        let mut logits = vec![0f32; 2 * 4 * 3];
        for (i, &label) in targets().labels.iter().enumerate() {
            logits[i * 3 + label as usize] = 30.0;
        }
        let conf = Tensor::<3>::from_data(TensorData::new(logits, [2, 4, 3]), &dev);
        let offsets: Vec<f32> = targets().offsets.iter().flatten().copied().collect();
        let loc = Tensor::<3>::from_data(TensorData::new(offsets, [2, 4, 4]), &dev);
        let loss = multibox_loss(loc, conf, &targets(), ScoreActivation::Softmax);
        assert!(loss.conf < 1e-6 && loss.loc < 1e-6, "{loss:?}");
    }

    #[test]
    fn gradients_push_the_positive_towards_its_class() {
        let dev = Device::flex().autodiff();
        let conf = Tensor::<3>::zeros([2, 4, 3], &dev).require_grad();
        let loc = Tensor::<3>::zeros([2, 4, 4], &dev).require_grad();
        let loss = multibox_loss(loc.clone(), conf.clone(), &targets(), ScoreActivation::Softmax);
        let grads = loss.total.backward();
        let g = values(conf.grad(&grads).unwrap());
        // Prior 1 of image 1 is class 2: its logit's gradient is negative
        // (raising it lowers the loss), the other classes' positive.
        let prior1 = &g[3..6];
        assert!(prior1[2] < 0.0 && prior1[0] > 0.0 && prior1[1] > 0.0, "{g:?}");
        // Image 2 has no positives: no gradient at all.
        assert!(g[12..].iter().all(|v| *v == 0.0), "{g:?}");
        let gl = values(loc.grad(&grads).unwrap());
        // d/dx smooth L1 at x − t = −2 is −1 (linear part), at −0.5 is −0.5.
        assert!((gl[4] + 1.0).abs() < 1e-6 && (gl[6] + 0.5).abs() < 1e-6, "{gl:?}");
    }

    #[test]
    fn sigmoid_loss_sums_binary_cross_entropy_over_the_class_columns() {
        let dev = Device::flex();
        // Zero logits: every column costs ln 2, three columns per prior.
        let conf = Tensor::<3>::zeros([2, 4, 3], &dev);
        let loc = Tensor::<3>::zeros([2, 4, 4], &dev);
        let loss = multibox_loss(loc, conf, &targets(), ScoreActivation::Sigmoid);
        // One positive and its three negatives, three columns each.
        assert!((loss.conf - 4.0 * 3.0 * 2f32.ln()).abs() < 1e-5, "{}", loss.conf);
    }

    #[test]
    fn sigmoid_gradients_raise_the_true_column_and_lower_the_others() {
        let dev = Device::flex().autodiff();
        let conf = Tensor::<3>::zeros([2, 4, 3], &dev).require_grad();
        let loc = Tensor::<3>::zeros([2, 4, 4], &dev).require_grad();
        let loss = multibox_loss(loc, conf.clone(), &targets(), ScoreActivation::Sigmoid);
        let g = values(conf.grad(&loss.total.backward()).unwrap());
        // Prior 1 of image 1 is class 2: dL/dx = σ(0) − t = −0.5 there, +0.5 elsewhere.
        assert!((g[5] + 0.5).abs() < 1e-6 && (g[3] - 0.5).abs() < 1e-6 && (g[4] - 0.5).abs() < 1e-6, "{g:?}");
        // A hard negative: the background column is pushed up.
        assert!(g[0] < 0.0 && g[1] > 0.0, "{g:?}");
    }
}
