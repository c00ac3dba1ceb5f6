//! ONNX Runtime as the engine (`--backend onnxruntime`): the same ONNX file
//! and manifest as tract, run by the library found at run time. The output
//! parts are joined on the host into the `[P·k]` heads tract joins in its
//! graph, so decoding cannot tell the engines apart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::ep::{self, ExecutionProvider as _, ExecutionProviderDispatch};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{Outlet, TensorElementType, TensorRef};
use ssd_core::manifest::{Layout, Manifest, OutputSpec};

use crate::model::{
    first_line, input_shape_of, Backend, EngineInfo, ExecutionProvider, LoadOptions, Loading, ModelError, Precision,
    RawOutputs,
};

/// The library this process loaded (its path and version), or why none did:
/// a process loads one ONNX Runtime, once.
static LIBRARY: OnceLock<Result<(PathBuf, String), String>> = OnceLock::new();

/// A library named by the program (before any model loads), tried first.
static CHOSEN: OnceLock<PathBuf> = OnceLock::new();

/// Makes `path` the ONNX Runtime library this process loads, ahead of
/// `ORT_DYLIB_PATH` and the search; false if one was chosen already. Takes
/// effect only before the first ONNX Runtime model loads.
pub fn use_library(path: PathBuf) -> bool {
    CHOSEN.set(path).is_ok()
}

/// The library's file name on this system.
const LIBRARY_NAME: &str = "libonnxruntime.so";

/// Where the library is looked for, in order: `ORT_DYLIB_PATH` alone when
/// set; else beside the binary, then in `../lib/ssd-cam/` from it (where the
/// Debian package puts the one it ships: /usr/bin/ssd-cam,
/// /usr/lib/ssd-cam/), each the unversioned name, then the versioned ones
/// the pip wheel ships, newest first; else the system's (the loader's path).
fn candidates() -> Vec<PathBuf> {
    if let Some(path) = CHOSEN.get() {
        return vec![path.clone()];
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let mut found = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        found.extend(libraries_in(&dir));
        found.extend(libraries_in(&dir.join("../lib/ssd-cam")));
    }
    found.push(PathBuf::from(LIBRARY_NAME));
    found.push(PathBuf::from(format!("{LIBRARY_NAME}.1")));
    found
}

/// The ONNX Runtime library this process runs (its path and version),
/// loaded now if it was not; why none loads otherwise.
pub fn available() -> Result<(PathBuf, String), String> {
    LIBRARY.get_or_init(load_library).clone()
}

/// The ONNX Runtime libraries in `dir`: the unversioned name, then the
/// versioned ones, newest first.
fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
        .collect();
    versioned.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
    let mut found = vec![dir.join(LIBRARY_NAME)];
    found.extend(versioned);
    found.retain(|p| p.exists());
    found
}

/// The numbers after `libonnxruntime.so.` (1.28.0 → [1, 28, 0]).
fn version_of(path: &Path) -> Vec<u64> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let tail = name.strip_prefix("libonnxruntime.so.").unwrap_or_default();
    tail.split('.').map(|n| n.parse().unwrap_or(0)).collect()
}

/// Loads the library (once per process) and sets up ONNX Runtime's
/// environment; `ort` would panic on a failed load if left to do it itself.
fn library() -> Result<&'static (PathBuf, String), ModelError> {
    LIBRARY.get_or_init(load_library).as_ref().map_err(|e| ModelError::Library(e.clone()))
}

fn load_library() -> Result<(PathBuf, String), String> {
    let explicit = CHOSEN.get().is_some() || std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty());
    let mut last = String::new();
    for path in candidates() {
        match probe(&path) {
            Ok(version) => {
                // Once only: ort 2.0.0-rc.13 marks its library slot as set even
                // when a load fails (its OnceLock completes on error), and
                // then reads it uninitialised; so it gets one library, one
                // that was just seen to load.
                let environment = ort::init_from(&path).map_err(first_line)?;
                let _ = environment.with_name("ssd-cam").commit();
                log::debug!("ONNX Runtime {version} loaded from {}", path.display());
                return Ok((path, version));
            }
            Err(e) => last = e,
        }
    }
    Err(if explicit {
        format!("{last}; set ORT_DYLIB_PATH to libonnxruntime.so of ONNX Runtime 1.{} or newer", ort::MINOR_VERSION)
    } else {
        format!(
            "no usable {LIBRARY_NAME} beside the binary or on the system ({last}); set ORT_DYLIB_PATH to one \
             (`pip install onnxruntime` puts it in site-packages/onnxruntime/capi/)"
        )
    })
}

