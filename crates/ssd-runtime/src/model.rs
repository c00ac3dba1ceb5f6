//! The network: loads an ONNX file, checks its input and outputs against the
//! manifest and runs it frame after frame with one reused input buffer. The
//! engine is a [`Backend`]: tract (the default: pure Rust, tuned for ARM)
//! fixes the input, joins the output parts in the graph and optimises once;
//! ONNX Runtime (feature `onnxruntime`, src/onnxruntime.rs) runs the same file
//! and manifest where it is faster. Everything after `run` is the same for both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use ssd_core::manifest::{Layout, Manifest, OutputSpec};
use tract_onnx::tract_core::ops::array::TypedConcat;
use tract_onnx::tract_core::ops::change_axes::AxisOp;

/// Errors loading or running a model. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The ONNX file could not be read or parsed.
    #[error("cannot load model {path}: {message}")]
    Load {
        /// The ONNX path.
        path: PathBuf,
        /// What tract or the OS said.
        message: String,
    },
    /// The graph and the manifest disagree.
    #[error("model {onnx} does not match manifest {manifest}: {message}")]
    Mismatch {
        /// The ONNX path.
        onnx: PathBuf,
        /// The manifest path.
        manifest: PathBuf,
        /// Both sides of the disagreement.
        message: String,
    },
    /// The engine failed while running the network.
    #[error("inference failed: {0}")]
    Run(String),
    /// `--backend onnxruntime` in a build without it.
    #[error("this ssd-cam was built without the ONNX Runtime backend; build it with `--features onnxruntime` or run with --backend tract")]
    NoBackend,
    /// The ONNX Runtime library could not be loaded.
    #[error("cannot load ONNX Runtime: {0}")]
    Library(String),
}

/// Largest ONNX file accepted; far above any SSD, far below a mistaken video file.
const MAX_MODEL_BYTES: u64 = 2 << 30;

/// Arithmetic the network runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Precision {
    /// 32-bit floats everywhere.
    #[default]
    F32,
    /// Weights and activations in 16-bit floats (tract's f32→f16 transform),
    /// for ARM CPUs with fp16 arithmetic (Cortex-A55/A75/A76 and later: Pi 5,
    /// Jetson Orin). Input and outputs stay f32 at the model's edges.
    F16,
    /// f16 even on a CPU without fp16 arithmetic, emulated and slow: to check
    /// a model's f16 accuracy on a desktop before deploying it.
    F16Emulated,
}

/// The engine `--backend auto` runs a model on, and why: ONNX Runtime when
/// `--ep` names one of its providers, or on an x86-64 CPU when its library
/// loads (there it runs the person pipeline two to three times as fast as
/// tract, BENCHMARKS.md); tract for f16 on the CPU (its own transform), on
/// ARM (tuned for it, and ONNX Runtime not measured faster there), and
/// wherever ONNX Runtime is absent.
pub fn auto_backend(options: &LoadOptions) -> (Backend, String) {
    if options.provider != ExecutionProvider::Cpu {
        return (Backend::Onnxruntime, format!("--ep {} is ONNX Runtime's", options.provider));
    }
    if options.precision != Precision::F32 {
        return (Backend::Tract, "f16 on the CPU is tract's".into());
    }
    if !cfg!(target_arch = "x86_64") {
        return (Backend::Tract, "tract, the engine tuned for ARM CPUs".into());
    }
    #[cfg(feature = "onnxruntime")]
    {
        match crate::onnxruntime::available() {
            Ok((path, version)) => (
                Backend::Onnxruntime,
                format!("ONNX Runtime {version} from {}, faster than tract on x86-64", path.display()),
            ),
            Err(e) => (Backend::Tract, format!("tract: no ONNX Runtime here ({e})")),
        }
    }
    #[cfg(not(feature = "onnxruntime"))]
    (Backend::Tract, "tract: this build has no ONNX Runtime (feature `onnxruntime`)".into())
}

/// Whether this CPU runs f16 arithmetic natively (tract's own check).
pub fn cpu_has_fp16() -> bool {
    tract_linalg::has_fp16()
}

