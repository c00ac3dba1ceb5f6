//! The training loop: SGD with momentum and weight decay, warm-up then
//! cosine or step decay, checkpoints every N iterations that a later run
//! resumes bit for bit, and a loss history for the curve.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::data::{Batch, BatchMaker};
use super::detector::{Arch, Detector};
use super::loss::multibox_loss;
use ssd_core::manifest::ScoreActivation;

/// How the learning rate falls after the warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Decay {
    /// Half a cosine from the base rate to zero at the last iteration.
    Cosine,
    /// Multiplied by `gamma` at each milestone iteration.
    Step {
        /// Iterations at which the rate drops.
        milestones: Vec<u64>,
        /// Factor per drop.
        gamma: f64,
    },
}

/// Learning rate over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Rate after the warm-up.
    pub base: f64,
    /// Iterations of linear warm-up from base/warmup to base.
    pub warmup: u64,
    /// Iterations in the run.
    pub iterations: u64,
    /// Decay after the warm-up.
    pub decay: Decay,
}

impl Schedule {
    /// The rate for (0-based) iteration `it`.
    pub fn lr(&self, it: u64) -> f64 {
        if it < self.warmup {
            return self.base * (it + 1) as f64 / self.warmup as f64;
        }
        match &self.decay {
            Decay::Cosine => {
                let span = self.iterations.saturating_sub(self.warmup).max(1) as f64;
                let t = ((it - self.warmup) as f64 / span).min(1.0);
                self.base * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Decay::Step { milestones, gamma } => {
                let drops = milestones.iter().filter(|&&m| it >= m).count();
                self.base * gamma.powi(drops as i32)
            }
        }
    }
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with momentum, as in the paper.
    #[default]
    Sgd,
    /// Adam (β 0.9/0.999); `momentum` is unused.
    Adam,
}

fn one() -> f64 {
    1.0
}

fn softmax() -> ScoreActivation {
    ScoreActivation::Softmax
}

/// Everything that defines a run (stored in the checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Network architecture (runs from before it existed are SSD300).
    #[serde(default)]
    pub arch: Arch,
    /// How class scores are trained and read: softmax or sigmoid.
    #[serde(default = "softmax")]
    pub scores: ScoreActivation,
    /// Pretrained network the run started from (`.onnx`, for the record).
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// Iterations at the start during which the backbone does not train.
    #[serde(default)]
    pub freeze_backbone: u64,
    /// The backbone's learning rate as a fraction of the rest's.
    #[serde(default = "one")]
    pub backbone_lr: f64,
    /// Channel width multiplier of the SSD300 layout.
    pub width: f32,
    /// Images per batch.
    pub batch: usize,
    /// Learning-rate schedule (its `iterations` is the run length).
    pub schedule: Schedule,
    /// Optimiser.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Gradient norm clip (0 = off); keeps early from-scratch steps sane.
    pub clip_norm: f32,
    /// Seed of initialisation order, shuffling and augmentation.
    pub seed: u64,
    /// Iterations between checkpoints (0 = only at the end).
    pub checkpoint_every: u64,
    /// Paper augmentation on.
    pub augment: bool,
    /// Batch norm after the backbone and extra convolutions (folded away at
    /// export).
    #[serde(default)]
    pub batch_norm: bool,
}

/// One logged iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Iteration (0-based).
    pub iteration: u64,
    /// Learning rate used.
    pub lr: f64,
    /// Total loss.
    pub loss: f32,
    /// Smooth L1 part.
    pub loc: f32,
    /// Confidence part.
    pub conf: f32,
}

/// What a checkpoint directory's `state.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Class labels, background first.
    pub labels: Vec<String>,
    /// Iterations completed.
    pub completed: u64,
    /// Loss per iteration so far.
    pub history: Vec<HistoryPoint>,
    /// Training seconds so far (wall clock, summed over sessions).
    pub seconds: f64,
}

