#!/usr/bin/env bash
# The GPU check: everything worth knowing about Easel on a machine with a GPU, in one run of a few
# minutes, from binaries built beforehand (the GPU machines of this project have no internet).
#
#   1. the backends and their devices (`easel devices`);
#   2. `easel bench` of every preset on each GPU backend compiled in and usable here;
#   3. the GPU-vs-CPU parity tests (tests/tests/wgpu.rs: training, sampling, data parallel);
#   4. TRAIN_MINUTES of training gran-fmnist on the first GPU backend, and its `easel score`;
#
# then one table on stdout and the same as JSON in $OUT/gpu_check.json.
#
# Build here, carry, run there:
#   cargo build -p easel && cargo test -p easel-tests --test wgpu --no-run   # prints the test binary
#   EASEL=target/debug/easel PARITY=target/debug/deps/wgpu-… bash bench/gpu_check.sh
# The default build compiles WGPU's kernels to SPIR-V on a Vulkan adapter (`easel devices` says
# `kernels wgpu<spirv>`); binaries built with `--no-default-features --features wgpu` check WGSL.
#
# Settings (environment):
#   EASEL          the easel binary (default: target/debug/easel, else easel on PATH)
#   PARITY         the wgpu parity test binary (default: the newest target/debug/deps/wgpu-*)
#   PRESETS        presets to bench (default: every shipped preset)
#   BENCH_SECONDS  timed seconds per preset (default 10)
#   TRAIN_PRESET   the preset trained and scored (default gran-fmnist; gran-shapes where
#                  Fashion-MNIST is not installed)
#   TRAIN_MINUTES  minutes of that training (default 2)
#   SCORE_SAMPLES  samples scored (default 1000)
#   BACKENDS       the backends to check (default: those `easel devices --usable` lists, the CPU
#                  left out unless it is the only one)
#   OUT            where results go (default: a new folder under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."

EASEL=${EASEL:-target/debug/easel}
[[ -x $EASEL ]] || EASEL=$(command -v easel || true)
[[ -n $EASEL && -x $EASEL ]] || { echo "gpu_check: no easel binary (set EASEL)" >&2; exit 2; }
PARITY=${PARITY:-$(ls -t target/debug/deps/wgpu-* 2>/dev/null | grep -v '\.d$' | head -n 1 || true)}
BENCH_SECONDS=${BENCH_SECONDS:-10}
TRAIN_MINUTES=${TRAIN_MINUTES:-2}
SCORE_SAMPLES=${SCORE_SAMPLES:-1000}
OUT=${OUT:-$(mktemp -d /tmp/easel-gpu-check.XXXXXX)}
mkdir -p "$OUT"
# A run folder is never overwritten: an earlier check's results would make this one's training fail.
if [[ -n $(ls -A "$OUT") ]]; then
    echo "gpu_check: $OUT is not empty (an earlier check?); set OUT to a new folder" >&2
    exit 2
fi
# Vulkan's loader wants a runtime folder even without a desktop session.
if [[ -z ${XDG_RUNTIME_DIR:-} || ! -d ${XDG_RUNTIME_DIR:-} ]]; then
    XDG_RUNTIME_DIR=$(mktemp -d)
    chmod 700 "$XDG_RUNTIME_DIR"
    export XDG_RUNTIME_DIR
fi

log() { echo "gpu_check: $*" >&2; }
# A JSON string of $1.
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    printf '"%s"' "${s//$'\t'/ }"
}

# 1. Backends and devices.
log "easel: $EASEL; results in $OUT"
"$EASEL" devices | tee "$OUT/devices.txt" >&2
"$EASEL" devices --json >"$OUT/devices.json"
if [[ -z ${BACKENDS:-} ]]; then
    BACKENDS=$("$EASEL" devices --usable | grep -vx cpu || true)
    [[ -n $BACKENDS ]] || BACKENDS=cpu
fi
read -r -a backends <<<"$(echo $BACKENDS)"
log "checking backend(s): ${backends[*]}"
first=${backends[0]}

# 2. Bench every preset on each backend.
if [[ -z ${PRESETS:-} ]]; then
    PRESETS=$("$EASEL" presets | awk '{print $1}')
fi
: >"$OUT/bench.jsonl"
for b in "${backends[@]}"; do
    for p in $PRESETS; do
        log "bench $p on $b (${BENCH_SECONDS} s)"
        if line=$("$EASEL" bench --backend "$b" --preset "$p" --seconds "$BENCH_SECONDS" --json 2>"$OUT/bench-$b-$p.err"); then
            echo "$line" >>"$OUT/bench.jsonl"
        else
            echo "{\"preset\":$(json_str "$p"),\"backend\":$(json_str "$b"),\"error\":$(json_str "$(tail -n 1 "$OUT/bench-$b-$p.err")")}" >>"$OUT/bench.jsonl"
        fi
    done
