#!/usr/bin/env bash
# Tests the wheel that scripts/build_wheel.sh put in dist/ the way a user installs it: checks its
# platform tag with `auditwheel show` (manylinux, glibc <= 2.28), then installs it with pip into a
# fresh virtual environment under a temporary directory, with no cargo or rustc on PATH and
# binary packages only, and runs the README's first command on examples/sample/, the import and
# the Python API from there.
#
#   PYTHON  the interpreter to test with (default python3; any CPython >= 3.11: the wheel is abi3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

auditwheel_version=6.8.2

shopt -s nullglob
wheels=(dist/mmdedup-*.whl)
shopt -u nullglob
if [ ${#wheels[@]} -ne 1 ]; then
  echo "test_wheel.sh: expected one dist/mmdedup-*.whl, found ${#wheels[@]}; run scripts/build_wheel.sh" >&2
  exit 1
fi
wheel=$root/${wheels[0]}
echo "== $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"
case $(basename "$wheel") in
  mmdedup-*-cp311-abi3-*manylinux*_x86_64.whl) ;;
  *) echo "test_wheel.sh: not a cp311-abi3 manylinux x86_64 wheel name" >&2; exit 1 ;;
esac

# The base interpreter, not a venv's (scripts/test.sh runs this with .venv active).
base_python=$("${PYTHON:-python3}" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
"$base_python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version'

work=$(mktemp -d "${TMPDIR:-/tmp}/mmdedup-wheel-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== auditwheel $auditwheel_version show"
"$base_python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --disable-pip-version-check "auditwheel==$auditwheel_version"
"$work/tools/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.txt"
# The tag line may be wrapped: read the whole text. Compliant: manylinux2014 / manylinux_2_N
# with N <= 28 (manylinux_2_28 = RHEL 8, Debian 10, Ubuntu 18.10 and later).
tag=$("$work/tools/bin/python" - "$work/auditwheel.txt" <<'EOF'
import re, sys
text = " ".join(open(sys.argv[1]).read().split())
m = re.search(r'is consistent with the following platform tag: "([^"]+)"', text)
print(m.group(1) if m else "")
EOF
)
echo "platform tag: ${tag:-none}"
if ! [[ $tag =~ ^manylinux(2014|_2_([0-9]+))_x86_64$ ]] ||
  { [ -n "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[2]}" -gt 28 ]; }; then
  echo "test_wheel.sh: the wheel is not manylinux-compliant (manylinux_2_28 or older)" >&2
  exit 1
fi

echo "== fresh venv, no Rust on PATH: pip install the wheel"
venv=$work/venv
"$base_python" -m venv "$venv"
# The user's environment: the venv and the system directories, none of ~/.cargo/bin or rustup.
user() {
  env -u CARGO_HOME -u RUSTUP_HOME -u RUSTUP_TOOLCHAIN -u CARGO_TARGET_DIR -u VIRTUAL_ENV \
    -u PYTHONPATH -u PYTHONHOME PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin" "$@"
}
for tool in cargo rustc rustup; do
  if user bash -c "command -v $tool"; then
    echo "test_wheel.sh: $tool is on the sanitized PATH: this would not test an install without Rust" >&2
    exit 1
  fi
done
echo "no cargo, rustc or rustup on PATH"
# Binary packages only: neither mmdedup nor a dependency may be built from source.
user python -m pip install -q --disable-pip-version-check --only-binary=:all: "$wheel"
user python -m pip check

echo "== import"
(cd "$work" && user python -c '
import pathlib, sys, mmdedup
print("mmdedup", mmdedup.__version__, "from", mmdedup.__file__)
assert pathlib.Path(mmdedup.__file__).is_relative_to(sys.prefix), "not the installed wheel"
assert mmdedup._core.__file__.endswith("_core.abi3.so"), mmdedup._core.__file__
')
want_version=$(basename "$wheel" | cut -d- -f2)
got_version=$(cd "$work" && user python -c 'import mmdedup; print(mmdedup.__version__)')
[ "$got_version" = "$want_version" ] || { echo "test_wheel.sh: __version__ $got_version != $want_version" >&2; exit 1; }

echo "== the README's first command: mmdedup dedup examples/sample"
(cd "$work" && user mmdedup dedup "$root/examples/sample" -o "$work/out" --threshold 0.7 --id-column id)
# The sample's known result: exact all-pairs Jaccard of word 5-gram shingles puts 8 pairs at or
# above 0.7 (lowest news-009/news-012 at 0.767), in 6 clusters; kept + removed = documents, 2 empty.
user python - "$work/out" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = json.loads((out / "summary.json").read_text())
want_counts = {"documents": 16, "kept": 9, "removed": 7, "clusters": 6}
want_status = {"unique": 1, "kept": 6, "duplicate": 7, "empty": 2, "error": 0}
counts = {k: summary["counts"][k] for k in want_counts}
assert counts == want_counts, f"counts {counts} != {want_counts}"
assert summary["status"] == want_status, f"status {summary['status']} != {want_status}"
for shard in summary["shards"]:
    lines = (out / shard["shard"]).read_text().splitlines()
    assert len(lines) == shard["kept"], (shard, len(lines))
print("summary.json:", counts, summary["status"])
EOF

# Where the editable install of scripts/test.sh exists, the wheel must give exactly its result.
if [ -x "$root/.venv/bin/mmdedup" ]; then
  echo "== same result as the source build in .venv"
  (cd "$work" && "$root/.venv/bin/mmdedup" dedup "$root/examples/sample" -o "$work/out-source" \
    --threshold 0.7 --id-column id >/dev/null)
  user python - "$work/out" "$work/out-source" <<'EOF'
import json, pathlib, sys
import pyarrow.parquet as pq
wheel, source = map(pathlib.Path, sys.argv[1:])
for key in ("counts", "status", "shards", "parameters"):
    a, b = (json.loads((d / "summary.json").read_text())[key] for d in (wheel, source))
    assert a == b, f"{key}: wheel {a} != source {b}"
a, b = (pq.read_table(d / "clusters.parquet") for d in (wheel, source))
assert a.equals(b), "clusters.parquet differs"
for shard in sorted(p.name for p in source.glob("*.jsonl")):
    assert (wheel / shard).read_bytes() == (source / shard).read_bytes(), shard
print("identical: summary counts, clusters.parquet, filtered shards")
EOF
fi

echo "== Python API"
(cd "$work" && user python -c '
import mmdedup, polars as pl
sig = mmdedup.minhash(["the cat sat on the mat today", "the cat sat on the mat today!", "a dog"], ngram=3)
assert sig.shape == (3, 128) and (sig[0] == sig[1]).all() and not (sig[0] == sig[2]).all()
out = mmdedup.dedup(pl.DataFrame({"text": ["The cat sat.", "the cat sat", "A dog."]}), method="exact")
assert out["keep"].to_list() == [True, False, True], out
print("minhash", sig.shape, sig.dtype, "| dedup keep", out["keep"].to_list())
')
echo "== wheel OK"
