//! The real binary on fixture inputs: oracle detections, sources, output
//! handling and one-line errors for bad input.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn detections(frame: &serde_json::Value) -> Vec<(u64, f32, [f32; 4])> {
    frame["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["class_id"].as_u64().unwrap(), d["score"].as_f64().unwrap() as f32, bbox(d)))
        .collect()
}

fn assert_oracle(frame: &serde_json::Value, w: f32, h: f32) {
    let d = detections(frame);
    assert_eq!(d.len(), 2, "{frame}");
    assert_eq!(d[0].0, 1);
    assert!((d[0].1 - SCORE_A).abs() < 1e-4, "{}", d[0].1);
    assert_box(d[0].2, scaled(BOX_A, w, h));
    assert_eq!(d[1].0, 2);
    assert!((d[1].1 - SCORE_B).abs() < 1e-4, "{}", d[1].1);
    assert_box(d[1].2, scaled(BOX_B, w, h));
    assert_eq!(frame["detections"][0]["label"], "person");
    assert_eq!(frame["detections"][1]["label"], "dog");
}

#[test]
fn oracle_boxes_on_images_of_different_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let imgs = dir.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    png(&imgs.join("a.png"), 300, 300);
    png(&imgs.join("b.png"), 640, 480);
    png(&imgs.join("c.png"), 200, 400);
    let out = ssd_cam(&["--model", model.to_str().unwrap(), "--source", imgs.to_str().unwrap(), "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    for (i, (line, (w, h))) in lines.iter().zip([(300.0, 300.0), (640.0, 480.0), (200.0, 400.0)]).enumerate() {
        assert_eq!(line["frame"], i as u64);
        assert_eq!(line["width"], w as u64);
        assert_eq!(line["height"], h as u64);
        assert_oracle(line, w, h);
    }
}

#[test]
fn oracle_boxes_on_the_demo_source_in_frame_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let out =
        ssd_cam(&["--model", model.to_str().unwrap(), "--source", "demo:size=640x360,fps=0,frames=5", "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["frame"], i as u64);
        assert_eq!(line["source"], "demo");
        assert_eq!(line["dropped"], 0);
        assert_oracle(line, 640.0, 360.0);
        for key in ["queue", "preprocess", "inference", "postprocess", "total"] {
            assert!(line["latency_ms"][key].as_f64().unwrap() >= 0.0, "{key}");
        }
    }
    assert!(stderr(&out).contains("ssd-cam: 5 frames, 0 dropped"), "{}", stderr(&out));
}

#[test]
fn letterbox_maps_boxes_back_through_the_padding() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let img = dir.path().join("wide.png");
    png(&img, 600, 300);
    let out =
        ssd_cam(&["--model", model.to_str().unwrap(), "--source", img.to_str().unwrap(), "--headless", "--letterbox"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let d = detections(&json_lines(&out)[0]);
    // 600x300 → 300x150 with 75 px on top: source = (input − pad) · 2.
    let a = BOX_A;
    assert_box(d[0].2, [a[0] * 2.0, (a[1] - 75.0) * 2.0, a[2] * 2.0, (a[3] - 75.0) * 2.0]);
}

#[test]
fn thresholds_from_the_command_line_filter_detections() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let m = model.to_str().unwrap();
    let out = ssd_cam(&["--model", m, "--source", "demo:fps=0,frames=1", "--headless", "--threshold", "0.96"]);
    let d = detections(&json_lines(&out)[0]);
    assert_eq!(d.len(), 1, "only box A scores above 0.96");
    let out =
        ssd_cam(&["--model", m, "--source", "demo:fps=0,frames=1", "--headless", "--top-k", "1", "--threshold", "0.1"]);
    assert_eq!(detections(&json_lines(&out)[0]).len(), 1);
}

/// ssd-cam reading Y4M from a piped stdin, all three streams piped.
fn detect_on_stdin(model: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--model", model.to_str().unwrap(), "--source", "-", "--headless"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn y4m_on_stdin_is_read_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let mut y4m = b"YUV4MPEG2 W64 H48 F30:1 Ip A1:1 C420jpeg\n".to_vec();
    for _ in 0..3 {
        y4m.extend_from_slice(b"FRAME\n");
        y4m.extend(std::iter::repeat_n(100u8, 64 * 48 + 2 * 32 * 24));
    }
    let mut child = detect_on_stdin(&model);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, &y4m).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["source"], "stdin");
    assert_oracle(&lines[2], 64.0, 48.0);
}

#[test]
fn truncated_y4m_outputs_every_complete_frame_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let clip = dir.path().join("clip.y4m");
    let mut y4m = b"YUV4MPEG2 W32 H32 C444\n".to_vec();
    for _ in 0..4 {
        y4m.extend_from_slice(b"FRAME\n");
        y4m.extend(std::iter::repeat_n(80u8, 32 * 32 * 3));
    }
    y4m.extend_from_slice(b"FRAME\n");
    y4m.extend(std::iter::repeat_n(80u8, 100));
    std::fs::write(&clip, y4m).unwrap();
    let out = ssd_cam(&["--model", model.to_str().unwrap(), "--source", clip.to_str().unwrap(), "--headless"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out).len(), 4, "the four complete frames are all written");
    let err = stderr(&out);
    assert!(err.contains("frame 4: truncated"), "{err}");
}

#[test]
fn closing_stdout_ends_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--model", model.to_str().unwrap(), "--source", "demo:fps=0", "--headless"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..3 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        serde_json::from_str::<serde_json::Value>(&line).unwrap();
    }
    drop(reader); // like `| head -3`
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn sigint_drains_frames_in_flight_and_exits_zero() {
    signal_drains_and_exits_zero(libc::SIGINT);
}

