//! Issue 35, what a board left alone for a year meets: hostile inputs
//! answered in bounded memory, and a disk that fills under the snapshots
//! while detection goes on. (The recorder's stuck encoder is in
//! tests/video.rs.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs ssd-cam under GNU time: (exit code, stderr without time's line,
/// peak RSS in MB). `stdin` is fed to it.
fn run_measured(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, f64) {
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kb %M"])
        .arg(ssd_cam_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("GNU time (/usr/bin/time, Debian's `time`; scripts/setup.sh installs it)");
    // ssd-cam may stop reading early (the header is enough to refuse).
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    let kb: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {err}"));
    let ours: Vec<&str> =
        err.lines().filter(|l| !l.starts_with("peak-rss-kb") && !l.starts_with("Command exited")).collect();
    (out.status.code(), ours.join("\n"), kb / 1024.0)
}

/// A PNG whose header announces `w × h` and whose data is one tiny row:
/// what a broken or hostile file looks like to a decoder.
fn png_announcing(path: &Path, w: u32, h: u32) {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let body = [kind, data].concat();
        c.extend_from_slice(&body);
        c.extend_from_slice(&crc32(&body).to_be_bytes());
        c
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    // A zlib stream of a few zero bytes (stored block).
    let idat = [0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0, 0, 1];
    let png =
        [&b"\x89PNG\r\n\x1a\n"[..], &chunk(b"IHDR", &ihdr), &chunk(b"IDAT", &idat), &chunk(b"IEND", &[])].concat();
    std::fs::write(path, png).unwrap();
}

#[test]
fn hostile_inputs_are_one_line_errors_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let huge_png = dir.path().join("huge.png");
    png_announcing(&huge_png, 16_000, 16_000);
    let mut huge_y4m = b"YUV4MPEG2 W16384 H16384 F30:1 Ip A1:1 C420jpeg\nFRAME\n".to_vec();
    huge_y4m.extend(std::iter::repeat_n(0u8, 4096));
    let mut fast_y4m = b"YUV4MPEG2 W64 H48 F4294967295:1 Ip A1:1 C420jpeg\n".to_vec();
    for _ in 0..3 {
        fast_y4m.extend_from_slice(b"FRAME\n");
        fast_y4m.extend(std::iter::repeat_n(128u8, 64 * 48 * 3 / 2));
    }
    let model = ["--model", "ssd300-shapes", "--headless"];
    // What, the arguments, stdin, and the error said (None: the run works).
    type Case<'a> = (&'a str, Vec<&'a str>, &'a [u8], Option<&'a str>);
    let cases: [Case<'_>; 4] = [
        ("a Y4M header of 16384x16384 on stdin", vec!["--source", "-"], &huge_y4m, Some("over the limit")),
        ("a PNG announcing 16000x16000", vec!["--source", huge_png.to_str().unwrap()], b"", Some("over the limit")),
        (
            "a limit lowered below the frame",
            vec!["--source", "-", "--max-pixels", "100"],
            &fast_y4m,
            Some("over the limit"),
        ),
        // A rate of 4294967295 frames a second: no overflow, the frames run.
        ("an absurd Y4M frame rate", vec!["--source", "-"], &fast_y4m, None),
    ];
    for (what, args, stdin, error) in cases {
        let (code, err, peak_mb) = run_measured(&[&model[..], &args[..]].concat(), stdin);
        assert!(!err.contains("panicked"), "{what}: {err}");
        match error {
            Some(said) => {
                let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
                // One error line; the reason in it or in the warning that
                // skipped the file (a folder of images goes on past one).
                assert!(code == Some(1) && errors.len() == 1 && err.contains(said), "{what}: {code:?} {err}");
            }
            None => assert_eq!(code, Some(0), "{what}: {err}"),
        }
        assert!(peak_mb < 200.0, "{what}: peak RSS {peak_mb:.0} MB");
        eprintln!("{what}: exit {code:?}, peak RSS {peak_mb:.0} MB");
    }
}

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// `None` when this process may not mount (not root): the caller skips.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::read_to_string("/proc/self/status")
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
        if !root {
            return None;
        }
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        // Root that cannot mount (a container without the capability) is a
        // machine this test cannot run on; CI's can.
        assert!(status.success(), "mount -t tmpfs failed as root");
        Some(Self(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

#[test]
fn snapshots_onto_a_full_disk_never_stop_detection() {
    let Some(disk) = Tmpfs::mount("1m") else {
        common::missing("root", "mounting a tmpfs needs root", "run the tests as root (CI does)");
        return;
    };
    // Nearly full from the start: the first snapshots fill it.
    std::fs::write(disk.0.path().join("filler"), vec![0u8; 900 * 1024]).unwrap();
    let snapshots = disk.0.path().join("snapshots");
    let (mut child, rx) =
        spawn_live("demo:fps=15,size=640x480,seed=5", &["--snapshots", snapshots.to_str().unwrap(), "--workers", "2"]);
    let start = Instant::now();
    let mut lines = Vec::new();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(v);
        }
    }
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The disk filled: told once, with the reason, and counted at the end.
    let told: Vec<&str> = err.lines().filter(|l| l.contains("--snapshots:") && l.contains("No space left")).collect();
    assert_eq!(told.len(), 1, "{err}");
    let failed = err
        .lines()
        .find_map(|l| l.split_once("snapshot(s) written to").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once(" (").and_then(|(_, n)| n.split(' ').next()))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(failed.is_some_and(|n| n > 0), "no failed snapshots counted: {err}");
    // Detection and its JSON went on at the camera's pace (15 frames a
    // second: written plus dropped by the pipeline) the whole time, before
    // and after the disk filled.
    let frame = |v: &serde_json::Value| v["frame"].as_u64().unwrap_or(0);
    let (first, last) = (lines.first().unwrap(), lines.last().unwrap());
    assert!(frame(last) - frame(first) >= 100, "frames {} to {} in 10 s: {err}", frame(first), frame(last));
    assert!(lines.len() >= 50, "{} lines in 10 s: {err}", lines.len());
}
