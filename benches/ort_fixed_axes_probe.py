"""Does fixing a model's free input axes make ONNX Runtime faster? A probe:
the same ONNX file in two sessions, one as it is and one with every named
free input axis fixed (`add_free_dimension_override_by_name`) to the size
ssd-cam feeds (the manifest's), both with ssd-cam's session options and
one intra-op thread. Checks the outputs agree, then times the sessions
alternately (ROUNDS rounds of 30 runs each) and prints each round's median.

    target/tmp/ort-venv/bin/python benches/ort_fixed_axes_probe.py [MODEL.onnx] [ROUNDS]

(the venv is the one benches/compare-onnxruntime.sh makes.)
"""

import sys
import time

import numpy as np

from ort_python import fed_shape, session

MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/person-ssdlite.onnx"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10


plain = session(MODEL)
graph_input = plain.get_inputs()[0]
fed = fed_shape(MODEL, graph_input)
fixed = [(d, f) for d, f in zip(graph_input.shape, fed) if isinstance(d, str)]
print(f"input {graph_input.name} {graph_input.shape}: fixing {fixed}")
sessions = [plain, session(MODEL, fixed=fixed)]
x = np.random.default_rng(0).random(fed, dtype=np.float32)
outs = [s.run(None, {graph_input.name: x}) for s in sessions]
print("largest output difference:", max(float(np.abs(a - b).max()) for a, b in zip(*outs)))
for s in sessions:
    for _ in range(10):
        s.run(None, {graph_input.name: x})
medians = [[], []]
for _ in range(ROUNDS):
    for i, s in enumerate(sessions):
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            s.run(None, {graph_input.name: x})
            times.append(time.perf_counter() - t0)
        medians[i].append(float(np.median(times)) * 1000)
for label, m in zip(["as exported", "axes fixed"], medians):
    print(f"{label:12} {' '.join(f'{v:.1f}' for v in m)} ms; median {np.median(m):.2f} ms")
