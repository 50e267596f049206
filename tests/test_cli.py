from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import edit, random_doc
from mmdedup.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sample"


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture
def shards(tmp_path: Path, rng: random.Random) -> Path:
    """Three shards (Parquet, JSON Lines, gzipped JSON Lines) with planted near-duplicates."""
    base = [random_doc(rng, 100) for _ in range(60)]
    docs = base + [edit(rng, base[i], 1) for i in range(0, 60, 3)]
    ids = [f"d{i:03d}" for i in range(len(docs))]
    quality = [rng.random() for _ in docs]
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rows = list(zip(ids, docs, quality, strict=True))
    rng.shuffle(rows)
    parts = [rows[:30], rows[30:55], rows[55:]]
    table = pa.table(
        {
            "id": [r[0] for r in parts[0]],
            "text": [r[1] for r in parts[0]],
            "q": [r[2] for r in parts[0]],
        }
    )
    pq.write_table(table.replace_schema_metadata({"origin": "test"}), src / "a.parquet")
    with open(src / "b.jsonl", "w") as f:
        for r in parts[1]:
            f.write(json.dumps({"id": r[0], "text": r[1], "q": r[2], "extra": [1, 2.50]}) + "\n")
        f.write("\n")  # blank lines are not rows
    with gzip.open(src / "sub" / "c.jsonl.gz", "wt") as f:
        for r in parts[2]:
            f.write(json.dumps({"id": r[0], "text": r[1], "q": r[2]}) + "\n")
    return src


def test_end_to_end(shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = run("dedup", str(shards), "-o", str(out), "--id-column", "id", "-t", "0.7")
    assert "80 documents in 3 shard(s)" in text
    summary = json.loads((out / "summary.json").read_text())
    c = summary["counts"]
    assert c["documents"] == 80 == c["kept"] + c["removed"]
    assert sum(summary["status"].values()) == 80
    assert c["removed"] == summary["status"]["duplicate"] >= 18
    clusters = pl.read_parquet(out / "clusters.parquet")
    assert clusters.columns == ["shard", "row", "id", "cluster", "keep", "status", "error"]
    assert clusters.height == 80
    # Every edited copy lands in the cluster of its original.
    by_id = dict(zip(clusters["id"], clusters["cluster"], strict=True))
    found = sum(
        by_id[f"d{60 + j:03d}"] is not None and by_id[f"d{60 + j:03d}"] == by_id[f"d{3 * j:03d}"]
        for j in range(20)
    )
    assert found >= 18
    # Outputs: same names, same schema, only kept rows.
    kept_ids = set(clusters.filter("keep")["id"])
    a = pq.read_table(out / "a.parquet")
    assert a.schema.equals(pq.read_table(shards / "a.parquet").schema, check_metadata=True)
    assert set(a["id"].to_pylist()) <= kept_ids
    b_lines = (out / "b.jsonl").read_bytes().splitlines()
    original = [line for line in (shards / "b.jsonl").read_bytes().splitlines() if line.strip()]
    assert all(line in original for line in b_lines)  # byte for byte
    c_rows = [
        json.loads(x)
        for x in gzip.decompress((out / "sub" / "c.jsonl.gz").read_bytes()).splitlines()
    ]
    total_out = a.num_rows + len(b_lines) + len(c_rows)
    assert total_out == c["kept"]


def test_results_do_not_depend_on_argument_order_or_threads(shards: Path, tmp_path: Path) -> None:
    files = [str(shards / "b.jsonl"), str(shards / "sub" / "c.jsonl.gz"), str(shards / "a.parquet")]
    run("dedup", *files, "-o", str(tmp_path / "x"), "--threads", "1")
    run("dedup", *reversed(files), "-o", str(tmp_path / "y"), "--threads", "2")
    x = pl.read_parquet(tmp_path / "x" / "clusters.parquet")
    y = pl.read_parquet(tmp_path / "y" / "clusters.parquet")
    assert x.equals(y)


def test_keep_max_column_and_methods(shards: Path, tmp_path: Path) -> None:
    for method in ("simhash", "exact"):
        run("dedup", str(shards), "-o", str(tmp_path / method), "--method", method)
    run("dedup", str(shards), "-o", str(tmp_path / "j"), "--verify", "jaccard", "-t", "0.7")
    s = json.loads((tmp_path / "j" / "summary.json").read_text())
    assert s["counts"]["removed"] >= 18
    run(
        "dedup",
        str(shards),
        "-o",
        str(tmp_path / "q"),
        "--keep",
        "max:q",
        "--id-column",
        "id",
        "-t",
        "0.7",
    )
    clusters = pl.read_parquet(tmp_path / "q" / "clusters.parquet")
    all_q = {}
    for p in ("a.parquet",):
        t = pl.read_parquet(shards / p)
        all_q.update(dict(zip(t["id"], t["q"], strict=True)))
    for j in range(20):
        pair = [f"d{3 * j:03d}", f"d{60 + j:03d}"]
        if all(p in all_q for p in pair):
            rows = clusters.filter(pl.col("id").is_in(pair))
            if rows["cluster"].null_count() == 0:
                best = max(pair, key=lambda i: all_q[i])
                assert rows.filter("keep")["id"].to_list() == [best]


def test_refuses_to_overwrite(shards: Path, tmp_path: Path) -> None:
    run("dedup", str(shards), "-o", str(tmp_path / "o"))
    assert "--overwrite" in run("dedup", str(shards), "-o", str(tmp_path / "o"), ok=False)
    run("dedup", str(shards), "-o", str(tmp_path / "o"), "--overwrite")


def test_missing_column_names_file(shards: Path, tmp_path: Path) -> None:
    out = run("dedup", str(shards / "a.parquet"), "-o", str(tmp_path / "o"), "-c", "body", ok=False)
    assert "a.parquet" in out and "no column 'body'" in out
    out = run("dedup", str(shards / "b.jsonl"), "-o", str(tmp_path / "o"), "-c", "body", ok=False)
    assert "b.jsonl" in out and "'body'" in out


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "empty.parquet").write_bytes(b"")
    assert "empty file" in run(
        "dedup", str(tmp_path / "empty.parquet"), "-o", str(tmp_path / "o"), ok=False
    )
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    assert "not a readable Parquet file" in run(
        "dedup", str(tmp_path / "bad.parquet"), "-o", str(tmp_path / "o"), ok=False
    )
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"text": oops}\n')
    out = run("dedup", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o"), ok=False)
    assert "bad.jsonl, row 1: invalid JSON" in out
    assert "no such file" in run(
        "dedup", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "o"), ok=False
    )
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "ints.parquet")
    assert "expected string or binary" in run(
        "dedup", str(tmp_path / "ints.parquet"), "-o", str(tmp_path / "o"), ok=False
    )


