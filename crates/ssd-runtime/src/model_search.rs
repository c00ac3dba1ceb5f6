//! Finds the network and manifest a `--model` argument names: a path to an
//! `.onnx` file, or a bare name looked up in a short list of folders. No
//! path of the build machine is baked in, so an ARM binary copied to a board
//! looks only where it runs.

use std::path::{Path, PathBuf};

/// Environment variable naming extra folders (`:`-separated) searched for
/// `--model NAME` before the default ones.
pub const MODELS_ENV: &str = "SSD_CAM_MODELS";

/// The model for the demo source when `--model` is not given: it detects the
/// shapes the demo draws.
pub const DEMO_MODEL: &str = "ssd300-shapes";

/// The model for every real source (camera, files, images, streams) when
/// `--model` is not given: the shipped person detector.
pub const REAL_MODEL: &str = "person-ssdlite";

/// The model to run and why: `--model` when given, else [`DEMO_MODEL`] for
/// the demo source and [`REAL_MODEL`] for anything real.
pub fn default_model(model: Option<&str>, source: Option<&str>, camera: bool) -> (String, &'static str) {
    match model {
        Some(m) => (m.to_owned(), "--model"),
        None if !camera && source.is_none_or(|s| s == "demo" || s.starts_with("demo:")) => {
            (DEMO_MODEL.to_owned(), "the default for the demo source, whose shapes it detects")
        }
        None => (REAL_MODEL.to_owned(), "the default for real sources: the shipped person detector"),
    }
}

/// Where a `--model` argument points: the ONNX file and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// The network.
    pub onnx: PathBuf,
    /// Its manifest.
    pub manifest: PathBuf,
}

/// Why a `--model` argument found nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelSearchError {
    /// A path was given and there is no file there.
    #[error("model file {0} does not exist")]
    NoFile(String),
    /// A path to a folder was given.
    #[error("{0} is a folder: pass the .onnx file in it (--model {0}/NAME.onnx), or its name with SSD_CAM_MODELS={0}")]
    Folder(String),
    /// The manifest is there but not its network (a model not shipped, such
    /// as one the user fetches); its description says where to get it.
    #[error("model '{name}': {manifest} is here but not {name}.onnx beside it. {description}")]
    NetworkMissing {
        /// The name looked for.
        name: String,
        /// The manifest found.
        manifest: String,
        /// The manifest's description (where the network comes from).
        description: String,
    },
    /// A name was given and no searched folder has `NAME.onnx`.
    #[error("model '{name}' not found: no {name}.onnx in {} (pass --model path/to/model.onnx)", .searched.join(", "))]
    NotFound {
        /// The name looked for.
        name: String,
        /// The folders searched, in order.
        searched: Vec<String>,
    },
}

/// Folders searched for `--model NAME`, each once: those in
/// `$SSD_CAM_MODELS`, `./models`, then `models/` beside the executable and up
/// to two levels above it (cargo's `target/debug` lies two below the source
/// tree), then `share/ssd-cam/models` of the executable's prefix (where the
/// Debian package puts them: `/usr/bin/ssd-cam` finds
/// `/usr/share/ssd-cam/models`).
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(extra) = std::env::var_os(MODELS_ENV) {
        dirs.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe() {
        let mut dir = exe.parent().map(Path::to_path_buf);
        for _ in 0..3 {
            let Some(d) = dir else { break };
            dirs.push(d.join("models"));
            dir = d.parent().map(Path::to_path_buf);
        }
        if let Some(prefix) = exe.parent().and_then(Path::parent) {
            dirs.push(prefix.join("share/ssd-cam/models"));
        }
    }
    // Each folder once, compared by where it really is (./models is often
    // also the executable's ../../models); each path is resolved once.
    let mut seen: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    for d in dirs {
        let key = std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone());
        if !seen.contains(&key) {
            seen.push(key);
            unique.push(d);
        }
    }
    unique
}

