//! Wires the pieces together: builds every camera of the run from its
//! [`Camera`] settings (one path, whether one camera or several), resolves
//! the model, checks everything, starts the outputs and runs the pipeline.
//! All checks happen before any thread starts.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::cli::Args;
use crate::config::{Camera, Input, Track};
use crate::events::{CountRule, EventParams, Events};
use crate::model::{set_threads, Model};
use crate::model_search::locate_model;
use crate::mqtt::{MqttSink, MqttSinkOptions};
use crate::pipeline::{Pipeline, PipelineError, Stats};
use crate::sink::json::JsonSink;
use crate::sink::record::{RecordOptions, RecordSink};
use crate::sink::save::{SaveFormat, SaveOptions, SaveSink};
use crate::sink::snapshot::SnapshotSink;
use crate::sink::Sink;
use crate::source::ffmpeg;
use ssd_core::manifest::Manifest;
use ssd_core::postprocess::{Decoder, DetectionFilter, PostParams};
use ssd_core::preprocess::Preprocessor;
use ssd_core::{TrackParams, Tracker};

/// Runs ssd-cam with parsed arguments until the input ends or `stop` is set.
/// A one-camera run is the several-camera run with one camera.
pub fn run(args: &Args, stop: Arc<AtomicBool>) -> Result<Stats> {
    let windowed = !args.headless;
    if windowed {
        check_window()?;
    }
    let crate::cli::RunSettings { cameras: specs, engine } = crate::cli::run_settings(args)?;
    let several = specs.len() > 1;
    check_several(args, specs.len())?;
    check_options(args, &specs)?;
    let retention = retention_places(args)?;
    let web = bind_web(args)?;
    let first = specs.first().map(|s| s.input.spec().to_owned()).unwrap_or_default();
    let any_device = specs.iter().any(|s| matches!(s.input, Input::Device(_)));
    let (model_arg, why) = crate::default_model(args.model.as_deref(), Some(&first), any_device);
    log::info!("model {model_arg} ({why})");
    let Loaded { manifest, priors, model, workers, .. } =
        load(&model_arg, Parallelism::resolve(args.threads, args.workers), engine.options())?;
    let stdout = crate::sink::json::SharedLines::stdout();
    // Every camera's name (running or not), and the running cameras'.
    let taken = camera_names(&specs)?;
    let mut names: Vec<String> = Vec::new();
    let mut failed = Vec::new();
    let viewer = viewer_url(web.as_ref());
    // Home Assistant: every config this run's cameras may have, running or
    // not; the first camera removes those the last run of this
    // configuration published and this one lacks.
    let mut ha_configs = match &specs.iter().find_map(|s| s.outputs.mqtt.as_ref()) {
        Some(mqtt) => {
            let owner = crate::mqtt::discovery::owner_id(args.config.as_deref(), &taken);
            let list = crate::mqtt::discovery::owned_topic(&mqtt.url.prefix, &owner);
            Some((list, ha_all_configs(&specs, &taken, &manifest, viewer.as_deref())?))
        }
        None => None,
    };
    // Per running camera: its settings and what /metrics reads at scrape time.
    let mut running: Vec<Running<'_>> = Vec::new();
    let mut cameras = Vec::with_capacity(specs.len());
    let mut hold = false;
    // The events database, in the clips folder: one for the run.
    let store = match specs.iter().find_map(|s| s.outputs.clips.as_ref()) {
        Some(clips) => {
            std::fs::create_dir_all(&clips.dir)
                .with_context(|| format!("--clips {}: cannot create the folder", clips.dir.display()))?;
            let writer = crate::store::StoreWriter::start(clips.dir.join(crate::store::FILE_NAME))
                .map_err(|e| anyhow::anyhow!("events database {e}"))?;
            Some(writer)
        }
        None => None,
    };
    for (spec, name) in specs.iter().zip(&taken) {
        let name = name.clone();
        let clip_dir = spec.outputs.clips.as_ref().map(|c| if several { c.dir.join(&name) } else { c.dir.clone() });
        // The segment buffer: in the clips folder, or under
        // --clips-buffer (a tmpfs spares an SD card the stream's writes).
        let buffer = spec.outputs.clips.as_ref().zip(clip_dir.as_ref()).map(|(c, dir)| match &c.buffer {
            Some(b) if several => b.join("ssd-cam-buffer").join(&name),
            Some(b) => b.join("ssd-cam-buffer"),
            None => dir.join(".buffer"),
        });
        let copied = match (&spec.outputs.clips, &buffer, &spec.input) {
            (Some(clips), Some(buffer), Input::Source(source))
                if !clips.annotated && crate::clips::copyable(source, &ffmpeg::FfmpegOptions::default().program) =>
            {
                Some(clip_buffer(buffer)?)
            }
            _ => None,
        };
        let opened = match &spec.input {
            Input::Device(device) => open_camera(device, spec, Arc::clone(&stop)),
            Input::Source(source) => {
                let options = ffmpeg::FfmpegOptions { segments: copied.clone(), ..ffmpeg_options(spec) };
                crate::source::open_with(source, options, Arc::clone(&stop)).map_err(anyhow::Error::from)
            }
        };
        let source = match opened {
            Ok(source) => source,
            // One camera that cannot open ends the run; one of several is
            // left out and the others run.
            Err(e) if !several => return Err(e),
            Err(e) => {
                log::error!("camera {name}: {e:#}; running without it");
                failed.push(format!("{name}: {e:#}"));
                continue;
            }
        };
        let live = source.is_live();
        hold |= !live;
        if several {
            log::info!("camera {name}: {} ({})", source.name(), if live { "live" } else { "file" });
        } else {
            log::info!("source {} ({})", source.name(), if live { "live" } else { "file" });
        }
        let in_camera = |e: anyhow::Error| if several { anyhow::anyhow!("camera {name}: {e:#}") } else { e };
        let (decoder, tracker) = decoding(spec, &manifest, priors.clone()).map_err(in_camera)?;
        let snapshots = spec.outputs.snapshots.as_ref().map(|dir| if several { dir.join(&name) } else { dir.clone() });
        let json = Box::new(stdout.writer());
        let mut scraped = crate::web::metrics::Scraped::default();
        let link = crate::records::SnapshotLink::new(snapshots.is_some(), args.http.is_some());
        let (gate, tracked) = gating(spec, live, &manifest).map_err(in_camera)?;
        let switches = Arc::new(crate::switches::Switches::default());
        let home_assistant = ha_device(spec, &name, &manifest, gate.is_some(), viewer.as_deref())
            .map_err(in_camera)?
            .map(|device| crate::mqtt::sink::HomeAssistant {
                unused: unused_configs(&device),
                device,
                cleanup: ha_configs.take().map(|(list, ours)| (list, Arc::new(ours))),
                switches: Arc::clone(&switches),
            });
        let event_out = EventOut { snapshots: snapshots.clone(), link, json, live, home_assistant };
        let mut sinks = event_sinks(spec, &name, event_out, &manifest.labels, &mut scraped).map_err(in_camera)?;
        sinks.extend(
            file_sinks(spec, source.frame_rate(), &manifest.labels, live, &mut scraped.output_drops)
                .map_err(in_camera)?,
        );
        let clip_health = Arc::new(crate::clips::ClipHealth::default());
        if let (Some(clips), Some(dir), Some(buffer)) = (&spec.outputs.clips, clip_dir.clone(), buffer) {
            scraped.clips = Some(Arc::clone(&clip_health));
            let health = Arc::clone(&clip_health);
            let (pixels, sink) = clip_sink(clips, (dir, buffer), (copied, health), source.as_ref(), &manifest.labels)
                .map_err(in_camera)?;
            let offloaded = crate::sink::offload::Offloaded::start("--clips", sink, SINK_QUEUE, live)
                .map_err(anyhow::Error::msg)?
                .with_pixels(pixels);
            scraped.output_drops.push(("clips".to_owned(), offloaded.drop_counter()));
            sinks.push(Box::new(offloaded));
            if let Some(writer) = &store {
                let rows = crate::store::StoreSink::new(
                    writer.clone(),
                    name.clone(),
                    manifest.labels.clone(),
                    snapshots.is_some(),
                );
                sinks.push(Box::new(rows));
            }
        }
        running.push(Running { spec, scraped, snapshots, link, clips: clip_dir });
        cameras.push(crate::pipeline::Camera {
            source,
            decoder,
            sinks,
            max_frames: spec.outputs.max_frames,
            tracker,
            events: events(spec, &manifest.labels, clip_health).map_err(in_camera)?,
            gate,
            tracked,
            switches,
        });
        names.push(name);
    }
    // The cameras' sinks hold the database's writer now: the last to
    // finish waits for its rows.
    let database = store.as_ref().map(|w| w.path().to_path_buf());
    drop(store);
    if let Some((retention, places)) = retention {
        // Its thread checks `stop`; at the end of a file it dies with the
        // process (it never holds a file open between sweeps).
        let _sweeper = crate::retention::start(retention, places, database, Arc::clone(&stop));
    }
    if cameras.is_empty() {
        bail!("no camera could be opened: {}", failed.join("; "));
    }
    if let Some((bound, options)) = web {
        let named = names.iter().cloned().zip(running).collect();
        let web_sinks = start_web(args, bound, options, &manifest, named)?;
        for (camera, sink) in cameras.iter_mut().zip(web_sinks) {
            camera.sinks.push(sink);
        }
    }
    // systemd (Type=notify, WatchdogSec=): READY once every camera's frames
    // come through, pings while they keep coming.
    let done = Arc::new(AtomicBool::new(false));
    let notifier = crate::notify::Notifier::from_env().and_then(|notifier| {
        let beats: Vec<_> = cameras
            .iter_mut()
            .map(|camera| {
                let beat = crate::notify::Heartbeat::default();
                camera.sinks.push(Box::new(beat.clone()));
                beat.0
            })
            .collect();
        let interval = crate::notify::watchdog_interval();
        crate::notify::watch(notifier, beats, interval, Arc::clone(&done))
            .map_err(|e| log::warn!("cannot start the systemd notifier ({e})"))
            .ok()
    });
    let all = Pipeline { cameras, model, preprocessor: Preprocessor::new(&manifest, args.letterbox), workers };
    let results = if windowed {
        let title = format!("ssd-cam: {} on {}", manifest.name, names.join(", "));
        let regions = specs.first().is_some_and(|s| s.motion.show_regions);
        run_windowed(all, manifest.labels.clone(), title, stop, hold, regions)
    } else {
        all.run(stop).map_err(anyhow::Error::from)
    };
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(notifier) = notifier {
        let _ = notifier.join();
    }
    let results = results?;
    if !several {
        return Ok(results.into_iter().next().unwrap_or_else(|| Err(PipelineError::NoFrames(String::new())))?);
    }
    let mut total = Stats::default();
    let cameras_count = names.len() + failed.len();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(stats) => {
                eprintln!("{}", stats.summary().replacen("ssd-cam:", &format!("ssd-cam: {name}:"), 1));
                total.frames += stats.frames;
                total.dropped += stats.dropped;
                total.skipped += stats.skipped;
                total.seconds = total.seconds.max(stats.seconds);
                total.mean_latency_ms += stats.mean_latency_ms * stats.frames as f64;
                total.mean_inference_ms += stats.mean_inference_ms * stats.frames as f64;
                total.output_closed |= stats.output_closed;
            }
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if total.frames > 0 {
        total.mean_latency_ms /= total.frames as f64;
        total.mean_inference_ms /= total.frames as f64;
    }
    if !failed.is_empty() {
        bail!("{} of {cameras_count} cameras failed: {}", failed.len(), failed.join("; "));
    }
    Ok(total)
}

