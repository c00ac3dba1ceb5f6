#!/usr/bin/env python3
"""Writes a Y4M video (4:2:0, BT.601 full range as ssd-cam reads it) of the
given photos, scaled to WxH, one after another for N frames: a file source
with real content for pipeline benchmarks, without ffmpeg.

    python3 benches/make_y4m.py --size 640x480 --frames 300 --out clip.y4m photo1.png photo2.jpg
"""

import argparse

import numpy as np
from PIL import Image


def yuv420(rgb):
    """RGB uint8 HxWx3 to the three planes of 4:2:0 (JPEG full-range BT.601)."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    sub = lambda p: p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, sub(u), sub(v))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--out", required=True)
    ap.add_argument("photos", nargs="+")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    if w % 2 or h % 2:
        ap.error("--size needs even sides for 4:2:0")
    planes = [yuv420(np.asarray(Image.open(p).convert("RGB").resize((w, h), Image.BILINEAR))) for p in a.photos]
    with open(a.out, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{a.fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(a.frames):
            f.write(b"FRAME\n")
            for p in planes[i % len(planes)]:
                f.write(p.tobytes())


if __name__ == "__main__":
    main()