/// Which engine runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// ONNX Runtime where it is the faster engine (x86-64 CPUs, and any
    /// GPU `--ep` names) and its library loads; tract otherwise.
    #[default]
    Auto,
    /// tract: pure Rust, in every build, tuned for ARM CPUs.
    Tract,
    /// ONNX Runtime, loaded at run time (`ORT_DYLIB_PATH`, beside the binary,
    /// or the system's); needs a build with the `onnxruntime` feature.
    Onnxruntime,
}

/// ONNX Runtime's execution provider: where it runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    /// Its own CPU kernels (MLAS): every library has them.
    #[default]
    Cpu,
    /// NVIDIA GPUs (desktop, Jetson) through CUDA.
    Cuda,
    /// NVIDIA GPUs through TensorRT (engines built at load: slow first start).
    Tensorrt,
    /// XNNPACK's CPU kernels (ARM and x86).
    Xnnpack,
    /// Intel CPUs, GPUs and NPUs through OpenVINO.
    Openvino,
}

/// A flag value as the command line spells it (`onnxruntime`, `cuda`, `f16`).
pub fn value_name(v: &impl clap::ValueEnum) -> String {
    v.to_possible_value().map_or_else(String::new, |v| v.get_name().to_owned())
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&value_name(self))
    }
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// How a model is loaded: the engine and what it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadOptions {
    /// The engine.
    pub backend: Backend,
    /// Arithmetic.
    pub precision: Precision,
    /// ONNX Runtime's execution provider (tract ignores it).
    pub provider: ExecutionProvider,
    /// Threads per inference worker. tract's kernels share one process-wide
    /// pool ([`set_threads`]); ONNX Runtime gets them per session.
    pub threads: usize,
}

/// The engine that ended up running a model, for logs and `bench`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct EngineInfo {
    /// `tract` or `onnxruntime`.
    pub backend: Backend,
    /// The engine's version (ONNX Runtime's is the loaded library's).
    pub version: String,
    /// The provider that runs it (`cpu` for tract).
    pub provider: ExecutionProvider,
    /// The library file (ONNX Runtime only).
    pub library: Option<PathBuf>,
    /// Why `--backend auto` chose it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

/// The tract version this build runs (Cargo.toml pins it).
const TRACT_VERSION: &str = "0.23.9";

/// A loaded network with its per-thread state, on either engine.
pub struct Model {
    engine: Engine,
    /// Why `--backend auto` chose the engine.
    chosen: Option<String>,
}

enum Engine {
    Tract(TractModel),
    #[cfg(feature = "onnxruntime")]
    Ort(crate::onnxruntime::OrtModel),
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("input_shape", &self.input_shape()).finish_non_exhaustive()
    }
}

impl Model {
    /// Loads `onnx` with tract, checks it against `manifest` (read from
    /// `manifest_path`) and optimises it.
    pub fn load(onnx: &Path, manifest: &Manifest, manifest_path: &Path) -> Result<Model, ModelError> {
        Self::load_with(onnx, manifest, manifest_path, Precision::F32)
    }

    /// [`Model::load`] in the given precision. `F16` on a CPU without fp16
    /// arithmetic logs a warning and runs in f32: emulated f16 is slower
    /// than f32, never faster.
    pub fn load_with(
        onnx: &Path,
        manifest: &Manifest,
        manifest_path: &Path,
        precision: Precision,
    ) -> Result<Model, ModelError> {
        Self::load_on(onnx, manifest, manifest_path, &LoadOptions { precision, ..LoadOptions::default() })
    }

