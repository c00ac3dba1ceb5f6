//! Runtime benchmarks: prior generation, decode + NMS, preprocessing, and
//! inference of the SSD300-VGG16 layout. `cargo bench --bench runtime`.

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ssd_cam::model::{set_threads, Model};
use ssd_core::boxes::InputMapping;
use ssd_core::manifest::ScoreActivation;
use ssd_core::nms::NmsParams;
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::Preprocessor;
use ssd_core::priors::ssd300_voc;
use ssd_core::rng::SplitMix;
use ssd_onnx::ssd::{self, RandomWeights};

fn voc_manifest() -> ssd_core::manifest::Manifest {
    let labels = (0..21).map(|i| format!("c{i}")).collect();
    ssd::manifest("bench", "", labels, ssd300_voc(), ScoreActivation::Softmax)
}

/// Outputs shaped like a trained SSD's on a busy frame: background wins on
/// almost every prior, with 8 objects each lighting up ~40 neighbouring priors.
fn realistic_outputs() -> (Vec<f32>, Vec<f32>) {
    let (p, c) = (8732, 21);
    let mut rng = SplitMix::new(42);
    let boxes: Vec<f32> = (0..p * 4).map(|_| rng.range(-1.0, 1.0)).collect();
    let mut scores = vec![0f32; p * c];
    for row in scores.chunks_exact_mut(c) {
        row[0] = rng.range(4.0, 8.0);
        for v in &mut row[1..] {
            *v = rng.range(-2.0, 2.0);
        }
    }
    for obj in 0..8 {
        let class = 1 + obj * 2;
        let centre = (rng.next_u64() % 8000) as usize;
        for k in 0..40 {
            let row = &mut scores[(centre + k * 3) * c..(centre + k * 3 + 1) * c];
            row[0] = 0.0;
            row[class] = rng.range(2.0, 9.0);
        }
    }
    (boxes, scores)
}

fn priors(c: &mut Criterion) {
    let spec = ssd300_voc();
    c.bench_function("priors/generate_ssd300_8732", |b| b.iter(|| black_box(&spec).generate()));
}

fn postprocess(c: &mut Criterion) {
    let manifest = voc_manifest();
    let priors = Cow::Owned(ssd300_voc().generate().unwrap());
    let params = PostParams {
        score_threshold: 0.3,
        nms: NmsParams { iou_threshold: 0.45, top_k_per_class: 400, keep_top_k: 200 },
    };
    let mut decoder = Decoder::new(&manifest, priors, params);
    let (boxes, scores) = realistic_outputs();
    let mapping = InputMapping::stretch(1280, 720, 300, 300);
    let mut out = Vec::new();
    c.bench_function("postprocess/decode_nms_8732x21_t0.3", |b| {
        b.iter(|| decoder.decode(black_box(&boxes), black_box(&scores), &mapping, &mut out))
    });
}

fn preprocess(c: &mut Criterion) {
    let manifest = voc_manifest();
    let mut rgb = Vec::new();
    let mut demo = ssd_cam::source::demo::DemoSource::new(1280, 720, 0.0, 3, None);
    ssd_cam::source::Source::next_frame(&mut demo, &mut rgb).unwrap();
    let mut tensor = vec![0f32; 3 * 300 * 300];
    let mut pre = Preprocessor::new(&manifest, false);
    c.bench_function("preprocess/1280x720_to_300x300", |b| b.iter(|| pre.run(black_box(&rgb), 1280, 720, &mut tensor)));
    // The resize alone, ours against fast_image_resize: crates/ssd-core/benches/resize.rs.
    // The alternative not picked: the image crate's resize alone, before normalizing.
    let img = image::RgbImage::from_raw(1280, 720, rgb.clone()).unwrap();
    c.bench_function("preprocess/1280x720_to_300x300_image_crate_resize_only", |b| {
        b.iter(|| image::imageops::resize(black_box(&img), 300, 300, image::imageops::FilterType::Triangle))
    });
}

/// A demo frame as RGB, and as a camera would send it in YUYV and NV12:
/// realistic content, the frame's luma with varying chroma.
fn camera_frames(w: u32, h: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut rgb = Vec::new();
    let mut demo = ssd_cam::source::demo::DemoSource::new(w, h, 0.0, 3, None);
    ssd_cam::source::Source::next_frame(&mut demo, &mut rgb).unwrap();
    let luma: Vec<u8> = rgb
        .chunks_exact(3)
        .map(|p| ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8)
        .collect();
    let yuyv: Vec<u8> =
        luma.chunks_exact(2).enumerate().flat_map(|(i, y)| [y[0], (i % 200) as u8 + 28, y[1], 128]).collect();
    let mut nv12 = luma;
    nv12.extend((0..(w * h / 2) as usize).map(|i| (i % 180) as u8 + 38));
    (rgb, yuyv, nv12)
}