/// Files of a checkpoint directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// The checkpoint kept in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// Network weights (burnpack).
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }
    fn optim(&self) -> PathBuf {
        self.dir.join("optim.bpk")
    }

    /// Whether a checkpoint has been written here.
    pub fn exists(&self) -> bool {
        self.state().is_file()
    }

    /// Reads `state.json`.
    pub fn read_state(&self) -> Result<TrainState> {
        let path = self.state();
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))
    }

    /// The trained network stored here.
    pub fn load_model(&self, dev: &Device) -> Result<(Detector, TrainState)> {
        let state = self.read_state()?;
        let c = &state.config;
        let net = Detector::new(c.arch, state.labels.len(), c.width, c.batch_norm, dev)
            .try_load_file(self.model())
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", self.model().display()))?;
        Ok((net, state))
    }

    /// Writes model, optimiser and state; the state goes last and atomically,
    /// so a run killed mid-write resumes from the previous checkpoint.
    fn save(&self, net: &Detector, optim: &ModuleOptimizer, state: &TrainState) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("{}", self.dir.display()))?;
        let staged = self.dir.join("staged");
        std::fs::create_dir_all(&staged)?;
        net.clone().save_file(staged.join("model.bpk")).map_err(|e| anyhow::anyhow!("saving model: {e:?}"))?;
        optim.save(staged.join("optim.bpk")).map_err(|e| anyhow::anyhow!("saving optimiser: {e:?}"))?;
        std::fs::rename(staged.join("model.bpk"), self.model())?;
        std::fs::rename(staged.join("optim.bpk"), self.optim())?;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(state)?)?;
        std::fs::rename(&tmp, self.state())?;
        Ok(())
    }
}

fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    let decay = Some(WeightDecayConfig::new(config.weight_decay as f32));
    let clip = (config.clip_norm > 0.0).then_some(GradientClippingConfig::Norm(config.clip_norm));
    match config.optimizer {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(config.momentum).with_dampening(0.0)))
            .with_weight_decay(decay)
            .with_gradient_clipping(clip)
            .init(),
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).with_grad_clipping(clip).init(),
    }
}

/// Progress reports from [`train`].
pub trait Progress {
    /// Called after each iteration.
    fn step(&mut self, point: &HistoryPoint, images_per_second: f64, total: u64);
    /// Called when a checkpoint has been written.
    fn checkpoint(&mut self, _completed: u64) {}
}

/// How a call to [`train`] begins.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new run with this configuration and labels (background first).
    Fresh(TrainConfig, Vec<String>),
    /// The run stored in the checkpoint; `iterations` lengthens or shortens
    /// its schedule (never below what is done).
    Resume {
        /// New run length, if any.
        iterations: Option<u64>,
    },
}

