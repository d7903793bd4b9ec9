#!/usr/bin/env bash
# Frame-time benchmark of the studio while a CPU training job runs, in a real window under Xvfb.
# Needs: apt-get install xvfb xauth mesa-vulkan-drivers libvulkan1 x11-apps imagemagick
# Usage: bench/studio_frames.sh [seconds] [out-dir]
# Prints the JSON report (frames, p50_ms, p99_ms, max_ms, training_steps) and leaves a screenshot.
set -euo pipefail
seconds="${1:-60}"
out="${2:-target/studio-bench}"
mkdir -p "$out"
cargo build -p easel
export XDG_RUNTIME_DIR="$(mktemp -d)"; chmod 700 "$XDG_RUNTIME_DIR"
runs="$(mktemp -d)"
cd "$runs"
xvfb-run -a -s "-screen 0 1280x800x24" bash -c "
  '$OLDPWD/target/debug/easel' studio --autostart --quit-after-seconds $seconds --frame-report '$OLDPWD/$out/frames.json' &
  pid=\$!
  sleep \$(( $seconds * 2 / 3 ))
  xwd -root -silent | convert xwd:- png:'$OLDPWD/$out/studio.png'
  wait \$pid
"
cat "$OLDPWD/$out/frames.json"; echo
