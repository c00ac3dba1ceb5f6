//! `ssd-train`: the host-side companion of ssd-cam. Generates synthetic
//! datasets, trains SSD300-VGG16 or SSDLite-MobileNetV2 (from scratch or from
//! a pretrained detector) with burn, exports ONNX + manifest for ssd-cam,
//! and evaluates models.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use burn::prelude::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ssd_core::dataset::coco::load_dataset;
use ssd_core::dataset::voc::OnBadAnnotation;
use ssd_core::manifest::ScoreActivation;
use ssd_train::calibrate::{calibrate_and_quantize, CalibrationJob};
use ssd_train::data::{labels_of, train_samples, BatchMaker};
use ssd_train::detector::Arch;
use ssd_train::evaluate::{evaluate_jsonl, evaluate_model, pr_chart, table};
use ssd_train::plot::loss_chart;
use ssd_train::quantize::{RangeMethod, WeightScales};
use ssd_train::synth::{write_dataset, SynthParams};
use ssd_train::trainer::{
    train, Checkpoint, Decay, HistoryPoint, OptimizerKind, Progress, Schedule, Start, TrainConfig,
};

/// Datasets, training, export and evaluation for ssd-cam models.
#[derive(Debug, Parser)]
#[command(name = "ssd-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnBad {
    Skip,
    Fail,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OptimArg {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScoresArg {
    Softmax,
    Sigmoid,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DecayKind {
    Cosine,
    Step,
}

/// Options of `ssd-train train`.
#[derive(Debug, Args)]
struct TrainArgs {
    /// Dataset: a Pascal VOC root (`ssd-train synth` writes one) or a COCO
    /// instances JSON file.
    #[arg(long)]
    data: PathBuf,
    /// VOC: ImageSets/Main list to train on.
    #[arg(long, default_value = "train")]
    split: String,
    /// COCO: folder of the images (default: images/ next to the JSON).
    #[arg(long)]
    images: Option<PathBuf>,
    /// Run directory: checkpoints, loss curve.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its last checkpoint (its stored
    /// settings win over the ones given here, except --iterations).
    #[arg(long)]
    resume: bool,
    /// Network [default: ssdlite-mobilenetv2 with --init, else ssd300-vgg16].
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// Start from a pretrained SSDLite-MobileNetV2 (a name in models/ or an
    /// .onnx path with its manifest), e.g. person-ssdlite. Classes it also
    /// has keep their predictors; the others start fresh.
    #[arg(long, value_name = "MODEL")]
    init: Option<String>,
    /// Keep the backbone fixed for the first ITERS iterations (the new
    /// predictors settle before the pretrained features move).
    #[arg(long, value_name = "ITERS", default_value_t = 0)]
    freeze_backbone: u64,
    /// The backbone's learning rate as a fraction of --lr [default: 0.1
    /// with --init, else 1].
    #[arg(long, value_name = "FRACTION")]
    backbone_lr: Option<f64>,
    /// Score activation trained and written to the manifest [default:
    /// softmax for ssd300-vgg16, sigmoid for ssdlite-mobilenetv2].
    #[arg(long, value_enum)]
    scores: Option<ScoresArg>,
    /// Channel width multiplier of the SSD300 layout.
    #[arg(long, default_value_t = 0.25)]
    width: f32,
    /// Images per batch.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    batch: u64,
    /// Iterations (batches) in the run [default: 10000]; with --resume,
    /// lengthens or shortens the stored schedule.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,
    /// Learning rate after the warm-up.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Iterations of linear warm-up.
    #[arg(long, default_value_t = 500)]
    warmup: u64,
    /// Decay after the warm-up.
    #[arg(long, value_enum, default_value_t = DecayKind::Cosine)]
    decay: DecayKind,
    /// Step decay milestones, as fractions of the run.
    #[arg(long, value_delimiter = ',', default_values_t = [0.66, 0.83])]
    milestones: Vec<f64>,
    /// Step decay factor.
    #[arg(long, default_value_t = 0.1)]
    gamma: f64,
    /// Optimiser: SGD with momentum (the paper's) or Adam.
    #[arg(long, value_enum, default_value_t = OptimArg::Sgd)]
    optimizer: OptimArg,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f64,
    /// Clip the gradient norm to this (0 = off).
    #[arg(long, default_value_t = 10.0)]
    clip_norm: f32,
    /// Seed of initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Iterations between checkpoints.
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Train without the paper's augmentation.
    #[arg(long)]
    no_augment: bool,
    /// Batch norm after each backbone and extra convolution (folded into the
    /// convolutions at export; trains from scratch much faster).
    #[arg(long)]
    batch_norm: bool,
    /// Stop after this many iterations of this invocation (resume later).
    #[arg(long)]
    max_steps: Option<u64>,
    /// What to do with a bad annotation file.
    #[arg(long, value_enum, default_value_t = OnBad::Fail)]
    on_bad: OnBad,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RangesArg {
    Minmax,
    Percentile,
}

/// Options of `ssd-train quantize`.
#[derive(Debug, Args)]
struct QuantizeArgs {
    /// Float model: a name in models/ or a path to an .onnx file.
    #[arg(long)]
    model: String,
    /// Folder of calibration images (frames like the camera's).
    #[arg(long, default_value = "calibration")]
    calibration: PathBuf,
    /// INT8 ONNX file to write, e.g. models/ssd300-shapes.int8.onnx.
    #[arg(long)]
    out: PathBuf,
    /// How activation ranges are taken from the calibration runs.
    #[arg(long, value_enum, default_value_t = RangesArg::Minmax)]
    ranges: RangesArg,
    /// Percentile for --ranges percentile.
    #[arg(long, default_value_t = 99.99, value_parser = parse_percentile)]
    percentile: f32,
    /// Int8 weights with one scale per output channel instead of one uint8
    /// scale per tensor (tract 0.23 runs them, but slower).
    #[arg(long)]
    per_channel: bool,
    /// Use at most this many images.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_images: u64,
}

fn parse_percentile(s: &str) -> std::result::Result<f32, String> {
    match s.parse::<f32>() {
        Ok(p) if (50.0..=100.0).contains(&p) => Ok(p),
        Ok(p) => Err(format!("{p} is not in 50..=100")),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trains SSD300-VGG16 or SSDLite-MobileNetV2 (from scratch or from a
    /// pretrained detector) on a VOC or COCO dataset (fresh or --resume).
    Train(TrainArgs),
    /// Writes a run's network as ONNX with its manifest, ready for ssd-cam.
    Export {
        /// Run directory of `ssd-train train`.
        #[arg(long)]
        run: PathBuf,
        /// ONNX file to write; the manifest goes next to it (.json).
        #[arg(long)]
        out: PathBuf,
        /// Description stored in the manifest.
        #[arg(long, default_value = "SSD300 trained by ssd-train")]
        description: String,
    },
    /// Writes synthetic shape scenes as a Pascal VOC dataset.
    Synth {
        /// Dataset root (created).
        #[arg(long)]
        out: PathBuf,
        /// Number of images.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        count: u64,
        /// Seed; a held-out set must use a seed never used for training.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Image side in pixels.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(32..=4096))]
        size: u32,
        /// Name of the ImageSets/Main list to write.
        #[arg(long, default_value = "train")]
        split: String,
    },
    /// VOC mAP@0.5 and COCO AP@[.5:.95] of a model on a VOC dataset.
    Eval {
        /// Dataset: a Pascal VOC root or a COCO instances JSON file.
        #[arg(long)]
        data: PathBuf,
        /// VOC: ImageSets/Main list to evaluate.
        #[arg(long, default_value = "test")]
        split: String,
        /// COCO: folder of the images (default: images/ next to the JSON).
        #[arg(long)]
        images: Option<PathBuf>,
        /// Model name or path (its labels name the dataset's classes).
        #[arg(long)]
        model: String,
        /// Score ssd-cam's --headless output for the split's images (in the
        /// split's order) instead of running the model here.
        #[arg(long, value_name = "JSONL")]
        detections: Option<PathBuf>,
        /// Lowest score kept when running the model.
        #[arg(long, default_value_t = 0.01)]
        threshold: f32,
        /// What to do with a bad annotation file.
        #[arg(long, value_enum, default_value_t = OnBad::Fail)]
        on_bad: OnBad,
        /// Also draw the precision-recall curves into this PNG.
        #[arg(long, value_name = "PNG")]
        pr_curve: Option<PathBuf>,
    },
    /// Static INT8 quantization: activation ranges from calibration images,
    /// Conv → QLinearConv; writes OUT (.onnx) and its manifest (.json).
    Quantize(QuantizeArgs),
    /// Draws a run's loss curve (also written at the end of training).
    Plot {
        /// Run directory of `ssd-train train`.
        #[arg(long)]
        run: PathBuf,
        /// PNG to write (default: RUN/loss.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

impl From<OnBad> for OnBadAnnotation {
    fn from(o: OnBad) -> Self {
        match o {
            OnBad::Skip => OnBadAnnotation::Skip,
            OnBad::Fail => OnBadAnnotation::Fail,
        }
    }
}

/// A progress bar on a terminal, periodic log lines otherwise.
struct Report {
    bar: Option<ProgressBar>,
    every: u64,
}

impl Report {
    fn new(total: u64, done: u64) -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = ProgressBar::new(total).with_position(done);
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self { bar, every: 20 }
    }
}

impl Progress for Report {
    fn step(&mut self, p: &HistoryPoint, images_per_second: f64, total: u64) {
        let msg = format!(
            "loss {:.3} (loc {:.3} conf {:.3}) lr {:.2e} {:.2} img/s",
            p.loss, p.loc, p.conf, p.lr, images_per_second
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.iteration + 1);
                bar.set_message(msg);
            }
            None if (p.iteration + 1).is_multiple_of(self.every) || p.iteration + 1 == total => {
                log::info!("iteration {}/{total}: {msg}", p.iteration + 1);
            }
            None => {}
        }
    }
    fn checkpoint(&mut self, completed: u64) {
        match &self.bar {
            Some(bar) => bar.println(format!("checkpoint after iteration {completed}")),
            None => log::info!("checkpoint after iteration {completed}"),
        }
    }
}

fn train_command(a: TrainArgs, stop: &AtomicBool) -> Result<()> {
    let checkpoint = Checkpoint::new(&a.out);
    let voc = load_dataset(&a.data, &a.split, a.images.as_deref(), a.on_bad.into())?;
    let start = if a.resume {
        if !checkpoint.exists() {
            bail!("--resume: no checkpoint in {}", a.out.display());
        }
        Start::Resume { iterations: a.iterations }
    } else {
        if checkpoint.exists() {
            bail!("{} already holds a run; pass --resume to continue it or choose another --out", a.out.display());
        }
        if !(a.width > 0.0 && a.width <= 4.0) {
            bail!("--width must be in (0, 4], got {}", a.width);
        }
        let arch = a.arch.unwrap_or(if a.init.is_some() { Arch::SsdliteMobilenetv2 } else { Arch::Ssd300Vgg16 });
        let init = match &a.init {
            Some(m) => {
                if arch != Arch::SsdliteMobilenetv2 {
                    bail!("--init needs --arch ssdlite-mobilenetv2");
                }
                if a.batch_norm {
                    bail!("--init loads weights with batch norm folded in; drop --batch-norm");
                }
                Some(ssd_runtime::model_search::locate_model(m).map_err(|e| anyhow::anyhow!("--init: {e}"))?.onnx)
            }
            None => None,
        };
        let backbone_lr = a.backbone_lr.unwrap_or(if init.is_some() { 0.1 } else { 1.0 });
        if !(0.0..=10.0).contains(&backbone_lr) {
            bail!("--backbone-lr must be in [0, 10], got {backbone_lr}");
        }
        if a.freeze_backbone > 0 && arch != Arch::SsdliteMobilenetv2 {
            bail!("--freeze-backbone needs --arch ssdlite-mobilenetv2");
        }
        let iterations = a.iterations.unwrap_or(10_000);
        let decay = match a.decay {
            DecayKind::Cosine => Decay::Cosine,
            DecayKind::Step => Decay::Step {
                milestones: a.milestones.iter().map(|f| (f * iterations as f64) as u64).collect(),
                gamma: a.gamma,
            },
        };
        let config = TrainConfig {
            arch,
            scores: match a.scores {
                Some(ScoresArg::Softmax) => ScoreActivation::Softmax,
                Some(ScoresArg::Sigmoid) => ScoreActivation::Sigmoid,
                None => arch.default_scores(),
            },
            init,
            freeze_backbone: a.freeze_backbone,
            backbone_lr,
            width: a.width,
            batch: a.batch as usize,
            schedule: Schedule { base: a.lr, warmup: a.warmup, iterations, decay },
            optimizer: match a.optimizer {
                OptimArg::Sgd => OptimizerKind::Sgd,
                OptimArg::Adam => OptimizerKind::Adam,
            },
            momentum: a.momentum,
            weight_decay: a.weight_decay,
            clip_norm: a.clip_norm,
            seed: a.seed,
            checkpoint_every: a.checkpoint_every,
            augment: !a.no_augment,
            batch_norm: a.batch_norm,
        };
        Start::Fresh(config, labels_of(&voc))
    };
    let (config, labels, done) = match &start {
        Start::Fresh(c, l) => (c.clone(), l.clone(), 0),
        Start::Resume { iterations } => {
            let mut s = checkpoint.read_state()?;
            s.config.schedule.iterations = iterations.unwrap_or(s.config.schedule.iterations).max(s.completed);
            (s.config, s.labels, s.completed)
        }
    };
    let manifest = config.arch.manifest("training", "", labels.clone(), config.scores);
    let priors = ssd_runtime::baked_priors::priors_for(&manifest.priors)?.into_owned();
    let samples = train_samples(&voc, &labels)?;
    log::info!(
        "{} images, {} classes, {:?} ({} priors, {:?} scores), batch {}, {} iterations",
        samples.len(),
        labels.len() - 1,
        config.arch,
        priors.len(),
        config.scores,
        config.batch,
        config.schedule.iterations
    );
    let batches = BatchMaker::new(samples, &manifest, priors, config.batch, config.seed, config.augment)?;
    let dev = Device::flex().autodiff();
    let mut report = Report::new(config.schedule.iterations, done);
    let state = train(&checkpoint, start, batches, &dev, a.max_steps, stop, &mut report)?;
    if let Some(bar) = report.bar {
        bar.finish();
    }
    let png = a.out.join("loss.png");
    loss_chart(&state.history).save(&png)?;
    log::info!("loss curve in {}", png.display());
    log::info!(
        "{} of {} iterations done in {:.0} s; checkpoint in {}",
        state.completed,
        state.config.schedule.iterations,
        state.seconds,
        a.out.display()
    );
    Ok(())
}

fn export_command(run: &Path, out: &Path, description: &str) -> Result<()> {
    let (net, state) = Checkpoint::new(run).load_model(&Device::flex())?;
    let name = out.file_stem().and_then(|s| s.to_str()).context("--out needs a file name")?;
    let proto = net.to_onnx(state.config.width);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    ssd_onnx::write(&proto, out).with_context(|| format!("{}", out.display()))?;
    let manifest = state.config.arch.manifest(name, description, state.labels, state.config.scores);
    let json = out.with_extension("json");
    std::fs::write(&json, manifest.to_json()).with_context(|| format!("{}", json.display()))?;
    log::info!("wrote {} and {}", out.display(), json.display());
    Ok(())
}

fn quantize_command(a: QuantizeArgs) -> Result<()> {
    let job = CalibrationJob {
        model: a.model,
        images: a.calibration,
        out: a.out,
        method: match a.ranges {
            RangesArg::Minmax => RangeMethod::MinMax,
            RangesArg::Percentile => RangeMethod::Percentile(a.percentile),
        },
        weights: if a.per_channel { WeightScales::PerChannel } else { WeightScales::PerTensor },
        max_images: a.max_images as usize,
    };
    let s = calibrate_and_quantize(&job)?;
    let r = &s.report;
    log::info!(
        "calibrated on {} images ({} skipped); {} convolutions to QLinearConv ({} left in float), {} ReLUs folded, {} MaxPools in uint8, {} dequantizations",
        s.images,
        s.skipped,
        r.convolutions,
        r.float_convolutions,
        r.fused_relus,
        r.int8_max_pools,
        r.dequantizations
    );
    log::info!("wrote {} and {}", job.out.display(), s.manifest.display());
    Ok(())
}

fn run(cli: Cli, stop: &AtomicBool) -> Result<()> {
    match cli.command {
        Command::Train(a) => train_command(a, stop)?,
        Command::Export { run, out, description } => export_command(&run, &out, &description)?,
        Command::Synth { out, count, seed, size, split } => {
            write_dataset(&out, &split, seed, count, size, &SynthParams::default())
                .with_context(|| format!("writing {}", out.display()))?;
            log::info!("wrote {count} images to {} (split {split}, seed {seed})", out.display());
        }
        Command::Eval { data, split, images, model, detections, threshold, on_bad, pr_curve } => {
            let samples = load_dataset(&data, &split, images.as_deref(), on_bad.into())?;
            let paths = ssd_runtime::model_search::locate_model(&model).map_err(anyhow::Error::msg)?;
            let labels = ssd_core::manifest::Manifest::from_path(&paths.manifest)?.labels;
            let acc = match detections {
                Some(jsonl) => evaluate_jsonl(&jsonl, &samples, &labels)?,
                None => evaluate_model(&model, &samples, threshold)?,
            };
            print!("{}", table(&acc, &labels));
            if let Some(png) = pr_curve {
                pr_chart(&acc, &labels).save(&png)?;
                log::info!("wrote {}", png.display());
            }
        }
        Command::Quantize(a) => quantize_command(a)?,
        Command::Plot { run, out } => {
            let state = Checkpoint::new(&run).read_state()?;
            let png = out.unwrap_or_else(|| run.join("loss.png"));
            loss_chart(&state.history).save(&png)?;
            log::info!("wrote {}", png.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let stop = ssd_runtime::signal::stop_on_signal("stopping: saving a checkpoint (signal again to quit at once)");
    match run(Cli::parse(), &stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
