//! Steady state allocates nothing per frame in the source, preprocessing and
//! post-processing stages: a counting global allocator watches this thread
//! while the shipped model's stages run on demo frames, after one warm-up
//! frame has sized every buffer.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ssd_cam::model::Model;
use ssd_cam::model_search::locate_model;
use ssd_core::manifest::Manifest;
use ssd_core::postprocess::{Decoder, PostParams};
use ssd_core::preprocess::{Preprocessor, Resized};

struct Counting;

thread_local! {
    // const-initialised and without Drop: safe to touch from the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations made by `f`, on this thread.
fn counted(f: impl FnOnce()) -> u64 {
    let before = allocations();
    f();
    allocations() - before
}

#[test]
fn source_preprocess_and_postprocess_allocate_nothing_per_frame() {
    let paths = locate_model(ssd_cam::DEMO_MODEL).unwrap();
    let manifest = Manifest::from_path(&paths.manifest).unwrap();
    let priors = ssd_cam::baked_priors::priors_for(&manifest.priors).unwrap();
    let mut model = Model::load(&paths.onnx, &manifest, &paths.manifest).unwrap();
    let mut pre = Preprocessor::new(&manifest, false);
    let mut params = PostParams::from(manifest.defaults);
    // A low threshold gives NMS many candidates to sort and suppress.
    params.score_threshold = 0.05;
    let mut decoder = Decoder::new(&manifest, priors, params);

    // The source and preprocessing, frame after frame into the same buffers;
    // letterboxed too, whose padding path differs. The resize is
    // fast_image_resize's, which rebuilds its filter tables on each call
    // (BENCHMARKS.md, "Resizer": 3x faster than an allocation-free resizer,
    // the allocations ~1-3 % of its time): it may allocate, the same amount
    // every frame (nothing kept, nothing growing); the rest may not.
    let mut demo = ssd_cam::source::open("demo:size=640x480,fps=0,seed=5").unwrap();
    let mut letterbox = Preprocessor::new(&manifest, true);
    let (mut resized, mut boxed) = (Resized::default(), Resized::default());
    let mut rgb = Vec::new();
    let (w, h) = demo.next_frame(&mut rgb).unwrap().unwrap();
    pre.resize(&rgb, w, h, &mut resized).unwrap();
    letterbox.resize(&rgb, w, h, &mut boxed).unwrap();
    pre.normalize(&resized, model.input_mut().unwrap()).unwrap();
    letterbox.normalize(&boxed, model.input_mut().unwrap()).unwrap();
    let (mut in_source, mut in_normalize) = (0, 0);
    let mut in_resize = Vec::new();
    for _ in 0..20 {
        in_source += counted(|| assert!(demo.next_frame(&mut rgb).unwrap().is_some()));
        in_resize.push(counted(|| {
            pre.resize(&rgb, w, h, &mut resized).unwrap();
            letterbox.resize(&rgb, w, h, &mut boxed).unwrap();
        }));
        let input = model.input_mut().unwrap();
        in_normalize += counted(|| {
            pre.normalize(&resized, input).unwrap();
            letterbox.normalize(&boxed, input).unwrap();
        });
    }
    assert_eq!(in_source, 0, "the demo source allocated {in_source} times in 20 frames");
    assert_eq!(in_normalize, 0, "normalizing allocated {in_normalize} times in 20 frames");
    assert!(in_resize.iter().all(|&n| n == in_resize[0]), "resize allocations vary from frame to frame: {in_resize:?}");
    assert!(in_resize[0] < 4000, "resize allocations per frame: {}", in_resize[0]);

    // Post-processing on real outputs of several frames.
    let mut outputs = Vec::new();
    for _ in 0..5 {
        let (w, h) = demo.next_frame(&mut rgb).unwrap().unwrap();
        let mapping = pre.run(&rgb, w, h, model.input_mut().unwrap()).unwrap();
        let out = model.run().unwrap();
        let (b, s) = out.slices().unwrap();
        outputs.push((b.to_vec(), s.to_vec(), mapping));
    }
    let mut detections = Vec::new();
    let mut found = 0;
    for (b, s, mapping) in &outputs {
        decoder.decode(b, s, mapping, &mut detections).unwrap();
    }
    let steady = counted(|| {
        for _ in 0..4 {
            for (b, s, mapping) in &outputs {
                decoder.decode(b, s, mapping, &mut detections).unwrap();
                found += detections.len();
            }
        }
    });
    assert!(found > 20, "the frames have detections to decode ({found})");
    assert_eq!(steady, 0, "post-processing allocated {steady} times in 20 frames");
}