/// What works with one camera only, refused with several.
fn check_several(args: &Args, count: usize) -> Result<()> {
    if count < 2 {
        return Ok(());
    }
    let one_only = [
        ("the window (add --headless)", !args.headless),
        ("--save", args.save.is_some()),
        ("--record", args.record.is_some()),
        (
            "--zone, --line and --zones-file (give each camera its own in --config)",
            !args.zone.is_empty() || !args.line.is_empty() || args.zones_file.is_some(),
        ),
        ("--motion-mask (give each camera its own in --config)", !args.motion_mask.is_empty()),
    ];
    match one_only.iter().find(|(_, set)| *set) {
        Some((what, _)) => {
            bail!("{what} works with one camera for now; with {count} cameras, run one ssd-cam per camera for it")
        }
        None => Ok(()),
    }
}

/// `--check-config`: what a run checks before its first frame, without
/// opening a camera, a stream or a connection: the flags, cameras.toml, the
/// zones, the model and its manifest, each camera's settings against it,
/// the output folders (writable), the broker URL and the web options.
/// Every problem found, one line each; none means the run can start.
pub fn check_config(args: &Args) -> Vec<String> {
    let mut problems = Vec::new();
    let (specs, engine) = match crate::cli::run_settings(args) {
        Ok(settings) => (settings.cameras, settings.engine),
        Err(e) => return vec![format!("{e:#}")],
    };
    let mut check = |result: Result<()>| {
        if let Err(e) = result {
            problems.push(format!("{e:#}"));
        }
    };
    check(check_several(args, specs.len()));
    check(check_options(args, &specs));
    check(retention_places(args).map(drop));
    if let Some(addr) = args.http {
        check(web_options(args, addr).server_options().map(drop).map_err(anyhow::Error::msg));
    }
    let first = specs.first().map(|s| s.input.spec().to_owned()).unwrap_or_default();
    let any_device = specs.iter().any(|s| matches!(s.input, Input::Device(_)));
    let (model_arg, _) = crate::default_model(args.model.as_deref(), Some(&first), any_device);
    let loaded = load(&model_arg, Parallelism::resolve(args.threads, args.workers), engine.options());
    let several = specs.len() > 1;
    for spec in &specs {
        let name = spec.name.clone().unwrap_or_else(|| spec.input.default_name());
        let in_camera = |e: anyhow::Error| if several { anyhow::anyhow!("camera {name}: {e:#}") } else { e };
        if let Ok(Loaded { manifest, priors, .. }) = &loaded {
            check(decoding(spec, manifest, priors.clone()).map(drop).map_err(in_camera));
            let live = spec.input.is_network() || matches!(spec.input, Input::Device(_));
            check(gating(spec, live, manifest).map(drop).map_err(in_camera));
            check(count_rules(spec, &manifest.labels).map(drop).map_err(in_camera));
        }
        if let Input::Source(source) = &spec.input {
            check(crate::source::check(source).map_err(anyhow::Error::from).map_err(in_camera));
        }
        let outputs = &spec.outputs;
        let folders = [
            ("--snapshots", outputs.snapshots.clone()),
            ("--save", outputs.save.as_ref().map(|s| s.dir.clone())),
            (
                "--record",
                outputs.record.as_ref().map(|r| r.path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf()),
            ),
        ];
        for (flag, folder) in folders {
            if let Some(folder) = folder {
                check(
                    writable(&folder)
                        .map_err(|e| anyhow::anyhow!("{flag} {}: {e}", folder.display()))
                        .map_err(in_camera),
                );
            }
        }
        if let Some(record) = &outputs.record {
            if crate::sink::record::container(&record.path).is_none() {
                check(Err(anyhow::anyhow!(
                    "--record {}: the file must end in .mp4, .mkv, .mov or .avi",
                    record.path.display()
                )));
            }
        }
    }
    if let Err(e) = loaded {
        problems.push(format!("{e:#}"));
    }
    problems
}

