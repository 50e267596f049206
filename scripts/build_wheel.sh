#!/usr/bin/env bash
# Builds mmdedup's release artifacts into dist/: the source distribution, then — from that sdist,
# so the sdist is proven complete — one wheel, mmdedup-<version>-cp311-abi3-manylinux2014_x86_64
# .manylinux_2_17_x86_64.whl, that installs on every CPython >= 3.11 on x86-64 Linux with
# glibc >= 2.17, no Rust needed. zig (the `ziglang` wheel) compiles the C dependencies (oniguruma,
# mimalloc) and links against glibc 2.17 whatever the glibc of this machine.
#
# Needs python3 >= 3.11 and a Rust toolchain >= 1.85 (cargo on PATH); installs maturin and ziglang
# itself, pinned, into a tool venv. Cargo builds into target-wheel/ (not target/, which the
# editable install uses: the zig build would keep invalidating it). Takes about 10 minutes from
# nothing on 2 cores; a rebuild after a source change, 2-3 minutes. Check the result with
# scripts/test_wheel.sh.
#
#   MMDEDUP_WHEEL_TARGET_DIR  cargo target dir (default target-wheel/)
#   MMDEDUP_BUILD_TOOLS       the tool venv (default target-wheel/build-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Versions this build was checked with: maturin's zig support follows zig's releases.
maturin_version=1.16.0
ziglang_version=0.15.2

target_dir=${MMDEDUP_WHEEL_TARGET_DIR:-$root/target-wheel}
tools=${MMDEDUP_BUILD_TOOLS:-$target_dir/build-tools}
start=$SECONDS

python3 -c 'import sys; assert sys.version_info >= (3, 11), f"need Python >= 3.11, have {sys.version}"'
command -v cargo >/dev/null || { echo "build_wheel.sh: cargo not found (Rust >= 1.85 is needed to build)" >&2; exit 1; }

echo "== build tools: maturin $maturin_version, ziglang $ziglang_version in $tools"
# The base interpreter, not a venv's (scripts/test.sh runs this with .venv active).
base_python=$(python3 -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
[ -x "$tools/bin/python" ] || "$base_python" -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check \
  "maturin==$maturin_version" "ziglang==$ziglang_version"
# maturin finds zig as `python3 -m ziglang`, with the python3 first on PATH.
export PATH="$tools/bin:$PATH"
unset VIRTUAL_ENV
export CARGO_TARGET_DIR=$target_dir
"$tools/bin/maturin" --version
"$tools/bin/python" -m ziglang version | sed 's/^/zig /'

mkdir -p dist
rm -f dist/mmdedup-*.whl dist/mmdedup-*.tar.gz

echo "== sdist"
"$tools/bin/maturin" sdist --out dist
sdist=$(ls dist/mmdedup-*.tar.gz)
name=$(basename "$sdist" .tar.gz)
listing=$(tar tzf "$sdist")
for f in Cargo.toml Cargo.lock pyproject.toml README.md PKG-INFO src/lib.rs python/mmdedup/__init__.py \
  python/mmdedup/py.typed python/mmdedup/_core.pyi; do
  grep -qx "$name/$f" <<<"$listing" || { echo "build_wheel.sh: $sdist lacks $f" >&2; exit 1; }
done
if grep -E '\.(so|pyd)$' <<<"$listing"; then
  echo "build_wheel.sh: $sdist contains compiled extension modules (above)" >&2
  exit 1
fi
echo "$sdist: $(wc -l <<<"$listing") files"

echo "== wheel (from the sdist): release, abi3, zig, manylinux2014"
# A fixed place, so that the dependencies built last time stay valid. --touch: the sdist's files
# all carry one fixed old date (reproducible sdists), so with their dates cargo would take the
# last build of mmdedup as up to date whatever changed; dated now, mmdedup itself is rebuilt.
src=$target_dir/sdist-src
rm -rf "$src"
mkdir -p "$src"
tar xzf "$sdist" -C "$src" --touch
"$tools/bin/maturin" build --release --locked --zig --compatibility manylinux2014 \
  --interpreter "$tools/bin/python" --manifest-path "$src/$name/Cargo.toml" --out "$root/dist"

echo "== dist/ ($((SECONDS - start)) s)"
ls -l dist/mmdedup-*
