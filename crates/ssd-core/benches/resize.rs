//! The resize to the network's input: ssd-core's resizer (fast_image_resize)
//! at three frame sizes, and what the heap allocations it makes per call
//! cost by themselves (printed once, from a counting allocator). Commit
//! 01e5cd6 has the same bench with the own scalar resizer beside it; the
//! figures that chose between them are in BENCHMARKS.md, "Resizer".
//! `cargo bench -p ssd-core --bench resize`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use ssd_core::manifest::ResizeFilter;
use ssd_core::resize::Resizer;
use ssd_core::rng::SplitMix;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn frame(w: u32, h: u32) -> Vec<u8> {
    let mut rng = SplitMix::new(7);
    (0..w * h * 3).map(|_| (rng.next_u64() >> 56) as u8).collect()
}

fn resize(c: &mut Criterion) {
    let mut allocations = 0;
    for (w, h) in [(640u32, 480u32), (1280, 720), (1920, 1080)] {
        let src = frame(w, h);
        let mut out = vec![0u8; 300 * 300 * 3];
        let mut resizer = Resizer::new();
        let mut run = || resizer.resize(black_box(&src), w, h, &mut out, 300, 300).expect("valid sizes");
        run();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        run();
        allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        eprintln!("allocations per call, {w}x{h} -> 300x300: {allocations}");
        c.bench_function(&format!("resize/{w}x{h}_to_300x300"), |b| b.iter(&mut run));
    }
    // TF 1's legacy bilinear (manifest `input.resize: tf_legacy_bilinear`,
    // the person detector's).
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        let src = frame(w, h);
        let mut out = vec![0u8; 300 * 300 * 3];
        let mut tf = Resizer::with_filter(ResizeFilter::TfLegacyBilinear);
        c.bench_function(&format!("resize/tf_legacy_{w}x{h}_to_300x300"), |b| {
            b.iter(|| tf.resize(black_box(&src), w, h, &mut out, 300, 300).expect("valid sizes"))
        });
    }
    // The person detector's normalizing of a resized 300x300 frame into
    // its NCHW tensor (the inference thread's share of the front end).
    let labels = vec!["bg".into(), "person".into()];
    let manifest = ssd_core::manifest::ssdlite_manifest("bench", "", labels, ssd_core::ScoreActivation::Sigmoid);
    let mut pre = ssd_core::Preprocessor::new(&manifest, false);
    let mut resized = ssd_core::preprocess::Resized::default();
    pre.resize(&frame(300, 300), 300, 300, &mut resized).expect("valid sizes");
    let mut tensor = vec![0f32; 300 * 300 * 3];
    c.bench_function("normalize/person_300x300_nchw", |b| {
        b.iter(|| pre.normalize(black_box(&resized), &mut tensor).expect("valid sizes"))
    });
    // The same number of small vectors (4 to 64 bytes, like its per-row
    // weight tables) made and dropped, alone.
    c.bench_function("resize/per_call_allocations_alone", |b| {
        b.iter(|| {
            for i in 0..allocations as usize {
                black_box(vec![0u16; 2 + i % 30]);
            }
        })
    });
}

criterion_group!(benches, resize);
criterion_main!(benches);