def test_empty_jsonl_shard_has_no_rows(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jsonl").write_bytes(b"")
    (tmp_path / "in" / "one.jsonl").write_text('{"text": "hello there"}\n')
    run("dedup", str(tmp_path / "in"), "-o", str(tmp_path / "o"))
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["counts"]["documents"] == 1
    assert (tmp_path / "o" / "empty.jsonl").read_bytes() == b""


def test_invalid_utf8_rows(tmp_path: Path) -> None:
    texts = [
        b"a perfectly fine document with words",
        b"\xff\xfe not utf-8",
        b"a perfectly fine document with words",
    ]
    pq.write_table(pa.table({"text": pa.array(texts, pa.binary())}), tmp_path / "bin.parquet")
    src = str(tmp_path / "bin.parquet")
    out = run("dedup", src, "-o", str(tmp_path / "x"), "--on-error", "raise", ok=False)
    assert "bin.parquet, row 1" in out and "UTF-8" in out
    run("dedup", src, "-o", str(tmp_path / "o"))  # --on-error record, the default
    clusters = pl.read_parquet(tmp_path / "o" / "clusters.parquet")
    assert clusters["status"].to_list() == ["kept", "error", "duplicate"]
    assert "UTF-8" in clusters["error"][1]
    assert pq.read_table(tmp_path / "o" / "bin.parquet").num_rows == 2


def test_sample_corpus_in_repository(tmp_path: Path) -> None:
    out = run("dedup", str(EXAMPLES), "-o", str(tmp_path / "o"), "--id-column", "id", "-t", "0.7")
    assert "16 documents in 2 shard(s)" in out


def test_help_teaches() -> None:
    text = run("dedup", "--help")
    for word in ("Examples", "--threshold", "--keep", "clusters.parquet", "max:COLUMN"):
        assert word in text
