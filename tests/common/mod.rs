//! Helpers shared by the integration tests: oracle models written with the
//! crate's own ONNX writer, and running the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ssd_core::manifest::{Manifest, ScoreActivation};
use ssd_core::priors::{ssd300_voc, PriorSpec};
use ssd_onnx::ssd::{self, OracleTarget};

/// Labels of the oracle models: background plus three classes.
pub fn labels() -> Vec<String> {
    ["background", "person", "dog", "car"].iter().map(|s| s.to_string()).collect()
}

/// The oracle's two boxes on the Caffe VOC SSD300 priors.
///
/// A: conv7 (19x19, step 16), cell row 9 col 6, box 0 (60 px square):
///    prior centre (6.5·16, 9.5·16) = (104, 152) px, side 60 px.
///    Offsets (0.5, −0.3, 0.2, 0.1) with variances (0.1, 0.1, 0.2, 0.2):
///    cx = 104 + 0.1·0.5·60 = 107, cy = 152 − 0.1·0.3·60 = 150.2,
///    w = 60·e^0.04 = 62.4490, h = 60·e^0.02 = 61.2121 (input pixels).
///    Class 1 with logit 6 against 0 elsewhere: p = e^6 / (e^6 + 3) = 0.992620.
/// B: conv8_2 (10x10, step 32), row 2 col 7, box 0 (111 px), zero offsets:
///    centre (240, 80), side 111 → (184.5, 24.5)–(295.5, 135.5).
///    Class 2 with logit 4: p = e^4 / (e^4 + 3) = 0.947903.
pub fn targets() -> Vec<OracleTarget> {
    let spec = ssd300_voc();
    vec![
        OracleTarget {
            prior: spec.index_of(1, 9, 6, 0).unwrap(),
            class: 1,
            logit: 6.0,
            offsets: [0.5, -0.3, 0.2, 0.1],
        },
        OracleTarget { prior: spec.index_of(2, 2, 7, 0).unwrap(), class: 2, logit: 4.0, offsets: [0.0; 4] },
    ]
}

/// Box A in 300x300 input pixels.
pub const BOX_A: [f32; 4] = [107.0 - 31.22451, 150.2 - 30.60603, 107.0 + 31.22451, 150.2 + 30.60603];
/// Box B in 300x300 input pixels.
pub const BOX_B: [f32; 4] = [184.5, 24.5, 295.5, 135.5];
/// Score of box A.
pub const SCORE_A: f32 = 0.992_620;
/// Score of box B.
pub const SCORE_B: f32 = 0.947_903;

/// The manifest of the oracle model.
pub fn oracle_manifest() -> Manifest {
    ssd::manifest("oracle", "test oracle", labels(), ssd300_voc(), ScoreActivation::Softmax)
}

/// Writes `NAME.onnx` + `NAME.json` for the oracle into `dir` and returns the ONNX path.
pub fn write_oracle(dir: &Path, name: &str) -> PathBuf {
    let spec: PriorSpec = ssd300_voc();
    let model = ssd::oracle(spec.count(), labels().len(), 8.0, &targets());
    let onnx = dir.join(format!("{name}.onnx"));
    ssd_onnx::write(&model, &onnx).unwrap();
    std::fs::write(onnx.with_extension("json"), oracle_manifest().to_json()).unwrap();
    onnx
}

/// Runs the ssd-cam binary.
pub fn ssd_cam(args: &[&str]) -> Output {
    Command::new(ssd_cam_bin()).args(args).env("RUST_LOG", "warn").output().unwrap()
}

/// Runs the ssd-cam binary in the working directory `dir`.
#[allow(dead_code)]
pub fn ssd_cam_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(ssd_cam_bin()).args(args).current_dir(dir).env("RUST_LOG", "warn").output().unwrap()
}

/// stdout parsed as JSON lines.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}")))
        .collect()
}

/// `[x1, y1, x2, y2]` of a detection record.
pub fn bbox(d: &serde_json::Value) -> [f32; 4] {
    let b = &d["bbox"];
    ["x1", "y1", "x2", "y2"].map(|k| b[k].as_f64().unwrap() as f32)
}

/// Asserts two boxes agree within 0.5 px.
pub fn assert_box(got: [f32; 4], want: [f32; 4]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 0.5, "box {got:?} differs from {want:?}");
    }
}

/// Scales an input-pixel box to a `w × h` frame (stretch).
pub fn scaled(b: [f32; 4], w: f32, h: f32) -> [f32; 4] {
    [b[0] * w / 300.0, b[1] * h / 300.0, b[2] * w / 300.0, b[3] * h / 300.0]
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes a solid-colour PNG.
pub fn png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 150])).save(path).unwrap();
}