/// Opens `path` as ONNX Runtime and reads its version: an error unless it
/// loads, exports `OrtGetApiBase` and is at least the API `ort` needs.
fn probe(path: &Path) -> Result<String, String> {
    let name = path.display();
    // SAFETY: loading a library runs its initialisers: the ones any program
    // using ONNX Runtime runs.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
        let why = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
        why.replace('\n', " ")
    })?;
    // SAFETY: the symbol has this signature in every ONNX Runtime (onnxruntime_c_api.h).
    let base = unsafe { library.get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase") }
        .map_err(|_| format!("{name} is not ONNX Runtime (no OrtGetApiBase)"))?;
    // SAFETY: OrtGetApiBase takes nothing and returns a pointer to a static table.
    let base = unsafe { base() };
    if base.is_null() {
        return Err(format!("{name}: OrtGetApiBase returned nothing"));
    }
    // SAFETY: `base` points to the library's static OrtApiBase, whose
    // GetVersionString returns a static NUL-terminated string.
    let version = unsafe {
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
        }
    };
    if !new_enough(&version, ort::MINOR_VERSION) {
        return Err(format!("{name} is ONNX Runtime {version}; ssd-cam needs 1.{} or newer", ort::MINOR_VERSION));
    }
    Ok(version)
}

/// Whether a version string `1.MINOR[.PATCH]` has at least `minor`.
fn new_enough(version: &str, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(m)) => major > 1 || (major == 1 && m >= minor),
        _ => false,
    }
}

/// One output part the manifest names, as the graph gives it.
#[derive(Debug)]
struct Part {
    name: String,
    shape: Vec<usize>,
    nchw: bool,
}

/// A session of the network and its input buffer.
pub(crate) struct OrtModel {
    session: Session,
    /// The ONNX file, for the sessions of further workers.
    bytes: Arc<[u8]>,
    options: LoadOptions,
    /// The provider the session runs on (CPU when the asked one was missing).
    provider: ExecutionProvider,
    input: Vec<f32>,
    input_shape: [usize; 4],
    input_name: String,
    parts: Arc<[Part]>,
    /// How many of `parts` are box parts (the rest are scores).
    box_parts: usize,
}

impl OrtModel {
    /// Loads `onnx` into an ONNX Runtime session and checks its input and
    /// outputs against the manifest.
    pub(crate) fn load(
        onnx: &Path,
        manifest: &Manifest,
        manifest_path: &Path,
        options: &LoadOptions,
    ) -> Result<OrtModel, ModelError> {
        let at = Loading { onnx, manifest_path };
        library()?;
        let bytes: Arc<[u8]> = at.bytes()?.into();
        if options.precision != Precision::F32 && options.provider != ExecutionProvider::Tensorrt {
            log::warn!(
                "--precision {}: ONNX Runtime runs the types of the model file on {} (only TensorRT \
                 casts to f16 itself); running in f32",
                crate::model::value_name(&options.precision),
                options.provider
            );
        }
        let (session, provider) = match options.provider {
            ExecutionProvider::Cpu => (session(&bytes, options, None).map_err(|e| at.load_err(e))?, options.provider),
            asked => match session(&bytes, options, Some(asked)) {
                Ok(s) => (s, asked),
                Err(e) => {
                    log::warn!("ONNX Runtime: --ep {asked} is not usable ({e}); running on the CPU");
                    let s = session(&bytes, options, None).map_err(|e| at.load_err(e))?;
                    (s, ExecutionProvider::Cpu)
                }
            },
        };
        let input_shape = input_shape_of(manifest);
        let input_name = check_input(session.inputs(), input_shape, manifest).map_err(|m| at.mismatch(m))?;
        let specs: Vec<&OutputSpec> = manifest.outputs.boxes.0.iter().chain(&manifest.outputs.scores.0).collect();
        let parts = specs
            .iter()
            .map(|spec| check_output(session.outputs(), spec).map_err(|m| at.mismatch(m)))
            .collect::<Result<Vec<Part>, _>>()?;
        check_rows(&parts, manifest).map_err(|m| at.mismatch(m))?;
        let len = input_shape.iter().product();
        Ok(OrtModel {
            session,
            bytes,
            options: *options,
            provider,
            input: vec![0.0; len],
            input_shape,
            input_name,
            parts: parts.into(),
            box_parts: manifest.outputs.boxes.0.len(),
        })
    }

    /// A second session of the same file on the provider the first one got.
    pub(crate) fn fork(&self) -> Result<OrtModel, ModelError> {
        let provider = Some(self.provider).filter(|p| *p != ExecutionProvider::Cpu);
        let session = session(&self.bytes, &self.options, provider).map_err(ModelError::Run)?;
        Ok(OrtModel {
            session,
            bytes: Arc::clone(&self.bytes),
            options: self.options,
            provider: self.provider,
            input: vec![0.0; self.input.len()],
            input_shape: self.input_shape,
            input_name: self.input_name.clone(),
            parts: Arc::clone(&self.parts),
            box_parts: self.box_parts,
        })
    }

