//! ONNX Runtime beside tract (`--backend onnxruntime`): the same shipped
//! models on the same pictures give the same detections (boxes within
//! 0.01 px, scores within 1e-4), through the whole pipeline too (two
//! workers, motion-gated crops); a missing library is one line, not a panic.
//! The library is PyPI's onnxruntime wheel's, fetched by
//! scripts/fetch-onnxruntime.sh; offline these tests fail, unless
//! SSD_CAM_ALLOW_MISSING=network ignores them on purpose.
#![cfg(feature = "onnxruntime")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ssd_cam::model::{Backend, LoadOptions, Model};
use ssd_cam::model_search::locate_model;
use ssd_core::manifest::Manifest;
use ssd_core::postprocess::{Decoder, Detection, PostParams};
use ssd_core::preprocess::Preprocessor;

use common::{json_lines, repo_root, ssd_cam_bin, stderr};

/// The library, fetched once per test binary; `None` (skip) when offline
/// unless CI requires it.
fn library() -> Option<PathBuf> {
    static FETCHED: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FETCHED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("onnxruntime");
            let out = Command::new(repo_root().join("scripts/fetch-onnxruntime.sh")).arg(&dir).output();
            let failure = match out {
                Ok(o) if o.status.success() => {
                    return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
                }
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            };
            let msg = format!("cannot fetch ONNX Runtime's library (offline?): {failure}");
            common::missing("network", &msg, "the tests fetch it from PyPI");
            None
        })
        .clone()
}

/// A shipped model's detections on a picture, on one engine.
fn detect(model: &str, picture: &Path, backend: Backend) -> Vec<Detection> {
    let paths = locate_model(&common::shipped(model)).unwrap();
    let manifest = Manifest::from_path(&paths.manifest).unwrap();
    let priors = ssd_cam::baked_priors::priors_for(&manifest.priors).unwrap();
    let options = LoadOptions { backend, threads: 1, ..LoadOptions::default() };
    let mut net = Model::load_on(&paths.onnx, &manifest, &paths.manifest, &options).unwrap();
    assert_eq!(net.engine().backend, backend);
    let rgb = image::open(picture).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    let mut pre = Preprocessor::new(&manifest, false);
    let mapping = pre.run(rgb.as_raw(), w, h, net.input_mut().unwrap()).unwrap();
    let mut decoder = Decoder::new(&manifest, priors, PostParams::from(manifest.defaults));
    let out = net.run().unwrap();
    let (b, s) = out.slices().unwrap();
    let mut found = Vec::new();
    decoder.decode(b, s, &mapping, &mut found).unwrap();
    found
}

/// Every detection of one list has its twin in the other: same class, each
/// corner within `px`, score within `score`.
fn assert_same(a: &[Detection], b: &[Detection], px: f32, score: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {} detections on tract, {} on onnxruntime", a.len(), b.len());
    let corners = |d: &Detection| [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2];
    let mut unused: Vec<&Detection> = b.iter().collect();
    let (mut worst_px, mut worst_score) = (0f32, 0f32);
    for d in a {
        let twin = unused
            .iter()
            .position(|e| {
                e.class_id == d.class_id
                    && (e.score - d.score).abs() <= score
                    && corners(e).iter().zip(corners(d)).all(|(x, y)| (x - y).abs() <= px)
            })
            .unwrap_or_else(|| panic!("{what}: tract's {d:?} has no twin on onnxruntime in {unused:?}"));
        let e = unused.swap_remove(twin);
        worst_score = worst_score.max((e.score - d.score).abs());
        worst_px = corners(e).iter().zip(corners(d)).map(|(x, y)| (x - y).abs()).fold(worst_px, f32::max);
    }
    eprintln!("{what}: {} detections, corners within {worst_px} px, scores within {worst_score}", a.len());
}

