//! `--http`: the web viewer, metrics and health check, over real HTTP with
//! a real client (ureq, and raw sockets for what clients refuse to send),
//! against the binary serving the demo source on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ssd_cam_bin;

/// A still scene: the boxes never move, so the JSON of any frame gives the
/// boxes of every picture.
const STILL: &str = "demo:fps=15,scene=still";

/// ssd-cam serving `--http 127.0.0.1:0` (the system picks the port, read
/// back from the log), killed when dropped.
struct Served {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        Self::start_at("127.0.0.1:0", args, "http")
    }

    fn start_at(addr: &str, args: &[&str], scheme: &str) -> Served {
        let mut child = Command::new(ssd_cam_bin())
            .args(["--headless", "--http", addr])
            .args(args)
            .env("RUST_LOG", "debug,hyper=info,rustls=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        let marker = format!("the viewer is at {scheme}://");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.split(&marker).nth(1) {
                    let _ = tx.send(at.trim_end_matches('/').to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(host) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("no 'the viewer is at' line: {}", log.lock().unwrap());
        };
        Served { child, base: format!("{scheme}://{host}"), log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> String {
        self.base.split("://").nth(1).unwrap().to_owned()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status, `Content-Type` and body of a GET.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.body_mut().with_config().limit(50 << 20).read_to_vec().unwrap();
    (resp.status().as_u16(), ct, body)
}

/// The first `n` messages of a server-sent event stream, as JSON.
fn sse(url: &str, n: usize, headers: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let reader = BufReader::new(resp.into_body().into_reader());
    reader
        .lines()
        .map(Result::unwrap)
        .filter_map(|l| l.strip_prefix("data: ").map(|d| serde_json::from_str(d).unwrap()))
        .take(n)
        .collect()
}

/// Reads multipart JPEG parts from an MJPEG stream: (frame index, JPEG).
fn mjpeg_parts(reader: &mut impl BufRead, n: usize) -> Vec<(u64, Vec<u8>)> {
    let mut parts = Vec::new();
    let (mut len, mut frame) = (None, None);
    while parts.len() < n {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
        let line = line.trim_end();
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = Some(v.parse::<usize>().unwrap());
        } else if let Some(v) = line.strip_prefix("X-Frame: ") {
            frame = Some(v.parse::<u64>().unwrap());
        } else if line.is_empty() {
            if let (Some(l), Some(f)) = (len.take(), frame.take()) {
                let mut jpeg = vec![0; l];
                reader.read_exact(&mut jpeg).unwrap();
                parts.push((f, jpeg));
            }
        }
    }
    parts
}

fn mjpeg(url: &str, headers: &[(&str, &str)]) -> impl BufRead {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.call().unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, "multipart/x-mixed-replace; boundary=ssdcamframe");
    BufReader::new(resp.into_body().into_reader())
}

/// The fraction of points along a box's outline whose colour is near
/// `color` (JPEG moves colours a little, and blurs thin lines).
fn outline_share(img: &image::RgbImage, b: [f32; 4], scale: f32, origin: [f32; 2], color: [u8; 3]) -> f32 {
    let at = |x: f32, y: f32| {
        let (px, py) = ((origin[0] + x * scale).round() as u32, (origin[1] + y * scale).round() as u32);
        img.get_pixel_checked(px, py).map(|p| p.0)
    };
    // One pixel inside the box's edge: the outline is drawn inward.
    let [x1, y1, x2, y2] = [b[0] + 1.0, b[1] + 1.0, b[2] - 1.0, b[3] - 1.0];
    let mut points = Vec::new();
    for i in 1..20 {
        let f = i as f32 / 20.0;
        let (x, y) = (x1 + f * (x2 - x1), y1 + f * (y2 - y1));
        points.extend([(x, y1), (x, y2), (x1, y), (x2, y)]);
    }
    let near = |p: [u8; 3]| p.iter().zip(color).all(|(a, b)| a.abs_diff(b) <= 70);
    points.iter().filter(|&&(x, y)| at(x, y).is_some_and(near)).count() as f32 / points.len() as f32
}

fn bbox(d: &serde_json::Value) -> [f32; 4] {
    common::bbox(d)
}

/// The detections a picture must show: confident ones, not covered by a
/// better one (the overlay draws the best on top).
fn shown(frame: &serde_json::Value) -> Vec<(u32, [f32; 4])> {
    let dets = frame["detections"].as_array().unwrap();
    let mut out: Vec<(u32, [f32; 4])> = Vec::new();
    for d in dets.iter().filter(|d| d["score"].as_f64().unwrap() >= 0.8) {
        let b = bbox(d);
        let overlaps = out.iter().any(|(_, o)| b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]);
        if !overlaps {
            out.push((d["class_id"].as_u64().unwrap() as u32, b));
        }
    }
    assert!(out.len() >= 2, "the still demo scene shows at least two clear shapes: {frame}");
    out
}

