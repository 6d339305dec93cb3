#!/usr/bin/env bash
# Does a GGUF written by `bitnet convert` run in llama.cpp, and how far are its logits from the Hugging Face
# reference? Ours beside it on the same file (issue 8).
#
#   bench/llama-cpp-logits.sh LLAMA_BIN_DIR [FIXTURES_DIR] [BITNET]
#
# LLAMA_BIN_DIR holds an already-built llama.cpp `llama-perplexity` (nothing is built or fetched here).
# For each fixture folder (bitnet-tiny/master, bitnet-tiny/packed, bitnet-small/packed) and type (f32, tq2_0):
#   1. `bitnet convert FOLDER --type TYPE --embedding-type f32 -o m.gguf`;
#   2. llama.cpp: the reference logits go into llama-perplexity's own "_logits_" file (bench/llama-cpp-logits.py
#      base), and `llama-perplexity --kl-divergence` evaluates the reference ids with m.gguf and reports
#      KL(reference || llama.cpp). It scores positions N_CTX/2 .. N_CTX-2 of a chunk only, so it runs with
#      N_CTX = T, T/2+1, ... until positions 1 .. T-2 are all covered (logits at a position depend only on the ids
#      before it, so a shorter chunk of the same ids gives the same logits there);
#   3. ours: `bitnet logits -m m.gguf --ids ...`, scored over the same positions 1 .. T-2.
# llama.cpp has no tool that writes raw logits for given ids, so its max |Δlogit| is not available; KL and top-1
# agreement are. Prints a markdown table on stdout; progress on stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_BIN="${1:?usage: bench/llama-cpp-logits.sh LLAMA_BIN_DIR [FIXTURES_DIR] [BITNET]}"
FIX="${2:-$ROOT/../shared/fixtures}"
BITNET="${3:-$ROOT/artifacts/bin/bitnet}"
THREADS="${THREADS:-2}"
PY="$ROOT/bench/llama-cpp-logits.py"
PPL="$LLAMA_BIN/llama-perplexity"
[[ -x "$PPL" ]] || { echo "error: no llama-perplexity in $LLAMA_BIN" >&2; exit 1; }
[[ -x "$BITNET" ]] || { echo "error: $BITNET not built (run ./build.sh)" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# llama-perplexity --kl-divergence over positions 1..T-2 of REF's ids with GGUF; extra args go to llama-perplexity
llama_kl() {
  local gguf="$1" ref="$2"; shift 2
  local t m first logs=()
  t="$(python3 -c 'import sys,json,struct; b=open(sys.argv[1],"rb").read(); n=struct.unpack_from("<Q",b)[0]; print(json.loads(b[8:8+n])["input_ids"]["shape"][1])' "$ref")"
  m="$t"
  while :; do
    first=$((m / 2))
    python3 "$PY" base "$ref" "$m" "$tmp/base-$m.dat"
    # its logger runs on a thread and now and then loses lines: run again until the result line shows
    local try
    for try in 1 2 3 4 5 6 7 8 9 10; do
      if ! LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$PPL" -m "$gguf" -c "$m" -b "$m" -t "$THREADS" \
          --kl-divergence-base "$tmp/base-$m.dat" --kl-divergence "$@" >"$tmp/kl-$m.log" 2>&1; then
        echo "llama.cpp failed: $(grep -m1 -iE 'error|failed' "$tmp/kl-$m.log" || tail -n 1 "$tmp/kl-$m.log")" >&2
        echo "failed"; return 0
      fi
      grep -qE '^ *1 +[0-9.]+ ± .*%.*%' "$tmp/kl-$m.log" && break
    done
    logs+=("$m:$tmp/kl-$m.log")
    ((first <= 1)) && break
    m=$((first + 1))
  done
  python3 "$PY" kld "${logs[@]}"
}

field() { sed -n "s/.*$1 \\([^ ]*\\).*/\\1/p" <<<"$2"; }

echo "| model | GGUF type | positions | llama.cpp mean KL | llama.cpp top-1 agree | ours mean KL | ours max KL | ours max abs Δlogit | ours top-1 agree |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for spec in bitnet-tiny/master:reference-master bitnet-tiny/packed:reference-packed bitnet-small/packed:reference-packed; do
  folder="$FIX/${spec%%:*}"; ref="$FIX/$(dirname "${spec%%:*}")/${spec##*:}.safetensors"
  ids="$(python3 -c 'import sys,json,struct; b=open(sys.argv[1],"rb").read(); n=struct.unpack_from("<Q",b)[0]; h=json.loads(b[8:8+n]); lo,hi=h["input_ids"]["data_offsets"]; r=b[8+n+lo:8+n+hi]; print(",".join(map(str,struct.unpack("<%di"%(len(r)//4),r))))' "$ref")"
  t="$(tr ',' '\n' <<<"$ids" | wc -l)"
  for type in f32 tq2_0; do
    echo "${spec%%:*} $type" >&2
    gguf="$tmp/m-$type.gguf"
    # F32 embedding: the master fixture's embedding is F32, and F16 rounding of it alone moves logits by ~0.1
    "$BITNET" convert "$folder" -o "$gguf" --type "$type" --embedding-type f32 >/dev/null 2>&1
    lc="$(llama_kl "$gguf" "$ref")"
    "$BITNET" logits -m "$gguf" --ids "$ids" -o "$tmp/ours.safetensors" --threads "$THREADS" >/dev/null 2>&1
    ours="$(python3 "$PY" ours "$ref" "$tmp/ours.safetensors" 1 $((t - 2)))"
    if [[ "$lc" == failed ]]; then lkl="load failed"; ltop="-"; else lkl="$(field mean_kl "$lc")"; ltop="$(field top1_agree "$lc")"; fi
    echo "| ${spec%%:*} | $(tr a-z A-Z <<<"$type") | $(field positions "$ours") | $lkl | $ltop | $(field mean_kl "$ours") | $(field max_kl "$ours") | $(field max_dlogit "$ours") | $(field top1_agree "$ours") |"
  done
done

# Does this llama.cpp read <arch>.hidden_activation for BitNet? Same file, the key overridden to each value: equal
# KL means its BitNet graph ignores the key (upstream hard-codes SiLU there).
echo "" ; echo "hidden_activation check (bitnet-tiny/master, F32; llama-perplexity --override-kv):"
"$BITNET" convert "$FIX/bitnet-tiny/master" -o "$tmp/act.gguf" --type f32 --embedding-type f32 >/dev/null 2>&1
for act in relu2 silu relu; do
  r="$(llama_kl "$tmp/act.gguf" "$FIX/bitnet-tiny/reference-master.safetensors" --override-kv "bitnet.hidden_activation=str:$act")"
  echo "- bitnet.hidden_activation=$act: llama.cpp mean KL $(field mean_kl "$r"), top-1 agree $(field top1_agree "$r")"
done