#[test]
fn sigterm_drains_frames_in_flight_and_exits_zero() {
    signal_drains_and_exits_zero(libc::SIGTERM);
}

#[test]
fn sigint_while_input_blocks_exits_zero_after_the_frames_done() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let mut child = detect_on_stdin(&model);
    // One frame, then stdin stays open and silent: the capture thread
    // blocks in read(2), where no stop flag can reach it.
    let mut stdin = child.stdin.take().unwrap();
    let mut y4m = b"YUV4MPEG2 W8 H8 C444\nFRAME\n".to_vec();
    y4m.extend(std::iter::repeat_n(128u8, 8 * 8 * 3));
    std::io::Write::write_all(&mut stdin, &y4m).unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["frame"], 0);
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still waiting for stdin after SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert_eq!(rest, "", "no frame after the one written");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("ssd-cam: 1 frames"), "{err}");
    drop(stdin);
}

#[test]
fn a_second_signal_exits_at_once_when_the_first_cannot_finish() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    // Nobody reads stdout: once the pipe is full the output stage blocks in
    // write(2), so the drain the first signal asks for cannot complete.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--model", model.to_str().unwrap(), "--source", "demo:size=64x48,fps=0", "--headless"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the pipe holds (nearly) its 64 KiB.
    let fd = std::os::fd::AsRawFd::as_raw_fd(child.stdout.as_ref().unwrap());
    let filling = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer given.
        assert_eq!(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) }, 0);
        if queued >= 60_000 {
            break;
        }
        assert!(std::time::Instant::now() < filling, "stdout pipe never filled ({queued} bytes)");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let sigint = |child: &std::process::Child| {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    };
    sigint(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "ended although its output could not be written");
    sigint(&child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running after a second SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
}

#[test]
fn sigint_during_model_load_exits_zero_without_output_or_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--source", "demo:fps=0", "--headless"])
        .env("RUST_LOG", "ssd_cam=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("loading ") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "exited before loading: {seen}");
        seen.push_str(&line);
    }
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    std::io::Read::read_to_string(&mut err, &mut seen).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{seen}");
    assert!(!seen.contains("error:") && !seen.contains("panicked"), "{seen}");
    // Had the load won the race, frames may follow; each must be whole.
    let lines = json_lines(&out);
    assert!(seen.contains(&format!("ssd-cam: {} frames", lines.len())), "{seen}");
}

fn signal_drains_and_exits_zero(signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssd-cam"))
        .args(["--model", model.to_str().unwrap(), "--source", "demo:size=320x240,fps=0", "--headless"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..5 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        lines.push(line);
    }
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    lines.extend(rest.lines().map(|l| format!("{l}\n")));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["frame"], i as u64, "contiguous, nothing lost in the drain");
    }
    let err = stderr(&out);
    assert!(err.contains(&format!("ssd-cam: {} frames, 0 dropped", lines.len())), "{err}");
}

/// Every failure: non-zero exit, exactly one `error:` line, no panic.
fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_models_and_manifests_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = ["--source", "demo:fps=0,frames=1", "--headless"];
    let run = |model: &std::path::Path| ssd_cam(&[&["--model", model.to_str().unwrap()][..], &src].concat());

    assert_one_line_error(
        &ssd_cam(&[&["--model", "no-such-model"][..], &src].concat()),
        "model 'no-such-model' not found",
    );
    assert_one_line_error(&run(&d.join("missing.onnx")), "does not exist");

    let corrupt = d.join("corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x07garbage that is not protobuf \xff\xff\xff").unwrap();
    std::fs::write(d.join("corrupt.json"), oracle_manifest().to_json()).unwrap();
    assert_one_line_error(&run(&corrupt), "cannot load model");

    let no_manifest = d.join("lonely.onnx");
    std::fs::copy(write_oracle(d, "oracle"), &no_manifest).unwrap();
    assert_one_line_error(&run(&no_manifest), "cannot read manifest");

    let bad_json = write_oracle(d, "badjson");
    std::fs::write(bad_json.with_extension("json"), "{ \"name\": \"x\", ").unwrap();
    assert_one_line_error(&run(&bad_json), "invalid manifest");

    // The manifest promises 21 classes; the graph has 4.
    let mismatch = write_oracle(d, "mismatch");
    let mut m = oracle_manifest();
    m.labels = (0..21).map(|i| format!("c{i}")).collect();
    m.outputs.scores.0[0].shape = vec![1, 8732, 21];
    std::fs::write(mismatch.with_extension("json"), m.to_json()).unwrap();
    assert_one_line_error(&run(&mismatch), "output 'conf' has shape 1,8732,4 but the manifest says [1, 8732, 21]");

    // Half a file: the protobuf ends inside a tensor.
    let whole = std::fs::read(write_oracle(d, "whole")).unwrap();
    let truncated = write_oracle(d, "truncated");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    assert_one_line_error(&run(&truncated), "cannot load model");

    // A weight tensor that declares 2^40 floats but carries a few bytes:
    // refused before anything is allocated for it.
    let absurd = write_oracle(d, "absurd");
    let mut proto = tract_onnx::prelude::Framework::proto_model_for_path(&tract_onnx::onnx(), &absurd).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let tensor = graph.initializer.iter_mut().find(|t| !t.dims.is_empty()).unwrap();
    tensor.dims = vec![1 << 20, 1 << 20];
    ssd_onnx::write(&proto, &absurd).unwrap();
    assert_one_line_error(&run(&absurd), "does not match shape [1048576, 1048576]");
    // ... and one that carries no data at all.
    let graph = proto.graph.as_mut().unwrap();
    let tensor = graph.initializer.iter_mut().find(|t| !t.dims.is_empty()).unwrap();
    tensor.raw_data.clear();
    tensor.float_data.clear();
    ssd_onnx::write(&proto, &absurd).unwrap();
    assert_one_line_error(&run(&absurd), "cannot load model");

    // A graph output that no node produces (tract itself panics on it).
    let ghost = write_oracle(d, "ghost");
    let mut proto = tract_onnx::prelude::Framework::proto_model_for_path(&tract_onnx::onnx(), &ghost).unwrap();
    proto.graph.as_mut().unwrap().output[0].name = "ghost".into();
    ssd_onnx::write(&proto, &ghost).unwrap();
    assert_one_line_error(&run(&ghost), "graph output 'ghost' is produced by no node");

    // Raw bytes declared as strings (tract has no loader and panics).
    let strings = write_oracle(d, "strings");
    let mut proto = tract_onnx::prelude::Framework::proto_model_for_path(&tract_onnx::onnx(), &strings).unwrap();
    let tensor = proto.graph.as_mut().unwrap().initializer.iter_mut().find(|t| !t.raw_data.is_empty()).unwrap();
    tensor.data_type = tract_onnx::pb::tensor_proto::DataType::String as i32;
    ssd_onnx::write(&proto, &strings).unwrap();
    assert_one_line_error(&run(&strings), "which tract cannot load");

    // Labels that do not match the class axis the manifest itself declares.
    let labels = write_oracle(d, "labels");
    let mut m = oracle_manifest();
    m.labels.push("extra".into());
    std::fs::write(labels.with_extension("json"), m.to_json()).unwrap();
    assert_one_line_error(&run(&labels), "labels");

    let renamed = write_oracle(d, "renamed");
    let mut m = oracle_manifest();
    m.outputs.boxes.0[0].name = "boxes".into();
    std::fs::write(renamed.with_extension("json"), m.to_json()).unwrap();
    assert_one_line_error(&run(&renamed), "no output named 'boxes'");
}