#[test]
fn every_endpoint_answers_with_its_content_type() {
    let s = Served::start(&["--source", STILL, "--detect", "always"]);
    let (status, ct, page) = get(&s.url("/"), &[]);
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("/stream.mjpg") && page.contains("/api/live") && !page.contains("http://"));
    // Issue 51, point 13: the page opens one event stream beside the picture.
    assert_eq!(page.matches("new EventSource(").count(), 1, "{page}");

    let (status, ct, info) = get(&s.url("/api/info"), &[]);
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["model"], "ssd300-shapes");
    assert_eq!(info["source"], "demo");
    assert_eq!(info["events"], true);

    // The detections stream is --headless's JSON.
    let frames = sse(&s.url("/api/detections"), 3, &[]);
    for f in &frames {
        for key in ["source", "frame", "timestamp_ms", "width", "height", "latency_ms", "dropped", "detections"] {
            assert!(f.get(key).is_some(), "{key} missing from {f}");
        }
    }
    assert!(frames.windows(2).all(|w| w[1]["frame"].as_u64() > w[0]["frame"].as_u64()));
    let events = sse(&s.url("/api/events"), 1, &[]);
    assert_eq!(events[0]["schema"], "ssd-cam.event/1");
    assert_eq!(events[0]["type"], "new");
    // /api/live: the frames as unnamed messages and the events named `event`.
    let resp = agent().get(&s.url("/api/live")).call().unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (mut named, mut frames) = (Vec::new(), Vec::new());
    let mut event_line = false;
    for line in BufReader::new(resp.into_body().into_reader()).lines().map(Result::unwrap) {
        if let Some(data) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            if event_line {
                named.push(v)
            } else {
                frames.push(v)
            }
        }
        event_line = line == "event: event";
        if !named.is_empty() && frames.len() >= 2 {
            break;
        }
    }
    assert_eq!(named[0]["schema"], "ssd-cam.event/1");
    assert!(frames.iter().all(|f| f.get("detections").is_some() && f.get("schema").is_none()), "{frames:?}");

    let (status, ct, jpeg) = get(&s.url("/snapshot.jpg"), &[]);
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (640, 480));

    let (status, ct, _) = get(&s.url("/healthz"), &[]);
    assert_eq!((status, ct.as_str()), (200, "text/plain; charset=utf-8"));

    let (status, ct, text) = get(&s.url("/metrics"), &[]);
    assert_eq!((status, ct.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"));
    let text = String::from_utf8(text).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| s.value.clone())
            .unwrap_or_else(|| panic!("{name} {labels:?} missing from\n{text}"))
    };
    let ours = [("model", "ssd300-shapes"), ("source", "demo")];
    match value("ssd_cam_frames_total", &ours) {
        prometheus_parse::Value::Counter(n) => assert!(n >= 3.0, "{n}"),
        v => panic!("frames is {v:?}"),
    }
    match value("ssd_cam_stage_seconds", &[("stage", "inference"), ("model", "ssd300-shapes")]) {
        prometheus_parse::Value::Histogram(buckets) => {
            let all = buckets.iter().find(|b| b.less_than == f64::INFINITY).unwrap().count;
            assert!(all >= 3.0, "{buckets:?}");
        }
        v => panic!("stage_seconds is {v:?}"),
    }
    for stage in ["queue", "preprocess", "postprocess", "total"] {
        assert!(matches!(value("ssd_cam_stage_seconds", &[("stage", stage)]), prometheus_parse::Value::Histogram(_)));
    }
    assert!(matches!(value("ssd_cam_build_info", &ours), prometheus_parse::Value::Gauge(v) if v == 1.0));
    assert!(
        matches!(value("ssd_cam_events_total", &[("kind", "new")]), prometheus_parse::Value::Counter(v) if v >= 1.0)
    );
    assert!(matches!(value("ssd_cam_objects", &[("label", "circle")]), prometheus_parse::Value::Gauge(v) if v >= 1.0));
    assert!(matches!(value("ssd_cam_http_jpeg_frames_total", &[]), prometheus_parse::Value::Counter(v) if v >= 1.0));

    // Nothing else is served, and only GET (and the login form's POST).
    assert_eq!(get(&s.url("/index.html"), &[]).0, 404);
    let put = agent().put(&s.url("/metrics")).send("x").unwrap();
    assert_eq!(put.status(), 405);
    let post = agent().post(&s.url("/api/info")).send("x").unwrap();
    assert_eq!(post.status(), 405);
}

#[test]
fn mjpeg_frames_decode_as_jpeg_with_the_boxes_where_the_json_says() {
    let s = Served::start(&["--source", STILL, "--detect", "always"]);
    let frame = sse(&s.url("/api/detections"), 1, &[]).remove(0);
    let boxes = shown(&frame);
    let mut stream = mjpeg(&s.url("/stream.mjpg"), &[]);
    let parts = mjpeg_parts(&mut stream, 4);
    assert!(parts.windows(2).all(|w| w[1].0 > w[0].0), "frames come in order, each once");
    for (index, jpeg) in &parts {
        let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (640, 480));
        for &(class, b) in &boxes {
            let color = ssd_cam::draw::class_color(class as usize);
            let on = outline_share(&img, b, 1.0, [0.0, 0.0], color);
            // The same outline moved into the shape: not the box colour.
            let inside =
                outline_share(&img, [b[0] + 12.0, b[1] + 12.0, b[2] - 12.0, b[3] - 12.0], 1.0, [0.0; 2], color);
            assert!(on >= 0.6 && inside < on - 0.3, "frame {index}: box {b:?} class {class}: {on} on, {inside} inside");
        }
    }
}

/// The frames the pipeline has written so far, from `/metrics`.
fn frames_written(s: &Served) -> f64 {
    let text = String::from_utf8(get(&s.url("/metrics"), &[]).2).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    match scrape.samples.iter().find(|x| x.metric == "ssd_cam_frames_total").map(|x| &x.value) {
        Some(prometheus_parse::Value::Counter(n)) => *n,
        v => panic!("ssd_cam_frames_total is {v:?} in\n{text}"),
    }
}

#[test]
fn a_viewer_that_stops_reading_slows_neither_the_pipeline_nor_the_others() {
    let s = Served::start(&["--source", "demo:fps=15", "--detect", "always"]);
    // The stalled viewers ask and never read.
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = TcpStream::connect(s.addr()).unwrap();
            write!(c, "GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            c
        })
        .collect();
    let mut stream = mjpeg(&s.url("/stream.mjpg"), &[]);
    let first = mjpeg_parts(&mut stream, 1)[0].0;
    let written_before = frames_written(&s);
    let parts = mjpeg_parts(&mut stream, 45);
    let written = frames_written(&s) - written_before;
    let last = parts.last().unwrap().0;
    // Measured against the pipeline's own pace, not the clock, so a busy
    // machine changes nothing: the pipeline went on while the stalled
    // viewers waited, and the reader got most of what it wrote (at 15 a
    // second from a 15 fps source, every frame is due).
    assert!(written >= 40.0, "the pipeline wrote {written} frames while the reader took 45");
    assert!(45.0 / written >= 0.5, "the reader got 45 of the {written} frames the pipeline wrote");
    assert!(parts.windows(2).all(|w| w[1].0 > w[0].0));
    assert!(last >= first + 45);
    // And it sees what the pipeline does now, not a backlog.
    let now = sse(&s.url("/api/detections"), 1, &[]).remove(0)["frame"].as_u64().unwrap();
    let next = mjpeg_parts(&mut stream, 1)[0].0;
    assert!(next + 15 >= now, "the stream is at {next}, the pipeline at {now}");
    drop(stalled);
}

