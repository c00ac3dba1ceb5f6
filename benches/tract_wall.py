#!/usr/bin/env python3
"""One-node reproducers of where tract 0.23.9 spends person-ssdlite's time
(BENCHMARKS.md, "Real time on the person detector"): each node of the
real graph that tract runs furthest below its own speed elsewhere, written
as a one-node ONNX file, timed in onnxruntime here and in tract by
`examples/time_onnx.rs`, side by side.

    target/tmp/ort-venv/bin/python benches/tract_wall.py   # after benches/compare-onnxruntime.sh made the venv
"""

import os
import statistics
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = "target/tract-wall"
CASES = [
    # name, input shape, conv attributes, weight shape (O, I/group, kh, kw), relu6 after
    ("pointwise_16_to_96_at_150", [1, 16, 150, 150], dict(kernel_shape=[1, 1]), [96, 16, 1, 1], True),
    ("pointwise_960_to_320_at_10", [1, 960, 10, 10], dict(kernel_shape=[1, 1]), [320, 960, 1, 1], False),
    ("depthwise_s2_96_at_150", [1, 96, 150, 150], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], group=96), [96, 1, 3, 3], True),
    ("depthwise_s1_144_at_75", [1, 144, 75, 75], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=144), [144, 1, 3, 3], True),
]


def one_node(name, shape, attrs, wshape, relu6):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal(wshape).astype(np.float32) * 0.1, "w")
    b = numpy_helper.from_array(np.zeros(wshape[0], np.float32), "b")
    lo = numpy_helper.from_array(np.array(0, np.float32), "lo")
    hi = numpy_helper.from_array(np.array(6, np.float32), "hi")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], **attrs)]
    if relu6:
        nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", ["c"], ["y"]))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b, lo, hi])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = f"{OUT}/{name}.onnx"
    onnx.save(model, path)
    return path


def ort_ms(path, shape, runs=50):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    x = np.zeros(shape, np.float32)
    for _ in range(5):
        s.run(None, {"x": x})
    t = []
    for _ in range(runs):
        started = time.perf_counter()
        s.run(None, {"x": x})
        t.append((time.perf_counter() - started) * 1000)
    return statistics.median(t)


def main():
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--example", "time_onnx"], check=True)
    print(f"{'node':34} {'MMAC':>7} {'onnxruntime':>12} {'tract':>9} {'tract GMAC/s':>13}")
    for name, shape, attrs, wshape, relu6 in CASES:
        path = one_node(name, shape, attrs, wshape, relu6)
        sess_shape = shape
        out = subprocess.run(["target/release/examples/time_onnx", path, ",".join(map(str, shape)), "50", "1"],
                             check=True, capture_output=True, text=True).stdout
        tract = float(out.split(": ")[1].split(" ms")[0])
        ort_t = ort_ms(path, sess_shape)
        o = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": np.zeros(shape, np.float32)})[0]
        macs = int(np.prod(o.shape)) * int(np.prod(wshape[1:]))
        print(f"{name:34} {macs / 1e6:7.1f} {ort_t:9.3f} ms {tract:6.3f} ms {macs / tract / 1e6:10.1f}")


if __name__ == "__main__":
    main()
