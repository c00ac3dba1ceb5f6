//! Issue 20, "errors that point to the fix": each rough edge a new user met,
//! pinned through the real binary. Every case failed before its fix.

mod common;

use common::*;

/// Exit code and the first line of stderr that says `error:`.
fn error_of(args: &[&str]) -> (Option<i32>, String) {
    let out = ssd_cam(args);
    let err = stderr(&out);
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_owned();
    (out.status.code(), line)
}

#[test]
fn issue20_network_urls_that_fail_hide_the_password() {
    // Read through ffmpeg since issue 21; a host that does not resolve is
    // one line, and the password never shows (nor without ffmpeg, whose
    // absence is its own one line).
    let (code, line) =
        error_of(&["--source", "rtsp://admin:s3cret@camera.invalid/stream", "--headless", "--reconnect-timeout", "1"]);
    assert_eq!(code, Some(1), "{line}");
    assert!(line.contains("cannot be reached") || line.contains("sudo apt install ffmpeg"), "{line}");
    assert!(line.contains("admin:***@") && !line.contains("s3cret"), "{line}");
    // A host that does not resolve may be a network not up yet: waited for
    // (1 s here), then named.
    let (code, line) =
        error_of(&["--source", "http://cam.invalid/video.mjpg", "--headless", "--reconnect-timeout", "1"]);
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("error: http://cam.invalid/video.mjpg: "), "{line}");
}

#[test]
fn issue20_a_missing_video_file_is_named() {
    let (code, line) = error_of(&["--source", "clip.mp4", "--headless"]);
    assert_eq!(code, Some(1));
    assert!(line.starts_with("error: clip.mp4: ") && line.to_lowercase().contains("no such file"), "{line}");
}

#[test]
fn issue20_a_camera_given_as_source_suggests_device() {
    let (code, line) = error_of(&["--source", "/dev/video0", "--headless"]);
    assert_eq!(code, Some(1));
    assert!(line.contains("use --device /dev/video0"), "{line}");
}

#[test]
fn issue20_list_devices_without_cameras_answers_on_stdout() {
    if std::path::Path::new("/dev/video0").exists() {
        eprintln!("skipped: this machine has a camera");
        return;
    }
    let out =
        std::process::Command::new(ssd_cam_bin()).arg("--list-devices").env("RUST_LOG", "error").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("no cameras found"), "{:?}", out.stdout);
}

#[test]
fn issue20_a_device_index_names_its_path_and_a_word_is_a_bad_value() {
    if std::path::Path::new("/dev/video7").exists() {
        return;
    }
    // A device node not there yet (USB enumerating at boot) is waited for,
    // then named.
    let (code, line) = error_of(&["--device", "7", "--headless", "--reconnect-timeout", "1"]);
    assert_eq!(code, Some(1));
    assert!(line.contains("/dev/video7") && line.contains("waited 1 s"), "{line}");
    let (code, line) = error_of(&["--device", "foo", "--headless"]);
    assert_eq!(code, Some(2), "a bad value, not a missing camera");
    assert!(line.contains("'foo' is not a camera"), "{line}");
}

#[test]
fn issue20_camera_options_without_a_camera_are_refused() {
    for flag in
        [&["--fps", "5"][..], &["--resolution", "640x480"], &["--format", "mjpeg"], &["--reconnect-timeout", "5"]]
    {
        let args = [flag, &["--source", "demo:fps=0,frames=1", "--headless"]].concat();
        let (code, line) = error_of(&args);
        assert_eq!(code, Some(1), "{flag:?}");
        assert!(line.contains("applies to cameras") && line.contains(flag[0]), "{line}");
    }
}

#[test]
fn headless_with_json_says_what_json_is_for() {
    let (code, line) = error_of(&["--source", "demo:fps=0,frames=1", "--headless", "--json"]);
    assert_eq!(code, Some(1));
    assert!(
        line.contains("--json adds the JSON lines to the window mode") && line.contains("leave out --json"),
        "{line}"
    );
}

