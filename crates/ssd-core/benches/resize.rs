//! The resize to the network's input, ours against fast_image_resize's on the
//! same frames: time per call (criterion) and, printed once, the heap
//! allocations each makes per call (a counting allocator), which is what the
//! choice between them turns on (BENCHMARKS.md, "Resizer").
//! `cargo bench -p ssd-core --bench resize`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use fast_image_resize as fr;
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

fn allocations_of(mut f: impl FnMut()) -> u64 {
    f(); // warm: tables and scratch sized
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn resize(c: &mut Criterion) {
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    for (w, h) in [(640u32, 480u32), (1280, 720), (1920, 1080)] {
        let src = frame(w, h);
        let mut out = vec![0u8; 300 * 300 * 3];
        let mut ours = Resizer::new();
        let mut theirs = fr::Resizer::new();
        let mut run_theirs = |out: &mut [u8]| {
            let s = fr::images::ImageRef::new(w, h, &src, fr::PixelType::U8x3).expect("source view");
            let mut d = fr::images::Image::from_slice_u8(300, 300, out, fr::PixelType::U8x3).expect("target view");
            theirs.resize(&s, &mut d, &options).expect("resize");
        };
        let a_ours = allocations_of(|| ours.resize(&src, w, h, &mut out, 300, 300));
        let a_theirs = allocations_of(|| run_theirs(&mut out));
        eprintln!("allocations per call, {w}x{h} -> 300x300: ours {a_ours}, fast_image_resize {a_theirs}");
        c.bench_function(&format!("resize/{w}x{h}_to_300x300_ours"), |b| {
            b.iter(|| ours.resize(black_box(&src), w, h, &mut out, 300, 300))
        });
        c.bench_function(&format!("resize/{w}x{h}_to_300x300_fast_image_resize"), |b| b.iter(|| run_theirs(&mut out)));
    }
    // What fast_image_resize's allocations cost by themselves: as many small
    // vectors (one per output pixel row of weights, 4 to 64 bytes) made and
    // dropped as one of its calls makes.
    c.bench_function("resize/606_small_allocations_alone", |b| {
        b.iter(|| {
            for i in 0..606usize {
                black_box(vec![0u16; 2 + i % 30]);
            }
        })
    });
}

criterion_group!(benches, resize);
criterion_main!(benches);