#[test]
fn both_engines_find_the_same_objects_in_the_shipped_models_demo_pictures() {
    let Some(lib) = library() else { return };
    ssd_runtime::onnxruntime::use_library(lib);
    let root = repo_root();
    for (model, picture) in [
        ("ssd300-shapes", "models/ssd300-shapes-demo-input.jpg"),
        ("ssd300-shapes.int8", "models/ssd300-shapes-demo-input.jpg"),
        ("person-ssdlite", "models/person-ssdlite-demo-input.jpg"),
    ] {
        let picture = root.join(picture);
        let tract = detect(model, &picture, Backend::Tract);
        let ort = detect(model, &picture, Backend::Onnxruntime);
        assert!(!tract.is_empty(), "{model}: the demo picture has objects");
        assert_same(&tract, &ort, 0.01, 1e-4, model);
    }
}

fn run_walk(video: &Path, backend: &str, lib: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(ssd_cam_bin())
        .args(["--model", &common::shipped("person-ssdlite"), "--source"])
        .arg(video)
        .args(["--headless", "--backend", backend, "--workers", "2", "--threads", "1", "--detect", "motion"])
        .env("ORT_DYLIB_PATH", lib)
        .output()
        .unwrap();
    assert!(out.status.success(), "{backend}: {}", stderr(&out));
    if backend == "onnxruntime" {
        assert!(
            stderr(&out).contains("on onnxruntime 1.") && stderr(&out).contains("(cpu) loaded and optimised"),
            "{}",
            stderr(&out)
        );
    }
    json_lines(&out)
}

#[test]
fn the_pipeline_on_onnxruntime_with_two_workers_and_motion_crops_matches_tract() {
    let Some(lib) = library() else { return };
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        common::missing("ffmpeg", "ffmpeg is missing", "scripts/setup.sh installs it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let walk = dir.path().join("walk.mp4");
    common::walk_with_margins(&walk);
    // On a 1280x720 canvas she is small enough for crops around her.
    let video = dir.path().join("wide.mp4");
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-i"])
        .arg(&walk)
        .args(["-vf", "pad=1280:720:0:0:color=0x707a84", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    let tract = run_walk(&video, "tract", &lib);
    let ort = run_walk(&video, "onnxruntime", &lib);
    assert_eq!(tract.len(), 160, "every frame of the file");
    assert_eq!(ort.len(), tract.len());
    let (mut crops, mut people, mut compared) = (0, 0, 0);
    for (t, o) in tract.iter().zip(&ort) {
        // What the gate plans hangs on when the tracker's boxes reach it
        // (another thread): two runs may differ on a few frames, whatever
        // the engine. Frames planned alike must come out alike.
        if t["regions"] != o["regions"] {
            continue;
        }
        compared += 1;
        let regions = t["regions"].as_array().unwrap();
        crops += usize::from(!regions.is_empty() && t["regions"] != serde_json::json!([[0, 0, 1280, 720]]));
        let (td, od) = (t["detections"].as_array().unwrap(), o["detections"].as_array().unwrap());
        assert_eq!(td.len(), od.len(), "frame {}", t["frame"]);
        people += td.len();
        for (a, b) in td.iter().zip(od) {
            // JSON rounds boxes to 0.1 px and scores to 1e-4.
            let (ab, bb) = (common::bbox(a), common::bbox(b));
            assert!(ab.iter().zip(bb).all(|(x, y)| (x - y).abs() <= 0.11), "frame {}: {a} vs {b}", t["frame"]);
            let (sa, sb) = (a["score"].as_f64().unwrap(), b["score"].as_f64().unwrap());
            assert!((sa - sb).abs() <= 2e-4, "frame {}: {a} vs {b}", t["frame"]);
        }
    }
    assert!(compared >= 50, "only {compared} of 160 frames were planned alike");
    eprintln!(
        "{compared} frames planned alike, {crops} of them on crops, {people} detections: the same on both engines"
    );
    assert!(crops > 0, "the model ran on motion crops, not only whole frames");
    assert!(people >= 10, "she was found while she walked ({people} detections)");
}

#[test]
fn a_missing_library_is_one_line_naming_ort_dylib_path_not_a_panic() {
    let out = Command::new(ssd_cam_bin())
        .args(["--source", "demo:frames=3", "--headless", "--backend", "onnxruntime"])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("ORT_DYLIB_PATH") && line.contains("/nonexistent/libonnxruntime.so"), "{line}");
    assert!(out.stdout.is_empty(), "no frames were written");
}

/// ssd-cam with `args`, ONNX Runtime's library at `lib` (ORT_DYLIB_PATH),
/// logging the engine it took.
fn with_library(args: &[&str], lib: &Path) -> std::process::Output {
    Command::new(ssd_cam_bin()).args(args).env("ORT_DYLIB_PATH", lib).env("RUST_LOG", "info").output().unwrap()
}

#[test]
fn a_cameras_file_s_engine_table_picks_onnx_runtime_for_the_run() {
    let Some(lib) = library() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cameras.toml");
    std::fs::write(
        &config,
        "[engine]\nbackend = \"onnxruntime\"\n\n[[camera]]\nname = \"door\"\nsource = \"demo:frames=3\"\n",
    )
    .unwrap();
    let run =
        |lib: &Path| with_library(&["--config", config.to_str().unwrap(), "--headless", "--backend", "tract"], lib);
    let out = run(&lib);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(" on onnxruntime "), "the file's engine, not --backend tract, ran the model: {err}");
    assert_eq!(json_lines(&out).len(), 3, "every frame was written");
    // The same file without the library: the run asked for ONNX Runtime.
    let out = run(Path::new("/nonexistent/libonnxruntime.so"));
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.lines().any(|l| l.starts_with("error:") && l.contains("ORT_DYLIB_PATH")), "{err}");
}

