//! Wires the pieces together: resolves the model, checks everything, builds
//! the pipeline and runs it. All checks happen before any thread starts.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cli::Args;
use crate::manifest::{locate_model, Manifest};
use crate::model::{set_threads, Model};
use crate::pipeline::{Pipeline, Stats};
use crate::postprocess::{Decoder, PostParams};
use crate::preprocess::Preprocessor;
use crate::sink::json::JsonSink;
use crate::sink::save::{SaveFormat, SaveOptions, SaveSink};
use crate::sink::Sink;

/// Runs ssd-cam with parsed arguments until the input ends or `stop` is set.
pub fn run(args: &Args, stop: Arc<AtomicBool>) -> Result<Stats> {
    if let Some(device) = &args.device {
        bail!("camera capture ({device}) is not available in this build yet; use --source (demo, images, Y4M)");
    }
    if !args.headless {
        bail!("the on-screen window is not available in this build yet; run with --headless for JSON output");
    }
    let spec = args.source.clone().unwrap_or_else(|| "demo".to_owned());
    let paths = locate_model(&args.model).map_err(anyhow::Error::msg)?;
    let manifest = Manifest::from_path(&paths.manifest)?;
    let priors = crate::prior_table::priors_for(&manifest.priors)
        .with_context(|| format!("manifest {}", paths.manifest.display()))?;
    let threads =
        args.threads.map(|t| t as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    set_threads(threads);
    let started = std::time::Instant::now();
    let model = Model::load(&paths.onnx, &manifest, &paths.manifest)?;
    log::info!(
        "model {} ({}) loaded and optimised in {:.0} ms, {threads} thread(s)",
        manifest.name,
        paths.onnx.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let source = crate::source::open(&spec)?;
    log::info!("source {} ({})", source.name(), if source.is_live() { "live" } else { "file" });
    let mut params = PostParams::from(manifest.defaults);
    params.score_threshold = args.threshold.unwrap_or(params.score_threshold);
    params.nms.iou_threshold = args.nms_iou.unwrap_or(params.nms.iou_threshold);
    params.nms.keep_top_k = args.top_k.map_or(params.nms.keep_top_k, |k| k as usize);
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(JsonSink::new(
        std::io::BufWriter::new(std::io::stdout()),
        source.name().to_owned(),
        manifest.labels.clone(),
    ))];
    if let Some(dir) = &args.save {
        let options = SaveOptions {
            dir: dir.clone(),
            every: args.save_every,
            format: if args.save_png { SaveFormat::Png } else { SaveFormat::Jpeg },
            raw: args.save_raw,
            overwrite: args.overwrite,
        };
        sinks.push(Box::new(SaveSink::new(options, manifest.labels.clone())));
    }
    let pipeline = Pipeline {
        preprocessor: Preprocessor::new(&manifest, args.letterbox),
        decoder: Decoder::new(&manifest, priors, params),
        source,
        model,
        sinks,
        max_frames: args.max_frames,
    };
    Ok(pipeline.run(stop)?)
}

/// A flag raised by the first SIGINT/SIGTERM (logging `message`); a second
/// signal exits at once with status 130, for a user who will not wait.
pub fn stop_on_signal(message: &'static str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        log::warn!("{message}");
    });
    if let Err(e) = installed {
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
    stop
}
