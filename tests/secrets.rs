//! No password or token reaches anything ssd-cam writes: each run gives
//! unique secret strings (some through `${NAME}` from the environment), logs
//! at debug level, and every byte it wrote (stdout, stderr, what a
//! subscriber of every MQTT topic received, HTTP responses, file names and
//! contents) is searched for them.
//!
//! Needs ffmpeg (a network camera that cannot be reached) and, for the run
//! with every output, mosquitto; without them the tests say so and pass,
//! and fail without them unless SSD_CAM_ALLOW_MISSING=ffmpeg,mqtt.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ssd_cam_bin;

const RTSP_PASSWORD: &str = "rtsp-Pw-4f1c9e";
const MQTT_PASSWORD: &str = "mqtt-Pw-8b2d07";
const TOKEN: &str = "web-Token-3a7e55d1c0";

fn have(program: &str, require: &str) -> bool {
    let ok =
        Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success());
    if !ok {
        common::missing(require, &format!("{program} is missing"), "scripts/setup.sh installs it");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port nothing listens on: a camera there cannot be reached.
fn closed_port() -> u16 {
    free_port()
}

/// Where any of `secrets` occurs in `bytes` (named `what`).
fn leaks(what: &str, bytes: &[u8], secrets: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    secrets.iter().filter(|s| text.contains(*s)).map(|s| format!("{what} holds {s}")).collect()
}

/// Every file under `dir`: its path (relative) and its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                found.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(ssd_cam_bin());
    c.args(args).env("RUST_LOG", "debug");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A child killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_camera_that_fails_alone_or_beside_another_names_no_password() {
    if !have("ffmpeg", "ffmpeg") {
        return;
    }
    let url = format!("rtsp://admin:{RTSP_PASSWORD}@127.0.0.1:{}/door?token={TOKEN}", closed_port());
    let alone = run(&["--source", &url, "--headless", "--reconnect-timeout", "1"], &[]);
    assert!(!alone.status.success());
    let beside = run(
        &["--source", &url, "--source", "demo:fps=0,frames=5,size=160x120", "--headless", "--reconnect-timeout", "1"],
        &[],
    );
    let err = String::from_utf8_lossy(&beside.stderr);
    // The run went past the failed camera, which is named from its address.
    assert!(err.contains("camera 127-0-0-1-door:") && err.contains("running without it"), "{err}");
    assert_eq!(common::json_lines(&beside).len(), 5, "{err}");
    let mut found = Vec::new();
    for (what, out) in [("alone", &alone), ("beside another", &beside)] {
        found.extend(leaks(&format!("{what}: stdout"), &out.stdout, &[RTSP_PASSWORD, TOKEN]));
        found.extend(leaks(&format!("{what}: stderr"), &out.stderr, &[RTSP_PASSWORD, TOKEN]));
    }
    assert!(found.is_empty(), "{found:?}\n{err}");
}

#[test]
fn a_cameras_file_takes_the_password_from_the_environment_and_shows_it_nowhere() {
    if !have("ffmpeg", "ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cameras.toml");
    let text = format!(
        "[[camera]]\nname = \"door\"\nsource = \"rtsp://admin:${{SSD_CAM_DOOR_PW}}@127.0.0.1:{}/door\"\n\n\
         [[camera]]\nname = \"yard\"\nsource = \"demo:fps=0,frames=5,size=160x120\"\n",
        closed_port()
    );
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    let out =
        run(&["--config", config, "--headless", "--reconnect-timeout", "1"], &[("SSD_CAM_DOOR_PW", RTSP_PASSWORD)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("camera door:") && err.contains("running without it"), "{err}");
    assert_eq!(common::json_lines(&out).len(), 5, "{err}");
    let found = [leaks("stdout", &out.stdout, &[RTSP_PASSWORD]), leaks("stderr", &out.stderr, &[RTSP_PASSWORD])];
    assert!(found.iter().all(Vec::is_empty), "{found:?}\n{err}");

    // Unset, the variable is named in one line, and nothing runs.
    let out = Command::new(ssd_cam_bin()).args(["--config", config, "--headless"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SSD_CAM_DOOR_PW is not set in the environment"), "{err}");
}

#[test]
fn a_bad_mqtt_url_is_an_error_without_its_password() {
    let out = run(&["--mqtt", &format!("mqtt://cam:{MQTT_PASSWORD}@host:notaport/x"), "--headless"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the port must be"), "{err}");
    assert!(leaks("stderr", &out.stderr, &[MQTT_PASSWORD]).is_empty(), "{err}");
}

/// One run with every output on (stdout events, snapshots, MQTT, the web
/// viewer) and two cameras, one unreachable.
#[test]
fn no_secret_reaches_stdout_stderr_the_broker_the_web_or_files() {
    if !have("ffmpeg", "ffmpeg") || !have("mosquitto", "mqtt") || !have("mosquitto_sub", "mqtt") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (broker_port, http_port) = (free_port(), free_port());
    let user = Command::new("id").arg("-un").output().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user {}\nlistener {broker_port} 127.0.0.1\nallow_anonymous true\n",
            String::from_utf8_lossy(&user.stdout).trim()
        ),
    )
    .unwrap();
    let _broker = Killed(
        Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", broker_port)).is_err() {
        assert!(Instant::now() < until, "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sub_out = std::fs::File::create(dir.path().join("received")).unwrap();
    let subscriber = Killed(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &broker_port.to_string(), "-v", "-t", "#"])
            .stdout(sub_out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));

    let snapshots = dir.path().join("snapshots");
    let camera = format!("rtsp://admin:${{SSD_CAM_RTSP_PW}}@127.0.0.1:{}/door", closed_port());
    let mqtt = format!("mqtt://cam:${{SSD_CAM_MQTT_PW}}@127.0.0.1:{broker_port}/home");
    let http = format!("127.0.0.1:{http_port}");
    let mut child = Command::new(ssd_cam_bin())
        .args(["--source", &camera, "--source", "demo:fps=10,frames=80,size=320x240,seed=4"])
        // The model of the demo's shapes: events to publish and snapshot.
        .args(["--model", "ssd300-shapes"])
        .args(["--headless", "--events", "--snapshots", snapshots.to_str().unwrap(), "--mqtt", &mqtt])
        .args(["--http", &http, "--http-token", TOKEN, "--reconnect-timeout", "1"])
        // An update a second per object: events on the stream all along.
        .args(["--event-every", "1"])
        .env("RUST_LOG", "debug")
        .env("SSD_CAM_RTSP_PW", RTSP_PASSWORD)
        .env("SSD_CAM_MQTT_PW", MQTT_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).unwrap();
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).unwrap();
        b
    });

    // While it runs: every page, with and without the token; the event
    // streams are read until the run ends and closes them.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    // The port is bound before the model loads and the cameras open; wait
    // for the viewer to answer, so that the pages below are asked for while
    // the run is going (the demo runs 8 s after that).
    let until = Instant::now() + Duration::from_secs(60);
    while agent.get(&format!("http://127.0.0.1:{http_port}/healthz")).call().is_err() {
        assert!(Instant::now() < until, "the web viewer did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = move |agent: &ureq::Agent, path: &str, auth: bool| -> Option<(String, Vec<u8>)> {
        let mut req = agent.get(&format!("http://127.0.0.1:{http_port}{path}"));
        if auth {
            req = req.header("Authorization", &format!("Bearer {TOKEN}"));
        }
        let mut resp = req.call().ok()?;
        let head = format!("{} {:?}", resp.status(), resp.headers());
        // What came before an error counts: a stream the server cuts at the
        // run's end still carried its events.
        let mut body = Vec::new();
        let mut reader = resp.body_mut().with_config().limit(10 << 20).reader();
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = std::io::Read::read(&mut reader, &mut chunk) {
            body.extend_from_slice(&chunk[..n]);
        }
        Some((format!("GET {path} (token {auth})"), [head.into_bytes(), body].concat()))
    };
    let streams: Vec<_> = ["/api/detections", "/api/events"]
        .into_iter()
        .map(|path| {
            let agent = agent.clone();
            std::thread::spawn(move || get(&agent, path, true))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let mut responses = Vec::new();
    for path in ["/", "/metrics", "/healthz", "/api/info", "/snapshot.jpg", "/login", "/nope"] {
        for auth in [true, false] {
            responses.extend(get(&agent, path, auth));
        }
    }
    let status = child.wait().unwrap();
    let (stdout, stderr) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    responses.extend(streams.into_iter().filter_map(|s| s.join().unwrap()));
    std::thread::sleep(Duration::from_millis(500));
    drop(subscriber);
    let received = std::fs::read(dir.path().join("received")).unwrap();
    let err = String::from_utf8_lossy(&stderr);

    // Every path was taken: the unreachable camera was left out, events and
    // snapshots were made and published, the pages answered.
    assert!(!status.success() && err.contains("camera 127-0-0-1-door:"), "{err}");
    assert!(String::from_utf8_lossy(&received).contains("home/demo/events"), "{err}");
    assert!(!files(&snapshots).is_empty(), "no snapshot: {err}");
    let answered =
        |what: &str| responses.iter().any(|(w, body)| w == what && body.starts_with(b"200") && body.len() > 500);
    for page in ["GET /metrics (token true)", "GET /api/events (token true)"] {
        let got: Vec<String> = responses
            .iter()
            .filter(|(w, _)| w == page)
            .map(|(_, b)| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
            .collect();
        assert!(answered(page), "{page} did not answer in full: {got:?}\n{err}");
    }

    let secrets = [RTSP_PASSWORD, MQTT_PASSWORD, TOKEN];
    let mut found = leaks("stdout", &stdout, &secrets);
    found.extend(leaks("stderr", &stderr, &secrets));
    found.extend(leaks("the broker's messages", &received, &secrets));
    for (what, body) in &responses {
        found.extend(leaks(what, body, &secrets));
    }
    for (name, bytes) in files(&snapshots) {
        found.extend(leaks(&format!("file name {name}"), name.as_bytes(), &secrets));
        found.extend(leaks(&format!("file {name}"), &bytes, &secrets));
    }
    assert!(found.is_empty(), "{found:?}");
}
