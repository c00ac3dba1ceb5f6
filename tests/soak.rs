//! A long run of the shipped model on the demo source at full speed: every
//! line is valid JSON, frame indices are contiguous (a file-like source
//! drops nothing), and the resident set after warm-up stays flat.
//! `SSD_CAM_SOAK_FRAMES` sets the length (CI: 2,000; the long soak in
//! BENCHMARKS.md: 50,000) and `SSD_CAM_SOAK_BIN` another ssd-cam binary
//! (a release build runs the long soak at full speed).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Resident set of a process in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn long_run_keeps_every_frame_and_a_flat_resident_set() {
    let frames: u64 = std::env::var("SSD_CAM_SOAK_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let warmup = (frames / 10).max(100);
    let binary = std::env::var("SSD_CAM_SOAK_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ssd-cam").to_owned());
    let mut child = Command::new(binary)
        .args(["--source", &format!("demo:fps=0,frames={frames},seed=11"), "--headless", "--threads", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut count, mut detections) = (0u64, 0usize);
    let (mut after_warmup, mut peak_later) = (None, 0u64);
    for line in stdout.lines() {
        let line = line.unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("line {count} is not JSON ({e}): {line}"));
        assert_eq!(value["frame"], count, "frame indices are contiguous");
        detections += value["detections"].as_array().map_or(0, Vec::len);
        count += 1;
        if count % 50 == 0 {
            if let Some(rss) = rss_kib(pid) {
                if count % (frames / 10).max(50) == 0 {
                    eprintln!("soak: frame {count}, RSS {rss} KiB");
                }
                if after_warmup.is_none() && count >= warmup {
                    after_warmup = Some(rss);
                } else if after_warmup.is_some() {
                    peak_later = peak_later.max(rss);
                }
            }
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(count, frames, "every frame written: {stderr}");
    assert!(detections as u64 > frames, "the shipped model finds shapes ({detections} in {frames} frames)");
    assert!(stderr.contains(&format!("{frames} frames, 0 dropped")), "{stderr}");
    let base = after_warmup.expect("RSS sampled after warm-up");
    let growth = peak_later.saturating_sub(base);
    eprintln!("soak: {frames} frames, RSS after warm-up {base} KiB, peak later {peak_later} KiB, growth {growth} KiB");
    assert!(growth < 5 * 1024, "RSS grew by {growth} KiB after warm-up ({base} -> {peak_later} KiB)");
}