    /// Loads `onnx` on the engine `options` name.
    pub fn load_on(
        onnx: &Path,
        manifest: &Manifest,
        manifest_path: &Path,
        options: &LoadOptions,
    ) -> Result<Model, ModelError> {
        let (backend, chosen) = match options.backend {
            Backend::Auto => {
                let (backend, why) = auto_backend(options);
                (backend, Some(why))
            }
            chosen => (chosen, None),
        };
        let engine = match backend {
            Backend::Tract | Backend::Auto => {
                Engine::Tract(TractModel::load_with(onnx, manifest, manifest_path, options.precision)?)
            }
            #[cfg(feature = "onnxruntime")]
            Backend::Onnxruntime => match crate::onnxruntime::OrtModel::load(onnx, manifest, manifest_path, options) {
                Ok(model) => Engine::Ort(model),
                Err(e) if options.backend == Backend::Auto => {
                    let why = format!("ONNX Runtime could not load the model ({e}); tract runs it");
                    log::warn!("--backend auto: {why}");
                    let tract = TractModel::load_with(onnx, manifest, manifest_path, options.precision)?;
                    return Ok(Model { engine: Engine::Tract(tract), chosen: Some(why) });
                }
                Err(e) => return Err(e),
            },
            #[cfg(not(feature = "onnxruntime"))]
            Backend::Onnxruntime => return Err(ModelError::NoBackend),
        };
        Ok(Model { engine, chosen })
    }

    /// Another state of the same network, for a second inference worker.
    pub fn fork(&self) -> Result<Model, ModelError> {
        let engine = match &self.engine {
            Engine::Tract(m) => Engine::Tract(m.fork()?),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => Engine::Ort(m.fork()?),
        };
        Ok(Model { engine, chosen: self.chosen.clone() })
    }

    /// Shape of the input tensor.
    pub fn input_shape(&self) -> [usize; 4] {
        match &self.engine {
            Engine::Tract(m) => m.input_shape,
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => m.input_shape(),
        }
    }

    /// The input tensor's values, to be filled by preprocessing: the same
    /// buffer from frame to frame (unless tract kept a reference to it).
    pub fn input_mut(&mut self) -> Result<&mut [f32], ModelError> {
        match &mut self.engine {
            Engine::Tract(m) => m.input_mut(),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => Ok(m.input_mut()),
        }
    }

    /// How many times a new input tensor had to be allocated (0 in steady state).
    pub fn fresh_input_allocations(&self) -> u64 {
        match &self.engine {
            Engine::Tract(m) => m.fresh_inputs,
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => 0,
        }
    }

    /// Runs the network on the current input.
    pub fn run(&mut self) -> Result<RawOutputs, ModelError> {
        match &mut self.engine {
            Engine::Tract(m) => m.run(),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => m.run(),
        }
    }

    /// The engine running it.
    pub fn engine(&self) -> EngineInfo {
        let info = match &self.engine {
            Engine::Tract(_) => EngineInfo {
                backend: Backend::Tract,
                version: TRACT_VERSION.into(),
                provider: ExecutionProvider::Cpu,
                library: None,
                chosen: None,
            },
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(m) => m.engine(),
        };
        EngineInfo { chosen: self.chosen.clone(), ..info }
    }

    /// The optimised plan in execution order, for `ssd-cam inspect --plan`
    /// (tract's; empty on ONNX Runtime, whose plan is its own).
    pub fn plan(&self) -> Vec<PlanNode> {
        match &self.engine {
            Engine::Tract(m) => m.plan(),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => Vec::new(),
        }
    }

    /// Runs the network `runs` times on the current input, timing every
    /// node (tract only): the time per operation kind and per node, largest first.
    pub fn profile(&mut self, runs: u32) -> Result<(Vec<OpTime>, Vec<NodeTime>), ModelError> {
        match &mut self.engine {
            Engine::Tract(m) => m.profile(runs),
            #[cfg(feature = "onnxruntime")]
            Engine::Ort(_) => {
                Err(ModelError::Run("--profile times tract's operations; run it with --backend tract".into()))
            }
        }
    }
}

/// A network loaded, optimised by tract, and its per-thread state.
struct TractModel {
    state: TypedSimpleState,
    f16: bool,
    input: Arc<Tensor>,
    input_shape: [usize; 4],
    input_node: usize,
    fresh_inputs: u64,
}

/// What one inference produced: box offsets `[P·4]` and class scores `[P·C]`.
#[derive(Debug)]
pub struct RawOutputs {
    boxes: Head,
    scores: Head,
}

