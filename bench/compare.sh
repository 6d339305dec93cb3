#!/usr/bin/env bash
# Ternary matmul, ours beside llama.cpp's, on the bitnet-b1.58-2B-4T shapes, in one run on this machine.
#
#   bench/compare.sh LLAMA_BIN_DIR [BITNET_BENCH]
#
# LLAMA_BIN_DIR holds an already-built llama.cpp `test-backend-ops` (this script builds nothing and fetches nothing).
# Upstream comments TQ1_0/TQ2_0 out of its perf cases: enable MUL_MAT perf cases for TQ1_0, TQ2_0 and Q4_0 with
# m,k in {2560x2560, 640x2560, 6912x2560, 2560x6912} and n in {1, 128} in your local checkout (../shared/TOOLCHAIN.md).
# Rows of other shapes are ignored. test-backend-ops uses every core (std::thread::hardware_concurrency) and
# reuses one matrix (cache-resident), so our side runs the same regime at the same thread count.
# llama.cpp's time includes quantizing the f32 activations to Q8_K; ours takes int8 activations (quantizing a
# 128x2560 float block costs ~3% of the GEMM, under 1% of a GEMV).
# Prints a markdown table on stdout; progress on stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_BIN="${1:?usage: bench/compare.sh LLAMA_BIN_DIR [BITNET_BENCH]}"
OURS="${2:-$ROOT/build/native-release/tests/native-bench/bitnet-bench}"
THREADS="$(nproc)"
[[ -x "$LLAMA_BIN/test-backend-ops" ]] || { echo "error: no test-backend-ops in $LLAMA_BIN" >&2; exit 1; }
[[ -x "$OURS" ]] || { echo "error: $OURS not built (run ./build.sh)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "ours: bitnet-bench matmul, $THREADS threads, resident, I2_S and I2S_X4 rows" >&2
"$OURS" matmul --threads "$THREADS" --resident-only --layout i2_s,x4 >"$tmp/ours.md" 2>/dev/null
echo "llama.cpp: test-backend-ops perf -o MUL_MAT" >&2
BN_2B4T_ONLY=1 "$LLAMA_BIN/test-backend-ops" perf -o MUL_MAT -b CPU 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' >"$tmp/llama.txt"

# ours: "| variant | threads | resident | name MxK | time | ..." rows of the GEMV (us) and GEMM (ms) tables of both
# layouts; keep the fastest variant and layout per shape and T, in microseconds, and the GEMV's % of bandwidth.
awk -F'|' '
  /^GEMV/ { t = 1; unit = 1 } /^GEMM/ { t = 128; unit = 1000 }
  /^GEMV/ || /^GEMM/ { lay = /I2S_X4/ ? ",x4" : "" }
  $4 ~ /resident/ {
    split($5, s, " "); shape = s[2]; v = $2; gsub(/ /, "", v); v = v lay
    us = $6 * unit; key = shape " " t
    if (!(key in best) || us < best[key]) { best[key] = us; var[key] = v; pct[key] = (t == 1 ? $8 : "") }
  }
  END { for (k in best) { p = pct[k]; gsub(/ /, "", p); printf "%s %.2f %s %s\n", k, best[k], var[k], p } }
' "$tmp/ours.md" | sort >"$tmp/ours.txt"

# llama.cpp: "MUL_MAT(type_a=tq2_0,type_b=f32,m=2560,n=1,k=2560,...):   N runs -   X us/run - ..."
awk '
  /MUL_MAT\(type_a=/ {
    match($0, /type_a=[a-z0-9_]+/); ta = substr($0, RSTART + 7, RLENGTH - 7)
    match($0, /,m=[0-9]+/); m = substr($0, RSTART + 3, RLENGTH - 3)
    match($0, /,n=[0-9]+/); n = substr($0, RSTART + 3, RLENGTH - 3)
    match($0, /,k=[0-9]+/); k = substr($0, RSTART + 3, RLENGTH - 3)
    match($0, /[0-9.]+ us\/run/); us = substr($0, RSTART, RLENGTH - 7)
    if (us != "") printf "%sx%s %s %s %s\n", m, k, n, ta, us
  }
' "$tmp/llama.txt" >"$tmp/llama-rows.txt"

echo "| shape (out x in) | tokens | threads | ours µs (variant) | llama.cpp TQ1_0 µs | TQ2_0 µs | Q4_0 µs | ours vs best ternary | ours GEMV % of read bandwidth |"
echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
while read -r shape t us variant pct; do
  get() { awk -v s="$shape" -v t="$t" -v ty="$1" '$1 == s && $2 == t && $3 == ty { print $4; exit }' "$tmp/llama-rows.txt"; }
  tq1="$(get tq1_0)"; tq2="$(get tq2_0)"; q4="$(get q4_0)"
  ratio="$(awk -v o="$us" -v a="${tq1:-0}" -v b="${tq2:-0}" 'BEGIN {
    best = (a > 0 && (b == 0 || a < b)) ? a : b; if (best > 0) printf "%.2fx", best / o; else printf "n/a" }')"
  echo "| $shape | $t | $THREADS | $us ($variant) | ${tq1:-n/a} | ${tq2:-n/a} | ${q4:-n/a} | $ratio | ${pct:-} |"
done <"$tmp/ours.txt"