#[test]
fn viewers_get_at_most_http_fps_while_the_pipeline_runs_at_the_sources_rate() {
    let s = Served::start(&["--source", "demo:fps=30", "--detect", "always", "--http-fps", "5"]);
    let mut stream = mjpeg(&s.url("/stream.mjpg"), &[]);
    mjpeg_parts(&mut stream, 2);
    let started = Instant::now();
    let before = sse(&s.url("/api/detections"), 1, &[]).remove(0)["frame"].as_u64().unwrap();
    let parts = mjpeg_parts(&mut stream, 10);
    let seconds = started.elapsed().as_secs_f64();
    let after = sse(&s.url("/api/detections"), 1, &[]).remove(0)["frame"].as_u64().unwrap();
    assert!(seconds > 1.5, "10 frames at 5 a second took {seconds:.2} s");
    // The pipeline's own progress, not the machine's speed: it went on at
    // the source's rate, at least five frames for each one a viewer got.
    assert!(parts.windows(2).all(|w| w[1].0 >= w[0].0 + 5), "{:?}", parts.iter().map(|p| p.0).collect::<Vec<_>>());
    assert!(after - before >= 5 * (parts.len() as u64 - 1), "the pipeline wrote {} frames", after - before);
}

/// A number of the scrape at `url`: the sample `name`'s value.
fn scraped(url: &str, name: &str) -> f64 {
    let (_, _, text) = get(url, &[]);
    let text = String::from_utf8(text).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    match scrape.samples.iter().find(|s| s.metric == name).map(|s| s.value.clone()) {
        Some(prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v)) => v,
        v => panic!("{name}: {v:?} in\n{text}"),
    }
}

/// The status line's rate in a picture ssd-cam wrote: its glyphs read back
/// cell by cell (the HUD is drawn top left, at (4, 3), in the font and
/// scale the overlay uses), up to " fps".
fn hud_fps(img: &image::RgbImage) -> Option<f64> {
    use ssd_cam::draw::{glyph, GLYPH};
    let s = ssd_cam::overlay::text_scale(img.width(), img.height());
    let mut text = String::new();
    for cell in 0..24 {
        let x0 = 4 + cell * GLYPH * s;
        let mut rows = [0u8; 8];
        for (gy, row) in rows.iter_mut().enumerate() {
            for gx in 0..8 {
                let (x, y) = (x0 + gx * s + s / 2, 3 + gy as u32 * s + s / 2);
                if img.get_pixel_checked(x, y).is_some_and(|p| p[1] > 128) {
                    *row |= 1 << gx;
                }
            }
        }
        let ch = (' '..='~').find(|&c| glyph(c) == rows)?;
        text.push(ch);
        if let Some(rate) = text.strip_suffix(" fps") {
            return rate.parse().ok();
        }
    }
    None
}

#[test]
fn the_fps_figure_is_frames_over_time_with_two_workers() {
    // A source faster than the cores, two workers finishing in bursts: the
    // figure 1/dt smoothing got wrong (49 said, 16 done). The status line
    // of the pictures (--save here; the window and recordings draw the
    // same), /metrics and the page must each say what the frames say.
    let saved = tempfile::tempdir().unwrap();
    let dir = saved.path().to_str().unwrap();
    let s = Served::start(&[
        "--source",
        "demo:fps=60,size=640x480",
        "--detect",
        "always",
        "--workers",
        "2",
        "--save",
        dir,
        "--save-png",
        "--save-every",
        "10",
    ]);
    let mut page = Browser::find().map(|program| {
        let mut browser = Browser::start(&program, 1280, 900);
        let session = browser.open(&s.url("/"));
        (browser, session)
    });
    let metrics = s.url("/metrics");
    // The meter counts the last 5 s: compare it with the frames of the
    // same 5 s.
    std::thread::sleep(Duration::from_secs(3));
    let before = scraped(&metrics, "ssd_cam_frames_total");
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let after = scraped(&metrics, "ssd_cam_frames_total");
    let fps = scraped(&metrics, "ssd_cam_fps");
    let done = (after - before) / started.elapsed().as_secs_f64();
    let shown = page.as_mut().map(|(browser, session)| {
        let answer = browser.call(
            Some(session),
            "Runtime.evaluate",
            serde_json::json!({ "expression": "document.getElementById('fps').textContent", "returnByValue": true }),
        );
        answer["result"]["value"].as_str().unwrap_or_default().to_owned()
    });
    // The newest picture written (its number is the frame's).
    let newest = std::fs::read_dir(saved.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .max()
        .expect("no picture saved");
    let hud = hud_fps(&image::open(&newest).unwrap().to_rgb8());
    assert!(done > 0.0);
    let near = |figure: f64| (figure - done).abs() <= 0.05 * done;
    assert!(near(fps), "ssd_cam_fps {fps:.2}, frames_total grew {done:.2} a second");
    // The picture's and the page's 5 s end when that frame was written and
    // when the page last heard, not when /metrics was read: on a loaded
    // machine the rate moves that much between them (16.9 against 15.96
    // seen in CI; 14.6 against 12.27 with the browser starting beside two
    // workers; 15.5 against 12.53 with the ARM build beside the tests). The
    // bug this guards against was 3x off.
    let close = |figure: f64| (figure - done).abs() <= 0.3 * done;
    let hud = hud.unwrap_or_else(|| panic!("no rate in the status line of {}", newest.display()));
    assert!(close(hud), "{} says {hud} fps, frames_total grew {done:.2} a second", newest.display());
    if let Some(shown) = shown {
        let figure: f64 = shown.parse().unwrap_or_else(|_| panic!("the page shows fps {shown:?}"));
        assert!(close(figure), "the page says {figure} fps, frames_total grew {done:.2} a second");
    }
}

#[test]
fn events_carry_their_snapshots_url_served_behind_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "5eed-0123456789abcdef";
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let snaps = dir.path().join("snaps");
    let s = Served::start(&[
        "--source",
        "demo:fps=15",
        "--detect",
        "always",
        "--snapshots",
        snaps.to_str().unwrap(),
        "--http-token-file",
        file.to_str().unwrap(),
    ]);
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let event = sse(&s.url("/api/events"), 1, &auth).remove(0);
    let name = event["snapshot"].as_str().unwrap().to_owned();
    let url = event["snapshot_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/snapshots/demo/{name}"));
    // The file is written on the snapshot sink's own thread: it may follow
    // the event by a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, ct, jpeg) = loop {
        let got = get(&s.url(&url), &auth);
        if got.0 == 200 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (640, 480));
    // The token guards it; nothing but the snapshot files is reachable.
    assert_eq!(get(&s.url(&url), &[]).0, 401);
    for bad in [
        "/snapshots/demo/../token".to_owned(),
        "/snapshots/demo/%2e%2e%2ftoken".to_owned(),
        format!("/snapshots/other/{name}"),
        "/snapshots/demo/1-2.png".to_owned(),
        "/snapshots/demo/".to_owned(),
        "/snapshots/demo/999-999.jpg".to_owned(),
    ] {
        assert_eq!(get(&s.url(&bad), &auth).0, 404, "{bad}");
    }
}

