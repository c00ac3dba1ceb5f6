//! `--detect motion` on the demo's scenes with the shipped shapes model: the
//! model runs where things move or are tracked, and nowhere else.

mod common;

use common::{json_lines, ssd_cam, stderr};
use serde_json::Value;

/// Frame lines of a headless run on `demo` options `scene` with `extra`
/// arguments.
fn run(scene: &str, extra: &[&str]) -> Vec<Value> {
    let source = format!("demo:fps=0,size=640x480,seed=1,{scene}");
    let mut args = vec!["--source", source.as_str(), "--headless", "--workers", "2"];
    args.extend_from_slice(extra);
    let out = ssd_cam(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    json_lines(&out)
}

/// Whether the model ran on the frame, by its `regions`.
fn ran(line: &Value) -> bool {
    line["regions"].as_array().is_some_and(|r| !r.is_empty())
}

fn detected(line: &Value) -> bool {
    line["detections"].as_array().is_some_and(|d| !d.is_empty())
}

#[test]
fn a_still_scene_runs_the_model_on_no_frame_and_a_visitor_is_seen_as_soon_as_always_sees_it() {
    let motion = run("scene=visits,frames=340", &["--detect", "motion", "--full-frame-every", "1000"]);
    assert_eq!(motion.len(), 340);
    assert!(motion.iter().all(|l| l["motion"].is_boolean()));
    // Visit 0 is gone by frame 30 and its track ends 30 frames later; then
    // nothing moves until visit 1 enters at frame 300.
    let idle: Vec<u64> = motion[100..300].iter().filter(|l| ran(l)).map(|l| l["frame"].as_u64().unwrap_or(0)).collect();
    assert_eq!(idle, Vec::<u64>::new(), "the model ran on still frames");
    assert!(motion[300..330].iter().any(|l| l["motion"] == true));
    let always = run("scene=visits,frames=340", &[]);
    assert!(always.iter().all(|l| l.get("regions").is_none()), "always mode says nothing of regions");
    let first = |lines: &[Value]| lines[300..].iter().position(detected);
    let (seen_always, seen_motion) = (first(&always), first(&motion));
    assert!(seen_always.is_some(), "the shapes model never saw visit 1");
    assert!(
        seen_motion.is_some_and(|m| m <= seen_always.unwrap_or(0) + 2),
        "always saw visit 1 at frame 300 + {seen_always:?}, motion at 300 + {seen_motion:?}"
    );
}

#[test]
fn a_lighting_jump_runs_the_model_on_a_few_frames_at_most() {
    let lines = run("scene=visits,frames=300,light=150", &["--detect", "motion", "--full-frame-every", "1000"]);
    let after: Vec<u64> = lines[150..].iter().filter(|l| ran(l)).map(|l| l["frame"].as_u64().unwrap_or(0)).collect();
    assert!(after.len() <= 3, "the model ran on {after:?} after the lamp went on");
}

#[test]
fn masked_areas_never_move() {
    let lines = run(
        "scene=visits,frames=60",
        &["--detect", "motion", "--motion-mask", "0,0,640,0,640,480,0,480", "--full-frame-every", "1000"],
    );
    assert!(lines.iter().all(|l| l["motion"] == false), "motion under the mask");
}

#[test]
fn motion_everywhere_runs_the_whole_frame_once_not_regions() {
    let lines = run("scene=shake,frames=20", &["--detect", "motion"]);
    for l in &lines {
        assert_eq!(l["regions"], serde_json::json!([[0, 0, 640, 480]]), "{}", l["frame"]);
    }
    assert!(lines[1..].iter().all(|l| l["motion"] == true));
}

#[test]
fn motion_only_options_need_detect_motion() {
    let out = ssd_cam(&["--source", "demo:fps=0,frames=2", "--headless", "--show-regions"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--detect motion"), "{}", stderr(&out));
    let out = ssd_cam(&["--source", "demo:fps=0,frames=2", "--headless", "--full-frame-every", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
