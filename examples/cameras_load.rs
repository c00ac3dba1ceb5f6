//! Several demo cameras in one ssd-cam process sharing one model: the
//! aggregate and per-camera frame rates, capture-to-output latency (p50,
//! p99), drops per camera and memory, for 1, 2, 4 and 8 cameras.
//!
//! ```text
//! cargo build --release --bin ssd-cam --example cameras_load
//! target/release/examples/cameras_load [SECONDS] > cameras.md
//! ```
//!
//! Live: N `demo:fps=30` cameras (different seeds), `--detect always`, for
//! SECONDS (default 30) after a 5 s warm-up, counting each camera's JSON
//! lines. Files: N `demo:fps=0` cameras sharing 1200 frames (1200/N each),
//! as fast as the model runs them: the aggregate rate against one camera's
//! at the same workers and threads (the binary's defaults) is the cost of
//! sharing. Memory is VmRSS, sampled every 200 ms; fairness is the slowest
//! camera's rate over the fastest's.

#[path = "support/proc_status.rs"]
mod proc_status;
use proc_status::rss_kb;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Line {
    camera: String,
    at: Instant,
    latency_ms: f64,
}

/// Runs ssd-cam on `sources` until it ends or `limit` passes; returns every
/// JSON line (camera, arrival, latency), the peak RSS and the last
/// `dropped` of each camera.
fn run(binary: &std::path::Path, sources: &[String], limit: Duration) -> (Vec<Line>, u64, BTreeMap<String, u64>) {
    let mut cmd = Command::new(binary);
    cmd.args(["--headless", "--detect", "always", "--track", "off"]);
    for s in sources {
        cmd.args(["--source", s]);
    }
    let mut child =
        cmd.env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("ssd-cam runs");
    let pid = child.id();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Mutex::new(BTreeMap::new()));
    let stdout = child.stdout.take().expect("stdout");
    let (sink, drops) = (Arc::clone(&lines), Arc::clone(&dropped));
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            let camera = v["source"].as_str().unwrap_or("?").to_owned();
            drops.lock().expect("lock").insert(camera.clone(), v["dropped"].as_u64().unwrap_or(0));
            let latency_ms = v["latency_ms"]["total"].as_f64().unwrap_or(0.0);
            sink.lock().expect("lock").push(Line { camera, at: Instant::now(), latency_ms });
        }
    });
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < limit {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        peak = peak.max(rss_kb(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let lines = std::mem::take(&mut *lines.lock().expect("lock"));
    let dropped = dropped.lock().expect("lock").clone();
    (lines, peak, dropped)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Aggregate fps, per-camera fps (min, max), latency p50/p99, over lines
/// arriving in [from, to].
fn figures(lines: &[Line], from: Instant, to: Instant, cameras: usize) -> (f64, f64, f64, f64, f64) {
    let window: Vec<&Line> = lines.iter().filter(|l| l.at >= from && l.at <= to).collect();
    let seconds = to.duration_since(from).as_secs_f64().max(1e-9);
    let mut per: BTreeMap<&str, u64> = BTreeMap::new();
    for l in &window {
        *per.entry(&l.camera).or_default() += 1;
    }
    let rates: Vec<f64> = per.values().map(|&n| n as f64 / seconds).collect();
    let (min, max) = if rates.len() < cameras {
        (0.0, rates.iter().copied().fold(0.0, f64::max))
    } else {
        (rates.iter().copied().fold(f64::MAX, f64::min), rates.iter().copied().fold(0.0, f64::max))
    };
    let mut lat: Vec<f64> = window.iter().map(|l| l.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    (window.len() as f64 / seconds, min, max, percentile(&lat, 0.5), percentile(&lat, 0.99))
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(30);
    let exe = std::env::current_exe().expect("own path");
    let binary = exe.parent().and_then(|p| p.parent()).expect("target dir").join("ssd-cam");
    assert!(binary.is_file(), "build it: cargo build --release --bin ssd-cam");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("ssd-cam, N demo cameras sharing one model ({cores} cores, default workers)\n");
    println!("| cameras | kind | aggregate fps | per camera fps (min–max) | fairness | latency p50 / p99 ms | dropped per camera | RSS peak |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in [1usize, 2, 4, 8] {
        let live: Vec<String> = (0..n).map(|i| format!("demo:fps=30,seed={}", 11 + i)).collect();
        let (lines, peak, dropped) = run(&binary, &live, Duration::from_secs(seconds + 5));
        let first = lines.first().map_or(Instant::now(), |l| l.at);
        let from = first + Duration::from_secs(5);
        let to = lines.last().map_or(from, |l| l.at);
        let (all, min, max, p50, p99) = figures(&lines, from, to, n);
        let drops: Vec<String> = dropped.values().map(u64::to_string).collect();
        println!(
            "| {n} | live, 30 fps each | {all:.1} | {min:.1}–{max:.1} | {:.0} % | {p50:.0} / {p99:.0} | {} | {:.0} MB |",
            if max > 0.0 { min / max * 100.0 } else { 0.0 },
            drops.join(", "),
            peak as f64 / 1024.0
        );
        let files: Vec<String> = (0..n).map(|i| format!("demo:fps=0,frames={},seed={}", 1200 / n, 11 + i)).collect();
        let (lines, peak, _) = run(&binary, &files, Duration::from_secs(600));
        let from = lines.first().map_or(Instant::now(), |l| l.at);
        let to = lines.last().map_or(from, |l| l.at);
        let (all, min, max, p50, p99) = figures(&lines, from, to, n);
        println!(
            "| {n} | files, {} frames each | {all:.1} | {min:.1}–{max:.1} | {:.0} % | {p50:.0} / {p99:.0} | 0 | {:.0} MB |",
            1200 / n,
            if max > 0.0 { min / max * 100.0 } else { 0.0 },
            peak as f64 / 1024.0
        );
    }
}
