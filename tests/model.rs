//! Model loading and running details: the input tensor is reused between
//! frames, and the oracle's raw outputs are what the writer put in.

mod common;

#[test]
fn input_tensor_is_reused_from_frame_to_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = common::load_oracle(dir.path());
    let first = model.input_mut().unwrap().as_ptr();
    for _ in 0..3 {
        let out = model.run().unwrap();
        let (boxes, scores) = out.slices().unwrap();
        assert_eq!((boxes.len(), scores.len()), (8732 * 4, 8732 * 4));
        drop(out);
        assert_eq!(model.input_mut().unwrap().as_ptr(), first, "same buffer every frame");
    }
    assert_eq!(model.fresh_input_allocations(), 0);
}

#[test]
fn oracle_outputs_carry_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = common::load_oracle(dir.path());
    let out = model.run().unwrap();
    let (boxes, scores) = out.slices().unwrap();
    let t = common::targets()[0];
    assert_eq!(&boxes[t.prior * 4..t.prior * 4 + 4], &t.offsets);
    assert_eq!(scores[t.prior * 4 + t.class], t.logit);
    assert_eq!(scores[0], 8.0, "background logit elsewhere");
}

#[test]
fn f16_runs_the_shipped_model_close_to_f32() {
    use ssd_cam::model::{Model, Precision};
    use ssd_cam::model_search::locate_model;
    use ssd_core::manifest::Manifest;
    let paths = locate_model(ssd_cam::DEMO_MODEL).unwrap();
    let manifest = Manifest::from_path(&paths.manifest).unwrap();
    let run = |precision| {
        let mut model = Model::load_with(&paths.onnx, &manifest, &paths.manifest, precision).unwrap();
        // A smooth pattern in the normalized input range.
        for (i, v) in model.input_mut().unwrap().iter_mut().enumerate() {
            *v = ((i % 300) as f32 * 0.05).sin() * 2.0;
        }
        let out = model.run().unwrap();
        let (b, s) = out.slices().unwrap();
        (b.to_vec(), s.to_vec())
    };
    let (b32, s32) = run(Precision::F32);
    let (b16, s16) = run(Precision::F16Emulated);
    let max_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert_eq!((b16.len(), s16.len()), (b32.len(), s32.len()), "f32 outputs at the edges, same shapes");
    let mean_diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    let (db, ds) = (max_diff(&b32, &b16), max_diff(&s32, &s16));
    let (mb, ms) = (mean_diff(&b32, &b16), mean_diff(&s32, &s16));
    eprintln!("f16 vs f32: box offsets differ by at most {db} (mean {mb}), logits by {ds} (mean {ms})");
    assert!(db > 0.0 || ds > 0.0, "the f16 path really ran in f16");
    // f16 keeps about 3 significant digits through 23 layers: offsets are in
    // variance units (0.1 = 1% of a prior's side), logits feed a softmax.
    assert!(db < 0.25 && ds < 0.5, "box offsets {db}, logits {ds}");
    assert!(mb < 0.02 && ms < 0.04, "box offsets mean {mb}, logits mean {ms}");
}

/// The README's tables of thresholds (what a manifest leaves out, and each
/// shipped model's own) say what the manifests say: one source of truth.
#[test]
fn the_readme_states_each_models_thresholds_as_its_manifest_does() {
    use ssd_core::manifest::{Manifest, Thresholds};
    let root = common::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let figures = |t: &Thresholds| {
        [t.score_threshold.to_string(), t.nms_iou.to_string(), t.top_k_per_class.to_string(), t.keep_top_k.to_string()]
    };
    let omitted = readme.lines().find(|l| l.starts_with("| `defaults` |")).expect("the manifest table's defaults row");
    assert!(omitted.ends_with(&format!("is {} |", figures(&Thresholds::default()).join(", "))), "{omitted}");
    let mut rows = 0;
    for entry in std::fs::read_dir(root.join("models")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let manifest = Manifest::from_path(&path.with_extension("json")).unwrap();
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` | ")) && l.matches('|').count() == 6)
            .unwrap_or_else(|| panic!("no README row for {name}"));
        let said: Vec<&str> = row.split('|').map(str::trim).filter(|c| !c.is_empty()).skip(1).collect();
        // f32 figures as people write them (0.6, not 0.6000000238418579).
        let want: Vec<String> = figures(&manifest.defaults)
            .iter()
            .map(|f| f.parse::<f64>().map_or(f.clone(), |v| format!("{}", (v * 1e6).round() / 1e6)))
            .collect();
        assert_eq!(said, want, "README row for {name}: {row}");
        rows += 1;
    }
    assert_eq!(rows, 3, "one README row per shipped model");
}
