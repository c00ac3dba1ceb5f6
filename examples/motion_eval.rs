//! `--detect always` against `--detect motion` on the demo's scenes: the CPU
//! the ssd-cam process used (user + system, per minute of 30 frames/s
//! video) and what each mode found against the scene's ground truth.
//!
//! ```text
//! scripts/fetch-real-models.sh      # the photos of the people clip
//! cargo build --release --bin ssd-cam --example motion_eval
//! target/release/examples/motion_eval [FRAMES] > motion.md
//! ```
//!
//! Each clip is `FRAMES` frames (default 1800, one minute at 30 frames/s)
//! of `demo:fps=0` (rendered as fast as ssd-cam takes them, as a file would
//! be), run by the release binary beside this example with its default
//! workers. Ground truth is the demo's own layout. A visit (in the `visits`
//! scenes one shape crosses the frame every 300 frames; every third is
//! small) is found when some frame of it has a detection of its class with
//! IoU 0.5 or more; boxes found counts every frame's ground-truth boxes
//! matched so.
//!
//! The people clip exercises the person detector: NASA's public-domain
//! astronaut portrait (from scikit-image's data, fetched by
//! scripts/fetch-real-models.sh) crosses NASA's rocket photo every 300
//! frames in 45, large, medium and small (220, 140 and 70 px), encoded by
//! ffmpeg as H.264 (CRF 20, so the still frames carry coding noise) and
//! read back through ssd-cam's ffmpeg source with person-ssdlite. Its
//! ground truth is the portrait's square, matched at IoU 0.3 (the person
//! fills most, not all, of the photo). The clip stays in
//! target/motion-eval/porch.mp4.

use std::io::BufRead;
use std::process::{Command, Stdio};

use ssd_cam::source::demo::{DemoSource, VISIT_FRAMES, VISIT_PERIOD};
use ssd_core::boxes::BBox;
use ssd_core::scene::CLASSES;

struct Clip {
    name: &'static str,
    spec: &'static str,
    size: [u32; 2],
}

const CLIPS: [Clip; 5] = [
    Clip { name: "door 640x480 (still, visits)", spec: "scene=visits", size: [640, 480] },
    Clip { name: "door 1280x720 (still, visits)", spec: "scene=visits", size: [1280, 720] },
    Clip { name: "door 640x480, lamp at frame 450", spec: "scene=visits,light=450", size: [640, 480] },
    Clip { name: "busy 640x480 (5 shapes always moving)", spec: "scene=bounce", size: [640, 480] },
    Clip { name: "shaking 640x480 (motion everywhere)", spec: "scene=shake", size: [640, 480] },
];

/// Per frame, the class and box of every object in view.
type Truth = Vec<Vec<(usize, BBox)>>;

/// What one run found and cost.
struct Outcome {
    cpu_s: f64,
    wall_s: f64,
    model_runs: u64,
    /// Per frame: (class, box) of each detection.
    detections: Vec<Vec<(usize, BBox)>>,
}

fn cpu_of_children() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn run(bin: &std::path::Path, source: &str, model: &str, mode: &str) -> Outcome {
    let before = cpu_of_children();
    let started = std::time::Instant::now();
    let mut child = Command::new(bin)
        .args(["--source", source, "--model", model, "--headless", "--detect", mode])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ssd-cam");
    let (mut detections, mut model_runs) = (Vec::new(), 0);
    for line in std::io::BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.expect("a line")).expect("JSON");
        model_runs += v["regions"].as_array().map_or(1, |r| r.len() as u64);
        let dets = v["detections"].as_array().cloned().unwrap_or_default();
        detections.push(
            dets.iter()
                .map(|d| {
                    let b = &d["bbox"];
                    let f = |k: &str| b[k].as_f64().unwrap_or(0.0) as f32;
                    // By name: the model's class order is not the scene's.
                    let label = d["label"].as_str().unwrap_or_default();
                    let class = CLASSES.iter().position(|c| *c == label).unwrap_or(if label == "person" {
                        PERSON
                    } else {
                        usize::MAX
                    });
                    (class, BBox::new(f("x1"), f("y1"), f("x2"), f("y2")))
                })
                .collect(),
        );
    }
    assert!(child.wait().expect("wait").success(), "ssd-cam failed on {source}");
    Outcome { cpu_s: cpu_of_children() - before, wall_s: started.elapsed().as_secs_f64(), model_runs, detections }
}

/// The class index standing for "person" in the people clip.
const PERSON: usize = 100;

/// Whether frame `t`'s ground-truth object `(class, box)` was detected.
fn hit(o: &Outcome, t: usize, class: usize, b: &BBox) -> bool {
    let least = if class == PERSON { 0.3 } else { 0.5 };
    o.detections.get(t).is_some_and(|d| d.iter().any(|(c, db)| *c == class && db.iou(b) >= least))
}

