//! `--mqtt` against a real broker: Debian's mosquitto, started by each test
//! on a free port of 127.0.0.1 and stopped by PID, with mosquitto_sub as the
//! subscriber. Without them the tests fail (scripts/setup.sh installs
//! them), unless SSD_CAM_ALLOW_MISSING=mqtt ignores them.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ssd_cam_bin;

fn tools() -> bool {
    let ok = ["mosquitto", "mosquitto_sub", "mosquitto_passwd", "openssl"].iter().all(|p| {
        Command::new("sh").args(["-c", &format!("command -v {p}")]).output().is_ok_and(|o| o.status.success())
    });
    if !ok {
        common::missing("mqtt", "mosquitto, mosquitto_sub or openssl is missing", "scripts/setup.sh installs them");
    }
    ok
}

/// This user's name: mosquitto started as root drops to user `mosquitto`,
/// who could not read the test's files, unless told to stay.
fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// stderr's log lines at warn level or above (the run's summary is not one).
fn warnings(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.starts_with("ssd-cam: ")).map(str::to_owned).collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (by PID) when dropped.
struct Killed(Option<Child>);

impl Killed {
    fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Waits for it to end by itself.
    fn output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A mosquitto broker on 127.0.0.1 with its config, data and log in `dir`.
struct Broker {
    dir: PathBuf,
    port: u16,
    /// Extra config lines (TLS listener, passwords).
    extra: String,
    child: Option<Killed>,
}

impl Broker {
    fn start(dir: &Path, extra: &str) -> Self {
        let mut broker = Broker { dir: dir.to_path_buf(), port: free_port(), extra: extra.to_owned(), child: None };
        broker.resume();
        broker
    }

    /// (Re)starts it on the same port, with its persisted state.
    fn resume(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        let anonymous = if self.extra.contains("password_file") { "false" } else { "true" };
        std::fs::write(
            &conf,
            format!(
                "user {}\nlistener {} 127.0.0.1\nallow_anonymous {anonymous}\npersistence true\npersistence_location {}/\nqueue_qos0_messages true\n{}\n",
                whoami(),
                self.port,
                self.dir.display(),
                self.extra
            ),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join("broker.log")).unwrap();
        let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        self.child = Some(Killed(Some(child)));
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it the polite way (SIGTERM: it saves its state and queues).
    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            signal(child.pid(), "TERM");
            child.output();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("broker.log")).unwrap_or_default()
    }

    fn url(&self, prefix: &str) -> String {
        format!("mqtt://127.0.0.1:{}/{prefix}", self.port)
    }