/// One joined head: tract's tensor as it is, or rows joined on the host.
#[derive(Debug)]
enum Head {
    Tract(TValue),
    #[cfg_attr(not(feature = "onnxruntime"), allow(dead_code))]
    Host(Vec<f32>),
}

impl RawOutputs {
    /// Outputs joined outside tract (ONNX Runtime's).
    #[cfg_attr(not(feature = "onnxruntime"), allow(dead_code))]
    pub(crate) fn host(boxes: Vec<f32>, scores: Vec<f32>) -> RawOutputs {
        RawOutputs { boxes: Head::Host(boxes), scores: Head::Host(scores) }
    }

    /// Both outputs as flat f32 slices.
    pub fn slices(&self) -> Result<(&[f32], &[f32]), ModelError> {
        Ok((self.boxes.view("box")?, self.scores.view("score")?))
    }
}

impl Head {
    fn view(&self, what: &str) -> Result<&[f32], ModelError> {
        match self {
            Head::Tract(t) => f32_view(t, what),
            Head::Host(v) => Ok(v.as_slice()),
        }
    }
}

fn f32_view<'a>(t: &'a TValue, what: &str) -> Result<&'a [f32], ModelError> {
    t.try_as_plain_ram().and_then(|v| v.as_slice::<f32>()).map_err(|e| ModelError::Run(format!("{what} output: {e}")))
}

/// Makes tract's matrix kernels use `threads` threads (1 = single-threaded).
/// Process-wide; call once before models run.
pub fn set_threads(threads: usize) {
    use tract_linalg::multithread::{set_default_executor, Executor};
    if threads > 1 {
        set_default_executor(Executor::multithread(threads));
    } else {
        set_default_executor(Executor::SingleThread);
    }
}

/// The files a model is loaded from, for the errors that name them.
pub(crate) struct Loading<'a> {
    pub(crate) onnx: &'a Path,
    pub(crate) manifest_path: &'a Path,
}

impl Loading<'_> {
    pub(crate) fn load_err(&self, message: impl ToString) -> ModelError {
        ModelError::Load { path: self.onnx.to_owned(), message: message.to_string() }
    }

    pub(crate) fn mismatch(&self, message: String) -> ModelError {
        ModelError::Mismatch { onnx: self.onnx.to_owned(), manifest: self.manifest_path.to_owned(), message }
    }

    /// The file's bytes, refusing sizes no SSD has before reading.
    pub(crate) fn bytes(&self) -> Result<Vec<u8>, ModelError> {
        let meta = std::fs::metadata(self.onnx).map_err(|e| self.load_err(e))?;
        if meta.len() > MAX_MODEL_BYTES {
            return Err(self.load_err(format!("{} bytes is more than any SSD needs", meta.len())));
        }
        std::fs::read(self.onnx).map_err(|e| self.load_err(e))
    }

    /// Reads and parses the file.
    fn read(&self) -> Result<InferenceModel, ModelError> {
        let bytes = self.bytes()?;
        read_onnx(&bytes).map_err(|e| self.load_err(format!("not a readable ONNX model ({})", first_line(&e))))
    }

    /// One input whose declared rank and known dimensions agree with the
    /// manifest's input.
    fn check_input(&self, model: &InferenceModel, manifest: &Manifest, want: [usize; 4]) -> Result<(), ModelError> {
        let inputs = model.input_outlets().map_err(|e| self.load_err(e))?.len();
        if inputs != 1 {
            return Err(self.mismatch(format!("the graph has {inputs} inputs, ssd-cam feeds exactly 1")));
        }
        let declared = model.input_fact(0).map_err(|e| self.load_err(e))?;
        if let Some(rank) = declared.shape.rank().concretize() {
            if rank != 4 {
                return Err(self.mismatch(format!("graph input has rank {rank}, manifest input.layout needs {want:?}")));
            }
        }
        for (axis, w) in want.iter().enumerate() {
            let dim = declared.shape.dim(axis).and_then(|d| d.concretize());
            if dim.and_then(|d| d.to_usize().ok()).is_some_and(|d| d != *w) {
                return Err(self.mismatch(format!(
                    "graph input shape is {:?} but manifest input (layout {:?}, {}x{}) gives {want:?}",
                    declared.shape, manifest.input.layout, manifest.input.width, manifest.input.height
                )));
            }
        }
        Ok(())
    }

    /// Checks each output part's shape and type against the manifest, then
    /// joins the parts into the two heads the decoder reads.
    fn join_outputs(
        &self,
        typed: &mut TypedModel,
        manifest: &Manifest,
        parts: &[&OutputSpec],
    ) -> Result<(), ModelError> {
        let outlets = typed.output_outlets().map_err(|e| self.load_err(e))?.to_vec();
        for (outlet, spec) in outlets.iter().zip(parts) {
            let fact = typed.outlet_fact(*outlet).map_err(|e| self.load_err(e))?;
            let shape: Option<Vec<usize>> = fact.shape.as_concrete().map(|s| s.to_vec());
            if shape.as_deref() != Some(spec.shape.as_slice()) {
                return Err(self.mismatch(format!(
                    "output '{}' has shape {:?} but the manifest says {:?}",
                    spec.name, fact.shape, spec.shape
                )));
            }
            if fact.datum_type != f32::datum_type() {
                return Err(self.mismatch(format!("output '{}' is {:?}, not f32", spec.name, fact.datum_type)));
            }
        }
        let outputs = &manifest.outputs;
        let nb = outputs.boxes.0.len();
        let heads = [
            join_head(typed, "boxes", &outlets[..nb], &outputs.boxes.0, outputs.box_row()),
            join_head(typed, "scores", &outlets[nb..], &outputs.scores.0, manifest.num_classes()),
        ];
        let heads = heads
            .into_iter()
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| self.mismatch(format!("cannot join the output parts: {}", first_line(&e))))?;
        typed.select_output_outlets(&heads).map_err(|e| self.load_err(e))
    }
}

