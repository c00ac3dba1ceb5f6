#!/usr/bin/env python3
"""Inference time of the same ONNX files in onnxruntime (its Python API) and
in ssd-cam, on tract and (with a binary built with `--features onnxruntime`)
on ssd-cam's ONNX Runtime backend loading this very onnxruntime's library.

For each model and thread count: onnxruntime (CPUExecutionProvider, all graph
optimisations, intra-op threads = N, one inter-op thread) runs the network on
one input, warm-up then --runs timed runs; ssd-cam runs `ssd-cam bench
--model M --threads N --json`, whose isolated inference phase times exactly
what a detection run calls per frame (tract's optimised plan, the input
written in place). Both report medians; the ratio tract / onnxruntime is
printed and written as one JSON object per line to --out, with ssd-cam's
ONNX Runtime backend over onnxruntime's own (rust/python) when it ran.

    benches/compare-onnxruntime.sh            # sets up the venv, builds, runs
    python3 benches/compare_onnxruntime.py --ssd-cam target/release/ssd-cam \\
        --threads 1 2 models/ssd300-shapes.onnx /tmp/ssd300_vgg16.onnx
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

from ort_python import fed_shape, session


def onnxruntime_ms(model, threads, runs, warmup):
    net = session(model, threads)
    graph_input = net.get_inputs()[0]
    x = np.random.default_rng(0).uniform(-1, 1, size=fed_shape(model, graph_input)).astype(np.float32)
    feed = {graph_input.name: x}
    for _ in range(warmup):
        net.run(None, feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        net.run(None, feed)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def ort_library():
    """The libonnxruntime.so inside this onnxruntime package."""
    found = sorted(glob.glob(os.path.join(os.path.dirname(ort.__file__), "capi", "libonnxruntime.so*")))
    return found[-1] if found else None


def ssd_cam_report(binary, model, threads, runs, warmup, precision, backend="tract"):
    command = [binary, "bench", "--model", model, "--threads", str(threads), "--frames", str(runs),
               "--warmup", str(warmup), "--precision", precision, "--backend", backend, "--json"]
    env = dict(os.environ, ORT_DYLIB_PATH=ort_library() or "")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="ONNX files with their ssd-cam manifests beside them")
    parser.add_argument("--ssd-cam", required=True, help="the ssd-cam binary (a release build)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per engine (median reported)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--precision", default="f32", help="ssd-cam --precision")
    parser.add_argument("--out", help="append one JSON line per measurement here")
    parser.add_argument("--rust-ort", action="store_true",
                        help="also time ssd-cam --backend onnxruntime (a build with the onnxruntime feature)")
    args = parser.parse_args()

    print(f"onnxruntime {ort.__version__}; medians of {args.runs} runs after {args.warmup} warm-up runs")
    print(f"{'model':<28} {'threads':>7} {'onnxruntime ms':>15} {'ssd-cam ms':>11} {'tract/ort':>10}"
          f" {'ssd-cam ort ms':>15} {'rust/python':>12}")
    for model in args.models:
        for threads in args.threads:
            ort_ms = onnxruntime_ms(model, threads, args.runs, args.warmup)
            report = ssd_cam_report(args.ssd_cam, model, threads, args.runs, args.warmup, args.precision)
            tract_ms = report["isolated"]["inference"]["p50"]
            ratio = tract_ms / ort_ms
            rust_ort = None
            if args.rust_ort:
                rust_ort = ssd_cam_report(args.ssd_cam, model, threads, args.runs, args.warmup, args.precision,
                                          "onnxruntime")["isolated"]["inference"]["p50"]
            name = model.rsplit("/", 1)[-1]
            tail = f" {rust_ort:>15.1f} {rust_ort / ort_ms:>12.2f}" if rust_ort else ""
            print(f"{name:<28} {threads:>7} {ort_ms:>15.1f} {tract_ms:>11.1f} {ratio:>10.2f}{tail}", flush=True)
            if args.out:
                with open(args.out, "a") as out:
                    out.write(json.dumps({
                        "model": model, "threads": threads, "onnxruntime": ort.__version__,
                        "onnxruntime_ms": round(ort_ms, 3), "ssd_cam_ms": tract_ms, "ratio": round(ratio, 3),
                        "precision": args.precision, "runs": args.runs,
                        "ssd_cam_load_ms": report["load_ms"], "ssd_cam_ort_ms": rust_ort,
                    }) + "\n")


if __name__ == "__main__":
    main()
