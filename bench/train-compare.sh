#!/usr/bin/env bash
# Training throughput, ours beside TorchSharp, on the default model's shape, in one run on this machine.
#
#   bench/train-compare.sh [BITNET_BENCH]
#
# BITNET_BENCH: our native benchmark binary (default build/native-release/tests/native-bench/bitnet-bench, where
# ./build.sh puts it); its `train` subcommand times our trainer (bn_trainer_forward_backward + AdamW step; it runs
# one warm-up step, so WARMUP defaults to 1 for TorchSharp too).
# The peer is tests/BitNet.TrainingBenchmarks.Torch: the same BitNet b1.58 model (HF BitNetForCausalLM, BitLinear
# with the straight-through estimator) and the same step written with TorchSharp-cpu (LibTorch). This script builds
# it (`dotnet build -c Release`, which restores TorchSharp-cpu: ~600 MB the first time; nothing else restores it).
# Both sides run the same shape and optimizer on random token batches, alternating, REPS times per thread count;
# a cell is the median of the repetitions (tokens/s = batch*seq / median step time of each run).
#
# Environment (defaults = the default model): THREADS="1 2" REPS=3 WARMUP=1 STEPS=5 BATCH=8 SEQ=256 LAYERS=6
#   HIDDEN=256 INTERMEDIATE=768 HEADS=4 KV_HEADS=2 VOCAB=4096.
# Prints a markdown table on stdout; progress (and each run's JSON line) on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OURS="${1:-$ROOT/build/native-release/tests/native-bench/bitnet-bench}"
THREADS="${THREADS:-1 2}" REPS="${REPS:-3}" WARMUP="${WARMUP:-1}" STEPS="${STEPS:-5}"
BATCH="${BATCH:-8}" SEQ="${SEQ:-256}" LAYERS="${LAYERS:-6}" HIDDEN="${HIDDEN:-256}"
INTERMEDIATE="${INTERMEDIATE:-768}" HEADS="${HEADS:-4}" KV_HEADS="${KV_HEADS:-2}" VOCAB="${VOCAB:-4096}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

TORCH_PROJ="$ROOT/tests/BitNet.TrainingBenchmarks.Torch"
TORCH_DLL="$TORCH_PROJ/bin/Release/net10.0/BitNet.TrainingBenchmarks.Torch.dll"
SHAPE=(--batch "$BATCH" --seq "$SEQ" --layers "$LAYERS" --hidden "$HIDDEN" --heads "$HEADS" --kv-heads "$KV_HEADS"
  --vocab "$VOCAB" --steps "$STEPS")

have_ours=1
if [[ ! -x "$OURS" ]]; then
  echo "warning: $OURS not built (./build.sh): TorchSharp only" >&2; have_ours=0
elif ! "$OURS" --help 2>/dev/null | grep -q '^ *train'; then
  echo "warning: $OURS has no 'train' subcommand: TorchSharp only" >&2; have_ours=0
fi

echo "building $TORCH_PROJ (Release)" >&2
dotnet build "$TORCH_PROJ" -c Release -v quiet -nologo >&2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# json_field FIELD <<< '{"a":1,...}': the number after "FIELD": in a one-line JSON object
json_field() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }

run_ours() {
  # {"bench":"train",...,"results":[{"threads":N,"tokens_per_s":X,...}]}
  "$OURS" train --threads "$1" "${SHAPE[@]}" --ffn "$INTERMEDIATE" --json 2>"$tmp/ours.err" | grep '^{' | tail -n 1
}
run_torch() {
  # {"impl":"torchsharp","threads":N,...,"tokens_per_s":X,"step_ms":...,"loss_first":...,"loss_last":...}
  dotnet "$TORCH_DLL" --threads "$1" "${SHAPE[@]}" --intermediate "$INTERMEDIATE" --warmup "$WARMUP" \
    2>"$tmp/torch.err" | grep '^{' | tail -n 1
}

for t in $THREADS; do
  for ((r = 1; r <= REPS; r++)); do
    for impl in ours torch; do
      [[ "$impl" == ours && "$have_ours" == 0 ]] && continue
      if ! line="$(run_"$impl" "$t")" || [[ -z "$line" ]]; then
        echo "error: $impl failed at $t threads:" >&2; cat "$tmp/$impl.err" >&2; exit 1
      fi
      echo "$impl t=$t rep=$r: $line" >&2
      # TorchSharp's own report of its intra-op threads must be what was asked
      if [[ "$impl" == torch && "$(json_field threads <<<"$line")" != "$t" ]]; then
        echo "error: TorchSharp ran with $(json_field threads <<<"$line") threads, not $t" >&2; exit 1
      fi
      json_field tokens_per_s <<<"$line" >>"$tmp/$impl-$t.txt"
    done
  done
done

# median of a file of numbers, one per line (n/a when empty)
median() {
  [[ -s "$1" ]] || { echo n/a; return; }
  sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range() { [[ -s "$1" ]] && sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf " (%.0f–%.0f)", lo, hi }'; }

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
isa="AVX2"; grep -q avx512f /proc/cpuinfo && isa="AVX-512"
echo "Machine: $cpu ($isa), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)."
echo "Shape: vocab $VOCAB, hidden $HIDDEN, intermediate $INTERMEDIATE, $LAYERS layers, $HEADS/$KV_HEADS heads," \
  "batch $BATCH x seq $SEQ; AdamW; $WARMUP warm-up + $STEPS timed steps per run, median of $REPS runs (min–max)."
echo
echo "| shape | threads | ours tok/s | TorchSharp tok/s | ours / TorchSharp |"
echo "|---|---:|---:|---:|---:|"
for t in $THREADS; do
  o="$(median "$tmp/ours-$t.txt")" p="$(median "$tmp/torch-$t.txt")"
  ratio="$(awk -v o="$o" -v p="$p" 'BEGIN { if (o + 0 > 0 && p + 0 > 0) printf "%.2fx", o / p; else printf "n/a" }')"
  echo "| ${LAYERS}L h$HIDDEN ffn$INTERMEDIATE v$VOCAB, ${BATCH}x$SEQ | $t | $o$(range "$tmp/ours-$t.txt") |" \
    "$p$(range "$tmp/torch-$t.txt") | $ratio |"
done
