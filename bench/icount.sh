#!/usr/bin/env bash
# Exact instruction counts of one ternary GEMV, GEMM and Q6_K LM-head call per kernel variant this CPU runs, counted
# by single-stepping under ptrace (tests/native-bench/icount.c), so that every instruction set counts (valgrind 3.19
# decodes neither AVX-VNNI nor AVX-512, and VMs often expose no PMU).
#
#   bench/icount.sh [BUILD_DIR] [-- bitnet-bench icount options, e.g. --variants avx2,avx512 --ops gemv]
#
# BUILD_DIR is a native build with bitnet-bench and bitnet-icount (default build/native-release). Prints the markdown
# table on stdout; the tracer's raw per-region counts go to stderr. Takes a few minutes: single-stepping runs about
# 30 k instructions per second on a loaded 2-core VM (~1 M on bare metal). Exit 77 where ptrace is not permitted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/native-release"
if [[ $# -gt 0 && "$1" != "--" ]]; then BUILD="$1"; shift; fi
[[ $# -gt 0 && "$1" == "--" ]] && shift
BIN="$BUILD/tests/native-bench"
for exe in bitnet-bench bitnet-icount; do
  [[ -x "$BIN/$exe" ]] || { echo "error: $BIN/$exe not built (cmake --build $BUILD --target $exe)" >&2; exit 1; }
done

echo "bitnet-icount -- bitnet-bench icount $*   ($(date -u '+%Y-%m-%d %H:%M UTC'))" >&2
"$BIN/bitnet-icount" -- "$BIN/bitnet-bench" icount "$@"