/// Whether to run in f16: asked for and (unless emulated) the CPU has it.
fn wants_f16(precision: Precision) -> bool {
    match precision {
        Precision::F32 => false,
        Precision::F16Emulated => true,
        Precision::F16 => {
            let native = cpu_has_fp16();
            if !native {
                log::warn!("--precision f16: this CPU has no fp16 arithmetic; running in f32");
            }
            native
        }
    }
}

/// The input tensor's shape the manifest describes (batch 1).
pub fn input_shape_of(m: &Manifest) -> [usize; 4] {
    let (w, h) = (m.input.width as usize, m.input.height as usize);
    match m.input.layout {
        Layout::Nchw => [1, 3, h, w],
        Layout::Nhwc => [1, h, w, 3],
    }
}

impl TractModel {
    /// Loads `onnx` with tract in `precision`.
    fn load_with(
        onnx: &Path,
        manifest: &Manifest,
        manifest_path: &Path,
        precision: Precision,
    ) -> Result<TractModel, ModelError> {
        let at = Loading { onnx, manifest_path };
        let mut model = at.read()?;
        let input_shape = input_shape_of(manifest);
        at.check_input(&model, manifest, input_shape)?;
        let parts: Vec<&OutputSpec> = manifest.outputs.boxes.0.iter().chain(&manifest.outputs.scores.0).collect();
        let outlets = parts
            .iter()
            .map(|o| {
                model
                    .find_outlet_label(&o.name)
                    .or_else(|| model.node_by_name(&o.name).ok().map(|n| OutletId::new(n.id, 0)))
                    .ok_or_else(|| {
                        at.mismatch(format!("the graph has no output named '{}' (manifest outputs.*.name)", o.name))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        model.select_output_outlets(&outlets).map_err(|e| at.load_err(e))?;
        let model = model.with_input_fact(0, f32::fact(input_shape).into()).map_err(|e| at.load_err(e))?;
        let mut typed = model
            .into_typed()
            .map_err(|e| at.mismatch(format!("the graph cannot run on input {input_shape:?}: {}", first_line(&e))))?;
        at.join_outputs(&mut typed, manifest, &parts)?;
        let f16 = wants_f16(precision);
        if f16 {
            let transform = tract_onnx::tract_core::transform::get_transform("f32_to_f16")
                .and_then(|t| t.ok_or_else(|| anyhow::anyhow!("tract has no f32_to_f16 transform")))
                .map_err(|e| at.load_err(first_line(&e)))?;
            typed = transform.transform_into(typed).map_err(|e| at.load_err(format!("f16: {}", first_line(&e))))?;
        }
        let runnable = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| at.load_err(format!("cannot optimise: {}", first_line(&e))))?;
        let input_node = runnable.model().input_outlets().map_err(|e| at.load_err(e))?[0].node;
        let state = runnable.spawn().map_err(|e| at.load_err(e))?;
        let input = Arc::new(Tensor::zero::<f32>(&input_shape).map_err(|e| at.load_err(e))?);
        Ok(TractModel { state, f16, input, input_shape, input_node, fresh_inputs: 0 })
    }

    /// Another state of the same optimised network, for a second inference
    /// worker: plan and weights are shared, inputs and intermediate values
    /// are its own.
    fn fork(&self) -> Result<TractModel, ModelError> {
        let state = self.state.plan().spawn().map_err(|e| ModelError::Run(first_line(&e)))?;
        let input = Arc::new(Tensor::zero::<f32>(&self.input_shape).map_err(|e| ModelError::Run(first_line(&e)))?);
        Ok(TractModel {
            state,
            f16: self.f16,
            input,
            input_shape: self.input_shape,
            input_node: self.input_node,
            fresh_inputs: 0,
        })
    }

    /// The input tensor's values: the same buffer from frame to frame
    /// unless tract kept a reference to it.
    fn input_mut(&mut self) -> Result<&mut [f32], ModelError> {
        if Arc::get_mut(&mut self.input).is_none() {
            self.fresh_inputs += 1;
            let t = Tensor::zero::<f32>(&self.input_shape).map_err(|e| ModelError::Run(e.to_string()))?;
            self.input = Arc::new(t);
        }
        let t = Arc::get_mut(&mut self.input).ok_or_else(|| ModelError::Run("input tensor is shared".into()))?;
        t.to_plain_array_view_mut::<f32>()
            .map_err(|e| ModelError::Run(e.to_string()))?
            .into_slice()
            .ok_or_else(|| ModelError::Run("input tensor is not contiguous".into()))
    }

    /// The input tensor as tract takes it (cast to f16 when running in f16).
    fn input_value(&self) -> Result<TValue, ModelError> {
        if self.f16 {
            Ok(self.input.cast_to::<f16>().map_err(|e| ModelError::Run(first_line(&e)))?.into_owned().into_tvalue())
        } else {
            Ok(TValue::from_const(Arc::clone(&self.input)))
        }
    }

    /// tract clears the values of the nodes it ran, but an input the
    /// optimised plan no longer reads stays referenced; releasing it lets the
    /// next frame be written into the same buffer.
    fn release_input(&mut self) {
        if let Some(slot) = self.state.turn_state.values.get_mut(self.input_node) {
            *slot = None;
        }
    }

    /// Runs the network on the current input tensor.
    fn run(&mut self) -> Result<RawOutputs, ModelError> {
        let input = self.input_value()?;
        let mut out = self.state.run(tvec![input]).map_err(|e| ModelError::Run(first_line(&e)))?;
        self.release_input();
        if out.len() != 2 {
            return Err(ModelError::Run(format!("expected 2 outputs, got {}", out.len())));
        }
        let (mut scores, mut boxes) = (out.remove(1), out.remove(0));
        if self.f16 {
            let to_f32 = |t: TValue| -> Result<TValue, ModelError> {
                Ok(t.cast_to::<f32>().map_err(|e| ModelError::Run(first_line(&e)))?.into_owned().into_tvalue())
            };
            boxes = to_f32(boxes)?;
            scores = to_f32(scores)?;
        }
        Ok(RawOutputs { boxes: Head::Tract(boxes), scores: Head::Tract(scores) })
    }
}

/// Time spent in one kind of operation over a profiled run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpTime {
    /// tract's operation name (after optimisation), e.g. `Conv`, `MatMul`.
    pub op: String,
    /// Nodes of that kind in the plan.
    pub nodes: usize,
    /// Mean milliseconds per run, all those nodes together.
    pub ms: f64,
}

/// Time spent in one node of the plan over a profiled run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeTime {
    /// The node's name in the graph.
    pub name: String,
    /// Its operation.
    pub op: String,
    /// Mean milliseconds per run.
    pub ms: f64,
}

/// One node of the optimised plan: how tract lowered a part of the graph.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlanNode {
    /// The node's name (from the ONNX graph, with tract's suffixes).
    pub name: String,
    /// tract's operation after optimisation, e.g. `OptMatMul`, `DepthWiseConv`.
    pub op: String,
    /// What tract reports about it: kernel choice, shapes, fused steps.
    pub info: Vec<String>,
    /// The output's shape and type.
    pub output: String,
}

