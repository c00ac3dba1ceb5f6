#!/usr/bin/env bash
# What --clips costs on a 1080p H.264 network camera (the copy path): the
# same RTSP stream (GStreamer's RTSP server, tests/support/rtsp_server.py,
# serving a 1080p, 15 frames/s file of a person walking by every 20 s, a
# keyframe a second, from its start for each client) run for SECONDS (default 90)
# without and with --clips; CPU of ssd-cam and its ffmpeg children over the
# run after a 15 s warm-up (from /proc), the bytes the segment buffer wrote
# and the clips kept, both scaled to an hour.
# Runs alternate, PAIRS times (default 3): the machine's noise (a few % run
# to run) is larger than the cost, so the medians are compared.
#   benches/clips-cost.sh [SECONDS] [SSD_CAM_BINARY] [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-90}
bin=${2:-target/quick-release/ssd-cam}
pairs=${3:-3}
work=target/tmp/clips-cost
mkdir -p "$work"
clip=$work/walk-1080p.ts
if [ ! -f "$clip" ]; then
    ffmpeg -y -loglevel error -f lavfi -i color=c=0x707a84:s=1920x1080:r=15:d=130 -loop 1 \
        -i models/person-ssdlite-demo-input.jpg -filter_complex \
        "[0]drawbox=x=750:y=60:w=420:h=900:color=0x4a3b2c:t=fill[s];[1]crop=300:512:90:0,scale=528:900[p];[s][p]overlay=x='mod(t,20)*150-528':y=120:shortest=1" \
        -t 130 -c:v libx264 -preset veryfast -g 15 -pix_fmt yuv420p -f mpegts "$clip"
fi
python3 - "$bin" "$clip" "$secs" "$work" "$pairs" <<'PY'
import json, os, shutil, signal, socket, statistics, subprocess, sys, time
bin, clip, secs, work, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
hz = os.sysconf("SC_CLK_TCK")

def ticks(pid):
    try:
        rest = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])
    except OSError:
        return 0

def family(pid):
    kids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                rest = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(rest[1]) == pid:
                kids.append(int(p))
    return [pid] + kids

def run(clips):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    url = f"rtsp://127.0.0.1:{port}/cam"
    launch = f"( filesrc location={os.path.abspath(clip)} ! tsdemux ! h264parse ! rtph264pay name=pay0 pt=96 )"
    server = subprocess.Popen(["/usr/bin/python3", "tests/support/rtsp_server.py", str(port), "/cam", launch],
                              stdout=subprocess.PIPE)
    assert server.stdout.readline().strip() == b"ready"
    out = os.path.join(work, "clips")
    shutil.rmtree(out, ignore_errors=True)
    args = [bin, "--source", url, "--headless", "--events"] + (["--clips", out] if clips else [])
    cam = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(15)
    pids = family(cam.pid)
    before = {p: ticks(p) for p in pids}
    t0 = time.time()
    seen = {}
    while time.time() - t0 < secs:
        buf = os.path.join(out, ".buffer")
        if clips and os.path.isdir(buf):
            for f in os.listdir(buf):
                if f.endswith(".ts"):
                    try:
                        seen[f] = max(seen.get(f, 0), os.path.getsize(os.path.join(buf, f)))
                    except OSError:
                        pass
        time.sleep(0.25)
    took = time.time() - t0
    cpu = sum(ticks(p) - before[p] for p in pids) / hz / took
    ffmpeg = sum(ticks(p) - before[p] for p in pids[1:]) / hz / took
    cam.send_signal(signal.SIGINT)
    err = cam.communicate(timeout=60)[1].decode(errors="replace")
    server.kill(); server.wait()
    kept = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".mp4")) if clips else 0
    n = len([f for f in os.listdir(out) if f.endswith(".mp4")]) if clips else 0
    summary = [l for l in err.splitlines() if l.startswith("ssd-cam:")]
    return cpu, sum(seen.values()), kept, n, summary, ffmpeg

runs = [(run(False), run(True)) for _ in range(pairs)]
hour = 3600 / secs
med = lambda xs: statistics.median(xs)
base = med([r[0][0] for r in runs]); clips = med([r[1][0] for r in runs])
print(f"machine: {os.cpu_count()} cores; {pairs} pairs of {secs} s runs after a 15 s warm-up; binary {bin}")
for i, (a, b) in enumerate(runs):
    print(f"pair {i + 1}: no clips {a[0]*100:.1f}% (ffmpeg {a[5]*100:.1f}%), with clips {b[0]*100:.1f}% "
          f"(ffmpeg {b[5]*100:.1f}%) of one core; {b[4]}")
print(f"median: no clips {base*100:.1f}%, with clips {clips*100:.1f}% of one core: {(clips/base-1)*100:+.1f}% CPU")
print(f"median ffmpeg child: {med([r[0][5] for r in runs])*100:.1f}% without, {med([r[1][5] for r in runs])*100:.1f}% with the copy")
last = runs[-1][1]
print(f"segment buffer written: {last[1]*hour/1e6:.0f} MB/hour (the stream's own bitrate); clips kept: {last[3]} "
      f"({last[2]/1e6:.1f} MB, {last[2]*hour/1e6:.0f} MB/hour at one walk-by every 20 s)")
PY
