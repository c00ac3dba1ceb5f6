#!/usr/bin/env python3
"""Export torchvision's SSD300-VGG16 or SSDLite320-MobileNetV3 to ONNX with an
ssd-cam manifest, and optionally check ssd-cam against torchvision itself.

The graph holds the backbone and the heads only: its outputs are the box
offsets [1, P, 4] and the class logits [1, P, 91] that torchvision's
`postprocess_detections` reads. Everything after that (softmax, decoding
against the default boxes, per-class NMS, top-k) is ssd-cam's, configured by
the manifest written beside the ONNX file: torchvision priors (`kind
torchvision`), BoxCoder weights (10, 10, 5, 5) as variances, the dw/dh clamp
ln(1000/16), boxes clipped before NMS, torchvision's normalisation, its 91
COCO categories (background 0) and its post-processing defaults.

    pip install torch torchvision onnx            # plus onnxruntime for --verify
    # pretrained COCO weights (downloads from download.pytorch.org):
    python tools/export_torchvision.py --arch ssd300_vgg16 --out models/ssd300-vgg16-coco.onnx
    ssd-cam --model models/ssd300-vgg16-coco.onnx --device /dev/video0

    # offline, random weights, and a comparison with torchvision on images:
    python tools/export_torchvision.py --arch ssdlite320 --weights random \\
        --out /tmp/ssdlite.onnx --verify photos/*.jpg --ssd-cam target/release/ssd-cam

--verify resizes each image to the model's input size first (torchvision's
and ssd-cam's resizers differ by a fraction of a level, which would move
low-confidence boxes), runs torchvision's own model on it (transform,
backbone, heads, postprocess_detections) and ssd-cam on the same file, and
requires the same detections: labels equal, boxes within 0.5 px, scores
within 1e-4 (where a full list is cut at keep_top_k, detections scoring
within 1e-4 of the cut may swap). It exits 1 otherwise.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import torch
import torchvision
from torchvision.models import detection

ARCHS_CATEGORIES = detection.SSD300_VGG16_Weights.COCO_V1.meta["categories"]

ARCHS = {
    "ssd300_vgg16": (detection.ssd300_vgg16, detection.SSD300_VGG16_Weights.COCO_V1, 300),
    "ssdlite320": (
        detection.ssdlite320_mobilenet_v3_large,
        detection.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
        320,
    ),
}


class Heads(torch.nn.Module):
    """Backbone and heads: a normalised image in, raw head outputs out."""

    def __init__(self, ssd):
        super().__init__()
        self.ssd = ssd

    def forward(self, x):
        features = self.ssd.backbone(x)
        if isinstance(features, torch.Tensor):
            features = {"0": features}
        out = self.ssd.head(list(features.values()))
        return out["bbox_regression"], out["cls_logits"]


def build(arch, weights, seed, logit_std):
    make, pretrained, size = ARCHS[arch]
    if weights == "pretrained":
        model = make(weights=pretrained)
        model.eval()
    else:
        torch.manual_seed(seed)
        model = make(weights=None, weights_backbone=None)
        model.eval()
        spread_logits(model, size, logit_std)
    return model, pretrained.meta["categories"], size


def spread_logits(model, size, target_std):
    """Random weights leave the class logits all equal (SSDLite's head starts
    at zero) or saturated (VGG's are about +-30), and any two detectors then
    differ only in how they break ties among equal scores. Redraw the last
    convolution of each classification head and scale it so that the logits
    on a random image have a standard deviation of target_std: scores spread
    over (0, 1), and the comparison is about decoding, not tie-breaking."""
    classes = len(ARCHS_CATEGORIES)
    last = [
        m
        for m in model.head.classification_head.modules()
        if isinstance(m, torch.nn.Conv2d) and m.out_channels % classes == 0 and m.out_channels >= classes
    ]
    for conv in last:
        torch.nn.init.normal_(conv.weight, std=0.01)
        torch.nn.init.zeros_(conv.bias)
    mean = torch.tensor(model.transform.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(model.transform.image_std).view(1, 3, 1, 1)
    x = (torch.rand(1, 3, size, size) - mean) / std
    features = model.backbone(x)
    if isinstance(features, torch.Tensor):
        features = {"0": features}
    std = model.head(list(features.values()))["cls_logits"].std().item()
    for conv in last:
        conv.weight.mul_(target_std / std)


def manifest(model, categories, size, arch, weights, feature_maps):
    gen = model.anchor_generator
    t = model.transform
    mean = [round(m * 255.0, 6) for m in t.image_mean]
    std = [round(s * 255.0, 6) for s in t.image_std]
    steps = gen.steps if gen.steps is not None else [size / f for f in feature_maps]
    p = sum(f * f * n for f, n in zip(feature_maps, gen.num_anchors_per_location()))
    c = len(categories)
    return {
        "name": f"torchvision-{arch}",
        "description": f"torchvision {torchvision.__version__} {arch}, {weights} weights, "
        "backbone and heads exported by tools/export_torchvision.py",
        "input": {
            "name": "images",
            "width": size,
            "height": size,
            "layout": "nchw",
            "color": "rgb",
            "normalize": {"mean": mean, "std": std},
        },
        "labels": list(categories),
        "background_index": 0,
        "priors": {
            "kind": "torchvision",
            "image_size": size,
            "feature_maps": feature_maps,
            "steps": [float(s) for s in steps],
            "scales": [float(s) for s in gen.scales],
            "aspect_ratios": [[float(r) for r in a] for a in gen.aspect_ratios],
            "clip": bool(gen.clip),
        },
        "box_coding": {
            "variances": [1.0 / w for w in model.box_coder.weights],
            "clamp_log_wh": model.box_coder.bbox_xform_clip,
            "clip": True,
        },
        "score_activation": "softmax",
        "outputs": {
            "boxes": {"name": "bbox_regression", "shape": [1, p, 4]},
            "scores": {"name": "cls_logits", "shape": [1, p, c]},
        },
        "defaults": {
            "score_threshold": model.score_thresh,
            "nms_iou": model.nms_thresh,
            "top_k_per_class": model.topk_candidates,
            "keep_top_k": model.detections_per_img,
        },
    }


def export(args):
    model, categories, size = build(args.arch, args.weights, args.seed, args.logit_std)
    # eval() on the wrapper too: export restores the wrapper's mode on
    # everything under it afterwards.
    heads = Heads(model).eval()
    dummy = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        features = model.backbone(dummy)
        if isinstance(features, torch.Tensor):
            features = {"0": features}
        feature_maps = [f.shape[-1] for f in features.values()]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.onnx.export(
        heads,
        dummy,
        args.out,
        opset_version=args.opset,
        input_names=["images"],
        output_names=["bbox_regression", "cls_logits"],
        dynamo=False,
    )
    m = manifest(model, categories, size, args.arch, args.weights, feature_maps)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(m, f, indent=2)
    print(f"wrote {args.out} and its manifest ({m['outputs']['boxes']['shape'][1]} priors)", file=sys.stderr)
    return model, size


def verify(model, size, images, ssd_cam, onnx_path):
    from PIL import Image
    import torchvision.transforms.functional as F

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for i, path in enumerate(images):
            name = os.path.join(tmp, f"{i:04d}.png")
            Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR).save(name)
            names.append((path, name))
        run = subprocess.run(
            [ssd_cam, "--model", onnx_path, "--source", tmp, "--headless"],
            check=True,
            capture_output=True,
            text=True,
        )
        frames = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        if len(frames) != len(names):
            print(f"ssd-cam wrote {len(frames)} frames for {len(names)} images", file=sys.stderr)
            return 1
        worst_box, worst_score, total = 0.0, 0.0, 0
        for (path, name), frame in zip(names, frames):
            with torch.no_grad():
                ref = model([F.to_tensor(Image.open(name).convert("RGB"))])[0]
            want = [
                (int(l), float(s), [float(v) for v in b])
                for b, s, l in zip(ref["boxes"], ref["scores"], ref["labels"])
            ]
            got = [(d["class_id"], d["score"], [d["bbox"][k] for k in ("x1", "y1", "x2", "y2")]) for d in frame["detections"]]
            unmatched = list(got)
            missing = []
            for label, score, box in want:
                best = None
                for j, (gl, gs, gb) in enumerate(unmatched):
                    dbox = max(abs(a - b) for a, b in zip(box, gb))
                    if gl == label and abs(gs - score) <= 1e-4 and dbox <= 0.5:
                        best = (j, dbox, abs(gs - score))
                        break
                if best is None:
                    missing.append((label, score, box))
                else:
                    worst_box, worst_score = max(worst_box, best[1]), max(worst_score, best[2])
                    unmatched.pop(best[0])
            total += len(want)
            # A full list ends at an arbitrary score: a detection within the
            # score tolerance of the last one kept may fall on either side
            # of the cut in either engine.
            full = len(want) == model.detections_per_img
            cut = min((d[1] for d in want), default=0.0)
            at_cut = lambda d: full and abs(d[1] - cut) <= 1e-4
            boundary = sum(map(at_cut, missing)) + sum(map(at_cut, unmatched))
            missing = [d for d in missing if not at_cut(d)]
            unmatched = [d for d in unmatched if not at_cut(d)]
            ok = not missing and not unmatched
            failures += not ok
            print(
                f"{path}: torchvision {len(want)} detections, ssd-cam {len(got)}: "
                + ("same" if ok else f"{len(missing)} missing, {len(unmatched)} extra")
                + (f" ({boundary} swapped at the top-{len(want)} cut, scores within 1e-4)" if boundary else ""),
                file=sys.stderr,
            )
            for d in missing[:3]:
                print(f"  missing {d}", file=sys.stderr)
            for d in unmatched[:3]:
                print(f"  extra   {d}", file=sys.stderr)
        print(
            f"{total} detections compared; largest box difference {worst_box:.4f} px, "
            f"largest score difference {worst_score:.2e}",
            file=sys.stderr,
        )
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), default="ssd300_vgg16")
    ap.add_argument("--weights", choices=["pretrained", "random"], default="pretrained")
    ap.add_argument("--seed", type=int, default=0, help="seed for --weights random")
    ap.add_argument("--logit-std", type=float, default=2.0, help="spread of the class logits for --weights random")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--out", required=True, help="ONNX file to write; the manifest goes beside it (.json)")
    ap.add_argument("--verify", nargs="*", default=[], metavar="IMAGE", help="images to compare ssd-cam with torchvision on")
    ap.add_argument("--ssd-cam", default="ssd-cam", help="the ssd-cam binary for --verify")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    model, size = export(args)
    if args.verify:
        sys.exit(verify(model, size, args.verify, args.ssd_cam, args.out))


if __name__ == "__main__":
    main()