    /// mosquitto_sub with `args` against this broker.
    fn sub(&self, args: &[&str]) -> Command {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]).args(args);
        c
    }

    /// A persistent QoS 1 subscription to `topic` as client `id`: from now
    /// on the broker keeps what is published there for that client (QoS 0
    /// messages too: the config says `queue_qos0_messages`).
    fn subscribe(&self, id: &str, topic: &str) {
        let out = self.sub(&["-c", "-i", id, "-q", "1", "-t", topic, "-E"]).output().unwrap();
        assert!(out.status.success(), "mosquitto_sub -E: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Collects, in order, what the broker kept for client `id`'s
    /// subscription, listening for `seconds`.
    fn collect(&self, id: &str, topic: &str, seconds: u32) -> Vec<String> {
        let out = self
            .sub(&["-c", "-i", id, "-q", "1", "-t", topic, "-W", &seconds.to_string()])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }

    /// The retained message of `topic`, if any within 2 s.
    fn retained(&self, topic: &str) -> Option<String> {
        let out = self.sub(&["-t", topic, "-C", "1", "-W", "2", "--retained-only"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned)
    }
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status();
}

/// Runs ssd-cam on the demo scene, events on stdout and to `mqtt`.
fn detect(frames: u32, fps: u32, mqtt: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(ssd_cam_bin());
    c.args(["--source", &format!("demo:fps={fps},frames={frames},size=320x240,seed=4")])
        .args(["--headless", "--events", "--workers", "1", "--mqtt", mqtt])
        .args(extra)
        .env("RUST_LOG", "warn");
    c
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The received messages in order of first arrival (QoS 1 is at least
/// once: a resend after a lost acknowledgement may repeat one).
fn first_arrivals(lines: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    lines.into_iter().filter(|l| seen.insert(l.clone())).collect()
}

#[test]
fn the_broker_gets_the_events_of_stdout_in_order_and_the_counts_and_state_retained() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    broker.subscribe("events", "cams/demo/events");
    broker.subscribe("detections", "cams/demo/detections");
    let started = Instant::now();
    let out = detect(60, 0, &broker.url("cams"), &["--mqtt-detections-hz", "4"]).output().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(warnings(&out), Vec::<String>::new(), "a clean run warns of nothing");
    let printed = stdout_lines(&out);
    assert!(printed.len() > 10, "few events: {printed:?}");
    let received = first_arrivals(broker.collect("events", "cams/demo/events", 2));
    assert_eq!(received, printed, "MQTT events differ from stdout's");
    // Frame lines, at most 4 a second of the run.
    let frames = broker.collect("detections", "cams/demo/detections", 2);
    assert!(!frames.is_empty() && frames.len() as f64 <= 4.0 * seconds + 1.0, "{} in {seconds} s", frames.len());
    for f in &frames {
        let v: serde_json::Value = serde_json::from_str(f).unwrap();
        assert!(v["detections"].is_array() && v["source"] == "demo", "{f}");
    }
    // Everything ended with the run: the counts are back to 0 and the state
    // says offline, all retained.
    for label in ["circle", "square", "triangle", "star"] {
        assert_eq!(broker.retained(&format!("cams/demo/{label}")).as_deref(), Some("0"), "{label}");
    }
    assert_eq!(broker.retained("cams/demo/state").as_deref(), Some("offline"));
}

#[test]
fn a_broker_down_at_start_and_restarted_mid_run_loses_no_event() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path(), "");
    broker.subscribe("events", "cams/demo/events");
    broker.stop();
    // About 15 s of events; the broker is away for 0-2 s and again for
    // 5-8 s of it.
    let run = detect(150, 10, &broker.url("cams"), &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let run = Killed(Some(run));
    std::thread::sleep(Duration::from_secs(2));
    broker.resume();
    std::thread::sleep(Duration::from_secs(3));
    broker.stop();
    std::thread::sleep(Duration::from_secs(3));
    broker.resume();
    let out = run.output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("unreachable"), "no warning about the broker at start: {err}");
    assert!(err.contains("lost"), "no warning when the broker went away: {err}");
    let printed = stdout_lines(&out);
    let received = first_arrivals(broker.collect("events", "cams/demo/events", 2));
    assert_eq!(received.len(), printed.len(), "{} of {} events arrived", received.len(), printed.len());
    assert_eq!(received, printed);
}

#[test]
fn a_killed_detector_leaves_offline_by_its_last_will() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    let run = Killed(Some(detect(100_000, 10, &broker.url("site/cams"), &[]).stdout(Stdio::null()).spawn().unwrap()));
    let until = Instant::now() + Duration::from_secs(20);
    while broker.retained("site/cams/demo/state").as_deref() != Some("online") {
        assert!(Instant::now() < until, "never online");
    }
    signal(run.pid(), "KILL");
    drop(run);
    let until = Instant::now() + Duration::from_secs(10);
    while broker.retained("site/cams/demo/state").as_deref() != Some("offline") {
        assert!(Instant::now() < until, "the last will did not say offline");
    }
}