#[test]
fn issue20_more_threads_than_cores_warns() {
    let out = ssd_cam(&["--threads", "256", "--source", "demo:fps=0,frames=1,size=160x120", "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("--threads 256: this machine has"), "{}", stderr(&out));
}

#[test]
fn issue20_an_uncreatable_save_folder_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let target = file.join("shots");
    let out =
        ssd_cam(&["--source", "demo:fps=0,frames=2,size=160x120", "--headless", "--save", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot create the folder"), "{}", stderr(&out));
    assert!(json_lines(&out).is_empty(), "nothing ran");
}

#[test]
fn issue20_save_every_counts_frames_written() {
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    let out = ssd_cam(&[
        "--source",
        "demo:fps=0,size=160x120",
        "--headless",
        "--max-frames",
        "10",
        "--save-every",
        "3",
        "--save",
        shots.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = std::fs::read_dir(&shots).unwrap().count();
    assert_eq!(saved, 4, "frames 0, 3, 6 and 9 of 10");
}

#[test]
fn issue20_a_negative_threshold_and_zero_frames_are_values_with_their_reason() {
    let (code, line) = error_of(&["--threshold", "-1", "--headless"]);
    assert_eq!(code, Some(2));
    assert!(line.contains("-1 is outside 0..=1"), "{line}");
    let (code, line) = error_of(&["--max-frames", "0", "--headless"]);
    assert_eq!(code, Some(2));
    assert!(line.contains("0 frames would write nothing"), "{line}");
    assert!(!line.contains("18446744073709551615"), "{line}");
}

#[test]
fn issue20_model_errors_name_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("net.onnx");
    std::fs::copy(repo_root().join("models/ssd300-shapes.onnx"), &onnx).unwrap();
    let run = |model: &str| error_of(&["--model", model, "--source", "demo:fps=0,frames=1", "--headless"]);

    // A missing manifest: said once, with what is needed.
    let (code, line) = run(onnx.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert_eq!(line.matches("No such file or directory").count(), 1, "{line}");
    assert!(line.contains("needs NAME.json beside it"), "{line}");

    // Labels that do not match the network's classes say so.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("models/ssd300-shapes.json")).unwrap()).unwrap();
    manifest["labels"] = serde_json::json!(["background", "circle", "square"]);
    std::fs::write(onnx.with_extension("json"), manifest.to_string()).unwrap();
    let (_, line) = run(onnx.to_str().unwrap());
    assert!(line.contains("scores 5 classes but labels lists 3"), "{line}");

    // A folder is not a file that does not exist.
    let (_, line) = run(dir.path().to_str().unwrap());
    assert!(line.contains("is a folder"), "{line}");

    // A model whose manifest ships but whose network is fetched points to how.
    let (_, line) = run("blazeface-front");
    assert!(line.contains("scripts/fetch-real-models.sh"), "{line}");
}

fn labels_and_sizes(out: &std::process::Output) -> Vec<(String, f32, f32)> {
    json_lines(out)
        .iter()
        .flat_map(|l| l["detections"].as_array().unwrap().clone())
        .map(|d| {
            let b = bbox(&d);
            (d["label"].as_str().unwrap().to_owned(), b[2] - b[0], b[3] - b[1])
        })
        .collect()
}

#[test]
fn issue20_classes_and_min_size_filter_every_output() {
    let run = |extra: &[&str]| {
        let out = ssd_cam(&[&["--source", "demo:fps=0,frames=5,seed=3", "--headless"][..], extra].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        labels_and_sizes(&out)
    };
    let all = run(&[]);
    assert!(all.iter().any(|d| d.0 != "circle") && all.iter().any(|d| d.0 == "circle"), "{all:?}");
    assert!(all.iter().any(|d| d.1 < 100.0 || d.2 < 100.0), "some small boxes to filter: {all:?}");

    // By label and by id (4 is triangle), in any case.
    let some = run(&["--classes", "Circle,4"]);
    assert!(!some.is_empty() && some.iter().all(|d| d.0 == "circle" || d.0 == "triangle"), "{some:?}");
    let big = run(&["--min-size", "100"]);
    assert!(!big.is_empty() && big.iter().all(|d| d.1 >= 100.0 && d.2 >= 100.0), "{big:?}");

    let (code, line) = error_of(&["--source", "demo:fps=0,frames=1", "--headless", "--classes", "dog"]);
    assert_eq!(code, Some(1));
    assert!(line.contains("not a label of this model") && line.contains("circle"), "{line}");
}

#[test]
fn issue20_image_outputs_name_their_files_and_keep_their_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    png(&shots.join("a.png"), 64, 48);
    std::fs::write(shots.join("b.jpg"), b"not a jpeg").unwrap();
    png(&shots.join("c.png"), 32, 32);
    std::fs::write(shots.join("d.webp"), b"RIFF").unwrap();
    let saved = dir.path().join("saved");
    let out = ssd_cam(&[
        "--model",
        "ssd300-shapes",
        "--source",
        shots.to_str().unwrap(),
        "--headless",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let files: Vec<(&str, u64)> =
        lines.iter().map(|l| (l["file"].as_str().unwrap(), l["frame"].as_u64().unwrap())).collect();
    let a = shots.join("a.png").display().to_string();
    let c = shots.join("c.png").display().to_string();
    assert_eq!(files, vec![(a.as_str(), 0), (c.as_str(), 2)], "b.jpg is skipped, c.png keeps its place");
    assert!(stderr(&out).contains("d.webp: this image format is not read"), "{}", stderr(&out));
    assert!(stderr(&out).contains("skipping") && stderr(&out).contains("b.jpg"), "{}", stderr(&out));
    let mut names: Vec<String> =
        std::fs::read_dir(&saved).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a.jpg", "c.jpg"]);
}

/// The most decimals any value under `key` has in the first JSON line.
fn decimals_in(text: &str, key: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mut most = 0;
    let mut visit = vec![&v];
    while let Some(x) = visit.pop() {
        match x {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == key {
                        let s = v.to_string();
                        most = most.max(s.split_once('.').map_or(0, |(_, f)| f.len()));
                    }
                    visit.push(v);
                }
            }
            serde_json::Value::Array(a) => visit.extend(a),
            _ => {}
        }
    }
    most
}

#[test]
fn issue20_json_numbers_are_rounded_for_people() {
    let out = ssd_cam(&["--source", "demo:fps=0,frames=3,size=320x240", "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let decimals = |key: &str| decimals_in(&text, key);
    assert!(decimals("score") <= 4, "{text}");
    assert!(decimals("x1") <= 1 && decimals("y2") <= 1, "{text}");
    assert!(decimals("inference") <= 2 && decimals("total") <= 2, "{text}");

    // bench --json likewise.
    let out = ssd_cam(&["bench", "--source", "demo:fps=0,size=160x120", "--frames", "3", "--warmup", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for key in ["p50", "p99", "mean", "load_ms", "fps"] {
        assert!(decimals_in(&text, key) <= 2, "{key}: {text}");
    }
    assert!(decimals_in(&text, "throughput_ratio") <= 3, "{text}");
}

#[test]
fn issue20_y4m_frames_carry_their_media_time() {
    use std::io::Write;
    let (w, h) = (32usize, 16usize);
    let mut y4m = b"YUV4MPEG2 W32 H16 F25:1 C420\n".to_vec();
    for _ in 0..3 {
        y4m.extend_from_slice(b"FRAME\n");
        y4m.extend(std::iter::repeat_n(100u8, w * h * 3 / 2));
    }
    let mut child = std::process::Command::new(ssd_cam_bin())
        .args(["--model", "ssd300-shapes", "--source", "-", "--headless"])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&y4m).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let pts: Vec<f64> = json_lines(&out).iter().map(|l| l["pts_ms"].as_f64().unwrap()).collect();
    assert_eq!(pts, vec![0.0, 40.0, 80.0], "25 frames/s");
    // Sources without a media clock leave it out.
    let out = ssd_cam(&["--source", "demo:fps=0,frames=1,size=160x120", "--headless"]);
    assert!(json_lines(&out)[0].get("pts_ms").is_none());
}
