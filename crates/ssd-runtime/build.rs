//! Bakes the prior tables into the binary: the canonical SSD300 layouts plus
//! the prior spec of every manifest under `models/`. The generator is
//! ssd-core's, the same code the runtime and the trainer use.

use ssd_core::priors;
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // The shipped models live at the workspace root.
    println!("cargo:rerun-if-changed=../../models");

    let mut specs: Vec<(String, priors::PriorSpec)> = vec![
        ("ssd300-voc (Caffe)".to_string(), priors::ssd300_voc()),
        ("ssd300-vgg16 (torchvision)".to_string(), priors::ssd300_torchvision()),
    ];
    specs.extend(manifest_specs(Path::new("../../models")));

    let mut code = String::new();
    let mut entries = String::new();
    let mut seen: Vec<String> = Vec::new();
    for (origin, spec) in specs {
        let key = match serde_json::to_string(&spec) {
            Ok(k) => k,
            Err(e) => {
                println!("cargo:warning=cannot serialise the prior spec of {origin}: {e}");
                continue;
            }
        };
        if seen.contains(&key) {
            continue;
        }
        let boxes = match spec.generate() {
            Ok(b) => b,
            Err(e) => {
                println!("cargo:warning={origin}: {e}; not baked in");
                continue;
            }
        };
        let id = seen.len();
        seen.push(key.clone());
        let _ = writeln!(code, "static PRIORS_{id}: [[f32; 4]; {}] = [", boxes.len());
        for b in &boxes {
            // Debug formatting of f32 is the shortest text that parses back to
            // the same bits, so the table equals runtime generation exactly.
            let _ = writeln!(code, "    [{:?}, {:?}, {:?}, {:?}],", b[0], b[1], b[2], b[3]);
        }
        code.push_str("];\n");
        let _ =
            writeln!(entries, "    BuiltinPriors {{ origin: {origin:?}, spec_json: {key:?}, boxes: &PRIORS_{id} }},");
    }
    let _ = writeln!(code, "/// Prior tables computed at build time.");
    let _ = writeln!(code, "pub static BUILTIN_PRIORS: &[BuiltinPriors] = &[\n{entries}];");

    let out = std::env::var("OUT_DIR").map(std::path::PathBuf::from);
    match out {
        Ok(dir) => {
            if let Err(e) = std::fs::write(dir.join("prior_tables.rs"), code) {
                panic!("cannot write prior_tables.rs: {e}");
            }
        }
        Err(e) => panic!("OUT_DIR is not set: {e}"),
    }
}

/// `(origin, spec)` for each `models/*.json` that has a `"priors"` field.
fn manifest_specs(dir: &Path) -> Vec<(String, priors::PriorSpec)> {
    let mut found = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut paths: Vec<_> =
        read.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    paths.sort();
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                println!("cargo:warning={}: {e}", path.display());
                continue;
            }
        };
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                println!("cargo:warning={}: invalid JSON: {e}", path.display());
                continue;
            }
        };
        let Some(spec) = value.get("priors") else {
            continue;
        };
        match serde_json::from_value::<priors::PriorSpec>(spec.clone()) {
            Ok(spec) => found
                .push((format!("models/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()), spec)),
            Err(e) => println!("cargo:warning={}: priors: {e}", path.display()),
        }
    }
    found
}
