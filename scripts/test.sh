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

echo "== ruff / mypy"
ruff check python tests benches
ruff format --check python tests benches
mypy

echo "== pytest"
pytest -q --doctest-modules python/mmdedup tests "$@"
