#!/usr/bin/env bash
# ssd-cam against a real Home Assistant core (--ha-discovery), too heavy for
# CI (a Python 3.13 venv with homeassistant 2025.4 from PyPI: ~2 min the
# first time, kept in target/ha-venv). Run before resolving a change to the
# discovery; CI keeps the mosquitto-level tests of every topic and payload.
#
#   scripts/ha-check.sh [path/to/ssd-cam]     (default target/debug/ssd-cam)
#
# What it does, all on 127.0.0.1: starts mosquitto, and Home Assistant with
# its MQTT integration pointed at it (a config entry written to its storage)
# and a test-only component (scripts/ha-check/ssd_cam_probe) that writes its
# registries and states to files and makes service calls dropped in as
# files. Then ssd-cam plays a clip of a person walking across a still scene
# in real time, looped, with --ha-discovery, and the script checks that:
# the device and its entities appear with the right platforms; the person
# occupancy sensor turns on while she crosses and off after; Home
# Assistant's switch turns detection off (no person while off) and on
# again; stopping ssd-cam makes the entities unavailable.
# Output: one line per check; exit 1 at the first that fails. Files stay in
# target/ha-check/ for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${1:-target/debug/ssd-cam}
[ -x "$bin" ] || { echo "ha-check: $bin is not built (cargo build)" >&2; exit 1; }
bin=$(realpath "$bin")
HA_VERSION=${HA_VERSION:-2025.4.4}
python=${HA_PYTHON:-$HOME/.pyenv/versions/3.13.0/bin/python3}
venv=target/ha-venv
work=target/ha-check
have=$("$venv/bin/python" -c 'import homeassistant.const as c; print(c.__version__)' 2>/dev/null || true)
if [ ! -x "$venv/bin/hass" ] || [ "$have" != "$HA_VERSION" ]; then
    echo "ha-check: installing homeassistant $HA_VERSION into $venv" >&2
    [ -x "$python" ] || { echo "ha-check: no Python 3.13 at $python (HA_PYTHON=...)" >&2; exit 1; }
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q "homeassistant==$HA_VERSION" "paho-mqtt==2.1.0"
fi
# Without its frontend Home Assistant starts in recovery mode, which loads
# no integration: install the version its manifest names.
frontend=$("$venv/bin/python" -c 'import json, homeassistant.components.frontend as f, os; print([r for r in json.load(open(os.path.join(os.path.dirname(f.__file__), "manifest.json")))["requirements"] if r.startswith("home-assistant-frontend")][0])')
"$venv/bin/python" -c 'import hass_frontend' 2>/dev/null || "$venv/bin/pip" install -q "$frontend"
rm -rf "$work"
mkdir -p "$work/config/custom_components" "$work/config/.storage"
cp -r scripts/ha-check/ssd_cam_probe "$work/config/custom_components/"
free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

cat > "$work/mosquitto.conf" <<EOF
user $(id -un)
listener $port 127.0.0.1
allow_anonymous true
EOF
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)

cat > "$work/config/configuration.yaml" <<'EOF'
homeassistant:
  name: ssd-cam check
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
logger:
  default: warning
ssd_cam_probe:
EOF
now=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
cat > "$work/config/.storage/core.config_entries" <<EOF
{"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [
 {"created_at": "$now", "modified_at": "$now", "data": {"broker": "127.0.0.1", "port": $port},
  "options": {"discovery": true, "discovery_prefix": "homeassistant"},
  "discovery_keys": {}, "disabled_by": null, "domain": "mqtt", "entry_id": "ssdcamcheckmqtt0000000000000000",
  "minor_version": 2, "version": 1, "pref_disable_new_entities": false, "pref_disable_polling": false,
  "source": "user", "subentries": [], "title": "127.0.0.1", "unique_id": null}]}}
EOF
"$venv/bin/hass" -c "$work/config" --skip-pip > "$work/hass.log" 2>&1 &
hass=$!
pids+=($hass)

# probe FILTER: runs a Python expression over the probe's dump (as `d`).
probe() {
    "$venv/bin/python" - "$work/config/probe/dump.json" "$1" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(1)
print(json.dumps(eval(sys.argv[2])))
EOF
}
# wait_for SECONDS WHAT EXPRESSION: until the expression over the dump is true.
wait_for() {
    local until=$(( $(date +%s) + $1 )) what=$2 expr=$3
    while [ "$(date +%s)" -lt "$until" ]; do
        if [ "$(probe "$expr" 2>/dev/null)" = "true" ]; then ok "$what"; return 0; fi
        kill -0 "$hass" 2>/dev/null || { tail -20 "$work/hass.log" >&2; fail "Home Assistant ended"; }
        sleep 1
    done
    tail -20 "$work/hass.log" >&2
    fail "$what (within $1 s)"
}
call() { # DOMAIN SERVICE ENTITY
    local f="$work/config/probe/call-$(date +%s%N).json"
    printf '{"domain": "%s", "service": "%s", "data": {"entity_id": "%s"}}' "$1" "$2" "$3" > "$f.tmp"
    mv "$f.tmp" "$f"
}
wait_for 180 "Home Assistant $HA_VERSION is up with its MQTT integration loaded" \
    'any(e["state"].endswith("LOADED") for e in d["mqtt"])'

