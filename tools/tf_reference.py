#!/usr/bin/env python3
"""TensorFlow's own detections for a TF OD API frozen graph, as the reference
ssd-cam's conversion is tested against (tests/person_model.rs).

The full graph runs: `image_tensor` (uint8 RGB at the photo's own size), TF's
resize and scaling, the network, its box decoding, sigmoid and NMS. What
comes out above --threshold is written as JSON: per photo its size and the
detections with boxes in photo pixels.

    /tmp/tf/bin/python tools/tf_reference.py --graph frozen_inference_graph.pb \\
        --labels person --threshold 0.3 --out tests/data/person-ssdlite-tf.json \\
        target/real-models/{astronaut,camera,coffee,chelsea}.png target/real-models/{rocket,hubble_deep_field}.jpg
"""

import argparse
import json
import os

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph", required=True)
    ap.add_argument("--labels", required=True, help="comma-separated, without background")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--out", required=True)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()

    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    with open(args.graph, "rb") as f:
        gd.ParseFromString(f.read())
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    labels = [x.strip() for x in args.labels.split(",")]
    result = {
        "graph": os.path.basename(args.graph),
        "tensorflow": tf.__version__,
        "threshold": args.threshold,
        "photos": {},
    }
    with tf.compat.v1.Session(graph=g) as s:
        for path in args.photos:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            h, w = rgb.shape[:2]
            boxes, scores, classes, n = s.run(
                ["detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0"],
                {"image_tensor:0": rgb[None]},
            )
            found = []
            for i in range(int(n[0])):
                if scores[0, i] <= args.threshold:
                    continue
                y1, x1, y2, x2 = (float(v) for v in boxes[0, i])
                found.append(
                    {
                        "label": labels[int(classes[0, i]) - 1],
                        "score": round(float(scores[0, i]), 6),
                        "bbox": [round(x1 * w, 3), round(y1 * h, 3), round(x2 * w, 3), round(y2 * h, 3)],
                    }
                )
            result["photos"][os.path.basename(path)] = {"width": w, "height": h, "detections": found}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
