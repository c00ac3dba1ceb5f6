//! `ssd-cam inspect MODEL`: what the ONNX graph declares, how the manifest
//! reads it, and whether the two fit, for someone bringing their own model.

use std::fmt::Write as _;
use std::path::Path;

use tract_onnx::prelude::*;

use crate::model::{Model, PlanNode};
use crate::model_search::locate_model;
use ssd_core::manifest::{Manifest, OutputParts};

/// One graph input or output as declared in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Outlet name (the ONNX value name).
    pub name: String,
    /// Shape and type as tract reads them, e.g. `1,3,300,300,F32`; `?` marks unknowns.
    pub fact: String,
}

/// The inputs and outputs an ONNX file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphInfo {
    /// Graph inputs.
    pub inputs: Vec<TensorInfo>,
    /// Graph outputs.
    pub outputs: Vec<TensorInfo>,
}

/// Reads the declared inputs and outputs of an ONNX file, without running
/// or optimising it.
pub fn graph_info(onnx: &Path) -> anyhow::Result<GraphInfo> {
    let bytes = std::fs::read(onnx).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", onnx.display()))?;
    let model = crate::model::read_onnx(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a readable ONNX model: {e}", onnx.display()))?;
    // Declared facts often leave output shapes open; typing the graph on its
    // declared input fills them in when it can.
    let typed = model.clone().into_typed().ok();
    let typed_fact = |output: usize| -> Option<String> {
        let t = typed.as_ref()?;
        let outlet = *t.output_outlets().ok()?.get(output)?;
        t.outlet_fact(outlet).ok().map(|f| format!("{f:?}"))
    };
    let name =
        |o: OutletId| model.outlet_label(o).map(str::to_owned).unwrap_or_else(|| model.node(o.node).name.clone());
    let declared = |o: OutletId| model.outlet_fact(o).map(|f| format!("{f:?}")).unwrap_or_else(|_| "?".into());
    let inputs = model.input_outlets()?.iter().map(|&o| TensorInfo { name: name(o), fact: declared(o) }).collect();
    let outputs = model
        .output_outlets()?
        .iter()
        .enumerate()
        .map(|(i, &o)| TensorInfo { name: name(o), fact: typed_fact(i).unwrap_or_else(|| declared(o)) })
        .collect();
    Ok(GraphInfo { inputs, outputs })
}

fn head(parts: &OutputParts, k: usize) -> String {
    let names: Vec<String> = parts
        .0
        .iter()
        .map(|p| {
            let layout = p.layout.map_or(String::new(), |l| format!(" {l:?}").to_lowercase());
            format!("{} {:?}{layout}", p.name, p.shape)
        })
        .collect();
    let rows: usize = parts.0.iter().filter_map(|p| p.rows(k).ok()).sum();
    format!("{} -> [1, {rows}, {k}]", names.join(" + "))
}

/// The report `ssd-cam inspect` prints, and whether the model fits its
/// manifest (`false` when something does not). With `plan`, the optimised
/// plan follows, one node per line.
pub fn report(model_arg: &str, plan: bool) -> anyhow::Result<(String, bool)> {
    let paths = locate_model(model_arg).map_err(anyhow::Error::msg)?;
    let graph = graph_info(&paths.onnx)?;
    let mut out = String::new();
    let size = std::fs::metadata(&paths.onnx).map(|m| m.len()).unwrap_or(0);
    writeln!(out, "model     {} ({size} bytes)", paths.onnx.display())?;
    for (what, list) in [("input ", &graph.inputs), ("output", &graph.outputs)] {
        for t in list {
            writeln!(out, "  graph {what} {:<24} {}", t.name, t.fact)?;
        }
    }
    let manifest = match Manifest::from_path(&paths.manifest) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "manifest  does not fit: {e}")?;
            writeln!(out, "  (ssd-cam needs a manifest beside the model; see the manifest reference in the README)")?;
            return Ok((out, false));
        }
    };
    let m = &manifest;
    writeln!(out, "manifest  {} ({})", paths.manifest.display(), m.name)?;
    let [(a, b), ..] = m.input.normalize.affine();
    writeln!(
        out,
        "  input    {} {}x{} {}, value = {a:.6}·pixel + {b:.3} (first channel)",
        m.input.name.as_deref().unwrap_or("(first input)"),
        m.input.width,
        m.input.height,
        format!("{:?} {:?}", m.input.layout, m.input.color).to_lowercase(),
    )?;
    let kind = serde_json::to_value(&m.priors).ok().and_then(|v| v["kind"].as_str().map(str::to_owned));
    let baked =
        if crate::baked_priors::builtin(&m.priors).is_some() { "baked in at build time" } else { "generated at start" };
    writeln!(
        out,
        "  priors   {} {}, {:?} per cell on maps {:?}, {baked}",
        m.priors.count(),
        kind.unwrap_or_default(),
        m.priors.boxes_per_cell(),
        m.priors.feature_maps()
    )?;
    let bc = &m.box_coding;
    writeln!(
        out,
        "  boxes    {} (4 box offsets{}), {}, variances {:?}{}",
        head(&m.outputs.boxes, m.outputs.box_row()),
        if m.outputs.keypoints > 0 { format!(" + {} keypoints", m.outputs.keypoints) } else { String::new() },
        format!("order {:?}, size {:?}", bc.order, bc.size).to_lowercase(),
        bc.variances,
        if bc.clip { ", clipped before NMS" } else { "" }
    )?;
    let bg = m.background_index.map_or("none".to_owned(), |i| format!("{i} ({})", m.labels[i]));
    writeln!(
        out,
        "  scores   {}, {}{}, {} labels, background {bg}",
        head(&m.outputs.scores, m.num_classes()),
        format!("{:?}", m.score_activation).to_lowercase(),
        m.score_clip.map_or(String::new(), |c| format!(" clipped to ±{c}")),
        m.num_classes()
    )?;
    let d = &m.defaults;
    writeln!(
        out,
        "  defaults score {} / NMS IoU {} / top {} per class / keep {}",
        d.score_threshold, d.nms_iou, d.top_k_per_class, d.keep_top_k
    )?;
    let used: Vec<&str> = m.outputs.boxes.0.iter().chain(&m.outputs.scores.0).map(|p| p.name.as_str()).collect();
    for t in graph.outputs.iter().filter(|t| !used.contains(&t.name.as_str())) {
        writeln!(out, "  note     graph output {} is not read", t.name)?;
    }
    let fits = match Model::load(&paths.onnx, m, &paths.manifest) {
        Ok(model) => {
            writeln!(out, "check     ok: the graph loads, its outputs match the manifest")?;
            if plan {
                write_plan(&mut out, &model.plan())?;
            }
            true
        }
        Err(e) => {
            writeln!(out, "check     does not fit: {e}")?;
            false
        }
    };
    Ok((out, fits))
}

/// The plan as `inspect --plan` prints it: nodes per operation, then every
/// node in execution order.
fn write_plan(out: &mut String, nodes: &[PlanNode]) -> std::fmt::Result {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for n in nodes {
        match kinds.iter_mut().find(|(op, _)| *op == n.op) {
            Some((_, count)) => *count += 1,
            None => kinds.push((&n.op, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let summary: Vec<String> = kinds.iter().map(|(op, count)| format!("{count} {op}")).collect();
    writeln!(out, "plan      {} nodes after tract's optimisation: {}", nodes.len(), summary.join(", "))?;
    for n in nodes {
        let info = if n.info.is_empty() { String::new() } else { format!(" [{}]", n.info.join("; ")) };
        writeln!(out, "  {:<22} {} -> {}{info}", n.op, n.name, n.output)?;
    }
    Ok(())
}
