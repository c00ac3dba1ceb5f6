"""What the Python probes and comparisons in benches/ share: an ONNX Runtime
session with ssd-cam's backend options, and the input shape ssd-cam feeds a
model. Imported by the scripts beside it (run as `python benches/X.py`)."""

import json
import os

import onnxruntime as ort


def session(model, threads=1, fixed=()):
    """`model` on the CPU provider as ssd-cam's ONNX Runtime backend runs it
    (all graph optimisations, `threads` intra-op threads, one inter-op
    thread, sequential), with each (name, size) of `fixed` fixing a named
    free axis."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    for name, size in fixed:
        options.add_free_dimension_override_by_name(name, size)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def manifest_shape(model):
    """The input shape the manifest beside `model` gives (graphs converted
    from TensorFlow leave batch and channels symbolic), or None."""
    path = os.path.splitext(model)[0] + ".json"
    if not os.path.exists(path):
        return None
    with open(path) as f:
        i = json.load(f)["input"]
    return [1, i["height"], i["width"], 3] if i["layout"] == "nhwc" else [1, 3, i["height"], i["width"]]


def fed_shape(model, graph_input):
    """The shape ssd-cam feeds `graph_input`: the manifest's, else the
    graph's with every free axis 1."""
    return manifest_shape(model) or [d if isinstance(d, int) and d > 0 else 1 for d in graph_input.shape]