done

# 3. The parity tests.
parity_status=skipped
parity_detail="no parity test binary (build it with: cargo test -p easel-tests --test wgpu --no-run)"
if [[ -n $PARITY && -x $PARITY ]]; then
    log "parity tests: $PARITY"
    if EASEL_REQUIRE_WGPU=1 "$PARITY" --test-threads 1 --nocapture >"$OUT/parity.log" 2>&1; then
        parity_status=passed
    else
        parity_status=failed
    fi
    parity_detail=$(grep -E "kernels compiled by|largest|test result" "$OUT/parity.log" |
        sort -u | tr '\n' ';' || true)
fi

# 4. Train, then score.
TRAIN_PRESET=${TRAIN_PRESET:-gran-fmnist}
if [[ $TRAIN_PRESET == *fmnist* && ! -d /usr/share/datasets/fashion-mnist ]]; then
    log "no Fashion-MNIST in /usr/share/datasets/fashion-mnist: training gran-shapes instead"
    TRAIN_PRESET=gran-shapes
fi
run="$OUT/train-$TRAIN_PRESET"
log "training $TRAIN_PRESET on $first for $TRAIN_MINUTES min"
train_status=ok
"$EASEL" train --preset "$TRAIN_PRESET" --backend "$first" --minutes "$TRAIN_MINUTES" --out "$run" \
    >"$OUT/train.log" 2>&1 || train_status=failed
steps=$(grep -o '"step":[0-9]*' "$run/events.jsonl" 2>/dev/null | tail -n 1 | cut -d: -f2 || true)
rate=$(grep '"event":"step"' "$run/events.jsonl" 2>/dev/null | tail -n 1 | grep -o '"images_per_second":[0-9.e+-]*' | cut -d: -f2 || true)
score_json=null
if [[ $train_status == ok ]]; then
    log "scoring $SCORE_SAMPLES samples"
    if "$EASEL" score "$run" --backend "${SCORE_BACKEND:-$first}" --samples "$SCORE_SAMPLES" --json \
        >"$OUT/score.json" 2>"$OUT/score.err"; then
        score_json=$(cat "$OUT/score.json")
    else
        score_json=$(json_str "$(tail -n 1 "$OUT/score.err")")
    fi
fi
score_field() { grep -o "\"$1\": *[0-9.e+-]*" "$OUT/score.json" 2>/dev/null | head -n 1 | sed 's/.*: *//' || true; }

# The table.
{
    echo
    echo "Easel GPU check — $(date -u +%Y-%m-%dT%H:%MZ) — $(hostname)"
    sed 's/^/  /' "$OUT/devices.txt"
    echo
    printf '%-8s %-18s %6s %12s %9s %12s  %s\n' backend preset batch "train img/s" GFLOP/s "sample ms" note
    while read -r line; do
        get() { grep -o "\"$1\":[^,}]*" <<<"$line" | head -n 1 | cut -d: -f2- | tr -d '"' || true; }
        printf '%-8s %-18s %6s %12s %9s %12s  %s\n' "$(get backend)" "$(get preset)" "$(get batch_size)" \
            "$(get train_images_per_second | cut -c1-8)" "$(get gflops_per_second | cut -c1-6)" \
            "$(get sample_64x5_ms | cut -c1-7)" "$(get error)"
    done <"$OUT/bench.jsonl"
    echo
    echo "parity tests: $parity_status  ${parity_detail}"
    echo "training $TRAIN_PRESET on $first, $TRAIN_MINUTES min: $train_status, ${steps:-0} steps, ${rate:-?} img/s at the end"
    echo "score: classifier score $(score_field classifier_score), Fréchet distance $(score_field frechet_distance)"
} | tee "$OUT/table.txt"

# The JSON.
{
    echo "{"
    echo "  \"devices\": $(cat "$OUT/devices.json"),"
    echo "  \"bench\": [$(paste -sd, "$OUT/bench.jsonl")],"
    echo "  \"parity\": {\"status\": $(json_str "$parity_status"), \"detail\": $(json_str "$parity_detail")},"
    echo "  \"training\": {\"preset\": $(json_str "$TRAIN_PRESET"), \"backend\": $(json_str "$first"), \"minutes\": $TRAIN_MINUTES, \"status\": $(json_str "$train_status"), \"steps\": ${steps:-0}, \"images_per_second\": ${rate:-null}},"
    echo "  \"score\": $score_json"
    echo "}"
} >"$OUT/gpu_check.json"
log "wrote $OUT/table.txt and $OUT/gpu_check.json"
[[ $parity_status != failed && $train_status == ok ]]
