#!/usr/bin/env bash
# The whole test suite from nothing: builds mmdedup (release) into .venv, then runs the Rust
# format check, clippy and tests, and the Python lint, type check, tests and doctests.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"

echo "== cargo fmt / clippy / test"
cargo fmt --check
cargo clippy --quiet --all-targets --features python -- -D warnings
cargo test --quiet --lib

echo "== ruff / mypy / stubtest"
ruff check python tests benches
ruff format --check python tests benches
mypy
# The hand-written stub of the extension against the module that was just built.
python -m mypy.stubtest mmdedup._core

echo "== pytest"
pytest -q --doctest-modules python/mmdedup tests "$@"

# ---------------------------------------------------------------------------------------------
# Wheel: the sdist and the abi3 manylinux2014 wheel into dist/ (zig; its own target-wheel/, about
# 10 minutes from nothing on 2 cores), then that wheel installed and run in a fresh venv without
# Rust. MMDEDUP_SKIP_WHEEL=1 skips it (local runs); CI runs it.
if [ "${MMDEDUP_SKIP_WHEEL:-0}" != 1 ]; then
  echo "== wheel: scripts/build_wheel.sh, scripts/test_wheel.sh"
  bash scripts/build_wheel.sh
  bash scripts/test_wheel.sh
fi

# ---------------------------------------------------------------------------------------------
# Fuzzing: scripts/fuzz.sh builds the libFuzzer targets of fuzz/ (their own target dir,
# fuzz/target/; about 11 minutes from nothing on 2 cores) and runs each from its committed seeds
# for FUZZ_SECONDS (30 here), failing on any crash. MMDEDUP_SKIP_FUZZ=1 skips it (local runs).
if [ "${MMDEDUP_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz: scripts/fuzz.sh"
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/fuzz.sh
fi