/// Whether files can be made in `dir`, or in the nearest folder above it
/// that exists (a run creates the rest); nothing is left behind.
fn writable(dir: &std::path::Path) -> std::result::Result<(), String> {
    let existing = dir.ancestors().find(|d| d.as_os_str().is_empty() || d.is_dir()).unwrap_or(dir);
    let existing = if existing.as_os_str().is_empty() { std::path::Path::new(".") } else { existing };
    if !existing.is_dir() {
        return Err("no such folder".into());
    }
    let probe = existing.join(format!(".ssd-cam-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot write in {}: {e}", existing.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Each camera's name: its `--name`, else one made from its source
/// (`base-2`, … when taken); never the spec itself, which may hold a
/// password.
fn camera_names(specs: &[Camera]) -> Result<Vec<String>> {
    let mut taken: Vec<String> = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name.clone().unwrap_or_else(|| unique_name(&spec.input.default_name(), &taken));
        if taken.contains(&name) {
            bail!("--name {name}: two cameras have this name");
        }
        taken.push(name);
    }
    Ok(taken)
}

/// The web viewer's address as another machine reaches it (the board's
/// host name when it listens on every address).
fn viewer_url(web: Option<&(crate::web::server::Bound, crate::web::server::ServerOptions)>) -> Option<String> {
    let (bound, options) = web?;
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let ip = bound.addr.ip();
    let host = if ip.is_unspecified() {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    Some(format!("{scheme}://{host}:{}/", bound.addr.port()))
}

/// The Home Assistant device of camera `name` (`--ha-discovery`).
fn ha_device(
    spec: &Camera,
    name: &str,
    manifest: &Manifest,
    motion_gate: bool,
    viewer: Option<&str>,
) -> Result<Option<crate::mqtt::discovery::Device>> {
    let Some(mqtt) = &spec.outputs.mqtt else { return Ok(None) };
    let Some(prefix) = &mqtt.discovery else { return Ok(None) };
    let labels = match class_ids(&spec.detection.classes, &manifest.labels)? {
        Some(ids) => ids.iter().filter_map(|&i| manifest.labels.get(i as usize).cloned()).collect(),
        None => {
            let background = manifest.background_index;
            let kept = manifest.labels.iter().enumerate().filter(|(i, _)| Some(*i) != background);
            kept.map(|(_, l)| l.clone()).collect()
        }
    };
    Ok(Some(crate::mqtt::discovery::Device {
        prefix: prefix.clone(),
        node: crate::mqtt::discovery::node_id(&mqtt.url.prefix),
        camera: name.to_owned(),
        base: crate::mqtt::topics::base(&mqtt.url.prefix, name),
        model: manifest.name.clone(),
        labels,
        zones: spec.zones.iter().map(|z| (z.name.clone(), z.labels.clone())).collect(),
        lines: spec
            .lines
            .iter()
            .map(|l| {
                use crate::zones::Direction;
                let ways = [Direction::LeftToRight, Direction::RightToLeft].map(|w| l.way_name(w).to_owned());
                (l.name.clone(), ways)
            })
            .collect(),
        motion_gate,
        snapshots: spec.outputs.snapshots.is_some(),
        viewer: viewer.map(str::to_owned),
    }))
}

/// The configs `device` could have (with a motion gate) and does not.
fn unused_configs(device: &crate::mqtt::discovery::Device) -> Vec<String> {
    let used: Vec<String> = device.configs().into_iter().map(|(t, _)| t).collect();
    let possible = crate::mqtt::discovery::Device { motion_gate: true, ..device.clone() }.configs();
    possible.into_iter().map(|(t, _)| t).filter(|t| !used.contains(t)).collect()
}

/// Every config any of the cameras may have (each as if it had a motion
/// gate), so that none of theirs is taken for a stale one.
fn ha_all_configs(
    specs: &[Camera],
    names: &[String],
    manifest: &Manifest,
    viewer: Option<&str>,
) -> Result<std::collections::BTreeSet<String>> {
    let mut all = std::collections::BTreeSet::new();
    for (spec, name) in specs.iter().zip(names) {
        if let Some(device) = ha_device(spec, name, manifest, true, viewer)? {
            all.extend(device.configs().into_iter().map(|(t, _)| t));
        }
    }
    Ok(all)
}

/// `base`, or `base-2`, `base-3`, … when taken.
fn unique_name(base: &str, taken: &[String]) -> String {
    let base = if base.is_empty() { "camera" } else { base };
    (1..)
        .map(|i| if i == 1 { base.to_owned() } else { format!("{base}-{i}") })
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| base.to_owned())
}

/// `--http`: the options checked and the port bound, before the model
/// loads, so that a refused address or a port in use is the first thing
/// said.
fn bind_web(args: &Args) -> Result<Option<(crate::web::server::Bound, crate::web::server::ServerOptions)>> {
    let Some(addr) = args.http else { return Ok(None) };
    let options = web_options(args, addr).server_options().map_err(anyhow::Error::msg)?;
    Ok(Some((crate::web::server::bind(addr).map_err(anyhow::Error::msg)?, options)))
}

/// A camera that opened, as the web viewer needs it.
struct Running<'a> {
    spec: &'a Camera,
    /// What /metrics reads of it at scrape time.
    scraped: crate::web::metrics::Scraped,
    /// Its snapshots folder.
    snapshots: Option<std::path::PathBuf>,
    /// What its events say of their snapshots.
    link: crate::records::SnapshotLink,
    /// Its clips folder.
    clips: Option<std::path::PathBuf>,
}

/// Starts the web server for the running `cameras` (by name), the first
/// being the page's default; returns each camera's sink, in order.
fn start_web(
    args: &Args,
    bound: crate::web::server::Bound,
    mut options: crate::web::server::ServerOptions,
    manifest: &Manifest,
    cameras: Vec<(String, Running<'_>)>,
) -> Result<Sinks> {
    options.events_db = args.clips.as_ref().map(|dir| dir.join(crate::store::FILE_NAME));
    let set = crate::web::metrics::MetricsSet::new(&manifest.name);
    let specs: Vec<(&Camera, crate::records::SnapshotLink)> = cameras.iter().map(|(_, r)| (r.spec, r.link)).collect();
    let hubs: Vec<_> = cameras
        .into_iter()
        .map(|(name, running)| {
            let metrics = set.camera(&name, manifest.labels.clone(), running.scraped);
            let info = crate::web::hub::RunInfo {
                model: manifest.name.clone(),
                source: name,
                labels: manifest.labels.clone(),
                version: env!("CARGO_PKG_VERSION"),
                events: makes_events(running.spec),
                snapshots: running.snapshots,
                clips: running.clips,
            };
            crate::web::hub::Hub::new(info, metrics)
        })
        .collect();
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let addr = bound.addr;
    let server =
        Arc::new(crate::web::server::Server::start(bound, hubs.clone(), set, options).map_err(anyhow::Error::msg)?);
    log::info!("http: the viewer is at {scheme}://{addr}/");
    hubs.into_iter()
        .zip(specs)
        .map(|(hub, (spec, link))| {
            crate::web::sink::WebSink::new(hub, Arc::clone(&server), link, spec.motion.show_regions, args.http_fps)
                .map(|sink| Box::new(sink) as Box<dyn Sink>)
                .context("--http: cannot start the JPEG encoder thread")
        })
        .collect()
}

/// The decoder (thresholds, NMS, classes and sizes of the camera) and the
/// tracker. The camera's threshold splits the tracker's first pass from its
/// second, whose detections (down to the track's low score) the decoder
/// must then keep.
fn decoding(
    camera: &Camera,
    manifest: &Manifest,
    priors: std::borrow::Cow<'static, [[f32; 4]]>,
) -> Result<(Decoder, Option<Tracker>)> {
    let wanted = &camera.detection;
    let mut params = PostParams::from(manifest.defaults);
    params.score_threshold = wanted.threshold.unwrap_or(params.score_threshold);
    params.nms.iou_threshold = wanted.nms_iou.unwrap_or(params.nms.iou_threshold);
    params.nms.keep_top_k = wanted.top_k.map_or(params.nms.keep_top_k, |k| k as usize);
    let tracking = &camera.tracking;
    let tracker = (tracking.track == Track::On).then(|| {
        Tracker::new(TrackParams {
            iou: tracking.iou,
            max_age: tracking.max_age,
            min_hits: tracking.min_hits,
            high_score: params.score_threshold,
            second_pass: tracking.low.is_some_and(|low| low < params.score_threshold),
            ..TrackParams::default()
        })
    });
    if let Some(low) = tracking.low.filter(|_| tracker.as_ref().is_some_and(|t| t.params().second_pass)) {
        params.score_threshold = low;
    }
    let limits = wanted
        .filters
        .iter()
        .map(|f| Ok((class_id("--filter", &f.label, &manifest.labels)?, f.limits)))
        .collect::<Result<_>>()?;
    let filter = DetectionFilter {
        classes: class_ids(&wanted.classes, &manifest.labels)?,
        min_size: wanted.min_size.unwrap_or(0.0),
        limits,
    };
    Ok((Decoder::new(manifest, priors, params).with_filter(filter), tracker))
}

/// A camera's sinks.
type Sinks = Vec<Box<dyn Sink>>;

/// Where one camera's objects go besides its settings.
struct EventOut {
    /// Its snapshots folder.
    snapshots: Option<std::path::PathBuf>,
    /// What its events say of their snapshots.
    link: crate::records::SnapshotLink,
    /// Its JSON lines.
    json: Box<dyn std::io::Write + Send>,
    /// Whether its source is live.
    live: bool,
    /// `--ha-discovery`.
    home_assistant: Option<crate::mqtt::sink::HomeAssistant>,
}

/// The sinks of the camera's objects: JSON lines, snapshots, MQTT under
/// the camera's `name`; what /metrics reads of them goes into `scraped`.
fn event_sinks(
    camera: &Camera,
    name: &str,
    out: EventOut,
    labels: &[String],
    scraped: &mut crate::web::metrics::Scraped,
) -> Result<Sinks> {
    let EventOut { snapshots, link, json: json_out, live, home_assistant } = out;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let outputs = &camera.outputs;
    if outputs.json {
        let json = JsonSink::new(json_out, name.to_owned(), labels.to_vec());
        sinks.push(Box::new(json.events_only(outputs.events).with_snapshots(link)));
    }
    if let Some(dir) = &snapshots {
        let sink = SnapshotSink::new(dir.clone(), labels.to_vec(), camera.tracking.max_age)
            .with_context(|| format!("--snapshots {}: cannot create the folder", dir.display()))?;
        sinks.push(offloaded("snapshots", Box::new(sink), live, &mut scraped.output_drops)?);
    }
    if let Some(mqtt) = &outputs.mqtt {
        let options = MqttSinkOptions {
            ca: mqtt.ca.clone(),
            detections_hz: mqtt.detections_hz,
            snapshots: link,
            snapshot_dir: snapshots.clone(),
            home_assistant,
            ..MqttSinkOptions::default()
        };
        let sink =
            MqttSink::start(mqtt.url.clone(), options, name, labels.to_vec(), MQTT_WAIT).map_err(anyhow::Error::msg)?;
        scraped.mqtt = Some(sink.figures());
        sinks.push(Box::new(sink));
    }
    Ok(sinks)
}

/// The sinks that write the camera's frames to files: `--save` and
/// `--record` (at the source's `fps`, 30 when it does not say); their drop
/// counts go into `drops`.
fn file_sinks(
    camera: &Camera,
    fps: Option<f64>,
    labels: &[String],
    live: bool,
    drops: &mut OutputDrops,
) -> Result<Sinks> {
    let mut sinks: Sinks = Vec::new();
    if let Some(save) = &camera.outputs.save {
        let options = SaveOptions {
            dir: save.dir.clone(),
            every: save.every,
            format: if save.png { SaveFormat::Png } else { SaveFormat::Jpeg },
            raw: save.raw,
            overwrite: save.overwrite,
            regions: camera.motion.show_regions,
        };
        let sink = SaveSink::new(options, labels.to_vec())
            .with_context(|| format!("--save {}: cannot create the folder", save.dir.display()))?;
        sinks.push(offloaded("save", Box::new(sink), live, drops)?);
    }
    if let Some(record) = &camera.outputs.record {
        let options = RecordOptions {
            path: record.path.clone(),
            raw: record.raw,
            segment_seconds: record.segment_seconds,
            fps: fps.unwrap_or(30.0),
            program: ffmpeg::FfmpegOptions::default().program,
            regions: camera.motion.show_regions,
        };
        let sink = RecordSink::new(options, labels.to_vec()).map_err(anyhow::Error::msg)?;
        sinks.push(offloaded("record", Box::new(sink), live, drops)?);
    }
    Ok(sinks)
}

/// `--retain-days` / `--retain-size` and the folders they look after.
fn retention_places(args: &Args) -> Result<Option<(crate::retention::Retention, Vec<crate::retention::Place>)>> {
    use crate::retention::{Kind, Place, Retention};
    let retention = Retention::parse(&args.retain_days, &args.retain_size).map_err(anyhow::Error::msg)?;
    if !retention.any() {
        return Ok(None);
    }
    let mut places = Vec::new();
    if let Some(dir) = &args.clips {
        places.push(Place { kind: Kind::Clips, dir: dir.clone(), stem: None });
    }
    if let Some(dir) = &args.snapshots {
        places.push(Place { kind: Kind::Snapshots, dir: dir.clone(), stem: None });
    }
    if let Some(path) = &args.record {
        let part = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let stem = Some((part(path.file_stem()), part(path.extension())));
        places.push(Place { kind: Kind::Recordings, dir: dir.to_path_buf(), stem });
    }
    if places.is_empty() {
        bail!("--retain-days and --retain-size look after --clips, --snapshots and --record: add one of them");
    }
    Ok(Some((retention, places)))
}

/// A camera's segment buffer folder, created (and emptied of an earlier
/// run's segments).
fn clip_buffer(buffer: &std::path::Path) -> Result<crate::clips::segments::SegmentFeed> {
    crate::clips::segments::SegmentFeed::new(buffer.to_path_buf())
        .with_context(|| format!("--clips: cannot create {}", buffer.display()))
}

/// The clip output of a camera whose clips go in `dir` (its segment buffer
/// in `buffer`): cut from the stream `copied` by the source's ffmpeg, or
/// from frames it encodes.
fn clip_sink(
    clips: &crate::config::Clips,
    (dir, buffer): (std::path::PathBuf, std::path::PathBuf),
    (copied, health): (Option<crate::clips::segments::SegmentFeed>, Arc<crate::clips::ClipHealth>),
    source: &dyn crate::source::Source,
    labels: &[String],
) -> Result<(Arc<AtomicBool>, Box<dyn Sink>)> {
    use crate::clips::sink::{ClipOptions, ClipSink, Segments};
    let segments = match copied {
        Some(feed) => Segments::Copied(feed),
        None => Segments::Encoded {
            feed: clip_buffer(&buffer)?,
            annotated: clips.annotated,
            fps: source.frame_rate().filter(|r| r.is_finite() && *r > 0.0).unwrap_or(30.0),
        },
    };
    let how = if matches!(segments, Segments::Copied(_)) { "copied from the stream" } else { "encoded" };
    log::info!("clips in {} ({how})", dir.display());
    let options = ClipOptions {
        dir,
        capture: clips.capture,
        segments,
        program: ffmpeg::FfmpegOptions::default().program,
        rate: source.frame_rate(),
        health,
    };
    let sink = ClipSink::new(options, labels.to_vec()).map_err(anyhow::Error::msg)?;
    Ok((sink.pixels(), Box::new(sink)))
}

/// Frames a file-writing sink may hold before a live camera's frames are
/// dropped for it: a fraction of a second at camera rates, a bounded amount
/// of memory (four frames) whatever the disk does.
const SINK_QUEUE: usize = 4;

/// Each offloaded output's name and its count of dropped frames.
type OutputDrops = Vec<(String, Arc<std::sync::atomic::AtomicU64>)>;

/// `sink` (the output `name`: `record`, `snapshots`, `save`) on its own
/// thread, so that its disk or encoder never holds up detection or the
/// other outputs; its drop count goes into `drops`.
fn offloaded(name: &str, sink: Box<dyn Sink>, live: bool, drops: &mut OutputDrops) -> Result<Box<dyn Sink>> {
    let offloaded = crate::sink::offload::Offloaded::start(&format!("--{name}"), sink, SINK_QUEUE, live)
        .map_err(anyhow::Error::msg)?;
    drops.push((name.to_owned(), offloaded.drop_counter()));
    Ok(Box::new(offloaded))
}

/// The camera's motion gate and the tracked boxes it keeps crops for, when
/// the model runs only where things move.
fn gating(
    camera: &Camera,
    live: bool,
    manifest: &Manifest,
) -> Result<(Option<crate::gate::Gate>, Option<crate::gate::Tracked>)> {
    let settings = &camera.motion;
    let motion = settings.detect.gated(live);
    if !motion && (!settings.mask.is_empty() || settings.show_regions) {
        bail!("--motion-mask and --show-regions go with --detect motion (or auto, on a live source)");
    }
    log::info!("detect: {}", if motion { "where things move (--detect motion)" } else { "every frame, whole" });
    let tracked = motion.then(crate::gate::Tracked::default);
    let gate = tracked.as_ref().map(|shared| {
        let params = crate::motion::MotionParams { threshold: settings.threshold, ..Default::default() };
        let input = [manifest.input.width, manifest.input.height];
        crate::gate::Gate::new(params, settings.mask.clone(), input, settings.full_frame_every, Arc::clone(shared))
            .with_stationary_check(settings.stationary_check.as_secs_f64() * 1000.0)
    });
    Ok((gate, tracked))
}

/// The camera's object events, when made; with `--clips`, naming clips
/// while `clips` says they are made.
fn events(camera: &Camera, labels: &[String], clips: Arc<crate::clips::ClipHealth>) -> Result<Option<Events>> {
    let (rules, zone_classes) = count_rules(camera, labels)?;
    if !makes_events(camera) && rules.values().any(|r| r.threshold > 0.0 || r.required != 0) {
        log::warn!("--filter: threshold and required_zones act on tracked objects; with --track off they do nothing");
    }
    Ok(makes_events(camera).then(|| {
        let timing = &camera.event_timing;
        let params = EventParams {
            score_step: timing.score_step,
            score_every_ms: timing.score_every.as_secs_f64() * 1000.0,
            every_ms: timing.every.as_secs_f64() * 1000.0,
            stationary_ms: timing.stationary_after.as_secs_f64() * 1000.0,
        };
        let events =
            Events::new(params).with_places(camera.zones.clone(), camera.lines.clone()).with_rules(rules, zone_classes);
        match &camera.outputs.clips {
            Some(settings) => events.with_clips(settings.capture, clips),
            None => events,
        }
    }))
}

/// How long the start waits for the MQTT broker's first answer: a refused
/// login is an error before any frame; a slower broker is connected later.
const MQTT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Events are made when the camera asks for them, and whenever its objects
/// are tracked: for the web viewer's list, its zones and lines (whose
/// counts pictures show) and the stationary state (which the motion gate
/// and the frame lines read).
fn makes_events(camera: &Camera) -> bool {
    camera.wants_events() || camera.tracking.track == Track::On
}

/// The web viewer's options from the command line.
fn web_options(args: &Args, addr: std::net::SocketAddr) -> crate::web::WebOptions {
    crate::web::WebOptions {
        addr,
        token: args.http_token.clone(),
        token_file: args.http_token_file.clone(),
        insecure: args.http_insecure,
        max_clients: args.http_max_clients as usize,
        tls: args.http_cert.clone().zip(args.http_key.clone()),
        health_timeout: std::time::Duration::from_secs_f64(args.health_timeout),
    }
}

/// Options that would change nothing in this run are refused (camera
/// options without a camera) or warned about (more threads than cores)
/// instead of passing in silence.
fn check_options(args: &Args, cameras: &[Camera]) -> Result<()> {
    if args.headless && args.json {
        bail!("--json adds the JSON lines to the window mode; --headless writes them already: leave out --json");
    }
    let network = cameras.iter().any(|c| c.input.is_network());
    let video = cameras.iter().any(|c| c.input.is_video_file());
    let device = cameras.iter().any(|c| matches!(c.input, Input::Device(_)));
    if !device {
        let camera_only = [
            ("--resolution", args.resolution.is_some() && !network && !video, "cameras, video files and streams"),
            ("--fps", args.fps.is_some(), "cameras"),
            ("--format", args.format.is_some(), "cameras"),
            ("--reconnect-timeout", args.reconnect_timeout.is_some() && !network, "cameras and network streams"),
        ];
        if let Some((flag, _, to)) = camera_only.iter().find(|(_, set, _)| *set) {
            bail!("{flag} applies to {to} only: add --device /dev/videoN, or leave {flag} out for this source");
        }
    }
    let several = cameras.len() > 1;
    for camera in cameras {
        let who = match (&camera.name, several) {
            (Some(name), true) => format!("camera {name}: "),
            _ => String::new(),
        };
        if camera.wants_events() && camera.tracking.track == Track::Off {
            bail!("{who}--events, --snapshots, --clips and --mqtt follow tracked objects: leave out --track off");
        }
        if !camera.zones.is_empty() || !camera.lines.is_empty() {
            if camera.tracking.track == Track::Off {
                bail!("{who}--zone and --line follow tracked objects: leave out --track off");
            }
            let o = &camera.outputs;
            let shown = camera.wants_events()
                || args.http.is_some()
                || !args.headless
                || o.save.is_some()
                || o.record.is_some();
            if !shown {
                bail!(
                    "{who}--zone and --line show in events and on pictures: add --events, --mqtt, --snapshots, \
                     --http, --save or --record, or leave out --headless for the window"
                );
            }
        }
    }
    if args.record.is_none() {
        if let Some(flag) = [("--record-raw", args.record_raw), ("--record-segment", args.record_segment.is_some())]
            .iter()
            .find_map(|(flag, set)| set.then_some(flag))
        {
            bail!("{flag} goes with --record FILE");
        }
    }
    if !network && !video {
        let ffmpeg_only = [
            ("--hwaccel", args.hwaccel.is_some()),
            ("--ffmpeg-input-args", args.ffmpeg_input_args.is_some()),
            ("--rtsp-transport", args.rtsp_transport != crate::config::RtspTransport::Tcp),
        ];
        if let Some((flag, _)) = ffmpeg_only.iter().find(|(_, set)| *set) {
            bail!("{flag} applies to video files and network streams (read through ffmpeg) only");
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(t) = args.threads.filter(|&t| t as usize > cores) {
        log::warn!("--threads {t}: this machine has {cores} core(s); more threads than cores only add switching");
    } else if let Some(w) = args.workers.filter(|&w| w as usize > cores) {
        log::warn!("--workers {w}: this machine has {cores} core(s); more workers than cores only add latency");
    } else {
        let p = Parallelism::resolve(args.threads, args.workers);
        if p.workers * p.threads > cores {
            log::warn!(
                "{} worker(s) x {} thread(s) on {cores} core(s): oversubscribed, measured slower than one thread per core",
                p.workers,
                p.threads
            );
        }
    }
    Ok(())
}

/// How ffmpeg reads the camera's video file or stream.
fn ffmpeg_options(camera: &Camera) -> ffmpeg::FfmpegOptions {
    let defaults = ffmpeg::FfmpegOptions::default();
    let capture = &camera.capture;
    ffmpeg::FfmpegOptions {
        hwaccel: capture.hwaccel.clone(),
        input_args: capture.ffmpeg_input_args.clone(),
        rtsp_transport: capture.rtsp_transport,
        size: capture.resolution,
        reconnect: crate::source::camera::Reconnect {
            timeout: capture.reconnect_timeout.map_or(defaults.reconnect.timeout, std::time::Duration::from_secs_f64),
            ..defaults.reconnect
        },
        ..defaults
    }
}

/// `--classes` as class indices: each entry a label (any case) or an index
/// on the model's class axis; `None` when the list is empty (all classes).
fn class_ids(wanted: &[String], labels: &[String]) -> Result<Option<Vec<u32>>> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut ids = Vec::with_capacity(wanted.len());
    for w in wanted.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
        ids.push(class_id("--classes", w, labels)?);
    }
    Ok(Some(ids))
}

/// One class by label (any case) or index, for the option `what`.
fn class_id(what: &str, w: &str, labels: &[String]) -> Result<u32> {
    let id = match w.parse::<usize>() {
        Ok(i) if i < labels.len() => i,
        Ok(_) => bail!("{what} {w}: the model's class ids are 0..={}", labels.len().saturating_sub(1)),
        Err(_) => labels.iter().position(|l| l.eq_ignore_ascii_case(w)).ok_or_else(|| {
            anyhow::anyhow!("{what} {w}: not a label of this model; its labels are {}", labels.join(", "))
        })?,
    };
    Ok(id as u32)
}

/// Per zone, the classes it counts (`None`: all).
type ZoneClasses = Vec<Option<Vec<u32>>>;

/// The camera's filters as the events take them: per class, when its
/// objects count; per zone, the classes it counts.
fn count_rules(camera: &Camera, labels: &[String]) -> Result<(HashMap<u32, CountRule>, ZoneClasses)> {
    let mut rules = HashMap::new();
    for f in &camera.detection.filters {
        let mut required = 0u64;
        for name in &f.required_zones {
            let i = camera.zones.iter().position(|z| &z.name == name).ok_or_else(|| {
                let known: Vec<&str> = camera.zones.iter().map(|z| z.name.as_str()).collect();
                anyhow::anyhow!(
                    "--filter {}: required zone '{name}' is not a zone of the camera (its zones: {})",
                    f.label,
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )
            })?;
            required |= 1 << i;
        }
        let rule = CountRule { threshold: f.threshold.unwrap_or(0.0), required };
        rules.insert(class_id("--filter", &f.label, labels)?, rule);
    }
    let zone_classes = camera
        .zones
        .iter()
        .map(|z| {
            let what = format!("--zone {}:", z.name);
            (!z.labels.is_empty()).then(|| z.labels.iter().map(|l| class_id(&what, l, labels)).collect()).transpose()
        })
        .collect::<Result<_>>()?;
    Ok((rules, zone_classes))
}

/// A model ready to run, with what describes it.
pub struct Loaded {
    /// The manifest.
    pub manifest: Manifest,
    /// Its prior boxes.
    pub priors: std::borrow::Cow<'static, [[f32; 4]]>,
    /// The optimised network.
    pub model: Model,
    /// Where the network and its manifest are.
    pub paths: crate::model_search::ModelPaths,
    /// Threads the matrix kernels use.
    pub threads: usize,
    /// Inference workers the pipeline runs.
    pub workers: usize,
    /// Model load + optimisation time, ms.
    pub load_ms: f64,
}

/// How inference uses the cores: whole frames on several workers, each
/// worker's matrix kernels on several threads, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads for the matrix kernels (tract's executor, shared by workers).
    pub threads: usize,
    /// Inference workers.
    pub workers: usize,
}

impl Parallelism {
    /// `--threads` and `--workers` on this machine's cores.
    pub fn resolve(threads: Option<u32>, workers: Option<u32>) -> Parallelism {
        Self::on_cores(threads, workers, std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// The defaults, measured on the shipped models (BENCHMARKS.md, "Workers
    /// and threads"): tract's kernels gain little from a second thread on
    /// these graphs, whole frames side by side gain nearly twofold. So one
    /// worker per core, each single-threaded; a given `--threads` takes the
    /// cores it names from the workers.
    pub fn on_cores(threads: Option<u32>, workers: Option<u32>, cores: usize) -> Parallelism {
        let cores = cores.max(1);
        let workers = match (workers, threads) {
            (Some(w), _) => w as usize,
            (None, Some(t)) => (cores / t as usize).max(1),
            (None, None) => cores,
        }
        .max(1);
        let threads = threads.map_or((cores / workers).max(1), |t| t as usize).max(1);
        Parallelism { threads, workers }
    }
}

/// Resolves `--model`, sets the kernel thread count and loads the network
/// on the engine `engine` names (its `threads` come from `parallel`).
pub fn load(model: &str, parallel: Parallelism, engine: crate::model::LoadOptions) -> Result<Loaded> {
    let paths = locate_model(model).map_err(anyhow::Error::msg)?;
    let manifest = Manifest::from_path(&paths.manifest)?;
    let priors = crate::baked_priors::priors_for(&manifest.priors)
        .with_context(|| format!("manifest {}", paths.manifest.display()))?;
    let Parallelism { threads, workers } = parallel;
    set_threads(threads);
    let started = std::time::Instant::now();
    log::debug!("loading {}", paths.onnx.display());
    let options = crate::model::LoadOptions { threads, ..engine };
    let model = Model::load_on(&paths.onnx, &manifest, &paths.manifest, &options)?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let on = model.engine();
    log::info!(
        "model {} ({}) on {} {} ({}{}) loaded and optimised in {load_ms:.0} ms; {workers} worker(s) x {threads} thread(s)",
        manifest.name,
        paths.onnx.display(),
        on.backend,
        on.version,
        on.provider,
        on.chosen.as_ref().map_or(String::new(), |why| format!("; --backend auto: {why}")),
    );
    Ok(Loaded { manifest, priors, model, paths, threads, workers, load_ms })
}

#[cfg(feature = "display")]
fn check_window() -> Result<()> {
    Ok(crate::sink::display::check_display()?)
}

#[cfg(not(feature = "display"))]
fn check_window() -> Result<()> {
    bail!("this build has no window (built without the `display` feature); run with --headless for JSON output")
}

/// Runs the pipeline on its own thread and the window on this one (GUI
/// toolkits want the main thread), showing the first camera. `hold` keeps
/// a file's last frame on screen.
#[cfg(feature = "display")]
fn run_windowed(
    mut all: Pipeline,
    labels: Vec<String>,
    title: String,
    stop: Arc<AtomicBool>,
    hold: bool,
    regions: bool,
) -> Result<Vec<Result<Stats, PipelineError>>> {
    let (sink, screen) = crate::sink::display::display(labels, title, regions);
    let Some(first) = all.cameras.first_mut() else { bail!("no camera to show") };
    first.sinks.push(Box::new(sink));
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            // The first camera's error is the run's: the window then
            // closes instead of holding the last frame.
            let result = all.run(flag).and_then(|mut r| {
                if r.first().is_some_and(Result::is_err) {
                    r.remove(0)?;
                }
                Ok(r)
            });
            let _ = done_tx.send(result);
        })
        .context("cannot start the pipeline thread")?;
    let shown = screen.run(&stop, &done_rx, hold);
    if handle.join().is_err() {
        bail!("the pipeline crashed (a bug: please report it with RUST_LOG=debug output)");
    }
    Ok(shown??)
}

#[cfg(not(feature = "display"))]
fn run_windowed(
    _: Pipeline,
    _: Vec<String>,
    _: String,
    _: Arc<AtomicBool>,
    _: bool,
    _: bool,
) -> Result<Vec<Result<Stats, PipelineError>>> {
    check_window().map(|()| Vec::new())
}

#[cfg(feature = "camera")]
fn open_camera(device: &str, camera: &Camera, stop: Arc<AtomicBool>) -> Result<Box<dyn crate::source::Source>> {
    use crate::config::CameraFormat;
    use crate::source::camera::{CameraSource, ModeRequest, PixelFormat, Reconnect};
    let capture = &camera.capture;
    let request = ModeRequest {
        format: capture.format.map(|f| match f {
            CameraFormat::Mjpeg => PixelFormat::Mjpeg,
            CameraFormat::Yuyv => PixelFormat::Yuyv,
            CameraFormat::Nv12 => PixelFormat::Nv12,
            CameraFormat::Rgb => PixelFormat::Rgb,
        }),
        size: capture.resolution,
        fps: capture.fps,
    };
    let reconnect = Reconnect {
        timeout: std::time::Duration::from_secs_f64(capture.reconnect_timeout.unwrap_or(30.0)),
        ..Reconnect::default()
    };
    // A camera whose device node is not there yet (USB still enumerating at
    // boot) is waited for with the back-off of a camera that drops; one
    // that is there and fails (busy, no permission) is an error at once.
    let since = std::time::Instant::now();
    let mut backoff = reconnect.backoff();
    let mut warned = false;
    loop {
        let opened = crate::source::v4l::V4lDevice::new(device)
            .map_err(anyhow::Error::from)
            .and_then(|camera| Ok(CameraSource::new(camera, request, reconnect, Arc::clone(&stop))?));
        match opened {
            Ok(source) => {
                if warned {
                    log::info!("camera {device}: there after {:.1} s", since.elapsed().as_secs_f64());
                }
                return Ok(Box::new(source));
            }
            Err(e) if !std::path::Path::new(device).exists() && since.elapsed() < reconnect.timeout => {
                if !warned {
                    log::warn!(
                        "camera {device}: not there yet ({e:#}); waiting up to {:.0} s (--reconnect-timeout)",
                        reconnect.timeout.as_secs_f64()
                    );
                    warned = true;
                }
                if !crate::source::camera::reconnect::sleep_unless_stopped(backoff.next_wait(), &stop) {
                    return Err(e);
                }
            }
            Err(e) if warned => {
                bail!("{e:#} (waited {:.0} s, --reconnect-timeout)", reconnect.timeout.as_secs_f64())
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(not(feature = "camera"))]
fn open_camera(device: &str, _: &Camera, _: Arc<AtomicBool>) -> Result<Box<dyn crate::source::Source>> {
    bail!("{device}: this build has no camera support (built without the `camera` feature); use --source")
}

/// `--list-devices`: every camera and its modes, on stdout.
#[cfg(feature = "camera")]
pub fn list_devices() -> Result<()> {
    use std::io::Write;
    let cameras = crate::source::v4l::list()?;
    let mut out = std::io::stdout().lock();
    if cameras.is_empty() {
        // On stdout too: a script reading the list must see an answer.
        writeln!(
            out,
            "no cameras found (no V4L2 device under /dev/video*: is one plugged in, and is its driver loaded?)"
        )?;
    }
    for (path, name, modes) in cameras {
        write!(out, "{}", crate::source::camera::describe(&path, &name, &modes))?;
    }
    Ok(())
}

/// `--list-devices` in a build without cameras.
#[cfg(not(feature = "camera"))]
pub fn list_devices() -> Result<()> {
    bail!("this build has no camera support (built without the `camera` feature)")
}

pub use ssd_runtime::signal::stop_on_signal;

#[cfg(test)]
mod tests {
    use super::Parallelism;

    #[test]
    fn by_default_every_core_runs_a_single_threaded_worker() {
        assert_eq!(Parallelism::on_cores(None, None, 4), Parallelism { threads: 1, workers: 4 });
        assert_eq!(Parallelism::on_cores(None, None, 1), Parallelism { threads: 1, workers: 1 });
    }

    #[test]
    fn threads_given_take_their_cores_from_the_workers() {
        assert_eq!(Parallelism::on_cores(Some(2), None, 4), Parallelism { threads: 2, workers: 2 });
        assert_eq!(Parallelism::on_cores(Some(8), None, 4), Parallelism { threads: 8, workers: 1 });
        assert_eq!(Parallelism::on_cores(None, Some(1), 4), Parallelism { threads: 4, workers: 1 });
        assert_eq!(Parallelism::on_cores(None, Some(3), 4), Parallelism { threads: 1, workers: 3 });
        // Both given: both kept, even past the cores (check_options warns).
        assert_eq!(Parallelism::on_cores(Some(2), Some(2), 2), Parallelism { threads: 2, workers: 2 });
    }
}