#[test]
fn the_token_is_required_checked_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let token = "c0ffee-0123456789abcdef";
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let s = Served::start(&["--source", STILL, "--http-token-file", file.to_str().unwrap()]);
    let bearer = format!("Bearer {token}");
    for path in ["/metrics", "/api/info", "/api/detections", "/api/events", "/stream.mjpg", "/snapshot.jpg"] {
        let mut resp = agent().get(&s.url(path)).call().unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        assert!(!resp.body_mut().read_to_string().unwrap().contains(token));
        let wrong = agent().get(&s.url(path)).header("Authorization", "Bearer c0ffee-0123456789abcdeX").call().unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    assert_eq!(get(&s.url("/metrics"), &[("Authorization", &bearer)]).0, 200);
    assert_eq!(get(&s.url("/api/info"), &[("Authorization", &bearer)]).0, 200);
    assert_eq!(get(&s.url("/snapshot.jpg"), &[("Authorization", &bearer)]).1, "image/jpeg");
    assert_eq!(sse(&s.url("/api/detections"), 1, &[("Authorization", &bearer)]).len(), 1);
    // Probes need no token.
    assert_eq!(get(&s.url("/healthz"), &[]).0, 200);

    // The browser's way: the page is a login form; a wrong token is refused,
    // the right one sets a session cookie that opens everything.
    let (status, ct, page) = get(&s.url("/"), &[]);
    assert_eq!((status, ct.as_str()), (401, "text/html; charset=utf-8"));
    assert!(String::from_utf8(page).unwrap().contains("<form method=\"post\" action=\"/login\""));
    let form = |t: &str| {
        agent()
            .post(&s.url("/login"))
            .content_type("application/x-www-form-urlencoded")
            .send(format!("token={t}"))
            .unwrap()
    };
    let started = Instant::now();
    assert_eq!(form("guess-guess-guess-guess").status(), 401);
    assert!(started.elapsed() >= Duration::from_millis(400), "a wrong login is slowed");
    let ok = form(token);
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(token), "{cookie}");
    let session = cookie.split(';').next().unwrap();
    let (status, _, page) = get(&s.url("/"), &[("Cookie", session)]);
    assert_eq!(status, 200);
    assert!(String::from_utf8(page).unwrap().contains("/stream.mjpg"));
    assert_eq!(get(&s.url("/metrics"), &[("Cookie", session)]).0, 200);
    assert_eq!(get(&s.url("/metrics"), &[("Cookie", "ssd_cam_session=0000")]).0, 401);
    // A body too big for a login form.
    let big = agent().post(&s.url("/login")).send(vec![b'a'; 64 * 1024]).unwrap();
    assert_eq!(big.status(), 413);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!s.log().contains(token), "the token appears in the log:\n{}", s.log());
}

/// Issue 51, point 12: the live page links to /review; /review without a
/// session is the login form, which leads back to /review; without --clips
/// the review page's query is answered with what it needs, not the endless
/// event stream.
#[test]
fn the_review_page_is_linked_signed_into_and_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let token = "feed-0123456789abcdef";
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let s = Served::start(&["--source", STILL, "--http-token-file", file.to_str().unwrap()]);
    let (status, ct, page) = get(&s.url("/review"), &[]);
    let page = String::from_utf8(page).unwrap();
    assert_eq!((status, ct.as_str()), (401, "text/html; charset=utf-8"), "{page}");
    assert!(page.contains("action=\"/login\"") && page.contains("name=\"next\" value=\"/review\""), "{page}");
    let login = |next: &str| {
        agent()
            .post(&s.url("/login"))
            .content_type("application/x-www-form-urlencoded")
            .send(format!("token={token}&next={next}"))
            .unwrap()
    };
    let ok = login("%2Freview");
    assert_eq!((ok.status().as_u16(), ok.headers()["location"].to_str().unwrap()), (303, "/review"));
    // Nowhere else: an open redirect would be a phishing aid.
    let elsewhere = login("https%3A%2F%2Fexample.com%2F");
    assert_eq!(elsewhere.headers()["location"], "/");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap();
    let (_, _, live) = get(&s.url("/"), &[("Cookie", session)]);
    assert!(String::from_utf8(live).unwrap().contains("href=\"/review\""));
    let started = Instant::now();
    let (status, _, said) = get(&s.url("/api/events?limit=5"), &[("Cookie", session), ("Accept", "application/json")]);
    let said = String::from_utf8(said).unwrap();
    assert_eq!(status, 404, "{said}");
    assert!(said.contains("--clips DIR"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered, not streamed");
}

#[test]
fn a_network_address_needs_a_token_or_an_explicit_insecure() {
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--http-token-file") && err.contains("--http-insecure"), "{err}");
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http", ":0", "--http-token", "short"]);
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("at least 16"), "{}", common::stderr(&out));
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http", "nowhere"]);
    assert!(common::stderr(&out).contains("is not ADDR:PORT"), "{}", common::stderr(&out));
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http-token", "0123456789abcdef0"]);
    assert!(!out.status.success(), "a token without --http is refused");
    // A port in use is one line, before any frame.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http", &addr]);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(common::stderr(&out).contains("cannot listen"), "{}", common::stderr(&out));
    // Insecure on all addresses starts (reached here through the loopback only).
    let s = Served::start_at("0.0.0.0:0", &["--source", STILL, "--http-insecure"], "http");
    let port = s.addr().rsplit(':').next().unwrap().to_owned();
    assert_eq!(get(&format!("http://127.0.0.1:{port}/api/info"), &[]).0, 200);
}