#[test]
fn bad_sources_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let m = model.to_str().unwrap();
    let run = |source: &str| ssd_cam(&["--model", m, "--source", source, "--headless"]);
    assert_one_line_error(&run("webcam-please"), "unknown source 'webcam-please'");
    assert_one_line_error(&run("nope/missing.y4m"), "nope/missing.y4m");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_one_line_error(&run(empty.to_str().unwrap()), "no images");
    for (header, needle) in [
        ("YUV4MPEG2 W0 H48 C420", "frame size 0x48 is outside"),
        ("YUV4MPEG2 W64 H48 C420p10", "colour space C420p10 is not supported"),
        ("MPEG4 W64 H48", "not a Y4M stream"),
    ] {
        let y4m = dir.path().join("bad.y4m");
        std::fs::write(&y4m, format!("{header}\nFRAME\n")).unwrap();
        assert_one_line_error(&run(y4m.to_str().unwrap()), needle);
    }
    // A directory whose only image is unreadable: a warning, then zero frames.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("x.png"), b"not a png").unwrap();
    let out = run(broken.to_str().unwrap());
    assert_one_line_error(&out, "produced no frames (1 inputs skipped as unreadable)");
    assert!(stderr(&out).contains("skipping"), "{}", stderr(&out));
}

#[test]
fn unreadable_image_is_skipped_and_the_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let imgs = dir.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    png(&imgs.join("1.png"), 100, 100);
    std::fs::write(imgs.join("2.jpg"), b"\xff\xd8 truncated jpeg").unwrap();
    png(&imgs.join("3.png"), 100, 100);
    let out = ssd_cam(&["--model", model.to_str().unwrap(), "--source", imgs.to_str().unwrap(), "--headless"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 2);
    let err = stderr(&out);
    assert!(err.contains("skipping") && err.contains("2.jpg"), "{err}");
    assert!(err.contains("2 frames, 0 dropped, 1 skipped"), "{err}");
}