/// Writes the people clip (see the module documentation) to `out` with
/// ffmpeg and returns its ground truth per frame.
fn people_clip(photos: &std::path::Path, frames: u64, out: &std::path::Path) -> Truth {
    use std::io::Write;
    let (w, h) = (640u32, 480u32);
    let open = |name: &str| {
        image::open(photos.join(name))
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-real-models.sh)", photos.join(name).display()))
            .into_rgb8()
    };
    let background = image::imageops::resize(&open("rocket.jpg"), w, h, image::imageops::FilterType::Triangle);
    let person = open("astronaut.png");
    let sizes = [220u32, 140, 70];
    let patches: Vec<image::RgbImage> =
        sizes.iter().map(|&s| image::imageops::resize(&person, s, s, image::imageops::FilterType::Triangle)).collect();
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
        .arg(format!("{w}x{h}"))
        .args(["-r", "30", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"])
        .arg(out)
        .stdin(Stdio::piped())
        .spawn()
        .expect("ffmpeg (scripts/setup.sh installs it)");
    let mut stdin = ffmpeg.stdin.take().expect("stdin");
    let mut truth = Vec::new();
    for t in 0..frames {
        let mut frame = background.clone();
        let (k, phase) = (t / VISIT_PERIOD, t % VISIT_PERIOD);
        let mut boxes = Vec::new();
        if phase < 45 {
            let patch = &patches[(k % 3) as usize];
            let s = patch.width() as i64;
            let x = -s + ((phase as i64) * (i64::from(w) + s)) / 44;
            let x = if k % 2 == 0 { x } else { i64::from(w) - s - x };
            let y = i64::from(h) - s - 30 * (k as i64 % 2) - 10;
            image::imageops::overlay(&mut frame, patch, x, y);
            let b = BBox::new(x as f32, y as f32, (x + s) as f32, (y + s) as f32).clip(w as f32, h as f32);
            // Counted once half of it is in view.
            if b.area() >= 0.5 * (s * s) as f32 {
                boxes.push((PERSON, b));
            }
        }
        truth.push(boxes);
        stdin.write_all(frame.as_raw()).expect("ffmpeg stdin");
    }
    drop(stdin);
    assert!(ffmpeg.wait().expect("ffmpeg").success(), "ffmpeg failed");
    truth
}

fn main() {
    let frames: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1800);
    let bin = std::env::current_exe().expect("exe").parent().and_then(|p| p.parent()).expect("dir").join("ssd-cam");
    let minutes = frames as f64 / 30.0 / 60.0;
    println!("| clip | mode | CPU s per video minute | wall s | model runs | GT boxes found | visits found (small) | found by always, missed |");
    println!("|---|---|---|---|---|---|---|---|");
    let photos = std::env::args().nth(2).unwrap_or_else(|| "target/real-models".to_owned());
    // Kept after the run, to look at or to run ssd-cam on by hand.
    let clip_dir = std::path::PathBuf::from("target/motion-eval");
    std::fs::create_dir_all(&clip_dir).expect("target/motion-eval");
    let mp4 = clip_dir.join("porch.mp4");
    let mut runs: Vec<(String, String, &str, Truth, bool, u64)> = CLIPS
        .iter()
        .map(|clip| {
            let [w, h] = clip.size;
            let source = format!("demo:fps=0,size={w}x{h},seed=1,frames={frames},{}", clip.spec);
            let demo = DemoSource::from_spec(&source).expect("demo spec");
            let truth = (0..frames).map(|t| demo.layout(t)).collect();
            (clip.name.to_owned(), source, "ssd300-shapes", truth, clip.spec.contains("visits"), VISIT_FRAMES)
        })
        .collect();
    let truth = people_clip(std::path::Path::new(&photos), frames, &mp4);
    let name = "porch 640x480 (people over a photo, H.264)".to_owned();
    runs.push((name, mp4.display().to_string(), "person-ssdlite", truth, true, 45));
    for (name, source, model, truth, visits, visit_frames) in &runs {
        let (visits, visit_frames) = (*visits, *visit_frames);
        let always = run(&bin, source, model, "always");
        let motion = run(&bin, source, model, "motion");
        for (mode, o) in [("always", &always), ("motion", &motion)] {
            let total: usize = truth.iter().map(Vec::len).sum();
            let found: usize =
                truth.iter().enumerate().map(|(t, gt)| gt.iter().filter(|(c, b)| hit(o, t, *c, b)).count()).sum();
            let (mut v_found, mut v_total, mut s_found, mut s_total, mut missed) = (0, 0, 0, 0, 0);
            if visits {
                for k in 0..frames.div_ceil(VISIT_PERIOD) {
                    let span = (k * VISIT_PERIOD)..(k * VISIT_PERIOD + visit_frames).min(frames);
                    let seen = |o: &Outcome| {
                        span.clone().any(|t| truth[t as usize].iter().any(|(c, b)| hit(o, t as usize, *c, b)))
                    };
                    let small = k % 3 == 2;
                    v_total += 1;
                    s_total += usize::from(small);
                    if seen(o) {
                        v_found += 1;
                        s_found += usize::from(small);
                    } else if seen(&always) {
                        missed += 1;
                    }
                }
            }
            let visits_cell =
                if visits { format!("{v_found}/{v_total} ({s_found}/{s_total})") } else { "—".to_owned() };
            println!(
                "| {} | {mode} | {:.1} | {:.1} | {} | {:.1} % | {visits_cell} | {} |",
                name,
                o.cpu_s / minutes,
                o.wall_s,
                o.model_runs,
                100.0 * found as f64 / total.max(1) as f64,
                if visits { missed.to_string() } else { "—".to_owned() },
            );
        }
    }
}
