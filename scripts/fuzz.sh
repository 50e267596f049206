#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes (fuzz/fuzz_targets/) with libFuzzer for a fixed time
# each, starting from the committed seeds (fuzz/corpus/<target>/; regenerate them with
# fuzz/make_seeds.py). Fails on any crash, panic, failed assertion, leak, timeout or
# out-of-memory; the input that caused it is saved under fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 60) each
#   scripts/fuzz.sh markdown jpeg_oracle
#   FUZZ_SECONDS=600 scripts/fuzz.sh image_hash
#   scripts/fuzz.sh --build         # build only
#
# Needs no cargo-fuzz: builds the targets as `cargo fuzz build` does (sanitizer coverage,
# AddressSanitizer, `--cfg fuzzing`; debug assertions and overflow checks in mmdedup's code),
# with FUZZ_TOOLCHAIN, else nightly where rustup has it, else the default (stable) toolchain
# with RUSTC_BOOTSTRAP=1 for its one unstable flag (-Zsanitizer=address). FUZZ_SANITIZER=none
# builds without AddressSanitizer (faster; it guards the few unsafe SIMD routines and the C
# code). Also: FUZZ_JOBS (build jobs), FUZZ_RSS_MB (memory limit, default 2048), FUZZ_TIMEOUT
# (seconds one input may take, default 30). Panics that mmdedup catches by design inside its
# dependencies are counted, not failures (fuzz/fuzz_targets/common.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(jpeg_oracle image_hash markdown tokenizer_load text_kernels)
SECONDS_EACH="${FUZZ_SECONDS:-60}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT="${FUZZ_TIMEOUT:-30}"
SANITIZER="${FUZZ_SANITIZER:-address}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$PWD/fuzz/target"

build_only=0
targets=()
for arg in "$@"; do
    case "$arg" in
        --build) build_only=1 ;;
        -*) echo "unknown option $arg" >&2; exit 2 ;;
        *) targets+=("$arg") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# The toolchain: FUZZ_TOOLCHAIN, else nightly where rustup has it, else the default one.
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ] && command -v rustup >/dev/null \
    && rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=nightly
fi
cargo_cmd=(cargo)
rustc_cmd=(rustc)
if [ -n "$toolchain" ]; then
    cargo_cmd=(rustup run "$toolchain" cargo)
    rustc_cmd=(rustup run "$toolchain" rustc)
fi
if ! "${rustc_cmd[@]}" --version | grep -q -- -nightly; then
    # A stable rustc takes -Z flags when told it is building itself.
    export RUSTC_BOOTSTRAP=1
fi

# What cargo-fuzz passes (src/project.rs: coverage level 4, 8-bit counters, PC table, compare
# tracing, stack depth); debug assertions and overflow checks come from fuzz/Cargo.toml's
# profile, for mmdedup and the targets only.
rustflags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
rustflags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
rustflags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
rustflags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
rustflags+=" -Cllvm-args=-sanitizer-coverage-stack-depth"
rustflags+=" --cfg fuzzing"
[ "$SANITIZER" = none ] || rustflags+=" -Zsanitizer=$SANITIZER"

echo "== fuzz: building ${targets[*]} ($("${cargo_cmd[@]}" --version), sanitizer $SANITIZER)"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
# --target keeps the flags off build scripts and proc macros, as cargo-fuzz does.
RUSTFLAGS="$rustflags" "${cargo_cmd[@]}" build --release \
    --manifest-path fuzz/Cargo.toml --target "$TRIPLE" ${FUZZ_JOBS:+--jobs "$FUZZ_JOBS"} \
    "${bins[@]}"
[ "$build_only" = 0 ] || exit 0

failed=()
for t in "${targets[@]}"; do
    bin="fuzz/target/$TRIPLE/release/$t"
    seeds="fuzz/corpus/$t"
    work="fuzz/target/corpus/$t" # what the fuzzer adds: kept between runs, never committed
    mkdir -p "$work" "fuzz/artifacts/$t"
    [ -d "$seeds" ] || { echo "no seeds in $seeds" >&2; exit 1; }
    echo "== fuzz: $t for ${SECONDS_EACH}s"
    log="fuzz/target/$t.log"
    if ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" "$work" "$seeds" >"$log" 2>&1
    then
        grep -E '^#[0-9]+[[:space:]]+DONE|stat::peak_rss_mb' "$log" \
            | sed -E 's/[[:space:]]+/ /g; s/^/   /' || true
        caught=$(grep -c '^dependency panic' "$log" || true)
        [ "$caught" = 0 ] || echo "   $caught kinds of dependency panic, caught by mmdedup (see $log)"

    else
        tail -n 60 "$log"
        echo "== fuzz: $t FAILED; reproducer: $(ls -t "fuzz/artifacts/$t" | head -n 1 | sed "s|^|fuzz/artifacts/$t/|")" >&2
        echo "   rerun it with: $bin fuzz/artifacts/$t/<file>" >&2
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== fuzz: failures in ${failed[*]}" >&2
    exit 1
fi
echo "== fuzz: ${#targets[@]} targets, no crash"
