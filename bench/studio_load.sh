#!/usr/bin/env bash
# The long-session load test: the studio open in a real window under Xvfb, training for MINUTES,
# logging each minute's frame times, resident memory, the step and the curves' size
# (`easel studio --load-log`); then a summary: memory after warm-up against the end, frame time
# of the first minutes against the last.
# Needs: apt-get install xvfb xauth mesa-vulkan-drivers libvulkan1
# Usage: [EASEL_BINARY=path] bench/studio_load.sh [minutes] [out-dir] [studio options…]
#   e.g. bench/studio_load.sh 60 target/studio-load --preset gran-fmnist --autostart
#        bench/studio_load.sh 60 target/studio-load --resume runs/fmnist
# Frame times are only comparable while nothing else loads the machine: keep builds away.
set -euo pipefail
minutes="${1:-60}"
out="$(realpath -m "${2:-target/studio-load}")"
shift 2 || true
studio_options=("$@")
if [ ${#studio_options[@]} -eq 0 ]; then studio_options=(--preset gran-fmnist --autostart); fi
mkdir -p "$out"
# EASEL_BINARY: an easel already built (e.g. by `cargo test --workspace`, whose feature set a
# `cargo build -p easel` would rebuild dependencies for).
if [ -z "${EASEL_BINARY:-}" ]; then cargo build -p easel; EASEL_BINARY=target/debug/easel; fi
binary="$(realpath "$EASEL_BINARY")"
export XDG_RUNTIME_DIR="$(mktemp -d)"; chmod 700 "$XDG_RUNTIME_DIR"
rm -f "$out/load.jsonl"
cd "$(mktemp -d)"   # new runs go to ./runs here
xvfb-run -a -s "-screen 0 1280x800x24" "$binary" studio "${studio_options[@]}" \
  --quit-after-seconds "$(( minutes * 60 + 5 ))" --load-log "$out/load.jsonl"
python3 - "$out/load.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
if len(rows) < 8:
    sys.exit(f"only {len(rows)} minutes logged; run for at least 8")
warm = 5  # minutes of warm-up (data loaded, first checkpoints, the classifier's first reading)
rss = [r["resident_mib"] for r in rows[warm:]]
first, last = rows[warm:warm + 5], rows[-5:]
p50 = lambda rs: statistics.median(r["p50_ms"] for r in rs)
p99 = lambda rs: statistics.median(r["p99_ms"] for r in rs)
print(json.dumps({
    "minutes": len(rows),
    "steps": [rows[0]["step"], rows[-1]["step"]],
    "curve_windows_end": rows[-1]["curve_windows"],
    "resident_mib_after_warmup": rss[0],
    "resident_mib_min_max": [min(rss), max(rss)],
    "resident_spread_pct": round(100 * (max(rss) - min(rss)) / rss[0], 1),
    "frame_p50_ms_first_last": [round(p50(first), 2), round(p50(last), 2)],
    "frame_p99_ms_first_last": [round(p99(first), 2), round(p99(last), 2)],
}, indent=1))
PY