    pub(crate) fn input_shape(&self) -> [usize; 4] {
        self.input_shape
    }

    pub(crate) fn input_mut(&mut self) -> &mut [f32] {
        &mut self.input
    }

    /// Runs the session on the input buffer and joins the output parts.
    pub(crate) fn run(&mut self) -> Result<RawOutputs, ModelError> {
        let run = |e: ort::Error| ModelError::Run(first_line(e));
        let tensor = TensorRef::from_array_view((self.input_shape, &self.input[..])).map_err(run)?;
        let outputs = self.session.run(ort::inputs![self.input_name.as_str() => tensor]).map_err(run)?;
        // Each head's size is known from its parts: one allocation each, no regrowth.
        let values = |parts: &[Part]| parts.iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>();
        let (box_parts, score_parts) = self.parts.split_at(self.box_parts);
        let mut heads = [Vec::with_capacity(values(box_parts)), Vec::with_capacity(values(score_parts))];
        for (i, part) in self.parts.iter().enumerate() {
            let value = outputs
                .get(&part.name)
                .ok_or_else(|| ModelError::Run(format!("ONNX Runtime gave no output '{}'", part.name)))?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(run)?;
            if !shape.iter().map(|&d| usize::try_from(d).ok()).eq(part.shape.iter().map(|&d| Some(d))) {
                return Err(ModelError::Run(format!(
                    "output '{}' came out {:?}, the manifest says {:?}",
                    part.name,
                    &shape[..],
                    part.shape
                )));
            }
            append_rows(&mut heads[usize::from(i >= self.box_parts)], part, data);
        }
        let [boxes, scores] = heads;
        Ok(RawOutputs::host(boxes, scores))
    }

    pub(crate) fn engine(&self) -> EngineInfo {
        let (library, version) = LIBRARY
            .get()
            .and_then(|l| l.as_ref().ok())
            .map_or((None, String::new()), |(p, v)| (Some(p.clone()), v.clone()));
        EngineInfo { backend: Backend::Onnxruntime, version, provider: self.provider, library, chosen: None }
    }
}

/// A session on the CPU, or on `provider` (an error if the library lacks it
/// or it fails to start).
fn session(bytes: &[u8], options: &LoadOptions, provider: Option<ExecutionProvider>) -> Result<Session, String> {
    let mut builder = Session::builder()
        .map_err(first_line)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(first_line)?
        .with_intra_threads(options.threads.max(1))
        .map_err(first_line)?
        .with_inter_threads(1)
        .map_err(first_line)?;
    if let Some(provider) = provider {
        builder = builder.with_execution_providers([dispatch(provider, options.precision)?]).map_err(first_line)?;
    }
    builder.commit_from_memory(bytes).map_err(first_line)
}

/// The `ort` provider for `provider`, when the loaded library has it.
fn dispatch(provider: ExecutionProvider, precision: Precision) -> Result<ExecutionProviderDispatch, String> {
    let f16 = precision != Precision::F32;
    let (available, dispatch) = match provider {
        ExecutionProvider::Cpu => return Ok(ep::CPU::default().build()),
        ExecutionProvider::Cuda => (ep::CUDA::default().is_available(), ep::CUDA::default().build()),
        ExecutionProvider::Tensorrt => {
            let trt = ep::TensorRT::default().with_fp16(f16);
            (trt.is_available(), trt.build())
        }
        ExecutionProvider::Xnnpack => (ep::XNNPACK::default().is_available(), ep::XNNPACK::default().build()),
        ExecutionProvider::Openvino => (ep::OpenVINO::default().is_available(), ep::OpenVINO::default().build()),
    };
    if !available.map_err(first_line)? {
        return Err("the loaded library was built without it".into());
    }
    Ok(dispatch.error_on_failure())
}

/// Whether a declared shape (-1 for a free axis) can hold `want`.
fn fits(declared: Option<&ort::value::Shape>, want: &[usize]) -> bool {
    declared.is_none_or(|d| {
        d.len() == want.len() && d.iter().zip(want).all(|(&d, &w)| d < 0 || usize::try_from(d).is_ok_and(|d| d == w))
    })
}

/// The graph's one f32 input, whose shape can take the manifest's: its name.
fn check_input(inputs: &[Outlet], want: [usize; 4], manifest: &Manifest) -> Result<String, String> {
    let [input] = inputs else {
        return Err(format!("the graph has {} inputs, ssd-cam feeds exactly 1", inputs.len()));
    };
    let ty = input.dtype();
    if ty.tensor_type() != Some(TensorElementType::Float32) {
        return Err(format!("graph input '{}' is {ty}, not an f32 tensor", input.name()));
    }
    if !fits(ty.tensor_shape(), &want) {
        return Err(format!(
            "graph input shape is {:?} but manifest input (layout {:?}, {}x{}) gives {want:?}",
            ty.tensor_shape().map(|s| s.to_vec()),
            manifest.input.layout,
            manifest.input.width,
            manifest.input.height
        ));
    }
    Ok(input.name().to_owned())
}

