#!/usr/bin/env bash
# Easel against PyTorch on this CPU, model by model: `easel bench` and the PyTorch reference of the
# same network, batch, optimizer, losses and step (G draws once per iteration), alternated three
# times per model so both see the same machine load. Prints each pair, then one table: the median
# of each side's images/s, the median of the three Easel/PyTorch ratios, and peak resident memory.
#
# Needs PyTorch in a venv: python3 -m venv .venv && .venv/bin/pip install torch pillow
# Usage: bench/compare.sh [seconds-per-run] [preset…]
#   e.g. bench/compare.sh 20                       # gran-fmnist dcgan-fmnist lapgan-fmnist stackgan2-shapes
#        bench/compare.sh 10 gran-fmnist
# Environment: EASEL (the binary; default: built by `cargo build -p easel`), TORCH_PYTHON
# (default .venv/bin/python), ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
  presets=(gran-fmnist dcgan-fmnist lapgan-fmnist stackgan2-shapes)
fi
rounds="${ROUNDS:-3}"
python="${TORCH_PYTHON:-.venv/bin/python}"
if [ -z "${EASEL:-}" ]; then
  cargo build -p easel
  EASEL=target/debug/easel
fi
"$python" -c "import torch" || { echo "no PyTorch at $python (see the header of $0)" >&2; exit 1; }

reference() {
  case "$1" in
    gran-fmnist) echo "bench/gran_torch.py --steps 3" ;;
    dcgan-fmnist) echo "bench/gran_torch.py --steps 1" ;;
    lapgan-fmnist) echo "bench/lapgan_torch.py" ;;
    stackgan2-shapes) echo "bench/stackgan_torch.py" ;;
    *) echo "no PyTorch reference for preset $1" >&2; return 1 ;;
  esac
}

results="$(mktemp)"
for preset in "${presets[@]}"; do
  torch_cmd="$(reference "$preset")"
  for round in $(seq "$rounds"); do
    easel_json="$("$EASEL" bench --preset "$preset" --seconds "$seconds" --json)"
    # shellcheck disable=SC2086
    torch_json="$("$python" $torch_cmd --seconds "$seconds")"
    echo "$preset round $round: easel $easel_json"
    echo "$preset round $round: torch $torch_json"
    printf '%s\t%s\t%s\n' "$preset" "$easel_json" "$torch_json" >> "$results"
  done
done

python3 - "$results" "$seconds" <<'PY'
import json, statistics, sys, platform, datetime, os
rows = {}
for line in open(sys.argv[1]):
    preset, easel, torch = line.rstrip("\n").split("\t")
    rows.setdefault(preset, []).append((json.loads(easel), json.loads(torch)))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print()
print(f"{datetime.date.today()}, {os.cpu_count()} cores, {cpu}, {sys.argv[2]} s per run, "
      f"{len(next(iter(rows.values())))} alternated rounds; {rows[next(iter(rows))][0][1]['framework']}")
print()
print("| preset | batch | Easel img/s | PyTorch img/s | Easel / PyTorch (median of rounds) | "
      "Easel sample 64×T5 ms | peak RSS Easel / PyTorch MiB |")
print("|---|---|---|---|---|---|---|")
for preset, pairs in rows.items():
    easel = [e["train_images_per_second"] for e, _ in pairs]
    torch = [t["train_images_per_second"] for _, t in pairs]
    ratio = statistics.median(e / t for e, t in zip(easel, torch))
    sample = statistics.median(e["sample_64x5_ms"] for e, _ in pairs)
    mib = lambda v: f"{v / 2**20:.0f}" if v else "?"
    rss_e = max(e.get("peak_resident_bytes") or 0 for e, _ in pairs)
    rss_t = max(t.get("peak_resident_bytes") or 0 for _, t in pairs)
    print(f"| {preset} | {pairs[0][0]['batch_size']} | {statistics.median(easel):.1f} | "
          f"{statistics.median(torch):.1f} | **{ratio:.2f}** | {sample:.0f} | {mib(rss_e)} / {mib(rss_t)} |")
PY
rm -f "$results"
