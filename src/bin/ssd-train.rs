//! `ssd-train`: the host-side companion of ssd-cam. So far it generates
//! synthetic datasets and evaluates models; training with burn comes next.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ssd_cam::train::evaluate::{evaluate_jsonl, evaluate_model, table};
use ssd_cam::train::synth::{scene, SynthParams, CLASSES};
use ssd_cam::train::voc::{load_split, write_sample, write_split, OnBadAnnotation, VocObject};

/// Datasets and evaluation for ssd-cam models.
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

#[derive(Debug, Subcommand)]
enum Command {
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
        /// Dataset root.
        #[arg(long)]
        data: PathBuf,
        /// ImageSets/Main list to evaluate.
        #[arg(long, default_value = "test")]
        split: String,
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
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Synth { out, count, seed, size, split } => {
            let params = SynthParams::default();
            let width = count.to_string().len().max(6);
            let mut ids = Vec::new();
            for i in 0..count {
                let s = scene(seed, i, size, size, &params);
                let img = image::RgbImage::from_raw(s.width, s.height, s.rgb).context("scene buffer size")?;
                let objects = s
                    .objects
                    .iter()
                    .map(|o| VocObject { name: CLASSES[o.class].to_owned(), bbox: o.bbox, difficult: false })
                    .collect();
                let id = format!("{split}_{i:0width$}");
                write_sample(&out, &id, &img, objects).with_context(|| format!("writing {}", out.display()))?;
                ids.push(id);
            }
            write_split(&out, &split, &ids)?;
            log::info!("wrote {count} images to {} (split {split}, seed {seed})", out.display());
        }
        Command::Eval { data, split, model, detections, threshold, on_bad } => {
            let on_bad = match on_bad {
                OnBad::Skip => OnBadAnnotation::Skip,
                OnBad::Fail => OnBadAnnotation::Fail,
            };
            let samples = load_split(&data, &split, on_bad)?;
            let paths = ssd_cam::manifest::locate_model(&model).map_err(anyhow::Error::msg)?;
            let labels = ssd_cam::manifest::Manifest::from_path(&paths.manifest)?.labels;
            let acc = match detections {
                Some(jsonl) => evaluate_jsonl(&jsonl, &samples, &labels)?,
                None => evaluate_model(&model, &samples, threshold)?,
            };
            print!("{}", table(&acc, &labels));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
