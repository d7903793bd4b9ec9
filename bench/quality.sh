#!/usr/bin/env bash
# Equal minutes, compared by quality: `easel train --preset gran-fmnist` for M minutes, then the
# PyTorch reference (bench/gran_torch.py, the same network and step) for M minutes, one after the
# other; 1000 samples of each scored by `easel score --folder` against Fashion-MNIST with Easel's
# classifier (classifier score, Fréchet distance, coverage).
#
# Needs: apt-get install dataset-fashion-mnist; PyTorch in a venv (see bench/compare.sh).
# Usage: bench/quality.sh [minutes] [out-dir]      e.g. bench/quality.sh 3 target/quality
# Environment: EASEL, TORCH_PYTHON as in bench/compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-3}"
out="$(realpath -m "${2:-target/quality}")"
python="${TORCH_PYTHON:-.venv/bin/python}"
if [ -z "${EASEL:-}" ]; then
  cargo build -p easel
  EASEL=target/debug/easel
fi
rm -rf "$out"
mkdir -p "$out"

"$EASEL" train --preset gran-fmnist --minutes "$minutes" --out "$out/easel-run" > "$out/easel-train.log"
"$EASEL" sample --run "$out/easel-run" --count 1000 --out "$out/easel-all" > /dev/null
mkdir -p "$out/easel-samples"
mv "$out"/easel-all/sample-*.png "$out/easel-samples/"
"$python" bench/gran_torch.py --steps 3 --train-minutes "$minutes" --samples "$out/torch-samples" \
  > "$out/torch-train.json"

steps="$(grep -c '"event":"step"' "$out/easel-run/events.jsonl" || true)"
echo "Easel: $steps steps in $minutes min; PyTorch: $(cat "$out/torch-train.json")"
for who in easel torch; do
  echo "== $who"
  "$EASEL" score --folder "$out/$who-samples" --data fashion-mnist
done
