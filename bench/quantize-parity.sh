#!/usr/bin/env bash
# `bitnet convert --type tq1_0|tq2_0` against llama.cpp's llama-quantize on the same weights (issue: model files).
# Route: bitnet convert MODEL --type f32 -> llama-quantize -> compare with bitnet convert --type tqN_0
# --embedding-type q6_k (llama-quantize's default for the tied embedding), tensor by tensor.
#   bench/quantize-parity.sh LLAMA_BIN_DIR [MODEL] [BITNET]
# LLAMA_BIN_DIR holds an already-built llama-quantize; nothing is built or fetched here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_BIN="${1:?usage: bench/quantize-parity.sh LLAMA_BIN_DIR [MODEL] [BITNET]}"
MODEL="${2:-$ROOT/../shared/fixtures/bitnet-tiny/packed}"
BITNET="${3:-$ROOT/artifacts/bin/bitnet}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$BITNET" convert "$MODEL" -o "$tmp/f32.gguf" --type f32 2>/dev/null
for t in tq1_0 tq2_0; do
  T="$(tr a-z A-Z <<<"$t")"
  LD_LIBRARY_PATH="$LLAMA_BIN" "$LLAMA_BIN/llama-quantize" "$tmp/f32.gguf" "$tmp/llama-$t.gguf" "$T" >"$tmp/q.log" 2>&1
  "$BITNET" convert "$MODEL" -o "$tmp/ours-$t.gguf" --type "$t" --embedding-type q6_k 2>/dev/null
  printf '%s: ' "$T"; python3 "$ROOT/bench/gguf-tensor-diff.py" "$tmp/ours-$t.gguf" "$tmp/llama-$t.gguf" | tail -n 1
done
