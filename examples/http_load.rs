//! Load on `--http`: the pipeline's frame rate and the process's memory with
//! nobody watching, against 20 MJPEG viewers (reconnecting every 10 s, so
//! viewers come and go) plus 100 idle connections (re-opened as the server
//! closes them), on the demo source.
//!
//! ```text
//! cargo build --release --bin ssd-cam --example http_load
//! target/release/examples/http_load [SECONDS] [VIEWERS] [IDLE] > http-load.md
//! ```
//!
//! Each run is the release binary beside this example, `--headless --http
//! 127.0.0.1:0 --detect always`, with its default workers; frames are its
//! stdout lines, counted after a 5 s warm-up for SECONDS (default 30).
//! Memory is VmRSS from /proc, sampled every second after the warm-up.
//! Two sources: `demo:fps=30` (a camera: the pipeline keeps up, so viewers
//! may cost CPU without costing frames) and `demo:fps=200` (more than
//! this machine can run: every cycle a viewer takes is a frame lost); the
//! viewers with the default `--http-fps 15` and with 1000 (every frame).

#[path = "support/proc_status.rs"]
mod proc_status;
use proc_status::rss_kb;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One run's figures.
struct Figures {
    fps: f64,
    rss_start_kb: u64,
    rss_end_kb: u64,
    rss_max_kb: u64,
    viewer_frames: Vec<u64>,
    viewer_connects: u64,
    viewer_failures: u64,
    idle_opened: u64,
}

/// Reads an MJPEG stream, counting parts, until `stop` or `until`.
fn view(addr: &str, stop: &AtomicBool, until: Instant, frames: &AtomicU64) -> Result<(), String> {
    let mut c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    write!(c, "GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n").map_err(|e| e.to_string())?;
    let mut r = BufReader::new(c);
    let mut status = String::new();
    r.read_line(&mut status).map_err(|e| e.to_string())?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(status);
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut carry = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        let n = r.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        // Count boundaries, also when one straddles two reads.
        carry.extend_from_slice(&buf[..n]);
        let marker = b"--ssdcamframe";
        let found = carry.windows(marker.len()).filter(|w| w == marker).count() as u64;
        frames.fetch_add(found, Ordering::Relaxed);
        let keep = carry.len().min(marker.len() - 1);
        carry.drain(..carry.len() - keep);
    }
    Ok(())
}

fn run(binary: &std::path::Path, source: &str, http_fps: &str, seconds: u64, viewers: usize, idle: usize) -> Figures {
    let mut child = Command::new(binary)
        .args(["--source", source, "--headless", "--http", "127.0.0.1:0", "--detect", "always"])
        .args(["--http-fps", http_fps])
        .args(["--http-max-clients", &(viewers + 8).to_string()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssd-cam runs");
    let pid = child.id();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(at) = line.split("the viewer is at http://").nth(1) {
                let _ = tx.send(at.trim_end_matches('/').to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the server started");
    let lines = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&lines);
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (connects, failures, idle_opened) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let counts: Vec<Arc<AtomicU64>> = (0..viewers).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut threads = Vec::new();
    for (i, frames) in counts.iter().enumerate() {
        let (addr, stop, frames) = (addr.clone(), Arc::clone(&stop), Arc::clone(frames));
        let (connects, failures) = (Arc::clone(&connects), Arc::clone(&failures));
        threads.push(std::thread::spawn(move || {
            // Staggered, so viewers come and go all through the run.
            std::thread::sleep(Duration::from_millis(500 * i as u64 % 10_000));
            while !stop.load(Ordering::Relaxed) {
                connects.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = view(&addr, &stop, Instant::now() + Duration::from_secs(10), &frames) {
                    failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("viewer {i}: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }));
    }
    if idle > 0 {
        let (addr, stop, opened) = (addr.clone(), Arc::clone(&stop), Arc::clone(&idle_opened));
        threads.push(std::thread::spawn(move || {
            let mut sockets: Vec<TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // Drop the ones the server closed, open new ones up to `idle`.
                sockets.retain(|s| {
                    let _ = s.set_nonblocking(true);
                    let mut b = [0u8; 1];
                    !matches!((&*s).read(&mut b), Ok(0))
                });
                while sockets.len() < idle {
                    match TcpStream::connect(&addr) {
                        Ok(s) => {
                            opened.fetch_add(1, Ordering::Relaxed);
                            sockets.push(s);
                        }
                        Err(_) => break,
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(5));
    let (rss_start_kb, start_frames, started) = (rss_kb(pid), lines.load(Ordering::Relaxed), Instant::now());
    let mut rss_max_kb = rss_start_kb;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        rss_max_kb = rss_max_kb.max(rss_kb(pid));
    }
    let fps = (lines.load(Ordering::Relaxed) - start_frames) as f64 / started.elapsed().as_secs_f64();
    let rss_end_kb = rss_kb(pid);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let _ = child.kill();
    let _ = child.wait();
    Figures {
        fps,
        rss_start_kb,
        rss_end_kb,
        rss_max_kb,
        viewer_frames: counts.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
        viewer_connects: connects.load(Ordering::Relaxed),
        viewer_failures: failures.load(Ordering::Relaxed),
        idle_opened: idle_opened.load(Ordering::Relaxed),
    }
}

fn main() {
    let arg = |i: usize, default: u64| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (seconds, viewers, idle) = (arg(1, 30), arg(2, 20) as usize, arg(3, 100) as usize);
    let exe = std::env::current_exe().expect("own path");
    let binary = exe.parent().and_then(|p| p.parent()).expect("target dir").join("ssd-cam");
    assert!(binary.is_file(), "build it: cargo build --release --bin ssd-cam");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("ssd-cam --http under load: {seconds} s per run after 5 s warm-up, {cores} cores\n");
    println!("| source | `--http-fps` | viewers | idle | pipeline fps | fps vs none | RSS start → end (max) | frames per viewer (min / mean) | viewer connects (failed) | idle sockets opened |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for source in ["demo:fps=30", "demo:fps=200"] {
        let quiet = run(&binary, source, "15", seconds, 0, 0);
        let capped = run(&binary, source, "15", seconds, viewers, idle);
        let every = run(&binary, source, "1000", seconds, viewers, idle);
        for (f, v, i, cap) in [(&quiet, 0, 0, "15"), (&capped, viewers, idle, "15"), (&every, viewers, idle, "1000")] {
            let min = f.viewer_frames.iter().min().copied().unwrap_or(0);
            let mean = if f.viewer_frames.is_empty() {
                0.0
            } else {
                f.viewer_frames.iter().sum::<u64>() as f64 / f.viewer_frames.len() as f64
            };
            println!(
                "| `{source}` | {cap} | {v} | {i} | {:.1} | {:+.1} % | {:.1} → {:.1} MB ({:.1}) | {min} / {mean:.0} | {} ({}) | {} |",
                f.fps,
                (f.fps / quiet.fps - 1.0) * 100.0,
                f.rss_start_kb as f64 / 1024.0,
                f.rss_end_kb as f64 / 1024.0,
                f.rss_max_kb as f64 / 1024.0,
                f.viewer_connects,
                f.viewer_failures,
                f.idle_opened
            );
        }
    }
}
