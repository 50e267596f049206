"""One shard larger than the memory budget: read a piece at a time, same output."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import edit, random_doc
from mmdedup import io
from mmdedup.storage import Location
from test_pipeline import cli, files

# Runs `mmdedup ARGS` twice in one process: first on the small corpus WARM (libraries and
# allocators settle), then, with the peak reset, on the real inputs; prints how far the resident
# memory rose above where it stood before the second run. Under jemalloc, freed pages go back to
# the system at once (decay 0): with its default decay, whatever the run freed in the last moments
# stayed resident on top of what it held, by 0-15 MiB from one identical run to the next.
PEAK = """
import sys
import pyarrow as pa
import mmdedup.cli

if pa.default_memory_pool().backend_name == "jemalloc":
    pa.jemalloc_set_decay_ms(0)

def status(key):
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith(key))

warm, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
mmdedup.cli.main([args[0], warm, "-o", out + "-warm", *args[2:]], standalone_mode=False)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS:")
mmdedup.cli.main([*args, "-o", out], standalone_mode=False)
print("PEAK", status("VmHWM:") - base, file=sys.stderr)
"""


def _jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


# pyarrow's default mimalloc pool keeps about 40 MB of freed pages in a process like this one
# whatever the input; jemalloc returns them (at once, see PEAK), so the resident peak shows the
# data held.
POOL = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"} if _jemalloc() else {}


def run_measured(warm: Path, out: Path, *args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(warm), str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **POOL},
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.rsplit("PEAK", 1)[1])


def docs(n: int, words: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    base = [random_doc(rng, words) for _ in range(n * 9 // 10)]
    out = base + [edit(rng, base[rng.randrange(len(base))], 2) for _ in range(n - len(base))]
    rng.shuffle(out)
    return out


def write_shard(table: pa.Table, d: Path, fmt: str, row_group: int) -> None:
    d.mkdir()
    if fmt == "parquet":
        pq.write_table(table, d / "big.parquet", row_group_size=row_group)
    else:
        lines = b"".join(json.dumps(r).encode() + b"\n" for r in table.to_pylist())
        (d / "big.jsonl.gz").write_bytes(gzip.compress(lines, mtime=0))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("fmt", ["parquet", pytest.param("jsonl.gz", marks=pytest.mark.slow)])
def test_shard_larger_than_the_budget(tmp_path: Path, fmt: str) -> None:
    texts = docs(40_000, 300)
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    src, warm = tmp_path / "in", tmp_path / "warm"
    write_shard(table, src, fmt, 1500)
    write_shard(table.slice(0, 3000), warm, fmt, 300)
    decoded = table["text"].nbytes
    args = ["dedup", str(src), "--id-column", "id", "-t", "0.7", "-q", "--num-perm", "16"]
    roomy = run_measured(warm, tmp_path / "roomy", *args)
    tight = run_measured(warm, tmp_path / "tight", *args, "--memory", "8MB")
    assert files(tmp_path / "tight") == files(tmp_path / "roomy")
    summary = json.loads((tmp_path / "tight" / "summary.json").read_text())
    assert summary["counts"]["removed"] > 1000
    assert decoded > 80 * 2**20
    # Reading the whole shard took 3.3 times its text before it was read in pieces.
    if POOL:
        assert tight < decoded / 2, (tight, roomy, decoded)


def test_json_lines_in_pieces_give_the_same_output(tmp_path: Path) -> None:
    rng = random.Random(4)
    texts = docs(6000, 40)
    src = tmp_path / "in"
    src.mkdir()
    with gzip.open(src / "a.jsonl.gz", "wt") as f:
        for i, t in enumerate(texts):
            row: dict[str, object] = {"text": t, "score": rng.random()}
            if i < 3000 or i % 2:  # ids of the later pieces: some missing, some floats
                row["id"] = i if i < 5000 else i + 0.5
            f.write(json.dumps(row) + ("\n\n" if i % 1000 == 0 else "\n"))
    args = ["dedup", str(src), "--id-column", "id", "-t", "0.7", "-q", "--keep", "max:score"]
    whole = cli(*args, "-o", str(tmp_path / "whole"))
    pieces = cli(*args, "-o", str(tmp_path / "pieces"), "--memory", "1MB")
    assert whole.returncode == 0 and pieces.returncode == 0, whole.stderr + pieces.stderr
    assert files(tmp_path / "whole") == files(tmp_path / "pieces")
    clusters = pq.read_table(tmp_path / "pieces" / "clusters.parquet")
    assert clusters.schema.field("id").type == pa.float64()
    assert clusters["id"].null_count == 1500


def test_iter_columns_of_json_lines_reconciles_types(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    rows = [{"id": 1, "text": "a"}, {"text": "b"}, {"id": 2.5, "text": None}, {"id": 3}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shard = io.discover([str(path)])[0]
    pieces = list(io.iter_columns(shard, ["id", "text"], 1))
    assert [p.num_rows for p in pieces] == [1, 1, 1, 1]
    assert pieces[1]["id"].null_count == 1 and pieces[3]["text"].null_count == 1
    whole = io.read_columns(shard, ["id", "text"])
    assert pa.concat_tables(p.cast(whole.schema) for p in pieces).equals(whole)
    with pytest.raises(io.InputError, match="no row has key 'url'"):
        list(io.iter_columns(shard, ["url"], 2))
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n[1]\n')
    with pytest.raises(io.InputError, match="row 2"):
        list(io.iter_columns(io.discover([str(tmp_path / "bad.jsonl")])[0], ["text"], 2))


def test_filtered_json_lines_are_streamed_byte_for_byte(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"line {i}"}).encode() for i in range(5000)]
    data = b"\n".join(lines[:10]) + b"\n\n \r\n" + b"\r\n".join(lines[10:]) + b"\n"
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    shard = io.discover([str(tmp_path / "a.jsonl.gz")])[0]
    keep = np.random.default_rng(0).random(5000) < 0.5
    assert io.shard_rows(shard) == 5000
    out = tmp_path / "out"
    assert io.write_filtered(shard, keep, Location(out), rows=333) == keep.sum()
    # Each kept line with its own line end (CRLF after the first ten); blank lines are no rows.
    ends = [b"\n"] * 10 + [b"\r\n"] * (len(lines) - 11) + [b"\n"]
    want = b"".join(line + end for line, end, k in zip(lines, ends, keep, strict=True) if k)
    assert (out / "a.jsonl.gz").read_bytes() == gzip.compress(want, mtime=0)


def test_filtered_parquet_keeps_the_row_groups(tmp_path: Path) -> None:
    n = 1000
    t = pa.table({"x": np.arange(n), "s": [[str(i)] * (i % 3) for i in range(n)]})
    pq.write_table(t, tmp_path / "a.parquet", row_group_size=300)
    shard = io.discover([str(tmp_path / "a.parquet")])[0]
    keep = np.ones(n, dtype=np.bool_)
    keep[300:600] = False
    keep[::7] = False
    out = tmp_path / "out"
    assert io.write_filtered(shard, keep, Location(out)) == keep.sum()
    got = pq.ParquetFile(out / "a.parquet")
    assert got.read().equals(t.filter(pa.array(keep)))
    assert [got.metadata.row_group(g).num_rows for g in range(got.num_row_groups)] == [257, 257, 86]
    keep[:] = False
    assert io.write_filtered(shard, keep, Location(out)) == 0
    assert pq.read_table(out / "a.parquet").num_rows == 0