#[test]
fn auto_takes_onnx_runtime_where_its_library_loads_and_tract_where_not_saying_why() {
    let Some(lib) = library() else { return };
    let run = |lib: &Path| with_library(&["--source", "demo:frames=3", "--headless"], lib);
    let out = run(&lib);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let line = err.lines().find(|l| l.contains("loaded and optimised")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(" on onnxruntime 1.") && line.contains("--backend auto: ONNX Runtime 1."), "{line}");
    assert!(line.contains(lib.to_str().unwrap()), "it names the library: {line}");
    assert_eq!(json_lines(&out).len(), 3);
    // No library: tract runs it, and the line says why; not an error.
    let out = run(Path::new("/nonexistent/libonnxruntime.so"));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let line = err.lines().find(|l| l.contains("loaded and optimised")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(" on tract ") && line.contains("no ONNX Runtime here"), "{line}");
    assert!(line.contains("/nonexistent/libonnxruntime.so"), "{line}");
    assert_eq!(json_lines(&out).len(), 3);
}

#[test]
fn the_packaged_layout_finds_the_library_in_lib_ssd_cam_beside_bin() {
    let Some(lib) = library() else { return };
    // /usr/bin/ssd-cam and /usr/lib/ssd-cam/libonnxruntime.so.V, as the
    // Debian package installs them, under a temporary root.
    let root = tempfile::tempdir().unwrap();
    let (bin, libs) = (root.path().join("usr/bin"), root.path().join("usr/lib/ssd-cam"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&libs).unwrap();
    std::fs::copy(ssd_cam_bin(), bin.join("ssd-cam")).unwrap();
    std::fs::copy(&lib, libs.join(lib.file_name().unwrap())).unwrap();
    let out = Command::new(bin.join("ssd-cam"))
        .args(["--source", "demo:frames=2", "--headless", "--model", &common::shipped("ssd300-shapes")])
        .env_remove("ORT_DYLIB_PATH")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(" on onnxruntime 1.") && err.contains("usr/bin/../lib/ssd-cam/libonnxruntime.so."), "{err}");
}