/// The graph output the manifest names, with a shape and type that agree.
fn check_output(outputs: &[Outlet], spec: &OutputSpec) -> Result<Part, String> {
    let Some(output) = outputs.iter().find(|o| o.name() == spec.name) else {
        let names: Vec<&str> = outputs.iter().map(Outlet::name).collect();
        return Err(format!(
            "the graph has no output named '{}' (manifest outputs.*.name; ONNX Runtime reads the graph's outputs: {})",
            spec.name,
            names.join(", ")
        ));
    };
    let ty = output.dtype();
    if ty.tensor_type() != Some(TensorElementType::Float32) {
        return Err(format!("output '{}' is {ty}, not f32", spec.name));
    }
    if !fits(ty.tensor_shape(), &spec.shape) {
        return Err(format!(
            "output '{}' has shape {:?} but the manifest says {:?}",
            spec.name,
            ty.tensor_shape().map(|s| s.to_vec()),
            spec.shape
        ));
    }
    let nchw = spec.layout == Some(Layout::Nchw);
    if nchw && spec.shape.len() != 4 {
        return Err(format!("output '{}' is nchw but has shape {:?}", spec.name, spec.shape));
    }
    Ok(Part { name: spec.name.clone(), shape: spec.shape.clone(), nchw })
}

/// Each part divides into whole rows of its head.
fn check_rows(parts: &[Part], manifest: &Manifest) -> Result<(), String> {
    let boxes = manifest.outputs.boxes.0.len();
    for (i, part) in parts.iter().enumerate() {
        let k = if i < boxes { manifest.outputs.box_row() } else { manifest.num_classes() };
        let len: usize = part.shape.iter().product();
        if k == 0 || !len.is_multiple_of(k) {
            return Err(format!("output '{}' of shape {:?} is not rows of {k}", part.name, part.shape));
        }
    }
    Ok(())
}

/// Appends one output part to its head as channels-last rows: what tract's
/// graph join does (`join_head` in model.rs), here on the host.
fn append_rows(head: &mut Vec<f32>, part: &Part, data: &[f32]) {
    match part.shape.as_slice() {
        &[_, c, h, w] if part.nchw => {
            head.reserve(data.len());
            for y in 0..h {
                for x in 0..w {
                    head.extend((0..c).map(|ch| data[(ch * h + y) * w + x]));
                }
            }
        }
        _ => head.extend_from_slice(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nchw_part_becomes_channels_last_rows_and_others_stay_as_they_are() {
        let part = Part { name: "p".into(), shape: vec![1, 2, 1, 3], nchw: true };
        // Channel 0: 0 1 2; channel 1: 10 11 12.
        let mut head = vec![-1.0];
        append_rows(&mut head, &part, &[0.0, 1.0, 2.0, 10.0, 11.0, 12.0]);
        assert_eq!(head, [-1.0, 0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        let flat = Part { name: "q".into(), shape: vec![1, 3, 2], nchw: false };
        append_rows(&mut head, &flat, &[5.0, 6.0, 7.0, 8.0, 9.0, 4.0]);
        assert_eq!(head[7..], [5.0, 6.0, 7.0, 8.0, 9.0, 4.0]);
    }

    #[test]
    fn a_library_older_than_the_api_ort_needs_is_refused() {
        assert!(new_enough("1.28.0", 17));
        assert!(new_enough("1.17.3", 17));
        assert!(!new_enough("1.16.3", 17));
        assert!(new_enough("2.0.0", 17));
        assert!(!new_enough("", 17));
        assert!(!new_enough("garbage", 17));
    }

    #[test]
    fn libraries_in_a_folder_come_unversioned_first_then_newest_first() {
        let dir = std::env::temp_dir().join(format!("ssd-ort-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(libraries_in(&dir).is_empty());
        for name in ["libonnxruntime.so.1.9.0", "libonnxruntime.so.1.28.0", "libonnxruntime.so", "other.so"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let names: Vec<String> =
            libraries_in(&dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["libonnxruntime.so", "libonnxruntime.so.1.28.0", "libonnxruntime.so.1.9.0"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_onnx_runtime_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("ssd-ort-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").unwrap();
        let e = probe(&fake).unwrap_err();
        assert!(e.contains("libonnxruntime.so"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_free_axis_fits_any_size_and_a_fixed_one_only_its_own() {
        let free = ort::value::Shape::new([-1, -1, 4]);
        assert!(fits(Some(&free), &[1, 1917, 4]));
        assert!(!fits(Some(&free), &[1, 1917, 5]));
        assert!(!fits(Some(&free), &[1917, 4]));
        assert!(fits(None, &[1, 2]));
    }
}
