"""Does INT8 pay on ONNX Runtime's CPU provider here? A probe, not a model
to ship: ONNX Runtime's own static quantizer (QDQ, uint8 activations,
per-channel int8 weights, after ONNX Runtime's quantization
pre-processing) on person-ssdlite,
calibrated on calibration/*.jpg (first 32) and the demo picture, resized
by ffmpeg's plain bilinear (not TF's resize: speed is the question, not
accuracy). Times f32 and INT8 alternately (one intra-op thread, all graph
optimisations) and prints how far the INT8 outputs land from the f32 ones.

    target/tmp/ort-venv/bin/python benches/ort_int8_probe.py [OUT.onnx]

(the venv is the one benches/compare-onnxruntime.sh makes; needs ffmpeg.)
"""

import glob
import subprocess
import sys
import time

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from ort_python import session

FLOAT = "models/person-ssdlite.onnx"
OUT = sys.argv[1] if len(sys.argv) > 1 else "target/tmp/person-ssdlite.int8-probe.onnx"


def load(path):
    raw = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", path, "-vf", "scale=300:300", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    rgb = np.frombuffer(raw, np.uint8).reshape(300, 300, 3).astype(np.float32) / 127.5 - 1
    return rgb.transpose(2, 0, 1)[None].copy()


images = [load(p) for p in sorted(glob.glob("calibration/*.jpg"))[:32]] + [load("models/person-ssdlite-demo-input.jpg")]
name = session(FLOAT).get_inputs()[0].name


class Frames(CalibrationDataReader):
    def __init__(self):
        self.frames = iter(images)

    def get_next(self):
        x = next(self.frames, None)
        return None if x is None else {name: x}


# ONNX Runtime's pre-processing (shape inference, graph optimisation: the
# batch norms folded into their convolutions) before quantizing.
PRE = OUT.removesuffix(".onnx") + ".pre.onnx"
quant_pre_process(FLOAT, PRE, skip_symbolic_shape=True)
quantize_static(PRE, OUT, Frames(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, per_channel=True)
sessions = {"f32": session(FLOAT), "int8": session(OUT)}
x = images[-1]
times = {k: [] for k in sessions}
for _ in range(5):
    for k, s in sessions.items():
        for _ in range(3):
            s.run(None, {name: x})
        start = time.perf_counter()
        for _ in range(20):
            s.run(None, {name: x})
        times[k].append((time.perf_counter() - start) / 20 * 1000)
for k, v in times.items():
    print(f"{k}: median {sorted(v)[len(v) // 2]:.2f} ms per inference, runs {[round(t, 1) for t in v]}")
f32, int8 = (sessions[k].run(None, {name: x}) for k in ("f32", "int8"))
for out, a, b in zip(sessions["f32"].get_outputs(), f32, int8):
    print(f"{out.name}: largest difference INT8 - f32 {float(np.abs(a - b).max()):.3f}")
# What a user would see: the person score (sigmoid of the second logit) per anchor.
sf, si = (1 / (1 + np.exp(-o[1][0, :, 1])) for o in (f32, int8))
print(f"person score: anchors >= 0.5: f32 {int((sf >= 0.5).sum())}, INT8 {int((si >= 0.5).sum())}; "
      f"largest score difference {float(np.abs(sf - si).max()):.3f}; best f32 {sf.max():.3f}, INT8 {si.max():.3f}")