/// Sends raw bytes and returns the whole answer (until the server closes or
/// 5 s pass).
fn raw(addr: &str, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && !out.starts_with(b"HTTP/1.1 200") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn paths_outside_the_routes_and_malformed_requests_are_refused() {
    let s = Served::start(&["--source", STILL]);
    let addr = s.addr();
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/api/../../Cargo.toml",
        "/api/info/../../../etc/passwd",
        "/stream.mjpg/../../etc/passwd",
        "/%00",
        "/models/ssd300-shapes.onnx",
        "/src/web/page.html",
    ] {
        let answer = raw(&addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert!(answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(!answer.contains("root:") && !answer.contains("[package]"), "{path}: {answer}");
    }
    // Headers too many or too large: refused, not buffered.
    let many: String = (0..200).map(|i| format!("X-{i}: 1\r\n")).collect();
    let answer = raw(&addr, format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let huge = "a".repeat(64 * 1024);
    let answer = raw(&addr, format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n").as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431") || answer.is_empty(), "{}", &answer[..answer.len().min(200)]);
    assert!(raw(&addr, b"NONSENSE\r\n\r\n").starts_with("HTTP/1.1 400"));
    // The server is still fine.
    assert_eq!(get(&s.url("/api/info"), &[]).0, 200);
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_viewers_capped() {
    let s = Served::start(&["--source", STILL, "--http-max-clients", "2"]);
    let addr = s.addr();
    // Slowloris: a header line every second, never finished.
    let mut slow = TcpStream::connect(&addr).unwrap();
    let mut idle = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut closed = false;
    for i in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        if write!(slow, "X-{i}: y\r\n").and_then(|()| slow.flush()).is_err() {
            closed = true;
            break;
        }
    }
    // Cut off: the socket is closed (a write failed, or a read sees the
    // end or a reset), not still waiting.
    let cut = |c: &mut TcpStream| {
        let mut buf = [0u8; 256];
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        match c.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    };
    assert!(closed || cut(&mut slow), "the slow client is still connected");
    assert!(started.elapsed() < Duration::from_secs(25), "cut off after {:?}", started.elapsed());
    assert!(cut(&mut idle), "the idle connection is still open");

    // Two streams at most; a third is told to come back; a slot frees when one leaves.
    let one = mjpeg(&s.url("/stream.mjpg"), &[]);
    let held = mjpeg(&s.url("/stream.mjpg"), &[]);
    let third = agent().get(&s.url("/stream.mjpg")).call().unwrap();
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "5");
    assert_eq!(get(&s.url("/api/info"), &[]).0, 200, "pages still load");
    drop(one);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = agent().get(&s.url("/snapshot.jpg")).call().unwrap().status();
        assert_eq!(status, 200);
        let again = agent().get(&s.url("/stream.mjpg")).call().unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(held);
}

#[test]
fn healthz_fails_once_the_source_has_been_silent_too_long() {
    // Y4M on stdin: two frames, then silence with the pipe open.
    let mut child = Command::new(ssd_cam_bin())
        .args(["--source", "-", "--headless", "--http", "127.0.0.1:0", "--health-timeout", "2"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (w, h) = (64usize, 48usize);
    let mut y4m = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C444\n").into_bytes();
    for _ in 0..2 {
        y4m.extend_from_slice(b"FRAME\n");
        y4m.extend(std::iter::repeat_n(128u8, w * h * 3));
    }
    stdin.write_all(&y4m).unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut host = None;
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(h) = line.split("the viewer is at http://").nth(1) {
            host = Some(h.trim_end_matches('/').to_owned());
            break;
        }
    }
    let base = format!("http://{}", host.unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(get(&format!("{base}/healthz"), &[]).0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        let (status, _, body) = get(&format!("{base}/healthz"), &[]);
        if status != 200 || Instant::now() > deadline {
            break (status, String::from_utf8(body).unwrap());
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("no frame for"), "{body}");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn https_with_a_certificate_serves_and_plain_http_does_not() {
    if Command::new("openssl").arg("version").output().is_err() {
        common::missing("openssl", "openssl is missing", "scripts/setup.sh installs it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA: rustls refuses a CA as the server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let s = Served::start_at("127.0.0.1:0", &["--source", STILL, "--http-cert", c, "--http-key", k], "https");
    let pem = std::fs::read(&cert).unwrap();
    let root = ureq::tls::Certificate::from_pem(&pem).unwrap().to_owned();
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root]))).build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    let mut resp = agent.get(&s.url("/api/info")).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.body_mut().read_to_string().unwrap().contains("ssd300-shapes"));
    // Plain HTTP on the TLS port gets no page.
    let answer = raw(&s.addr(), b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!answer.contains("ssd300-shapes"), "{answer}");
    // Files that are not PEM: one line naming the file.
    let out = common::ssd_cam(&["--source", STILL, "--headless", "--http", ":0", "--http-cert", k, "--http-key", k]);
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("--http-cert"), "{}", common::stderr(&out));
}

/// Headless Chromium driven over its DevTools pipe (`--remote-debugging-pipe`:
/// commands on fd 3, answers on fd 4, each a JSON text ended by a NUL).
struct Browser {
    child: Child,
    commands: std::fs::File,
    answers: BufReader<std::fs::File>,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn find() -> Option<String> {
        let found = ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|p| {
            Command::new("sh").args(["-c", &format!("command -v {p}")]).output().is_ok_and(|o| o.status.success())
        });
        if found.is_none() {
            common::missing("browser", "no chromium", "scripts/setup.sh installs it");
        }
        found.map(str::to_owned)
    }

    fn start(program: &str, width: u32, height: u32) -> Browser {
        use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
        use std::os::unix::process::CommandExt;
        let pipe = || {
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
        };
        let ((cmd_read, cmd_write), (ans_read, ans_write)) = (pipe(), pipe());
        let profile = tempfile::tempdir().unwrap();
        let (cmd_fd, ans_fd) = (cmd_read.into_raw_fd(), ans_write.into_raw_fd());
        let mut command = Command::new(program);
        command
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--remote-debugging-pipe"])
            .args(["--no-first-run", "--disable-extensions", "--force-device-scale-factor=1"])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only fcntl and dup2, which are async-signal-safe, between
        // fork and exec. Both ends are first copied above 10, so that
        // neither is overwritten by the other's dup2 when the pipes got fds
        // 3 or 4 (and dup2 onto itself would keep close-on-exec).
        unsafe {
            command.pre_exec(move || {
                let (c, a) = (libc::fcntl(cmd_fd, libc::F_DUPFD, 10), libc::fcntl(ans_fd, libc::F_DUPFD, 10));
                if c < 0 || a < 0 || libc::dup2(c, 3) < 0 || libc::dup2(a, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        // The child has its copies; ours of its ends must close, so that
        // its death reads as the end of the answers.
        unsafe {
            libc::close(cmd_fd);
            libc::close(ans_fd);
        }
        Browser {
            child,
            commands: std::fs::File::from(cmd_write),
            answers: BufReader::new(std::fs::File::from(ans_read)),
            next: 0,
            _profile: profile,
        }
    }

    /// Sends a command (to a page's session when given) and returns its result.
    /// Opens `url` in a new tab and attaches to it; the session's id.
    fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", serde_json::json!({ "url": url }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        attached["sessionId"].as_str().unwrap().to_owned()
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let id = self.next;
        let mut message = serde_json::json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = s.into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        loop {
            let mut raw = Vec::new();
            let n = self.answers.read_until(0, &mut raw).unwrap();
            assert!(n > 0, "chromium ended");
            raw.pop();
            let answer: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_browser_shows_the_video_with_its_boxes_and_the_detections_list() {
    let Some(program) = Browser::find() else { return };
    let s = Served::start(&["--source", STILL, "--detect", "always"]);
    let frame = sse(&s.url("/api/detections"), 1, &[]).remove(0);
    let mut browser = Browser::start(&program, 1280, 900);
    let session = browser.open(&s.url("/"));
    // What the page shows: the video's place and size, and the list.
    let probe = r#"JSON.stringify((() => {
        const img = document.getElementById("video"), r = img.getBoundingClientRect();
        return { playing: document.body.dataset.video === "playing", natural: [img.naturalWidth, img.naturalHeight],
                 rect: [r.x, r.y, r.width, r.height], status: document.getElementById("status").textContent,
                 run: document.getElementById("run").textContent,
                 dets: [...document.querySelectorAll("li.det")].map((li) => ({ label: li.dataset.label,
                        score: +li.dataset.score, box: li.dataset.box.split(",").map(Number) })) };
    })())"#;
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let result = browser.call(
            Some(&session),
            "Runtime.evaluate",
            serde_json::json!({ "expression": probe, "returnByValue": true }),
        );
        let seen: serde_json::Value = serde_json::from_str(result["result"]["value"].as_str().unwrap_or("{}")).unwrap();
        let ready =
            seen["playing"] == true && seen["natural"][0] == 640 && !seen["dets"].as_array().unwrap().is_empty();
        if ready {
            break seen;
        }
        assert!(Instant::now() < deadline, "the page never showed video and detections: {seen}\n{}", s.log());
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(seen["status"], "live");
    assert_eq!(seen["run"], "ssd300-shapes on demo");
    // The list (DOM) holds the stream's detections: same labels, same boxes.
    let listed = seen["dets"].as_array().unwrap();
    let json = frame["detections"].as_array().unwrap();
    assert_eq!(listed.len(), json.len(), "{listed:?} vs {json:?}");
    for (l, d) in listed.iter().zip(json) {
        assert_eq!(l["label"], d["label"]);
        let b = bbox(d);
        for (got, want) in l["box"].as_array().unwrap().iter().zip(b) {
            assert!((got.as_f64().unwrap() - f64::from(want)).abs() <= 1.0, "{l} vs {d}");
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let shot = browser.call(Some(&session), "Page.captureScreenshot", serde_json::json!({ "format": "png" }));
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
    if let Ok(dir) = std::env::var("SSD_CAM_SCREENSHOT_DIR") {
        std::fs::write(std::path::Path::new(&dir).join("web-viewer.png"), &png).unwrap();
    }
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgb8();
    // The picture: each clear box's outline in its class colour, where the
    // video element shows it (scaled to fit, centred).
    let r: Vec<f32> = seen["rect"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let scale = (r[2] / 640.0).min(r[3] / 480.0);
    let origin = [r[0] + (r[2] - 640.0 * scale) / 2.0, r[1] + (r[3] - 480.0 * scale) / 2.0];
    for (class, b) in shown(&frame) {
        let color = ssd_cam::draw::class_color(class as usize);
        let on = outline_share(&img, b, scale, origin, color);
        let inside = outline_share(&img, [b[0] + 12.0, b[1] + 12.0, b[2] - 12.0, b[3] - 12.0], scale, origin, color);
        assert!(on >= 0.6 && inside < on - 0.3, "box {b:?} class {class}: {on} on the outline, {inside} inside");
    }
}

#[test]
fn the_place_editor_turns_clicks_on_the_picture_into_zone_and_line_text() {
    let Some(program) = Browser::find() else { return };
    let s = Served::start(&["--source", STILL, "--detect", "always"]);
    let mut browser = Browser::start(&program, 1280, 900);
    let session = browser.open(&s.url("/"));
    let mut eval = |browser: &mut Browser, js: &str| -> serde_json::Value {
        let result = browser.call(
            Some(&session),
            "Runtime.evaluate",
            serde_json::json!({ "expression": format!("JSON.stringify({js})"), "returnByValue": true }),
        );
        serde_json::from_str(result["result"]["value"].as_str().unwrap_or("null")).unwrap_or(serde_json::Value::Null)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while eval(&mut browser, r#"document.getElementById("video").naturalWidth"#) != 640 {
        assert!(Instant::now() < deadline, "no video in the page\n{}", s.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    let click = |browser: &mut Browser, session: &str, x: f64, y: f64| {
        for kind in ["mousePressed", "mouseReleased"] {
            browser.call(
                Some(session),
                "Input.dispatchMouseEvent",
                serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    };
    let centre = |browser: &mut Browser, eval: &mut dyn FnMut(&mut Browser, &str) -> serde_json::Value, id: &str| {
        let r = eval(
            browser,
            &format!(
                r#"(() => {{ const r = document.getElementById("{id}").getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"#
            ),
        );
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    };
    // Source pixels to page pixels, as the page lays the picture out.
    let p = eval(&mut browser, "(() => { const p = picture(); return [p.x, p.y, p.scale]; })()");
    let (px, py, scale) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap(), p[2].as_f64().unwrap());
    let at = |x: f64, y: f64| (px + x * scale, py + y * scale);

    let (bx, by) = centre(&mut browser, &mut eval, "addzone");
    click(&mut browser, &session, bx, by);
    let corners = [(100.0, 80.0), (400.0, 80.0), (400.0, 360.0), (100.0, 360.0)];
    for (x, y) in corners {
        let (cx, cy) = at(x, y);
        click(&mut browser, &session, cx, cy);
    }
    let text = eval(&mut browser, r#"document.getElementById("placetext").textContent"#);
    let text = text.as_str().unwrap_or_default().to_owned();
    let first = text.lines().next().unwrap_or_default();
    let zone = ssd_cam::zones::Zone::parse(first.strip_prefix("--zone ").unwrap_or(first)).unwrap();
    assert_eq!(zone.name, "porch", "{text}");
    assert_eq!(zone.polygon.len(), 4, "{text}");
    for (got, want) in zone.polygon.iter().zip(corners) {
        assert!(
            (got[0] - want.0 as f32).abs() <= 1.0 && (got[1] - want.1 as f32).abs() <= 1.0,
            "{got:?} vs {want:?}: {text}"
        );
    }
    // The same place for a zones file and cameras.toml.
    assert!(text.contains(&format!("\nzone {}", &first[7..])) && text.contains("zones = [\"porch="), "{text}");

    let (bx, by) = centre(&mut browser, &mut eval, "addline");
    click(&mut browser, &session, bx, by);
    eval(
        &mut browser,
        r#"(() => { for (const [id, v] of [["placename", "door"], ["wayin", "in"], ["wayout", "out"]]) { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input")); } return 1; })()"#,
    );
    for (x, y) in [(0.0f64, 240.0), (640.0, 240.0)] {
        let (cx, cy) = at(x.clamp(1.0, 639.0), y);
        click(&mut browser, &session, cx, cy);
    }
    let text = eval(&mut browser, r#"document.getElementById("placetext").textContent"#);
    let first = text.as_str().unwrap_or_default().lines().next().unwrap_or_default().to_owned();
    let line = ssd_cam::zones::Line::parse(first.strip_prefix("--line ").unwrap_or(&first)).unwrap();
    assert_eq!(
        (line.name.as_str(), line.sides.clone()),
        ("door", Some(["in".to_owned(), "out".to_owned()])),
        "{first}"
    );
    assert!((line.a[1] - 240.0).abs() <= 1.0 && (line.b[1] - 240.0).abs() <= 1.0 && line.b[0] > 600.0, "{first}");

    // Issue 51, point 14. The picture stayed where it was while the text grew.
    let after = eval(&mut browser, "(() => { const p = picture(); return [p.x, p.y, p.scale]; })()");
    let after: Vec<f64> = after.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(after, [px, py, scale], "the picture moved under the cursor");
    // The line's first way has its arrow, to the line's right (left to
    // right along a line drawn left to right is downwards), named.
    let arrow = eval(
        &mut browser,
        r#"(() => { const a = document.getElementById("firstway"); return a && [+a.getAttribute("y1"), +a.getAttribute("y2"), a.parentNode.querySelector("text").textContent]; })()"#,
    );
    assert!(arrow[1].as_f64() > arrow[0].as_f64() && arrow[2] == "in", "{arrow}");
    // Copy on a plain-HTTP LAN address, where there is no clipboard API:
    // the text is selected for the user to copy.
    eval(
        &mut browser,
        r#"(() => { Object.defineProperty(navigator, "clipboard", { value: undefined }); return 1; })()"#,
    );
    eval(&mut browser, r#"(() => { document.getElementById("copyplace").click(); return 1; })()"#);
    let selected = eval(&mut browser, "window.getSelection().toString()");
    assert_eq!(selected, text, "the place's text is selected");
    let hint = eval(&mut browser, r#"document.getElementById("placehint").textContent"#);
    assert!(hint == "Copied." || hint.as_str().is_some_and(|h| h.starts_with("Selected")), "{hint}");
}

#[test]
fn several_cameras_are_served_by_name_with_their_own_metrics() {
    let s = Served::start(&[
        "--source",
        STILL,
        "--source",
        "demo:fps=15,seed=9",
        "--name",
        "hall",
        "--name",
        "porch",
        "--detect",
        "always",
    ]);
    let info = |q: &str| -> serde_json::Value {
        serde_json::from_slice(&get(&s.url(&format!("/api/info{q}")), &[]).2).unwrap()
    };
    assert_eq!(info("")["source"], "hall", "the first camera is the default");
    assert_eq!(info("")["cameras"], serde_json::json!(["hall", "porch"]));
    assert_eq!(info("?camera=porch")["source"], "porch");
    assert_eq!(get(&s.url("/api/info?camera=attic"), &[]).0, 404);
    let frames = sse(&s.url("/api/detections?camera=porch"), 3, &[]);
    assert!(frames.iter().all(|f| f["source"] == "porch"), "{frames:?}");
    let hall = sse(&s.url("/api/detections?camera=hall"), 2, &[]);
    assert!(hall.iter().all(|f| f["source"] == "hall"));
    let mut stream = mjpeg(&s.url("/stream.mjpg?camera=porch"), &[]);
    let (_, jpeg) = mjpeg_parts(&mut stream, 1).remove(0);
    assert!(image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).is_ok());
    let text = String::from_utf8(get(&s.url("/metrics"), &[]).2).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    for camera in ["hall", "porch"] {
        let frames = scrape
            .samples
            .iter()
            .find(|x| x.metric == "ssd_cam_frames_total" && x.labels.get("source") == Some(camera))
            .unwrap_or_else(|| panic!("no frames for {camera}:\n{text}"));
        assert!(matches!(frames.value, prometheus_parse::Value::Counter(n) if n >= 1.0));
        assert!(scrape
            .samples
            .iter()
            .any(|x| x.metric == "ssd_cam_build_info" && x.labels.get("source") == Some(camera)));
    }
    assert_eq!(get(&s.url("/healthz"), &[]).0, 200);

    // The page offers both cameras and shows the one asked for.
    let Some(program) = Browser::find() else { return };
    let mut browser = Browser::start(&program, 800, 600);
    let session = browser.open(&s.url("/?camera=porch"));
    let probe = r##"JSON.stringify({ run: document.getElementById("run").textContent,
        options: [...document.querySelectorAll("#camera option")].map((o) => o.value),
        chosen: document.getElementById("camera").value,
        dets: document.querySelectorAll("li.det").length })"##;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = browser.call(
            Some(&session),
            "Runtime.evaluate",
            serde_json::json!({ "expression": probe, "returnByValue": true }),
        );
        let seen: serde_json::Value = serde_json::from_str(r["result"]["value"].as_str().unwrap_or("{}")).unwrap();
        if seen["options"].as_array().is_some_and(|o| o.len() == 2) && seen["dets"].as_u64() > Some(0) {
            assert_eq!(seen["run"], "ssd300-shapes on porch");
            assert_eq!(seen["chosen"], "porch");
            assert_eq!(seen["options"], serde_json::json!(["hall", "porch"]));
            break;
        }
        assert!(Instant::now() < deadline, "the page never offered both cameras: {seen}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn the_review_page_lists_an_event_after_a_restart_and_plays_its_clip() {
    let Some(program) = Browser::find() else { return };
    let ffmpeg = Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ffmpeg {
        common::missing("ffmpeg", "ffmpeg is missing", "scripts/setup.sh installs it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let walk = dir.path().join("walk.mp4");
    common::walk_with_margins(&walk);
    let (clips, snaps) = (dir.path().join("clips"), dir.path().join("snaps"));
    let (clips, snaps) = (clips.to_str().unwrap(), snaps.to_str().unwrap());
    let folders = ["--clips", clips, "--snapshots", snaps, "--name", "door"];
    // The first run: she walks by.
    let capture = ["--pre-capture", "2", "--post-capture", "2", "--events"];
    let out = common::ssd_cam(&[&["--source", walk.to_str().unwrap(), "--headless"][..], &folders, &capture].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events = common::json_lines(&out);
    let end = events.iter().find(|e| e["type"] == "end").expect("her end");
    let id = format!("door/{}-{}", end["first_ms"].as_f64().unwrap() as u64, end["id"]);
    let want = end["duration_ms"].as_f64().unwrap() / 1000.0 + 4.0;
    // A restart: the viewer over the same folders, on a still scene.
    let s = Served::start(&[&["--source", STILL][..], &folders].concat());
    // The API gives her event back from the database.
    let (status, _, body) = get(&s.url("/api/events?label=person"), &[("accept", "application/json")]);
    assert_eq!(status, 200);
    let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["clip_url"], format!("/clips/door/{}", end["clip"].as_str().unwrap()));
    assert_eq!(get(&s.url("/api/events?label=../x"), &[("accept", "application/json")]).0, 400);
    assert_eq!(get(&s.url("/clips/door/..%2F..%2Fssd-cam.db"), &[]).0, 404);

    let mut browser = Browser::start(&program, 1000, 900);
    let session = browser.open(&s.url("/review"));
    let eval = |browser: &mut Browser, js: &str| -> serde_json::Value {
        let result = browser.call(
            Some(&session),
            "Runtime.evaluate",
            serde_json::json!({ "expression": format!("JSON.stringify({js})"), "returnByValue": true }),
        );
        serde_json::from_str(result["result"]["value"].as_str().unwrap_or("null")).unwrap_or(serde_json::Value::Null)
    };
    let card = format!(r#"document.querySelector('.event[data-id="{id}"]')"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let thumb = eval(&mut browser, &format!("(() => {{ const c = {card}; return c && c.querySelector('img') && c.querySelector('img').naturalWidth; }})()"));
        if thumb.as_u64().is_some_and(|w| w > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "her event with its thumbnail never showed: {thumb}\n{}", s.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    eval(&mut browser, &format!("{card}.click()"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let seen = eval(
            &mut browser,
            r#"(() => { const v = document.getElementById("video");
                return { t: v.currentTime, d: v.duration, poster: v.poster, error: v.error && v.error.code }; })()"#,
        );
        if seen["t"].as_f64().is_some_and(|t| t > 1.0) {
            break seen;
        }
        assert!(seen["error"].is_null(), "the clip does not play: {seen}");
        assert!(Instant::now() < deadline, "the clip never played: {seen}\n{}", s.log());
        std::thread::sleep(Duration::from_millis(250));
    };
    let duration = seen["d"].as_f64().unwrap();
    assert!((duration - want).abs() <= 1.0, "the clip lasts {duration} s, the event and its 2 + 2 s {want} s");
    assert!(seen["poster"].as_str().unwrap().ends_with(end["snapshot"].as_str().unwrap()), "{seen}");
}