/// Trains (or resumes) the run kept in `checkpoint`.
/// Stops after `max_steps` iterations of this call (if given), on `stop`, or
/// at the end of the schedule, and always leaves a checkpoint behind.
pub fn train(
    checkpoint: &Checkpoint,
    start: Start,
    mut batches: BatchMaker,
    dev: &Device,
    max_steps: Option<u64>,
    stop: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<TrainState> {
    let (mut net, mut optim, mut state) = match start {
        Start::Fresh(config, labels) => {
            // Seeded initial weights make a run reproducible from its config.
            dev.seed(config.seed);
            let mut net = Detector::new(config.arch, labels.len(), config.width, config.batch_norm, dev);
            if let Some(init) = &config.init {
                let (loaded, report) = net.init_from(init, &labels, dev)?;
                log::info!(
                    "{}: {} convolutions loaded, {} class predictors rebuilt, {} of {} classes kept",
                    init.display(),
                    report.loaded,
                    report.class_heads_reset,
                    report.kept_classes,
                    labels.len()
                );
                net = loaded;
            }
            let optim = optimizer(&config);
            (net, optim, TrainState { config, labels, completed: 0, history: Vec::new(), seconds: 0.0 })
        }
        Start::Resume { iterations } => {
            let (net, mut state) = checkpoint.load_model(dev)?;
            if let Some(n) = iterations {
                state.config.schedule.iterations = n.max(state.completed);
            }
            let optim = optimizer(&state.config)
                .load(checkpoint.optim())
                .map_err(|e| anyhow::anyhow!("{}: {e:?}", checkpoint.optim().display()))?;
            log::info!("resuming after iteration {} of {}", state.completed, state.config.schedule.iterations);
            (net, optim, state)
        }
    };
    if net.classes() != state.labels.len() {
        bail!("network has {} classes, labels list {}", net.classes(), state.labels.len());
    }
    let config = state.config.clone();
    let total = config.schedule.iterations;
    let (w, h) = (300, 300);
    let start = state.completed;
    let end = max_steps.map_or(total, |m| (start + m).min(total));

    // Batches are made on their own thread while the network computes.
    let (tx, rx) = crossbeam_channel::bounded::<Result<Batch>>(2);
    let loader = std::thread::Builder::new().name("batches".into()).spawn(move || {
        for it in start..end {
            if tx.send(batches.batch(it)).is_err() {
                break;
            }
        }
    })?;

    let mut last_save = start;
    let result = (|| -> Result<()> {
        for it in start..end {
            if stop.load(Ordering::Relaxed) {
                log::warn!("stopping after iteration {}", state.completed);
                break;
            }
            let t0 = Instant::now();
            let batch = rx.recv().context("batch thread ended early")??;
            let b = batch.targets.batch;
            let images = Tensor::<4>::from_data(TensorData::new(batch.images, [b, 3, h, w]), dev);
            let frozen = it < config.freeze_backbone;
            let (loc, conf) = net.forward(images, frozen);
            let loss = multibox_loss(loc, conf, &batch.targets, config.scores);
            let total_loss = loss.loc + loss.conf;
            if !total_loss.is_finite() {
                bail!("loss became {total_loss} at iteration {it}; lower --lr or raise --warmup");
            }
            let lr = config.schedule.lr(it);
            let mut grads = loss.total.backward();
            let backbone = net.take_backbone_grads(&mut grads);
            let rest = GradientsParams::from_grads(grads, &net);
            // The optimiser takes the module by value; the clone shares tensors.
            net = optim.step(lr, net.clone(), rest);
            if let Some(backbone) = backbone.filter(|g| !g.is_empty()) {
                net = optim.step(lr * config.backbone_lr, net.clone(), backbone);
            }
            let point = HistoryPoint { iteration: it, lr, loss: total_loss, loc: loss.loc, conf: loss.conf };
            state.history.push(point);
            state.completed = it + 1;
            let dt = t0.elapsed().as_secs_f64();
            state.seconds += dt;
            progress.step(&point, b as f64 / dt.max(1e-9), total);
            if config.checkpoint_every > 0 && state.completed % config.checkpoint_every == 0 {
                checkpoint.save(&net, &optim, &state)?;
                last_save = state.completed;
                progress.checkpoint(state.completed);
            }
        }
        Ok(())
    })();
    drop(rx);
    let _ = loader.join();
    // Whatever happened, keep the progress made so far.
    if state.completed > last_save || !checkpoint.exists() {
        checkpoint.save(&net, &optim, &state)?;
        progress.checkpoint(state.completed);
    }
    result.map(|()| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(decay: Decay) -> Schedule {
        Schedule { base: 0.01, warmup: 10, iterations: 110, decay }
    }

    #[test]
    fn warmup_rises_linearly_to_the_base_rate() {
        let s = schedule(Decay::Cosine);
        assert!((s.lr(0) - 0.001).abs() < 1e-12);
        assert!((s.lr(4) - 0.005).abs() < 1e-12);
        assert!((s.lr(9) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn cosine_falls_to_half_midway_and_zero_at_the_end() {
        let s = schedule(Decay::Cosine);
        assert!((s.lr(10) - 0.01).abs() < 1e-12);
        assert!((s.lr(60) - 0.005).abs() < 1e-12);
        assert!(s.lr(110).abs() < 1e-12);
        assert!(s.lr(200).abs() < 1e-12, "stays at zero past the end");
    }

    #[test]
    fn step_decay_multiplies_at_each_milestone() {
        let s = schedule(Decay::Step { milestones: vec![50, 80], gamma: 0.1 });
        assert!((s.lr(49) - 0.01).abs() < 1e-12);
        assert!((s.lr(50) - 0.001).abs() < 1e-12);
        assert!((s.lr(80) - 0.0001).abs() < 1e-12);
    }
}
