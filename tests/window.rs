//! The real window: `ssd-cam --source demo` under Xvfb, a screenshot of
//! the X screen (xwd), and a check that the boxes on screen sit where that
//! run's JSON says, in their class colours. Needs `Xvfb` and `xwd`
//! (packages xvfb, x11-apps; scripts/setup.sh installs them). Without them
//! the test fails, unless SSD_CAM_ALLOW_MISSING=xvfb ignores it on purpose.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCREEN: (usize, usize) = (800, 600);

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a free display number.
fn start_xvfb() -> (Xvfb, String) {
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", &format!("{}x{}x24", SCREEN.0, SCREEN.1), "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let server = Xvfb(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (server, display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Xvfb did not come up on {display}");
    }
    panic!("no free X display number");
}

/// An RGB screenshot of the whole screen, parsed from xwd's format.
fn screenshot(display: &str) -> (usize, usize, Vec<[u8; 3]>) {
    let out = Command::new("xwd").args(["-root", "-silent", "-display", display]).output().expect("run xwd");
    assert!(out.status.success(), "xwd failed: {}", String::from_utf8_lossy(&out.stderr));
    let d = out.stdout;
    let field = |i: usize| u32::from_be_bytes(d[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, width, height) = (field(0), field(4), field(5));
    let (byte_order, bits_per_pixel, bytes_per_line) = (field(7), field(11), field(12));
    let (red, green, blue) = (field(14) as u32, field(15) as u32, field(16) as u32);
    let ncolors = field(19);
    assert_eq!(bits_per_pixel, 32, "expected a 24-bit TrueColor screen");
    let pixels = &d[header + ncolors * 12..];
    let channel = |v: u32, mask: u32| ((v & mask) >> mask.trailing_zeros()) as u8;
    let mut rgb = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let p: [u8; 4] = pixels[y * bytes_per_line + x * 4..][..4].try_into().unwrap();
            let v = if byte_order == 0 { u32::from_le_bytes(p) } else { u32::from_be_bytes(p) };
            rgb.push([channel(v, red), channel(v, green), channel(v, blue)]);
        }
    }
    (width, height, rgb)
}

/// Where `frame` (w × h RGB) appears in the screenshot, if it does exactly.
fn find(shot: &(usize, usize, Vec<[u8; 3]>), frame: &image::RgbImage) -> Option<(usize, usize)> {
    let (sw, sh, px) = shot;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let at = |x: usize, y: usize| frame.get_pixel(x as u32, y as u32).0;
    for oy in 0..=sh.checked_sub(h)? {
        for ox in 0..=sw.checked_sub(w)? {
            if px[oy * sw + ox] != at(0, 0) || px[(oy + h - 1) * sw + ox + w - 1] != at(w - 1, h - 1) {
                continue;
            }
            if (0..h).all(|y| (0..w).all(|x| px[(oy + y) * sw + ox + x] == at(x, y))) {
                return Some((ox, oy));
            }
        }
    }
    None
}

#[test]
fn demo_in_a_window_shows_the_boxes_the_json_reports() {
    let tools = have("Xvfb") && have("xwd");
    if !tools {
        common::missing("xvfb", "Xvfb or xwd is missing", "apt-get install xvfb x11-apps");
        return;
    }
    let (_server, display) = start_xvfb();
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--source", "demo:fps=0,frames=1,seed=5", "--json", "--save-png", "--save"])
        .arg(&shots)
        .env("DISPLAY", &display)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("one JSON line").unwrap();
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    let detections = json["detections"].as_array().unwrap().clone();
    assert!(!detections.is_empty(), "the shipped model finds the demo shapes: {json}");

    // The window shows exactly the annotated frame that --save wrote.
    let saved = shots.join("frame_00000000.png");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !saved.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let frame = image::open(&saved).unwrap().into_rgb8();
    let (shot, origin) = loop {
        let shot = screenshot(&display);
        if let Some(origin) = find(&shot, &frame) {
            break (shot, origin);
        }
        assert!(Instant::now() < deadline, "the annotated frame never appeared on screen");
        std::thread::sleep(Duration::from_millis(200));
    };

    // Each reported box is outlined on screen in its class colour. Better
    // detections are drawn over worse ones and tags (class colour, black
    // text) may cross an edge, so an edge pixel shows the box's colour, a
    // better box's colour or tag text, and mostly its own colour.
    let (sw, _, px) = &shot;
    let colour_of = |d: &serde_json::Value| ssd_cam::draw::class_color(d["class_id"].as_u64().unwrap() as usize);
    const TAG_TEXT: [u8; 3] = [0, 0, 0];
    for (i, d) in detections.iter().enumerate() {
        let b: Vec<f64> = ["x1", "y1", "x2", "y2"].iter().map(|k| d["bbox"][k].as_f64().unwrap()).collect();
        // Outlines cover [x1, x2) × [y1, y2), so the far edges are x2 - 1, y2 - 1.
        let (x1, x2) = ((b[0].round() as usize).min(639), (b[2].round() as usize).clamp(1, 640) - 1);
        let (y1, y2) = ((b[1].round() as usize).min(479), (b[3].round() as usize).clamp(1, 480) - 1);
        let at = |x: usize, y: usize| px[(origin.1 + y) * sw + origin.0 + x];
        // Bottom, left and right edges: the box's own tag sits on the top one.
        let edge: Vec<[u8; 3]> =
            (x1..=x2).map(|x| at(x, y2)).chain((y1..=y2).flat_map(|y| [at(x1, y), at(x2, y)])).collect();
        let mut allowed: Vec<[u8; 3]> = detections[..=i].iter().map(colour_of).collect();
        allowed.push(TAG_TEXT);
        let foreign: Vec<_> = edge.iter().filter(|c| !allowed.contains(c)).collect();
        assert!(
            foreign.is_empty(),
            "detection {d}: edge pixels of other colours {:?}",
            &foreign[..foreign.len().min(5)]
        );
        let own = edge.iter().filter(|&&c| c == colour_of(d)).count();
        if i == 0 {
            assert_eq!(own, edge.len(), "the best detection is drawn last, its edges whole");
        } else {
            assert!(own * 2 >= edge.len(), "detection {d}: only {own} of {} edge pixels in its colour", edge.len());
        }
    }

    // The file source ended; the window holds the last frame until closed.
    // SIGTERM closes it cleanly.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "window stays open at the end of a file source");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
    assert!(err.contains("1 frames"), "summary line: {err}");
}

#[test]
fn without_a_display_the_window_mode_suggests_headless() {
    let out = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--source", "demo:fps=0,frames=1"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: ") && last.contains("--headless"), "{err}");
    assert!(out.stdout.is_empty());
}
