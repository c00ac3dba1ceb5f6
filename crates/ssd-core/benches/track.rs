//! The tracker's cost per frame with 50 objects on screen (5 classes, each
//! object drifting 3 px a frame, a few low-score detections among them), in
//! steady state: `cargo bench -p ssd-core --bench track`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ssd_core::boxes::BBox;
use ssd_core::rng::SplitMix;
use ssd_core::track::{Motion, TrackParams, Tracker};

fn frames(objects: usize, count: usize) -> Vec<Vec<(u32, f32, BBox)>> {
    let mut rng = SplitMix::new(3);
    let start: Vec<(u32, [f32; 2], [f32; 2])> = (0..objects)
        .map(|i| {
            let at = [rng.range(0.0, 1800.0), rng.range(0.0, 1000.0)];
            let vel = [rng.range(-3.0, 3.0), rng.range(-3.0, 3.0)];
            ((i % 5) as u32, at, vel)
        })
        .collect();
    (0..count)
        .map(|t| {
            start
                .iter()
                .enumerate()
                .map(|(i, &(class, at, vel))| {
                    let (x, y) = (at[0] + vel[0] * t as f32, at[1] + vel[1] * t as f32);
                    let score = if (i + t) % 10 == 0 { 0.3 } else { 0.8 };
                    (class, score, BBox::new(x, y, x + 60.0, y + 120.0))
                })
                .collect()
        })
        .collect()
}

fn track(c: &mut Criterion) {
    let seq = frames(50, 400);
    for (name, params) in [
        ("track/50_objects_sort", TrackParams::default()),
        ("track/50_objects_sort_byte", TrackParams { second_pass: true, ..TrackParams::default() }),
        (
            "track/50_objects_iou_only",
            TrackParams { motion: Motion::Still, second_pass: false, ..TrackParams::default() },
        ),
    ] {
        let mut tracker = Tracker::new(params);
        let (mut ids, mut ended) = (Vec::new(), Vec::new());
        // Warm up into steady state: every object tracked.
        for f in &seq[..100] {
            tracker.update(f, &mut ids, &mut ended);
        }
        let mut t = 100;
        c.bench_function(name, |b| {
            b.iter(|| {
                tracker.update(black_box(&seq[t]), &mut ids, &mut ended);
                ended.clear();
                t = if t + 1 == seq.len() { 100 } else { t + 1 };
            })
        });
    }
}

criterion_group!(benches, track);
criterion_main!(benches);
