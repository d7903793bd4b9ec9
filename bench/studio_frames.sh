#!/usr/bin/env bash
# Frame-time benchmark of the studio while a CPU training job runs, in a real window under Xvfb,
# with a screenshot of every panel on the way (the studio's own --tour).
# Needs: apt-get install xvfb xauth mesa-vulkan-drivers libvulkan1
# Usage: bench/studio_frames.sh [seconds-per-panel] [out-dir] [studio options…]
#   e.g. bench/studio_frames.sh 30 target/studio-bench --preset gran-fmnist --autostart
#        bench/studio_frames.sh 40 target/studio-bench --resume runs/fmnist
# Prints the JSON report (frames, p50_ms, p99_ms, max_ms, training_steps); the PNGs are in out-dir.
set -euo pipefail
per_panel="${1:-20}"
out="$(realpath -m "${2:-target/studio-bench}")"
shift 2 || true
studio_options=("$@")
if [ ${#studio_options[@]} -eq 0 ]; then studio_options=(--autostart); fi
mkdir -p "$out"
cargo build -p easel
binary="$(realpath target/debug/easel)"
export XDG_RUNTIME_DIR="$(mktemp -d)"; chmod 700 "$XDG_RUNTIME_DIR"
stops=9   # the most --tour makes (Pyramid for LAPGAN, Text for StackGAN)
seconds=$(( per_panel * stops + 2 ))
cd "$(mktemp -d)"   # new runs go to ./runs here
xvfb-run -a -s "-screen 0 1280x800x24" "$binary" studio "${studio_options[@]}" \
  --tour "$per_panel" --screenshots "$out" \
  --quit-after-seconds "$seconds" --frame-report "$out/frames.json"
cat "$out/frames.json"; echo
ls "$out"
