#!/usr/bin/env bash
# End to end, ours beside llama.cpp, on the same 2B4T-shaped GGUF files, in one run on this machine:
# prefill (pp128) and decode (tg64) tokens/s at the same thread count, the decode bandwidth floor, peak RSS.
#
#   bench/e2e.sh LLAMA_BIN_DIR [THREADS] [REPS]
#
# LLAMA_BIN_DIR holds an already-built llama.cpp `llama-bench` (this script builds nothing and fetches nothing).
# Ours is artifacts/bin/bitnet (BITNET=path overrides). The models are `bitnet create --preset 2b4t --random` in
# TQ2_0 and TQ1_0 with a Q6_K tied embedding (what llama-quantize writes), kept in build/e2e/ between runs.
# The two programs alternate, REPS rounds of each (default 3), and the best round of each is reported, because
# other work on a small machine only ever slows a run down. The floor is `bitnet bench`'s own: this run's
# STREAM-style read bandwidth over the bytes of the file's tensors (CLI.md "How speed is stated"), read right after
# each repetition's decode. Reported: the best decode over the best floor of all rounds (ours and llama.cpp's), and
# each of our repetitions' decode over its own floor (median and range over all rounds), which is the fair fraction
# where the bandwidth moves between seconds. Peak RSS: ours is VmHWM before the first bandwidth measurement,
# llama-bench's is /usr/bin/time's maximum resident set. The RSS bound is the issue's: weights + KV cache + 15%,
# with the KV cache of the 192 positions (F32: 30 layers x 2 x 640 x 192 x 4 bytes).
# Prints a markdown table on stdout; progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_BIN="${1:?usage: bench/e2e.sh LLAMA_BIN_DIR [THREADS] [REPS]}"
THREADS="${2:-2}"
REPS="${3:-3}"
BITNET="${BITNET:-$ROOT/artifacts/bin/bitnet}"
WORK="$ROOT/build/e2e"
[[ -x "$LLAMA_BIN/llama-bench" ]] || { echo "error: no llama-bench in $LLAMA_BIN" >&2; exit 1; }
[[ -x "$BITNET" ]] || { echo "error: $BITNET not built (run ./build.sh)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is needed for llama-bench's peak RSS (apt-get install time)" >&2; exit 1; }
mkdir -p "$WORK"
export LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
KV_BYTES=$((30 * 2 * 640 * 192 * 4))

# best VALUE: the largest of a list of numbers (one per line)
best() { sort -g | tail -1; }

echo "| type | file | ours pp128 | llama.cpp pp128 | ratio | ours tg64 | llama.cpp tg64 | ratio | floor tg | ours / floor | ours / floor, each repetition beside its own read (median, range) | llama.cpp / floor | ours peak RSS | llama.cpp peak RSS | bound: weights + KV + 15% |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for type in tq2_0 tq1_0; do
  model="$WORK/2b4t-$type.gguf"
  if [[ ! -s "$model" ]]; then
    echo "creating $model" >&2
    "$BITNET" create --preset 2b4t --random --type "$type" -o "$model" >&2
  fi
  : >"$WORK/ours-$type.jsonl"
  : >"$WORK/llama-$type.txt"
  for ((r = 1; r <= REPS; r++)); do
    echo "$type round $r/$REPS: ours" >&2
    "$BITNET" bench -m "$model" -p 128 -n 64 --threads "$THREADS" --repetitions 3 --json 2>/dev/null | tr -d '\n' >>"$WORK/ours-$type.jsonl"
    echo >>"$WORK/ours-$type.jsonl"
    echo "$type round $r/$REPS: llama.cpp" >&2
    /usr/bin/time -f "maxrss_kb %M" "$LLAMA_BIN/llama-bench" -m "$model" -p 128 -n 64 -t "$THREADS" -r 3 -o json \
      >"$WORK/llama-$type-$r.json" 2>>"$WORK/llama-$type.txt"
  done
  python3 - "$WORK" "$type" "$REPS" "$KV_BYTES" <<'EOF'
import json, sys, glob, re
work, t, reps, kv = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ours = [json.loads(l) for l in open(f"{work}/ours-{t}.jsonl") if l.strip()]
pp_o = max(o["prefill_tok_s"] for o in ours); tg_o = max(o["decode_tok_s"] for o in ours)
floor = max(o["bandwidth_floor_tok_s"] for o in ours)
rss_o = min(o["peak_rss_bytes"] for o in ours)
weights = ours[0]["weight_bytes"]
pp_l = tg_l = 0.0
for r in range(1, reps + 1):
    for row in json.load(open(f"{work}/llama-{t}-{r}.json")):
        if row["n_prompt"] > 0 and row["n_gen"] == 0: pp_l = max(pp_l, row["avg_ts"])
        if row["n_gen"] > 0 and row["n_prompt"] == 0: tg_l = max(tg_l, row["avg_ts"])
rss_l = min(int(m) * 1024 for m in re.findall(r"maxrss_kb (\d+)", open(f"{work}/llama-{t}.txt").read()))
mib = lambda b: f"{b / 2**20:.0f} MiB"
# the VM's read bandwidth moves from second to second: `bitnet bench` reads it right after each repetition's decode,
# and each repetition's decode over its own floor is the fair fraction (median and range over all rounds)
fr = sorted(100 * f for o in ours for f in o["decode_floor_fraction_samples"])
same = f"{fr[len(fr) // 2]:.0f}% ({fr[0]:.0f}-{fr[-1]:.0f}%)"
bound = (weights + kv) * 1.15
print(f"| {t.upper()} | {weights / 1e6:.0f} MB | {pp_o:.1f} | {pp_l:.1f} | {pp_o / pp_l:.2f}x | {tg_o:.2f} | {tg_l:.2f} | "
      f"{tg_o / tg_l:.2f}x | {floor:.1f} | {100 * tg_o / floor:.0f}% | {same} | {100 * tg_l / floor:.0f}% | {mib(rss_o)} | {mib(rss_l)} | {mib(bound)} |")
EOF
done
echo
echo "$(lscpu | sed -n 's/^Model name: *//p'), $THREADS threads, best of $REPS alternating rounds, $(date -u +%Y-%m-%dT%H:%MZ), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