#[test]
fn wrong_arguments_exit_2_with_usage() {
    for args in
        [&["--threshold", "2"][..], &["--threads", "0"], &["--bogus"], &["--config", "c.toml", "--source", "demo"]]
    {
        let out = ssd_cam(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("--help"), "{}", stderr(&out));
    }
    let help = ssd_cam(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn default_model_runs_the_demo_out_of_the_box() {
    let out = ssd_cam(&["--headless", "--max-frames", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["source"], "demo");
}

#[test]
fn save_writes_every_nth_annotated_frame_next_to_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    let out = ssd_cam(&[
        "--source",
        "demo:fps=0,frames=5,size=160x120",
        "--headless",
        "--save",
        shots.to_str().unwrap(),
        "--save-every",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 5, "detection output is unchanged");
    let mut names: Vec<String> =
        std::fs::read_dir(&shots).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["frame_00000000.jpg", "frame_00000002.jpg", "frame_00000004.jpg"]);
    let img = image::open(shots.join("frame_00000002.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (160, 120));
    // Run again: the files exist and are kept, with one warning.
    let again =
        ssd_cam(&["--source", "demo:fps=0,frames=1,size=160x120", "--headless", "--save", shots.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("not overwriting"), "{}", stderr(&again));
}

#[test]
fn inspect_describes_a_model_and_flags_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let m = model.to_str().unwrap();
    let out = ssd_cam(&["inspect", m]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for want in
        ["graph input  images", "graph output loc", "8732 caffe", "loc [1, 8732, 4] -> [1, 8732, 4]", "check     ok"]
    {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Labels that the graph's class axis does not have.
    let mut wrong = oracle_manifest();
    wrong.labels.push("extra".into());
    wrong.outputs.scores.0[0].shape[2] += 1;
    std::fs::write(model.with_extension("json"), wrong.to_json()).unwrap();
    let out = ssd_cam(&["inspect", m]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("check     does not fit") && text.contains("output 'conf' has shape"), "{text}");
    // No manifest at all: the graph is still described.
    std::fs::remove_file(model.with_extension("json")).unwrap();
    let out = ssd_cam(&["inspect", m]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("graph output conf") && text.contains("manifest  does not fit: cannot read manifest"),
        "{text}"
    );
}

#[test]
fn inspect_plan_lists_every_node_of_the_optimised_plan() {
    // The shipped network (the oracle's outputs do not depend on its input,
    // so tract folds its whole graph into constants).
    let m = "ssd300-shapes";
    let plain = String::from_utf8_lossy(&ssd_cam(&["inspect", m]).stdout).into_owned();
    assert!(!plain.contains("\nplan "), "{plain}");
    let out = ssd_cam(&["inspect", m, "--plan"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let (_, plan) = text.split_once("\nplan      ").unwrap_or_else(|| panic!("no plan in\n{text}"));
    let mut lines = plan.lines();
    let header = lines.next().unwrap();
    let count: usize = header.split(' ').next().unwrap().parse().unwrap();
    let nodes: Vec<&str> = lines.collect();
    assert_eq!(nodes.len(), count, "{header}\n{}", nodes.join("\n"));
    // Every node's operation is counted in the header, and every node names
    // its output shape.
    for n in &nodes {
        let op = n.split_whitespace().next().unwrap();
        assert!(header.contains(&format!(" {op}")), "{op} not in {header}");
        assert!(n.contains(" -> "), "{n}");
    }
    assert!(nodes.iter().any(|n| n.trim_start().starts_with("Source")), "{}", nodes.join("\n"));
}

/// The oracle's heads as a Caffe-style graph leaves them: one raw NCHW
/// convolution output `[1, A·K, F, F]` per feature map, for boxes and scores.
fn write_split_oracle(dir: &Path) -> PathBuf {
    use ssd_core::manifest::{Layout, OutputParts, OutputSpec};
    use ssd_onnx::{attr_int, attr_ints, GraphBuilder};
    let (p, c) = (8732, labels().len());
    let mut rows_loc = vec![[0f32; 4]; p];
    let mut rows_conf = vec![vec![0f32; c]; p];
    for row in &mut rows_conf {
        row[0] = 8.0;
    }
    for t in targets() {
        rows_loc[t.prior] = t.offsets;
        rows_conf[t.prior][0] = 0.0;
        rows_conf[t.prior][t.class] = t.logit;
    }
    let mut g = GraphBuilder::new();
    let x = g.input("images", &[1, 3, 300, 300]);
    let mean = g.node("ReduceMean", &[&x], vec![attr_ints("axes", &[1, 2, 3]), attr_int("keepdims", 0)]);
    let zero = g.constant("zero", &[1, 1, 1], &[0.0]);
    let tied = g.node("Mul", &[&mean, &zero], vec![]);
    let mut manifest = oracle_manifest();
    let (mut loc_parts, mut conf_parts) = (Vec::new(), Vec::new());
    let mut start = 0;
    for (i, (f, a)) in [(38usize, 4usize), (19, 6), (10, 6), (5, 6), (3, 4), (1, 4)].into_iter().enumerate() {
        for (head, k, parts) in [("loc", 4, &mut loc_parts), ("conf", c, &mut conf_parts)] {
            // Element [0, b·k + j, y, x] is value j of prior start + (y·f + x)·a + b.
            let mut data = vec![0f32; a * k * f * f];
            for b in 0..a {
                for j in 0..k {
                    for cell in 0..f * f {
                        let prior = start + cell * a + b;
                        let v = if head == "loc" { rows_loc[prior][j] } else { rows_conf[prior][j] };
                        data[(b * k + j) * f * f + cell] = v;
                    }
                }
            }
            let dims = [1, (a * k) as i64, f as i64, f as i64];
            let konst = g.constant(head, &dims, &data);
            let name = format!("{head}{i}");
            g.node_into("Add", &[&konst, &tied], vec![], &name);
            g.output(&name, &dims);
            let mut spec = OutputSpec::new(&name, vec![1, a * k, f, f]);
            spec.layout = Some(Layout::Nchw);
            parts.push(spec);
        }
        start += f * f * a;
    }
    manifest.outputs.boxes = OutputParts(loc_parts);
    manifest.outputs.scores = OutputParts(conf_parts);
    let onnx = dir.join("split.onnx");
    ssd_onnx::write(&g.into_model("split"), &onnx).unwrap();
    std::fs::write(onnx.with_extension("json"), manifest.to_json()).unwrap();
    onnx
}

#[test]
fn heads_split_per_feature_map_give_the_same_detections_as_one_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let whole = write_oracle(dir.path(), "oracle");
    let split = write_split_oracle(dir.path());
    png(&dir.path().join("a.png"), 640, 480);
    let img = dir.path().join("a.png");
    let run = |m: &Path| {
        let out = ssd_cam(&["--model", m.to_str().unwrap(), "--source", img.to_str().unwrap(), "--headless"]);
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out)[0]["detections"].clone()
    };
    let (a, b) = (run(&whole), run(&split));
    assert_eq!(a.as_array().unwrap().len(), 2);
    assert_eq!(a, b);
    let out = ssd_cam(&["inspect", split.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("loc0 [1, 16, 38, 38] nchw + loc1 [1, 24, 19, 19] nchw"), "{text}");
    assert!(text.contains("-> [1, 8732, 4]") && text.contains("check     ok"), "{text}");
}

#[test]
fn bench_reports_every_stage_for_the_frames_asked() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_oracle(dir.path(), "oracle");
    let source = "demo:size=320x240,fps=0,seed=4";
    let args = ["bench", "--model", model.to_str().unwrap(), "--source", source, "--frames", "7", "--warmup", "2"];
    let out = ssd_cam(&[&args[..], &["--threads", "1", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "one JSON object on stdout");
    let r = &lines[0];
    assert_eq!(r["model"], "oracle");
    assert_eq!(r["frame_size"], serde_json::json!([320, 240]));
    assert_eq!(r["threads"], 1);
    assert_eq!(r["pipeline"]["frames"], 7, "warm-up frames are not measured");
    assert!(r["load_ms"].as_f64().unwrap() > 0.0);
    for (phase, stages) in [
        ("isolated", &["preprocess", "inference", "postprocess"][..]),
        ("pipeline", &["queue", "preprocess", "inference", "postprocess", "service", "total"][..]),
    ] {
        for stage in stages {
            let p = &r[phase][stage];
            let (p50, p95, p99) = (p["p50"].as_f64().unwrap(), p["p95"].as_f64().unwrap(), p["p99"].as_f64().unwrap());
            assert!(p50 <= p95 && p95 <= p99, "{phase}.{stage}: {p}");
        }
    }
    let total = r["pipeline"]["total"]["p50"].as_f64().unwrap();
    assert!(total >= r["pipeline"]["inference"]["p50"].as_f64().unwrap(), "total covers inference: {r}");
    // The ratio is the pipeline's rate over the model's alone (to 3
    // decimals: under a loaded machine it can round to 0 against the tiny
    // oracle's thousands of frames a second).
    let (fps, alone) = (r["pipeline"]["fps"].as_f64().unwrap(), r["isolated"]["inference_fps"].as_f64().unwrap());
    assert!(fps > 0.0 && alone > 0.0, "{r}");
    let ratio = r["throughput_ratio"].as_f64().unwrap();
    assert!((ratio - fps / alone).abs() <= 0.0006 + 0.01 * ratio, "ratio {ratio} vs {fps} / {alone}");

    // The table for people names every stage.
    let out = ssd_cam(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    for word in ["model load", "preprocess", "inference", "postprocess", "queue", "total", "throughput"] {
        assert!(table.contains(word), "{word} missing from:\n{table}");
    }

    // --profile adds the network's time per operation kind and its slowest
    // nodes (on the shipped model: the oracle's plan is all constants).
    let out = ssd_cam(&["bench", "--source", source, "--frames", "3", "--warmup", "1", "--json", "--profile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = &json_lines(&out)[0];
    // Issue 51, point 16: the model real sources run (README's figures), on the demo too.
    assert_eq!(r["model"], "person-ssdlite");
    let ops = r["ops"].as_array().expect("ops with --profile");
    assert!(!ops.is_empty() && ops.iter().all(|o| o["nodes"].as_u64().unwrap() > 0), "{r}");
    let ms: Vec<f64> = ops.iter().map(|o| o["ms"].as_f64().unwrap()).collect();
    assert!(ms.windows(2).all(|w| w[0] >= w[1]), "largest first: {ms:?}");
    // Every node of the plan, slowest first (the table shows 12).
    let slowest: Vec<f64> = r["slowest_nodes"].as_array().unwrap().iter().map(|n| n["ms"].as_f64().unwrap()).collect();
    let nodes: u64 = ops.iter().map(|o| o["nodes"].as_u64().unwrap()).sum();
    assert_eq!(slowest.len() as u64, nodes, "{r}");
    assert!(slowest.windows(2).all(|w| w[0] >= w[1]), "slowest first: {slowest:?}");
    assert!(lines[0].get("ops").is_none(), "no profile unless asked");

    // A source too short for warm-up + frames is one clear error.
    let out =
        ssd_cam(&["bench", "--model", model.to_str().unwrap(), "--source", "demo:fps=0,frames=3", "--frames", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bench needs 15"), "{}", stderr(&out));
}

#[test]
fn every_detection_carries_a_stable_track_id_unless_tracking_is_off() {
    let run = |extra: &[&str]| {
        let mut args = vec!["--source", "demo:fps=0,frames=40,size=320x240,seed=4", "--headless", "--workers", "2"];
        // The second pass on, to see its low-score detections too.
        args.extend_from_slice(&["--track-low", "0.1"]);
        args.extend_from_slice(extra);
        let out = ssd_cam(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out)
    };
    let lines = run(&[]);
    let threshold = 0.3; // models/ssd300-shapes.json's default
    let mut seen = std::collections::HashMap::<u64, usize>::new();
    for (f, l) in lines.iter().enumerate() {
        let mut ids = Vec::new();
        for d in l["detections"].as_array().unwrap() {
            let id = d["track_id"].as_u64().unwrap_or_else(|| panic!("frame {f}: no track_id in {d}"));
            // Below the threshold only as the continuation of a known track
            // (ByteTrack's second pass), never under --track-low.
            let score = d["score"].as_f64().unwrap();
            assert!(score >= 0.1, "{d}");
            if score < threshold {
                assert!(seen.contains_key(&id), "frame {f}: a low-score detection started track {id}");
            }
            ids.push(id);
        }
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "frame {f}: one id twice");
        for id in ids {
            *seen.entry(id).or_default() += 1;
        }
    }
    // The demo's shapes glide: their tracks last.
    assert!(seen.values().any(|&n| n >= 30), "{seen:?}");
    // The same input gives the same ids, whatever the workers' timing.
    let again = run(&[]);
    let ids = |ls: &[serde_json::Value]| -> Vec<Vec<u64>> {
        ls.iter()
            .map(|l| l["detections"].as_array().unwrap().iter().map(|d| d["track_id"].as_u64().unwrap()).collect())
            .collect()
    };
    assert_eq!(ids(&lines), ids(&again));
    let off = run(&["--track", "off"]);
    assert!(off.iter().flat_map(|l| l["detections"].as_array().unwrap()).all(|d| d.get("track_id").is_none()));
    assert!(off
        .iter()
        .flat_map(|l| l["detections"].as_array().unwrap())
        .all(|d| d["score"].as_f64().unwrap() >= threshold));
}

#[test]
fn events_tell_each_object_new_once_and_end_once_in_place_of_frame_lines() {
    let out =
        ssd_cam(&["--source", "demo:fps=0,frames=60,size=320x240,seed=4", "--headless", "--events", "--workers", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out);
    assert!(!events.is_empty());
    let mut born = std::collections::HashMap::<u64, u64>::new();
    let mut ended = std::collections::HashSet::<u64>::new();
    for e in &events {
        assert_eq!(e["schema"], "ssd-cam.event/1", "{e}");
        assert!(e.get("detections").is_none(), "a frame line among the events: {e}");
        assert_eq!(e["source"], "demo");
        let id = e["id"].as_u64().unwrap();
        let frame = e["frame"].as_u64().unwrap();
        assert!(e["first_ms"].as_f64().unwrap() <= e["last_ms"].as_f64().unwrap(), "{e}");
        assert!(e["score"].as_f64().unwrap() <= e["top_score"].as_f64().unwrap(), "{e}");
        match e["type"].as_str().unwrap() {
            "new" => assert!(born.insert(id, frame).is_none(), "two news for {id}"),
            "update" => assert!(born.contains_key(&id) && !ended.contains(&id), "{e}"),
            "end" => {
                assert!(born.get(&id).is_some_and(|&b| b <= frame), "end before new: {e}");
                assert!(ended.insert(id), "two ends for {id}");
                assert!(e["duration_ms"].as_f64().unwrap() >= 0.0, "{e}");
            }
            other => panic!("unknown event type {other}"),
        }
    }
    // Every object told as new is closed by the end of the run.
    assert_eq!(born.keys().copied().collect::<std::collections::HashSet<_>>(), ended, "{events:?}");
    // The same input tells the same story, whatever the workers' timing.
    let again =
        json_lines(&ssd_cam(&["--source", "demo:fps=0,frames=60,size=320x240,seed=4", "--headless", "--events"]));
    let story = |es: &[serde_json::Value]| -> Vec<(String, u64, u64)> {
        es.iter()
            .map(|e| (e["type"].as_str().unwrap().to_owned(), e["id"].as_u64().unwrap(), e["frame"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(story(&events), story(&again));
    let out = ssd_cam(&["--source", "demo:fps=0,frames=5", "--headless", "--events", "--track", "off"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("follow tracked objects"), "{}", stderr(&out));
}

#[test]
fn snapshots_keep_one_picture_per_object_named_in_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snaps");
    let out = ssd_cam(&[
        "--source",
        "demo:fps=0,frames=60,size=320x240,seed=4",
        "--headless",
        "--events",
        "--snapshots",
        snaps.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out);
    let mut named = std::collections::BTreeMap::new();
    for e in &events {
        let file = e["snapshot"].as_str().unwrap_or_else(|| panic!("no snapshot in {e}"));
        assert!(file.ends_with(&format!("-{}.jpg", e["id"])), "{file} for {e}");
        assert_eq!(*named.entry(e["id"].as_u64().unwrap()).or_insert(file), file, "one file per object");
    }
    let mut on_disk: Vec<String> =
        std::fs::read_dir(&snaps).unwrap().map(|f| f.unwrap().file_name().into_string().unwrap()).collect();
    on_disk.sort();
    let mut want: Vec<String> = named.values().map(|f| f.to_string()).collect();
    want.sort();
    assert_eq!(on_disk, want, "a picture for every object told, nothing else");
    for f in &on_disk {
        let img = image::open(snaps.join(f)).unwrap();
        assert_eq!((img.width(), img.height()), (320, 240), "{f}");
    }
    // Without --events, stdout keeps its frame lines and the pictures still come.
    let frames_dir = dir.path().join("frames");
    let out = ssd_cam(&["--source", "demo:fps=0,frames=30", "--headless", "--snapshots", frames_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(json_lines(&out).iter().all(|l| l.get("detections").is_some()));
    assert!(std::fs::read_dir(&frames_dir).unwrap().count() > 0);
}

#[test]
fn events_name_the_zones_objects_are_in_and_count_line_crossings() {
    let out = ssd_cam(&[
        "--source",
        "demo:fps=0,frames=150,size=320x240,seed=4",
        "--headless",
        "--events",
        "--zone",
        "left=0,0,160,0,160,240,0,240",
        "--line",
        "middle=160,0,160,240",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out);
    assert!(events.iter().all(|e| e["zones"].is_array() && e["entered_zones"].is_array()));
    assert!(events.iter().any(|e| e["zones"] == serde_json::json!(["left"])), "nobody in the left half?");
    // The shapes bounce across the middle: crossings are told, with totals
    // that only grow.
    let crossings: Vec<&serde_json::Value> =
        events.iter().filter_map(|e| e.get("crossed")).flat_map(|c| c.as_array().unwrap()).collect();
    assert!(!crossings.is_empty(), "no crossing in 150 frames");
    let totals: Vec<u64> =
        crossings.iter().map(|c| c["left_to_right"].as_u64().unwrap() + c["right_to_left"].as_u64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[1] == w[0] + 1), "{totals:?}");
    assert_eq!(totals[0], 1);

    let bad = ssd_cam(&["--source", "demo", "--headless", "--events", "--zone", "door=1,2,3,4"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("a zone needs 3 or more"), "{}", stderr(&bad));
    // The same places from a file tell the same story.
    let dir = tempfile::tempdir().unwrap();
    let places = dir.path().join("places.txt");
    std::fs::write(&places, "# halves\nzone left=0,0,160,0,160,240,0,240\nline middle=160,0,160,240\n").unwrap();
    let from_file = ssd_cam(&[
        "--source",
        "demo:fps=0,frames=150,size=320x240,seed=4",
        "--headless",
        "--events",
        "--zones-file",
        places.to_str().unwrap(),
    ]);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    let places_story = |es: &[serde_json::Value]| -> Vec<String> {
        es.iter()
            .map(|e| {
                format!(
                    "{} {} {} {} {} {:?}",
                    e["type"],
                    e["id"],
                    e["frame"],
                    e["zones"],
                    e["entered_zones"],
                    e.get("crossed")
                )
            })
            .collect()
    };
    assert!(places_story(&json_lines(&from_file)) == places_story(&events), "--zones-file tells another story");
    std::fs::write(&places, "zone left=0,0,160,0,160,240,0,240\nzone oops=1,2\n").unwrap();
    let bad = ssd_cam(&["--source", "demo", "--headless", "--events", "--zones-file", places.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("line 2:") && stderr(&bad).lines().count() == 1, "{}", stderr(&bad));
    let alone = ssd_cam(&["--source", "demo:fps=0,frames=3", "--headless", "--line", "g=0,0,10,10"]);
    assert_eq!(alone.status.code(), Some(1));
    assert!(stderr(&alone).contains("add --events"), "{}", stderr(&alone));
}

#[test]
fn check_config_says_ok_or_every_problem_without_opening_anything() {
    // A camera nothing serves: checking it must not try to reach it.
    let ok = ssd_cam(&["--check-config", "--source", "rtsp://admin:pw@127.0.0.1:1/cam", "--headless", "--events"]);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "ok\n", "{}", stderr(&ok));
    assert!(ok.status.success() && !stderr(&ok).contains("nothing answers"), "{}", stderr(&ok));

    let dir = tempfile::tempdir().unwrap();
    let bad = ssd_cam(&[
        "--check-config",
        "--source",
        "demo",
        "--headless",
        "--snapshots",
        "/proc/ssd-cam-nope",
        "--record",
        dir.path().join("out.gif").to_str().unwrap(),
        "--http",
        "0.0.0.0:8080",
    ]);
    let err = stderr(&bad);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(bad.stdout.is_empty());
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(problems.len(), 3, "{err}");
    assert!(
        err.contains("--snapshots /proc/ssd-cam-nope") && err.contains(".mp4, .mkv") && err.contains("token"),
        "{err}"
    );
    // Nothing was created.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let config = dir.path().join("cameras.toml");
    std::fs::write(&config, "[[camera]]\nname = \"door\"\nsource = \"demo\"\ntreshold = 0.4\n").unwrap();
    let typo = ssd_cam(&["--check-config", "--config", config.to_str().unwrap(), "--headless"]);
    let err = stderr(&typo);
    assert!(err.contains("line 4, column 1: unknown key 'treshold' (did you mean 'threshold'?)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Issue 51, points 9 and 11: the check refuses what the run refuses (a
/// retention typo, a required zone the camera lacks, a source file that is
/// not there), every problem on its own line; a cameras file's relative
/// source is its own folder's, and a missing one names the full path.
#[test]
fn check_config_runs_the_run_s_checks_and_a_file_s_sources_are_its_folder_s() {
    let typo = ssd_cam(&["--check-config", "--source", "demo", "--headless", "--retain-days", "movies=3"]);
    let err = stderr(&typo);
    assert_eq!(typo.status.code(), Some(1), "{err}");
    assert!(err.contains("'movies' is not clips, snapshots or recordings"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = dir.path().join("cameras.toml");
    std::fs::write(
        &config,
        "[[camera]]\nname = \"door\"\nsource = \"walk.y4m\"\nzones = [\"porch=0,0,10,0,10,10\"]\n\
         [camera.filters.circle]\nrequired_zones = [\"porhc\"]\n",
    )
    .unwrap();
    let check = |dir: &std::path::Path| {
        let config = config.to_str().unwrap();
        common::ssd_cam_in(
            dir,
            &["--check-config", "--config", config, "--headless", "--events", "--model", "ssd300-shapes"],
        )
    };
    let bad = check(elsewhere.path());
    let err = stderr(&bad);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    let problems: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(problems.len(), 2, "{err}");
    assert!(err.contains("required zone 'porhc' is not a zone of the camera (its zones: porch)"), "{err}");
    let missing = dir.path().canonicalize().unwrap().join("walk.y4m");
    assert!(err.contains(&format!("{}: no such file", missing.display())), "{err}");
    // Beside the file, from another working directory: found.
    std::fs::write(&missing, b"YUV4MPEG2 W16 H16 F30:1 C444\n").unwrap();
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("porhc", "porch")).unwrap();
    let good = check(elsewhere.path());
    assert_eq!(String::from_utf8_lossy(&good.stdout), "ok\n", "{}", stderr(&good));
}

/// Issue 36: zones and lines are drawn on the pictures ssd-cam writes, with
/// `--save` alone (no events asked for); a line's two ways carry the
/// user's names in events; places nothing would show are refused.
#[test]
fn places_are_drawn_on_pictures_and_a_lines_ways_carry_their_names() {
    const ZONE: [u8; 3] = [255, 196, 0];
    const LINE: [u8; 3] = [0, 214, 255];
    let dir = tempfile::tempdir().unwrap();
    let shots = dir.path().join("shots");
    let source = "demo:fps=0,frames=60,size=320x240,seed=4";
    let out = ssd_cam(&[
        "--source",
        source,
        "--headless",
        "--save",
        shots.to_str().unwrap(),
        "--save-png",
        "--zone",
        "porch=20,20,140,20,140,220,20,220",
        "--line",
        "door=200,0,200,240,in,out",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image::open(shots.join("frame_00000000.png")).unwrap().into_rgb8();
    let share = |points: &[(u32, u32)], colour: [u8; 3]| {
        points.iter().filter(|&&(x, y)| img.get_pixel(x, y).0 == colour).count() as f64 / points.len() as f64
    };
    // The zone's top edge and the line, along their lengths (a detection's
    // box or tag may cover a few pixels).
    let zone_edge: Vec<(u32, u32)> = (30..130).step_by(5).map(|x| (x, 20)).collect();
    let line: Vec<(u32, u32)> = (40..200).step_by(8).map(|y| (200, y)).collect();
    assert!(share(&zone_edge, ZONE) >= 0.8, "zone edge {:.2}", share(&zone_edge, ZONE));
    assert!(share(&line, LINE) >= 0.6, "line {:.2}", share(&line, LINE));
    // Far from both, the frame is the scene's.
    assert!(share(&[(300, 5), (310, 230)], ZONE) == 0.0 && share(&[(300, 5), (310, 230)], LINE) == 0.0);

    let events = ssd_cam(&["--source", source, "--headless", "--events", "--line", "door=160,0,160,240,in,out"]);
    assert!(events.status.success(), "{}", stderr(&events));
    let ways: Vec<String> = json_lines(&events)
        .iter()
        .filter_map(|e| e.get("crossed"))
        .flat_map(|c| c.as_array().unwrap().iter().map(|c| c["direction"].as_str().unwrap().to_owned()))
        .collect();
    assert!(!ways.is_empty() && ways.iter().all(|w| w == "in" || w == "out"), "{ways:?}");

    let unused = ssd_cam(&["--source", source, "--headless", "--zone", "porch=20,20,140,20,140,220"]);
    assert!(
        !unused.status.success() && stderr(&unused).contains("show in events and on pictures"),
        "{}",
        stderr(&unused)
    );
}

#[test]
fn retention_deletes_only_our_files_past_their_days_at_start_and_wrong_values_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snaps");
    std::fs::create_dir_all(&snaps).unwrap();
    let day = std::time::Duration::from_secs(86_400);
    for (name, age) in [("1000-1.jpg", day * 10), ("2000-1.jpg", day), ("holiday.jpg", day * 100)] {
        std::fs::write(snaps.join(name), b"jpeg").unwrap();
        let f = std::fs::File::options().write(true).open(snaps.join(name)).unwrap();
        f.set_modified(std::time::SystemTime::now() - age).unwrap();
    }
    let snaps_arg = snaps.to_str().unwrap();
    let run = |more: &[&str]| {
        ssd_cam(&[&["--source", "demo:fps=0,frames=3", "--headless", "--snapshots", snaps_arg][..], more].concat())
    };
    let out = run(&["--retain-days", "snapshots=7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!snaps.join("1000-1.jpg").exists(), "ten days old, past seven");
    assert!(snaps.join("2000-1.jpg").exists() && snaps.join("holiday.jpg").exists());
    for (args, says) in [
        (&["--retain-days", "movies=3"][..], "'movies' is not clips, snapshots or recordings"),
        (&["--retain-size", "lots"][..], "is not a size such as 500M or 20G"),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says) && err.trim().lines().count() == 1, "{err}");
    }
    let out = ssd_cam(&["--source", "demo:fps=0,frames=3", "--headless", "--retain-days", "7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("add one of them"), "{err}");
}

#[test]
fn the_cameras_file_s_run_tables_are_checked_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cameras.toml");
    let clips = dir.path().join("clips");
    std::fs::write(
        &config,
        format!(
            "[clips]\ndir = \"{}\"\n\n[retention]\ndays = [\"movies=3\"]\n\n[[camera]]\nname = \"door\"\nsource = \"demo\"\n",
            clips.display()
        ),
    )
    .unwrap();
    for check in [true, false] {
        let mut args = vec!["--config", config.to_str().unwrap(), "--headless", "--max-frames", "1"];
        if check {
            args.push("--check-config");
        }
        let out = common::ssd_cam(&args);
        let err = common::stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("'movies' is not clips, snapshots or recordings"), "{err}");
        assert!(!err.contains("loaded and optimised"), "refused before the model loads: {err}");
    }
    // A key the flag's parser refuses: its words, the file's line.
    std::fs::write(&config, "[web]\nlisten = \"0.0.0.0\"\n\n[[camera]]\nname = \"door\"\nsource = \"demo\"\n").unwrap();
    let out = common::ssd_cam(&["--check-config", "--config", config.to_str().unwrap()]);
    let err = common::stderr(&out);
    assert!(!out.status.success());
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(
        line.contains("cameras.toml: [web] line 2, column 1: listen: invalid value '0.0.0.0' for '--http"),
        "{err}"
    );
}
