#!/usr/bin/env bash
# How fast the review page loads with 10,000 events in the database: fills
# a database (examples/fill_events_db.rs), serves it (ssd-cam --clips DIR
# --http on a still demo scene) and times, 20 times each, what the page
# asks for first (the page, /api/info, /api/events' first page) with curl,
# and a filtered and a last page; prints the median and the worst of each
# and of the first three together.
#   benches/review-load.sh [EVENTS] [SSD_CAM_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
n=${1:-10000}
bin=${2:-target/quick-release/ssd-cam}
work=target/tmp/review-load
rm -rf "$work" && mkdir -p "$work/clips"
cargo run --quiet --example fill_events_db -- "$work/clips/ssd-cam.db" "$n"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --source demo:fps=5,scene=still --name door --headless --clips "$work/clips" --http "127.0.0.1:$port" \
    >/dev/null 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
python3 - "$port" "$n" <<'PY'
import statistics, subprocess, sys
port, n = sys.argv[1], sys.argv[2]
paths = ["/review", "/api/info", "/api/events?limit=61&offset=0"]
more = ["/api/events?label=dog&camera=yard&limit=61", "/api/events?limit=61&offset=9900"]
times = {p: [] for p in paths + more}
for _ in range(20):
    for p in paths + more:
        t = subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Accept: application/json", "-w", "%{time_total}",
                            f"http://127.0.0.1:{port}{p}"], capture_output=True, text=True, check=True).stdout
        times[p].append(float(t) * 1000)
total = [sum(times[p][i] for p in paths) for i in range(20)]
for p in paths + more:
    print(f"{p:32} median {statistics.median(times[p]):6.1f} ms, worst {max(times[p]):6.1f} ms")
print(f"{'first page (all three)':32} median {statistics.median(total):6.1f} ms, worst {max(total):6.1f} ms  ({n} events)")
PY
