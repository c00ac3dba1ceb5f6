"""How many inferences a second can ONNX Runtime itself do on this machine
with two workers? Two threads run a model at once, each 100 times, one
intra-op thread per session, ssd-cam's session options: first each thread on
its own session (what ssd-cam's `--workers 2` does), then both threads on
one shared session (weights held once). Prints inferences per second for
each, ROUNDS times alternated: the ceiling the whole pipeline can approach.

    target/tmp/ort-venv/bin/python benches/ort_concurrency_probe.py [MODEL.onnx] [ROUNDS]

(the venv is the one benches/compare-onnxruntime.sh makes.)
"""

import sys
import threading
import time

import numpy as np

from ort_python import fed_shape, session

MODEL = sys.argv[1] if len(sys.argv) > 1 else "models/person-ssdlite.onnx"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
RUNS = 100


a, b = session(MODEL), session(MODEL)
graph_input = a.get_inputs()[0]
x = np.random.default_rng(0).random(fed_shape(MODEL, graph_input), dtype=np.float32)


def rate(first, second):
    """Inferences per second of two threads running at once."""

    def work(s):
        for _ in range(RUNS):
            s.run(None, {graph_input.name: x})

    threads = [threading.Thread(target=work, args=(s,)) for s in (first, second)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 2 * RUNS / (time.perf_counter() - t0)


for s in (a, b):
    for _ in range(5):
        s.run(None, {graph_input.name: x})
rates = {"two sessions": [], "one shared": []}
for _ in range(ROUNDS):
    rates["two sessions"].append(rate(a, b))
    rates["one shared"].append(rate(a, a))
for label, r in rates.items():
    print(f"{label:12} {' '.join(f'{v:.1f}' for v in r)} inferences/s; median {np.median(r):.1f}")
