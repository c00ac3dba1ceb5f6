//! systemd's notify protocol against a real datagram socket the test opens
//! (as systemd would, `NOTIFY_SOCKET` naming it): READY=1 after the first
//! frames, WATCHDOG=1 while frames flow, none once the source stops
//! sending, STOPPING=1 at the end.

mod common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Messages that arrive within `within`.
fn messages(socket: &UnixDatagram, within: Duration) -> Vec<String> {
    let until = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < until {
        socket
            .set_read_timeout(Some(until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .unwrap();
        match socket.recv(&mut buf) {
            Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    got
}

#[test]
fn ready_after_the_first_frames_pings_while_frames_flow_and_none_when_they_stop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut child = Command::new(common::ssd_cam_bin())
        .args(["--source", "-", "--model", "ssd300-shapes", "--headless"])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (w, h) = (64usize, 48usize);
    stdin.write_all(format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C444\n").as_bytes()).unwrap();
    let frame = [b"FRAME\n".to_vec(), vec![128u8; w * h * 3]].concat();
    // Nothing before a frame came through.
    assert_eq!(messages(&socket, Duration::from_millis(1500)), Vec::<String>::new());
    // Frames flowing for 3 s: ready, then pings.
    let flowing = Instant::now();
    let mut seen = Vec::new();
    while flowing.elapsed() < Duration::from_secs(3) {
        stdin.write_all(&frame).unwrap();
        stdin.flush().unwrap();
        seen.extend(messages(&socket, Duration::from_millis(100)));
    }
    assert!(seen.first().is_some_and(|m| m.starts_with("READY=1")), "{seen:?}");
    let pings = seen.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(pings >= 3, "{pings} pings in 3 s of frames: {seen:?}");
    // The source stops sending (a hung camera): after what was under way,
    // no more pings, and systemd's watchdog would restart the run.
    let _ = messages(&socket, Duration::from_millis(1000));
    let quiet = messages(&socket, Duration::from_secs(2));
    assert!(!quiet.iter().any(|m| m == "WATCHDOG=1"), "pings while nothing moved: {quiet:?}");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(messages(&socket, Duration::from_millis(500)), ["STOPPING=1"]);
}

#[test]
fn without_notify_socket_nothing_changes() {
    let out = common::ssd_cam(&["--source", "demo:fps=0,frames=3", "--headless"]);
    assert!(out.status.success());
    assert_eq!(common::json_lines(&out).len(), 3);
}