/// Camera frames (640×480, the default capture size) to RGB.
fn capture_conversion(c: &mut Criterion) {
    use ssd_cam::source::convert::{mjpeg_to_rgb, nv12_to_rgb, yuyv_to_rgb, Bt601};
    let (w, h) = (640u32, 480u32);
    let (rgb, yuyv, nv12) = camera_frames(w, h);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    let mut out = Vec::new();
    c.bench_function("capture/yuyv_640x480_to_rgb", |b| {
        b.iter(|| yuyv_to_rgb(black_box(&yuyv), w, h, Bt601::LIMITED, &mut out))
    });
    c.bench_function("capture/nv12_640x480_to_rgb", |b| {
        b.iter(|| nv12_to_rgb(black_box(&nv12), w, h, Bt601::LIMITED, &mut out))
    });
    c.bench_function("capture/mjpeg_640x480_to_rgb", |b| b.iter(|| mjpeg_to_rgb(black_box(&jpeg), &mut out)));
}

/// A 1280×720 camera frame (YUYV, what UVC cameras send uncompressed) to
/// the person detector's input tensor: conversion to RGB on the capture
/// thread, then TF's legacy bilinear resize and normalizing. The issue-39
/// target for the whole: 0.5 ms on this machine.
fn front_end(c: &mut Criterion) {
    use ssd_cam::source::convert::{nv12_to_rgb, yuyv_to_rgb, Bt601};
    let (w, h) = (1280u32, 720u32);
    let (rgb, yuyv, nv12) = camera_frames(w, h);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = ssd_core::manifest::Manifest::from_path(&root.join("models/person-ssdlite.json")).unwrap();
    let mut pre = Preprocessor::new(&manifest, false);
    let mut tensor = vec![0f32; 3 * 300 * 300];
    let mut out = Vec::new();
    c.bench_function("front_end/yuyv_1280x720_to_rgb", |b| {
        b.iter(|| yuyv_to_rgb(black_box(&yuyv), w, h, Bt601::LIMITED, &mut out))
    });
    c.bench_function("front_end/nv12_1280x720_to_rgb", |b| {
        b.iter(|| nv12_to_rgb(black_box(&nv12), w, h, Bt601::LIMITED, &mut out))
    });
    c.bench_function("front_end/rgb_1280x720_to_person_tensor", |b| {
        b.iter(|| pre.run(black_box(&rgb), w, h, &mut tensor))
    });
    c.bench_function("front_end/yuyv_1280x720_to_person_tensor", |b| {
        b.iter(|| {
            yuyv_to_rgb(black_box(&yuyv), w, h, Bt601::LIMITED, &mut out).unwrap();
            pre.run(&out, w, h, &mut tensor)
        })
    });
    c.bench_function("front_end/nv12_1280x720_to_person_tensor", |b| {
        b.iter(|| {
            nv12_to_rgb(black_box(&nv12), w, h, Bt601::LIMITED, &mut out).unwrap();
            pre.run(&out, w, h, &mut tensor)
        })
    });
}

fn inference(c: &mut Criterion) {
    let manifest = voc_manifest();
    let spec = ssd300_voc();
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("vgg.onnx");
    let model = ssd::ssd300_vgg16(21, &spec.boxes_per_cell(), 1.0, &mut RandomWeights::new(7));
    ssd_onnx::write(&model, &onnx).unwrap();
    let mut group = c.benchmark_group("inference");
    group.sample_size(10);
    for threads in [1, 2] {
        set_threads(threads);
        let mut net = Model::load(&onnx, &manifest, &dir.path().join("vgg.json")).unwrap();
        group.bench_function(format!("ssd300_vgg16_random_{threads}thread"), |b| b.iter(|| net.run().unwrap()));
    }
    group.finish();
}

/// The motion stage of `--detect motion` on a moving demo scene: grey copy,
/// background, threshold, dilation and regions, per frame.
fn motion(c: &mut Criterion) {
    use ssd_cam::motion::{Motion, MotionDetector, MotionParams};
    use ssd_cam::source::Source;
    for (w, h) in [(640u32, 480u32), (1920, 1080)] {
        let mut demo = ssd_cam::source::demo::DemoSource::new(w, h, 0.0, 3, None);
        let frames: Vec<Vec<u8>> = (0..8)
            .map(|_| {
                let mut rgb = Vec::new();
                demo.next_frame(&mut rgb).unwrap();
                rgb
            })
            .collect();
        let mut detector = MotionDetector::new(MotionParams::default(), vec![]);
        let mut out = Motion::default();
        let mut i = 0;
        c.bench_function(&format!("motion/detect_{w}x{h}"), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                detector.detect(black_box(&frames[i]), w, h, &mut out);
            })
        });
    }
}

/// What one watched frame costs the web viewer's encoder thread.
fn web_jpeg(c: &mut Criterion) {
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        let mut demo = ssd_cam::source::demo::DemoSource::from_spec(&format!("demo:fps=0,size={w}x{h}")).unwrap();
        let mut rgb = Vec::new();
        ssd_cam::source::Source::next_frame(&mut demo, &mut rgb).unwrap();
        let mut out = Vec::new();
        c.bench_function(&format!("web/jpeg_{w}x{h}"), |b| {
            b.iter(|| ssd_cam::jpeg::encode(black_box(&rgb), w, h, 80, &mut out).unwrap())
        });
    }
}

criterion_group!(benches, priors, postprocess, preprocess, capture_conversion, front_end, inference, motion, web_jpeg);
criterion_main!(benches);