impl TractModel {
    /// The optimised plan in execution order.
    fn plan(&self) -> Vec<PlanNode> {
        let plan = self.state.plan();
        let model = plan.model();
        plan.order_without_consts()
            .iter()
            .map(|&id| {
                let node = model.node(id);
                PlanNode {
                    name: node.name.clone(),
                    op: node.op().name().to_string(),
                    info: node.op().info().unwrap_or_default(),
                    output: node.outputs.first().map(|o| format!("{:?}", o.fact)).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Runs the network `runs` times on the current input, timing every node.
    fn profile(&mut self, runs: u32) -> Result<(Vec<OpTime>, Vec<NodeTime>), ModelError> {
        let mut per_node: std::collections::HashMap<usize, (String, String, f64)> = Default::default();
        for _ in 0..runs.max(1) {
            let input = self.input_value()?;
            self.state
                .run_plan_with_eval(tvec![input], |ctx, state, node, inputs| {
                    let started = std::time::Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(ctx, state, node, inputs);
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    per_node
                        .entry(node.id)
                        .or_insert_with(|| (node.name.clone(), node.op().name().to_string(), 0.0))
                        .2 += ms;
                    out
                })
                .map_err(|e| ModelError::Run(first_line(&e)))?;
            self.release_input();
        }
        let runs = f64::from(runs.max(1));
        let mut by_op: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
        let mut nodes: Vec<NodeTime> = Vec::with_capacity(per_node.len());
        for (name, op, ms) in per_node.into_values() {
            let entry = by_op.entry(op.clone()).or_default();
            entry.0 += 1;
            entry.1 += ms / runs;
            nodes.push(NodeTime { name, op, ms: ms / runs });
        }
        let mut ops: Vec<OpTime> = by_op.into_iter().map(|(op, (nodes, ms))| OpTime { op, nodes, ms }).collect();
        ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        nodes.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok((ops, nodes))
    }
}

/// Parses ONNX bytes into tract's inference model, after filling in the
/// `value` of every `ConstantOfShape` that leaves it to the default: ONNX
/// defines that default as a float32 zero, tract 0.23.9 makes it an f64 zero,
/// and the mixed types then fail to unify (TF-converted graphs such as
/// MediaPipe's BlazeFace build their padding this way).
pub fn read_onnx(bytes: &[u8]) -> TractResult<InferenceModel> {
    let onnx = tract_onnx::onnx();
    let mut proto = onnx.proto_model_for_read(&mut &*bytes)?;
    if let Some(graph) = proto.graph.as_mut() {
        check_graph(graph)?;
        default_constant_of_shape_to_f32(graph);
    }
    onnx.model_for_proto_model(&proto)
}

/// Refuses what tract 0.23.9 panics on instead of reporting: a graph output
/// that nothing in the graph produces (a map index), and raw tensor data of
/// a type it has no loader for (`unimplemented!`). Both found by
/// fuzz/fuzz_targets/model_load.rs.
fn check_graph(graph: &tract_onnx::pb::GraphProto) -> TractResult<()> {
    use tract_onnx::pb::tensor_proto::DataType;
    let produced: std::collections::HashSet<&str> = graph
        .input
        .iter()
        .map(|i| i.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
        .collect();
    if let Some(missing) = graph.output.iter().find(|o| !produced.contains(o.name.as_str())) {
        return Err(anyhow::anyhow!("graph output '{}' is produced by no node", missing.name));
    }
    const RAW_LOADABLE: &[DataType] = &[
        DataType::Uint8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Float16,
        DataType::Float,
        DataType::Double,
        DataType::Bool,
    ];
    let attrs = || graph.node.iter().flat_map(|n| &n.attribute);
    let tensors = graph.initializer.iter().chain(attrs().flat_map(|a| a.t.iter().chain(&a.tensors)));
    for t in tensors {
        let loadable = RAW_LOADABLE.iter().any(|&d| d as i32 == t.data_type);
        if !t.raw_data.is_empty() && !loadable {
            return Err(anyhow::anyhow!(
                "tensor '{}' has raw data of ONNX type {}, which tract cannot load",
                t.name,
                t.data_type
            ));
        }
    }
    for attr in attrs() {
        for sub in attr.g.iter().chain(&attr.graphs) {
            check_graph(sub)?;
        }
    }
    Ok(())
}

fn default_constant_of_shape_to_f32(graph: &mut tract_onnx::pb::GraphProto) {
    use tract_onnx::pb::{attribute_proto::AttributeType, tensor_proto::DataType, AttributeProto, TensorProto};
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            if let Some(g) = attr.g.as_mut() {
                default_constant_of_shape_to_f32(g);
            }
        }
        if node.op_type == "ConstantOfShape" && !node.attribute.iter().any(|a| a.name == "value") {
            node.attribute.push(AttributeProto {
                name: "value".into(),
                r#type: AttributeType::Tensor as i32,
                t: Some(TensorProto {
                    dims: vec![1],
                    data_type: DataType::Float as i32,
                    float_data: vec![0.0],
                    ..TensorProto::default()
                }),
                ..AttributeProto::default()
            });
        }
    }
}

/// Turns a head's parts into one `[1, P, k]` output: raw `nchw` heads are
/// moved to channels-last, every part is viewed as rows of `k` values, and
/// several parts are concatenated in the manifest's order. A single part
/// already shaped `[1, P, k]` is returned untouched.
fn join_head(
    model: &mut TypedModel,
    head: &str,
    outlets: &[OutletId],
    parts: &[OutputSpec],
    k: usize,
) -> TractResult<OutletId> {
    let mut rows = Vec::with_capacity(parts.len());
    for (i, (&outlet, part)) in outlets.iter().zip(parts).enumerate() {
        let mut o = outlet;
        let mut shape = part.shape.clone();
        if part.layout == Some(Layout::Nchw) {
            o = model.wire_node(format!("ssd_cam.{head}.{i}.channels_last"), AxisOp::Move(1, 3), &[o])?[0];
            shape = vec![shape[0], shape[2], shape[3], shape[1]];
        }
        let want = [1, shape.iter().product::<usize>() / k, k];
        if shape != want {
            let from: TVec<TDim> = shape.iter().map(|&d| d.to_dim()).collect();
            let to: TVec<TDim> = want.iter().map(|&d| d.to_dim()).collect();
            o = model.wire_node(format!("ssd_cam.{head}.{i}.rows"), AxisOp::Reshape(0, from, to), &[o])?[0];
        }
        rows.push(o);
    }
    match rows.as_slice() {
        [one] => Ok(*one),
        _ => Ok(model.wire_node(format!("ssd_cam.{head}.concat"), TypedConcat::new(1), &rows)?[0]),
    }
}

/// An engine error as one line: tract's carry a multi-line context chain,
/// ONNX Runtime's can span lines; the user gets the gist.
pub(crate) fn first_line(e: impl std::fmt::Display) -> String {
    // `{:#}` is an anyhow error's chain joined by ": " (a plain error's own text).
    format!("{e:#}").lines().next().unwrap_or_default().to_owned()
}