/// Resolves `--model`: a path to an `.onnx` file (manifest beside it, same
/// stem, `.json`) or a bare name looked up in [`model_dirs`].
pub fn locate_model(arg: &str) -> Result<ModelPaths, ModelSearchError> {
    let as_path = Path::new(arg);
    let looks_like_path = arg.ends_with(".onnx") || arg.contains('/') || arg.contains('\\');
    if looks_like_path {
        if as_path.is_dir() {
            return Err(ModelSearchError::Folder(arg.trim_end_matches('/').to_owned()));
        }
        if !as_path.is_file() {
            return Err(ModelSearchError::NoFile(arg.to_owned()));
        }
        return Ok(ModelPaths { onnx: as_path.to_owned(), manifest: as_path.with_extension("json") });
    }
    let dirs = model_dirs();
    for dir in &dirs {
        let onnx = dir.join(format!("{arg}.onnx"));
        if onnx.is_file() {
            return Ok(ModelPaths { manifest: onnx.with_extension("json"), onnx });
        }
    }
    for dir in &dirs {
        let manifest = dir.join(format!("{arg}.json"));
        if manifest.is_file() {
            let description = ssd_core::manifest::Manifest::from_path(&manifest)
                .map(|m| m.description)
                .unwrap_or_else(|e| format!("(its manifest does not read: {e})"));
            return Err(ModelSearchError::NetworkMissing {
                name: arg.to_owned(),
                manifest: manifest.display().to_string(),
                description,
            });
        }
    }
    Err(ModelSearchError::NotFound {
        name: arg.to_owned(),
        searched: dirs.iter().map(|d| d.display().to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_gets_the_shapes_model_and_real_sources_the_person_detector() {
        assert_eq!(default_model(None, None, false).0, DEMO_MODEL);
        assert_eq!(default_model(None, Some("demo:fps=0"), false).0, DEMO_MODEL);
        assert_eq!(default_model(None, Some("photo.jpg"), false).0, REAL_MODEL);
        assert_eq!(default_model(None, Some("demo_clip.y4m"), false).0, REAL_MODEL);
        assert_eq!(default_model(None, None, true).0, REAL_MODEL);
        assert_eq!(default_model(Some("mine.onnx"), Some("demo"), false), ("mine.onnx".to_owned(), "--model"));
    }

    #[test]
    fn a_path_to_a_missing_file_is_named() {
        assert_eq!(locate_model("nowhere/x.onnx"), Err(ModelSearchError::NoFile("nowhere/x.onnx".into())));
    }

    #[test]
    fn an_unknown_name_lists_each_folder_once() {
        let Err(ModelSearchError::NotFound { searched, .. }) = locate_model("no-such-model-anywhere") else {
            panic!("expected NotFound");
        };
        let mut canon: Vec<PathBuf> =
            searched.iter().map(|s| std::fs::canonicalize(s).unwrap_or_else(|_| PathBuf::from(s))).collect();
        let n = canon.len();
        canon.sort();
        canon.dedup();
        assert_eq!(canon.len(), n, "{searched:?}");
    }

    #[test]
    fn no_build_machine_path_is_searched() {
        let build_models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let dirs = model_dirs();
        assert!(!dirs.contains(&build_models), "{dirs:?}");
        assert!(dirs.contains(&PathBuf::from("models")));
        // An installed binary (PREFIX/bin) finds PREFIX/share/ssd-cam/models.
        let exe = std::env::current_exe().unwrap();
        let installed = exe.parent().unwrap().parent().unwrap().join("share/ssd-cam/models");
        assert_eq!(dirs.last(), Some(&installed), "{dirs:?}");
    }

    #[test]
    fn model_argument_with_a_path_finds_the_manifest_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let onnx = dir.path().join("net.onnx");
        std::fs::write(&onnx, b"x").unwrap();
        let p = locate_model(onnx.to_str().unwrap()).unwrap();
        assert_eq!(p.manifest, dir.path().join("net.json"));
        assert!(locate_model("no-such-model-here").unwrap_err().to_string().contains("not found"));
    }
}