# A person walking across a still scene: 2 s empty, 6 s walking, 4 s empty.
clip="$work/walk.mp4"
ffmpeg -v error -y -f lavfi -i "color=c=0x707a84:s=640x360:r=10:d=12" -loop 1 -i models/person-ssdlite-demo-input.jpg \
    -filter_complex "[0]drawbox=x=250:y=20:w=140:h=300:color=0x4a3b2c:t=fill,drawbox=x=0:y=320:w=640:h=40:color=0x5a5a50:t=fill[s];[1]crop=300:512:90:0,scale=176:300[p];[s][p]overlay=x='-176+(t-2)*816/6':y=40:enable='between(t,2,8)'" \
    -t 12 -c:v libx264 -pix_fmt yuv420p "$clip"
"$bin" --source "$clip" --ffmpeg-input-args "-re -stream_loop -1" --name door --headless --events \
    --mqtt "mqtt://127.0.0.1:$port/ssd-cam" --ha-discovery --zone "porch=250,300,390,300,390,360,250,360" --snapshots "$work/snapshots" \
    > "$work/events.jsonl" 2> "$work/ssd-cam.log" &
ssd=$!
pids+=($ssd)

wait_for 60 "one device 'door' (model, version) with its entities" \
    'any(dev["name"] == "door" and ["mqtt", "ssd-cam_ssd-cam_door"] in dev["identifiers"] and dev["model"] == "ssd-cam (person-ssdlite)" and dev["sw_version"] for dev in d["devices"])'
wait_for 30 "entities: binary_sensor occupancy, person count, stationary count, snapshot image, porch count, detection switch, diagnostics" \
    'sorted((e["domain"], e["unique_id"]) for e in d["entities"] if e["platform"] == "mqtt") == sorted([("binary_sensor", "ssd-cam_ssd-cam_door_person_occupancy"), ("sensor", "ssd-cam_ssd-cam_door_person_count"), ("sensor", "ssd-cam_ssd-cam_door_person_stationary"), ("image", "ssd-cam_ssd-cam_door_person_snapshot"), ("sensor", "ssd-cam_ssd-cam_door_porch_person_count"), ("switch", "ssd-cam_ssd-cam_door_detect"), ("sensor", "ssd-cam_ssd-cam_door_fps"), ("sensor", "ssd-cam_ssd-cam_door_inference")])'
occupancy=$(probe '[e["entity_id"] for e in d["entities"] if e["unique_id"] == "ssd-cam_ssd-cam_door_person_occupancy"][0]' | tr -d '"')
switch=$(probe '[e["entity_id"] for e in d["entities"] if e["unique_id"] == "ssd-cam_ssd-cam_door_detect"][0]' | tr -d '"')
fps=$(probe '[e["entity_id"] for e in d["entities"] if e["unique_id"] == "ssd-cam_ssd-cam_door_fps"][0]' | tr -d '"')
echo "   entities: $occupancy, $switch, $fps"
wait_for 10 "$occupancy is an occupancy sensor; $fps is diagnostic" \
    "[e['original_device_class'] for e in d['entities'] if e['entity_id'] == '$occupancy'] == ['occupancy'] and [e['entity_category'] for e in d['entities'] if e['entity_id'] == '$fps'][0].endswith('diagnostic')"
wait_for 40 "$occupancy turns on while she crosses" "d['states']['$occupancy']['state'] == 'on'"
wait_for 40 "$occupancy turns off after she left" "d['states']['$occupancy']['state'] == 'off'"
wait_for 40 "$occupancy turns on at her next crossing (the clip loops)" "d['states']['$occupancy']['state'] == 'on'"
wait_for 30 "$fps reads the camera's rate" "float(d['states']['$fps']['state']) > 5"
image=$(probe '[e["entity_id"] for e in d["entities"] if e["unique_id"] == "ssd-cam_ssd-cam_door_person_snapshot"][0]' | tr -d '"')
wait_for 10 "$image holds her picture (its state: when it came)" "d['states']['$image']['state'] not in ('unknown', 'unavailable')"
call switch turn_off "$switch"
wait_for 20 "Home Assistant's switch turned detection off ($switch off)" "d['states']['$switch']['state'] == 'off'"
grep -q "detect turned off" "$work/ssd-cam.log" || fail "ssd-cam did not log the switch"
wait_for 30 "with detection off, $occupancy goes off" "d['states']['$occupancy']['state'] == 'off'"
lines=$(wc -l < "$work/events.jsonl")
sleep 14 # more than one loop of the clip: she crosses again, unseen
[ "$(wc -l < "$work/events.jsonl")" -eq "$lines" ] || fail "events while detection was off"
[ "$(probe "d['states']['$occupancy']['state']")" = '"off"' ] || fail "$occupancy turned on while detection was off"
ok "no event and $occupancy stayed off for 14 s (a whole loop) while detection was off"
call switch turn_on "$switch"
wait_for 20 "the switch turned detection on again" "d['states']['$switch']['state'] == 'on'"
wait_for 40 "$occupancy turns on again at her next crossing" "d['states']['$occupancy']['state'] == 'on'"
kill -INT "$ssd"
wait "$ssd" || fail "ssd-cam did not end cleanly: $(tail -3 "$work/ssd-cam.log")"
wait_for 20 "stopping ssd-cam makes its entities unavailable" "d['states']['$occupancy']['state'] == 'unavailable'"
"$venv/bin/python" - "$work/config/probe/changes.jsonl" "$occupancy" <<'EOF'
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1])]
states = [c["state"] for c in seen if c["entity_id"] == sys.argv[2]]
print(f"   {sys.argv[2]} went: {' -> '.join(states)}")
EOF
echo "ha-check: Home Assistant $HA_VERSION, all checks passed"