#[test]
fn a_wrong_password_is_one_error_line_and_the_right_one_connects() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    // `@`, `:` and `/` can only be written in the URL percent-encoded.
    let password = "r@ght:pw/1";
    let made =
        Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&passwords).args(["cam", password]).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let broker = Broker::start(dir.path(), &format!("password_file {}", passwords.display()));
    let url = |pw: &str| format!("mqtt://cam:{pw}@127.0.0.1:{}/cams", broker.port);
    let out = detect(5, 0, &url("wrong-pw"), &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refused the login") && !err.contains("wrong-pw"), "{err}");
    assert!(out.stdout.is_empty(), "frames ran after a refused login");
    let out = detect(30, 0, &url("r%40ght%3Apw%2F1"), &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(warnings(&out), Vec::<String>::new());
    // The password from a file (its first line), the URL naming only the user.
    let file = dir.path().join("mqtt-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let only_user = format!("mqtt://cam@127.0.0.1:{}/cams", broker.port);
    let out = detect(30, 0, &only_user, &["--mqtt-password-file", file.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("mqtt: connected"), "{err}");
    assert!(!err.contains(password) && !err.contains("r@ght"), "{err}");
}

/// A test CA and a certificate for 127.0.0.1 signed by it, made with
/// openssl in `dir`; returns (ca, cert, key).
fn test_ca(dir: &Path) -> [PathBuf; 3] {
    let p = |n: &str| dir.join(n);
    let ssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ssd-cam test CA"],
        &["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    .concat());
    ssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(p("ext.cnf"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    [p("ca.pem"), p("server.pem"), p("server.key")]
}

#[test]
fn mqtts_with_the_test_ca_delivers_and_an_unknown_ca_does_not() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, key] = test_ca(dir.path());
    let tls_port = free_port();
    let broker = Broker::start(
        dir.path(),
        &format!(
            "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}",
            ca.display(),
            cert.display(),
            key.display()
        ),
    );
    broker.subscribe("events", "tls/demo/events");
    let url = format!("mqtts://127.0.0.1:{tls_port}/tls");
    let out = detect(40, 0, &url, &["--mqtt-ca", ca.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(warnings(&out), Vec::<String>::new());
    let printed = stdout_lines(&out);
    assert!(!printed.is_empty());
    assert_eq!(first_arrivals(broker.collect("events", "tls/demo/events", 2)), printed);

    // The system's roots do not know the test CA: the run goes on, warns,
    // and gives up on the queued events at the end.
    let out = detect(10, 0, &url, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(err.contains("not delivered"), "{err}");
}

#[test]
fn several_cameras_publish_under_their_own_names() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    broker.subscribe("front", "cams/front/events");
    broker.subscribe("back", "cams/back/events");
    let out = Command::new(ssd_cam_bin())
        .args(["--source", "demo:fps=0,frames=40,size=320x240,seed=4", "--name", "front"])
        .args(["--source", "demo:fps=0,frames=40,size=320x240,seed=7", "--name", "back"])
        .args(["--headless", "--events", "--mqtt", &broker.url("cams")])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = stdout_lines(&out);
    for camera in ["front", "back"] {
        let mine: Vec<String> = printed
            .iter()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["source"] == camera)
            .cloned()
            .collect();
        assert!(!mine.is_empty(), "no events of {camera} on stdout");
        let received = first_arrivals(broker.collect(camera, &format!("cams/{camera}/events"), 2));
        assert_eq!(received, mine, "{camera}: MQTT events differ from its stdout events");
        assert_eq!(broker.retained(&format!("cams/{camera}/state")).as_deref(), Some("offline"));
    }
}

/// Threads and resident memory of process `pid`.
#[test]
fn a_broker_restarted_fifty_times_leaves_no_thread_or_memory_behind() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path(), "");
    let child = Killed(Some(
        detect(1_000_000, 15, &broker.url("cams"), &[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap(),
    ));
    std::thread::sleep(Duration::from_secs(3));
    let (threads_before, rss_before) = common::threads_and_rss(child.pid());
    assert!(threads_before > 0, "ssd-cam is not running");
    for _ in 0..50 {
        broker.stop();
        std::thread::sleep(Duration::from_millis(200));
        broker.resume();
        std::thread::sleep(Duration::from_millis(700));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (threads_after, rss_after) = common::threads_and_rss(child.pid());
    signal(child.pid(), "INT");
    let out = child.output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(threads_after <= threads_before, "threads {threads_before} -> {threads_after}\n{err}");
    // Memory may move with the allocator; it must not grow per reconnect.
    assert!(rss_after <= rss_before + 8 * 1024, "RSS {rss_before} kB -> {rss_after} kB");
    assert!(err.matches("mqtt: lost").count() >= 10, "the broker restarts went unseen: {err}");
}

/// mosquitto_pub of `payload` on `topic` (retained with `retain`).
fn publish(broker: &Broker, topic: &str, payload: &str, retain: bool) {
    let mut c = Command::new("mosquitto_pub");
    c.args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1", "-t", topic, "-m", payload]);
    if retain {
        c.arg("-r");
    }
    assert!(c.status().unwrap().success(), "mosquitto_pub {topic}");
}

/// Every retained message under `filter`: topic -> payload.
fn retained_under(broker: &Broker, filter: &str) -> std::collections::BTreeMap<String, String> {
    let out = broker.sub(&["-t", filter, "-v", "--retained-only", "-W", "2"]).stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(t, p)| (t.to_owned(), p.to_owned())))
        .collect()
}

/// Waits up to 20 s for `topic`'s retained value to be `want`.
fn wait_retained(broker: &Broker, topic: &str, want: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let now = broker.retained(topic);
        if now.as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < until, "{topic} is {now:?}, not {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Issue 51, point 7: two processes, one camera each, on one broker and
/// prefix (the README's one process per camera): neither removes the
/// other's Home Assistant entities, at start or when restarted.
#[test]
fn two_runs_on_one_broker_keep_each_other_s_home_assistant_entities() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    let url = broker.url("home");
    let run = |name: &str| {
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
        let child = Command::new(ssd_cam_bin())
            .args(["--source", "demo:fps=10,size=320x240,seed=4", "--headless", "--workers", "1"])
            .args(["--mqtt", &url, "--name", name, "--ha-discovery"])
            .stdout(Stdio::null())
            .stderr(log)
            .env("RUST_LOG", "info")
            .spawn()
            .unwrap();
        wait_retained(&broker, &format!("home/{name}/state"), "online");
        Killed(Some(child))
    };
    let configs_of = |name: &str| -> Vec<String> {
        let all = retained_under(&broker, "homeassistant/#");
        all.into_iter().filter(|(t, p)| t.contains(&format!("/{name}_")) && !p.is_empty()).map(|(t, _)| t).collect()
    };
    let front = run("frontdoor");
    let front_configs = configs_of("frontdoor");
    assert!(front_configs.len() >= 4, "{front_configs:?}");
    let garage = run("garage");
    // Past a connect's subscriptions and retained lists on both sides.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(configs_of("frontdoor"), front_configs, "the garage's run removed the front door's entities");
    let garage_configs = configs_of("garage");
    assert!(garage_configs.len() >= 4, "{garage_configs:?}");
    // The front door's run again: it reads its own list, not the garage's.
    drop(front);
    let front = run("frontdoor");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(configs_of("garage"), garage_configs, "the front door's restart removed the garage's entities");
    assert_eq!(configs_of("frontdoor"), front_configs);
    drop((front, garage));
    for name in ["frontdoor", "garage"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        assert!(!log.contains("removing"), "{name}: {log}");
    }
}

#[test]
fn home_assistant_discovery_announces_the_camera_and_its_switch_turns_detection_off() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    let node = "homeassistant/sensor/ssd-cam_cams";
    // Left by an earlier run of this configuration with a camera since
    // removed (and listed by it as its own), and another program's (which
    // a list cannot remove).
    publish(&broker, &format!("{node}/garage_fps/config"), "{\"name\":\"old\"}", true);
    publish(&broker, "homeassistant/sensor/other/thing/config", "{}", true);
    let owner = ssd_cam::mqtt::discovery::owner_id(None, &["door".to_owned()]);
    let listed = serde_json::json!([format!("{node}/garage_fps/config"), "homeassistant/sensor/other/thing/config"]);
    publish(&broker, &ssd_cam::mqtt::discovery::owned_topic("cams", &owner), &listed.to_string(), true);
    let mut child = Command::new(ssd_cam_bin())
        .args(["--source", "demo:fps=15,size=320x240,seed=4", "--name", "door", "--detect", "motion"])
        .args(["--headless", "--events", "--mqtt", &broker.url("cams"), "--ha-discovery"])
        .args(["--zone", "porch:circle+square=0,0,320,0,320,240,0,240"])
        .args(["--line", "gate=160,0,160,240"])
        .args(["--snapshots", dir.path().join("snapshots").to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("ssd-cam.log")).unwrap())
        .spawn()
        .unwrap();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let reader = {
        let (events, stdout) = (std::sync::Arc::clone(&events), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                events.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        })
    };
    let child = Killed(Some(child));
    wait_retained(&broker, "cams/door/state", "online");
    wait_retained(&broker, "cams/door/detect/state", "ON");
    // One device with every entity, reading the camera's topics.
    let configs = retained_under(&broker, "homeassistant/#");
    let ours: Vec<&String> = configs.keys().filter(|t| t.contains("/ssd-cam_cams/")).collect();
    let labels = ["circle", "square", "triangle", "star"];
    // The porch counts circles and squares only.
    let in_porch = ["circle", "square"];
    let mut want: Vec<String> = labels
        .iter()
        .flat_map(|l| {
            [
                format!("homeassistant/binary_sensor/ssd-cam_cams/door_{l}_occupancy/config"),
                format!("{node}/door_{l}_count/config"),
                format!("{node}/door_{l}_stationary/config"),
                format!("homeassistant/image/ssd-cam_cams/door_{l}_snapshot/config"),
            ]
        })
        .chain(in_porch.iter().map(|l| format!("{node}/door_porch_{l}_count/config")))
        .collect();
    want.extend(
        ["switch/ssd-cam_cams/door_detect", "switch/ssd-cam_cams/door_motion"]
            .map(|t| format!("homeassistant/{t}/config")),
    );
    want.extend([format!("{node}/door_fps/config"), format!("{node}/door_inference/config")]);
    // Issue 51, point 8: the counting line, a sensor per way.
    want.extend(["left_to_right", "right_to_left"].map(|w| format!("{node}/door_line_gate_{w}/config")));
    want.sort();
    assert_eq!(ours, want.iter().collect::<Vec<_>>(), "{configs:#?}");
    for topic in &want {
        let config: serde_json::Value = serde_json::from_str(&configs[topic]).unwrap();
        assert_eq!(config["device"]["identifiers"][0], "ssd-cam_cams_door", "{topic}");
        assert_eq!(config["availability_topic"], "cams/door/state", "{topic}");
        let state = config["state_topic"].as_str().or(config["image_topic"].as_str()).unwrap();
        assert!(state.starts_with("cams/door/"), "{topic}: {state}");
    }
    let occupancy: serde_json::Value = serde_json::from_str(&configs[&want[0]]).unwrap();
    assert_eq!(
        (occupancy["device_class"].as_str(), occupancy["state_topic"].as_str()),
        (Some("occupancy"), Some("cams/door/circle"))
    );
    // The stale config of this node is gone; another program's is not.
    assert!(!configs.contains_key(&format!("{node}/garage_fps/config")), "{configs:#?}");
    assert!(configs.contains_key("homeassistant/sensor/other/thing/config"));
    // Objects come and are counted in the zone.
    let until = Instant::now() + Duration::from_secs(30);
    while !events.lock().unwrap().iter().any(|e| e["type"] == "new") {
        assert!(Instant::now() < until, "no object in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let zoned = retained_under(&broker, "cams/door/zones/porch/#");
    assert!(zoned.values().any(|v| v != "0"), "{zoned:?}");
    // Shapes cross the scene, and the gate in its middle counts them.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let crossed = retained_under(&broker, "cams/door/lines/gate/#");
        let ways: Vec<&str> = crossed.keys().map(|t| t.rsplit('/').next().unwrap()).collect();
        assert_eq!(ways, ["left_to_right", "right_to_left"], "{crossed:?}");
        let told = events.lock().unwrap().iter().any(|e| e["crossed"].is_array());
        if told && crossed.values().any(|v| v != "0") {
            break;
        }
        assert!(Instant::now() < until, "no crossing counted on cams/door/lines/gate in 60 s: {crossed:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // The image entity's picture: the latest object's snapshot, as written.
    let first = events.lock().unwrap().iter().find(|e| e["type"] == "new").cloned().unwrap();
    let topic = format!("cams/door/{}/snapshot", first["label"].as_str().unwrap());
    let until = Instant::now() + Duration::from_secs(10);
    let picture = loop {
        let out = broker.sub(&["-t", &topic, "-C", "1", "-W", "2", "--retained-only", "-N"]).output().unwrap();
        if !out.stdout.is_empty() {
            break out.stdout;
        }
        assert!(Instant::now() < until, "no picture on {topic}");
    };
    // (Files are replaced by better views, so the bytes may be an earlier
    // version of one: the picture is checked as a picture of the scene.)
    let decoded = image::load_from_memory_with_format(&picture, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    let mut counted: Vec<&str> = zoned.keys().filter_map(|t| t.rsplit('/').next()).collect();
    counted.sort_unstable();
    assert_eq!(counted, ["circle", "square"], "the porch counts only what it lists");
    // Detection off: every object ends, the counts fall to 0, nothing new.
    publish(&broker, "cams/door/detect/set", "OFF", false);
    wait_retained(&broker, "cams/door/detect/state", "OFF");
    for label in labels {
        wait_retained(&broker, &format!("cams/door/{label}"), "0");
        wait_retained(&broker, &format!("cams/door/{label}/stationary"), "0");
    }
    for label in in_porch {
        wait_retained(&broker, &format!("cams/door/zones/porch/{label}"), "0");
    }
    let quiet = events.lock().unwrap().len();
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<_> = events.lock().unwrap()[quiet..].to_vec();
    assert!(after.is_empty(), "events while detection was off: {after:?}");
    // Home Assistant coming online gets every config again.
    let listener = broker.sub(&["-t", "homeassistant/#", "-v", "-W", "3"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    publish(&broker, "homeassistant/status", "online", false);
    let heard = String::from_utf8_lossy(&listener.wait_with_output().unwrap().stdout).into_owned();
    for topic in &want {
        assert!(heard.lines().filter(|l| l.starts_with(&format!("{topic} "))).count() >= 2, "{topic} not sent again");
    }
    // On again: objects come back.
    publish(&broker, "cams/door/detect/set", "on", false);
    wait_retained(&broker, "cams/door/detect/state", "ON");
    let until = Instant::now() + Duration::from_secs(30);
    while !events.lock().unwrap()[quiet..].iter().any(|e| e["type"] == "new") {
        assert!(Instant::now() < until, "no object in 30 s after detection came back on");
        std::thread::sleep(Duration::from_millis(100));
    }
    signal(child.pid(), "INT");
    let out = child.output();
    let _ = reader.join();
    let log = std::fs::read_to_string(dir.path().join("ssd-cam.log")).unwrap();
    assert!(out.status.success(), "{log}");
    assert!(log.contains("detect turned off"), "{log}");
    assert_eq!(broker.retained("cams/door/state").as_deref(), Some("offline"));
}

#[test]
fn a_run_configured_by_its_cameras_file_alone_serves_the_web_viewer_and_publishes_to_mqtt() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path(), "");
    broker.subscribe("door", "home/door/events");
    let http = free_port();
    let config = dir.path().join("cameras.toml");
    std::fs::write(
        &config,
        format!(
            "[web]\nlisten = \"127.0.0.1:{http}\"\n\n[mqtt]\nurl = \"${{BROKER_URL}}\"\n\n[outputs]\nheadless = true\nevents = true\n\n\
             [[camera]]\nname = \"door\"\nsource = \"demo:fps=15,size=320x240,seed=4\"\n"
        ),
    )
    .unwrap();
    // No flag beyond --config; the broker's address from the environment,
    // as a service's secrets are.
    let child = Command::new(ssd_cam_bin())
        .args(["--config", config.to_str().unwrap()])
        .env("BROKER_URL", broker.url("home"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = Killed(Some(child));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut health = None;
    while health.is_none() && Instant::now() < deadline {
        health = common::http_get(http, "/healthz");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(health.is_some(), "the web viewer answers on the file's address");
    let events = broker.collect("door", "home/door/events", 3);
    signal(run.pid(), "INT");
    let out = run.output();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!events.is_empty(), "events reached the file's broker");
    assert!(stdout_lines(&out).iter().all(|l| l.contains("\"schema\":\"ssd-cam.event/1\"")), "events on stdout");
}