/// Writes the oracle into `dir` and loads it.
pub fn load_oracle(dir: &Path) -> ssd_runtime::model::Model {
    let onnx = write_oracle(dir, "oracle");
    ssd_runtime::model::Model::load(&onnx, &oracle_manifest(), &onnx.with_extension("json")).unwrap()
}

/// The ssd-cam binary: cargo's own path in this package's tests, and the
/// sibling of the test executable's folder in the other crates' (built when
/// the workspace's tests are, as `cargo test --workspace` does).
pub fn ssd_cam_bin() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_ssd-cam") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join("ssd-cam");
    assert!(bin.is_file(), "{} is missing: build it first (cargo test --workspace builds it)", bin.display());
    bin
}

/// The repository's root (the folder with `models/` and `calibration/`).
pub fn repo_root() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    while !dir.join("models").is_dir() || !dir.join("Cargo.lock").is_file() {
        assert!(dir.pop(), "no repository root above {}", env!("CARGO_MANIFEST_DIR"));
    }
    dir
}

/// The path of a shipped model, `models/NAME.onnx`, as a `--model` argument.
pub fn shipped(name: &str) -> String {
    repo_root().join("models").join(format!("{name}.onnx")).display().to_string()
}

/// The body of `GET path` from an HTTP server on 127.0.0.1:`port`
/// (`Connection: close`), or `None` when it cannot be had.
#[allow(dead_code)]
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// ssd-cam on `url`, its JSON lines arriving on a channel as they come.
#[allow(dead_code)]
pub fn spawn_live(url: &str, extra: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<serde_json::Value>) {
    spawn_live_with(url, extra, &[])
}

/// [`spawn_live`] with `env` added to its environment.
#[allow(dead_code)]
pub fn spawn_live_with(
    url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, std::sync::mpsc::Receiver<serde_json::Value>) {
    let mut child = Command::new(ssd_cam_bin())
        .args(["--source", url, "--model", "ssd300-shapes", "--headless"])
        .args(extra)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            // A line that is not JSON arrives as a string, for the test to
            // fail on (a panic here would go unseen).
            let value = serde_json::from_str(&line).unwrap_or(serde_json::Value::String(line));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The next `n` JSON lines from `rx`, each an object, within `within`.
#[allow(dead_code)]
pub fn wait_lines(
    rx: &std::sync::mpsc::Receiver<serde_json::Value>,
    n: usize,
    within: std::time::Duration,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + within;
    let mut lines = Vec::new();
    while lines.len() < n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) => {
                assert!(v.is_object(), "not a JSON object: {v}");
                lines.push(v);
            }
            Err(_) => panic!("{} of {n} lines within {within:?}", lines.len()),
        }
    }
    lines
}

/// The threads of process `pid` and its resident memory in kB.
#[allow(dead_code)]
pub fn threads_and_rss(pid: u32) -> (usize, u64) {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (threads, rss_kb)
}

/// A person (the astronaut photo, cropped to her) walking across a still
/// scene from off the left edge to off the right, with the empty scene
/// around it: 5 s before she comes in, the 6 s walk, 5 s after. 640x360,
/// 10 frames/s, H.264 with a keyframe every second, as cameras send.
pub fn walk_with_margins(path: &Path) {
    let photo = repo_root().join("models/person-ssdlite-demo-input.jpg");
    let scene = "[0]drawbox=x=250:y=20:w=140:h=300:color=0x4a3b2c:t=fill[scene];\
                 [1]crop=300:512:90:0,scale=176:300[person];\
                 [scene][person]overlay=x='-176+(t-5)*136':y=40:shortest=1";
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=0x707a84:s=640x360:r=10:d=16", "-loop", "1"])
        .arg("-i")
        .arg(&photo)
        .args(["-filter_complex", scene, "-t", "16", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not make {}", path.display());
}

/// A tool or download a test needs is not here. The test fails, naming
/// the fix: a test that passes by skipping would hide it (CI and a
/// developer alike). `SSD_CAM_ALLOW_MISSING` naming `tool` (a comma list,
/// or `all`) ignores it on purpose instead: the test says so and returns.
#[allow(dead_code)]
pub fn missing(tool: &str, what: &str, fix: &str) {
    let allowed = std::env::var("SSD_CAM_ALLOW_MISSING").unwrap_or_default();
    if allowed.split(',').any(|a| a.trim() == tool || a.trim() == "all") {
        eprintln!("IGNORED (SSD_CAM_ALLOW_MISSING={allowed}): {what}");
        return;
    }
    panic!("{what}: {fix} (or set SSD_CAM_ALLOW_MISSING={tool} to ignore this test on purpose)");
}
