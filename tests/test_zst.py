"""Zstandard-compressed JSON Lines (``.jsonl.zst``, ``.ndjson.zst``, ``.json.zst``): found, read
as streams and written back compressed, wherever ``.jsonl.gz`` is."""

from __future__ import annotations

import base64
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from mmdedup import InputError, read_documents, write_documents
from mmdedup.compression import Compressor, line_blocks, open_decompressed
from mmdedup.io import (
    discover,
    iter_columns,
    read_columns,
    shard_rows,
    shard_stats,
    write_filtered,
)
from mmdedup.storage import Location
from test_fuzz_readers import FUZZ, LINES, in_tmp, mutated, read_every_way


def zst(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return bytes(sink.getvalue().to_pybytes())


def unzst(data: bytes) -> bytes:
    with open_decompressed(io.BytesIO(data), "zstd") as stream:
        return b"".join(line_blocks(stream))


def doc(i: int) -> str:
    return " ".join(f"w{(i * 7919 + k * 104729) % 10007}" for k in range(30))


def lines(n: int, dup_every: int = 0) -> bytes:
    """``n`` JSON objects, row ``i`` a copy of row ``i - 1`` when ``dup_every`` divides it."""
    out = []
    for i in range(n):
        j = i - 1 if dup_every and i % dup_every == 0 and i else i
        out.append(json.dumps({"id": i, "text": doc(j)}).encode() + b"\n")
    return b"".join(out)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("suffix", [".jsonl.zst", ".ndjson.zst", ".json.zst", ".JSONL.ZST"])
def test_zst_shards_are_found_in_directories_and_read(tmp_path: Path, suffix: str) -> None:
    data = lines(50)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"a{suffix}").write_bytes(zst(data))
    (tmp_path / "notes.txt").write_text("not a shard")
    [shard] = discover([str(tmp_path)])
    assert shard.name == f"a{suffix}"  # relative to the inputs' common directory
    assert (shard.format, shard.compression, shard.gzipped) == ("jsonl", "zstd", False)
    assert shard_rows(shard) == 50
    assert shard_stats(shard, ["text"]) == (50, len(data.replace(b"\n", b"")))
    table = read_columns(shard, ["id", "text"])
    assert table["id"].to_pylist() == list(range(50))
    assert table["text"].to_pylist() == [doc(i) for i in range(50)]
    pieces = list(iter_columns(shard, ["text"], 16))
    assert [t.num_rows for t in pieces] == [16, 16, 16, 2]
    assert [v for t in pieces for v in t["text"].to_pylist()] == [doc(i) for i in range(50)]


def test_a_zst_shard_reads_as_the_same_lines_uncompressed_and_gzipped(tmp_path: Path) -> None:
    # CRLF and CR line ends, blank lines, a BOM and no final line end: the same rows each way.
    data = b"\xef\xbb\xbf" + lines(30).replace(b"\n", b"\r\n", 10).replace(b"\n", b"\r", 3)
    data += b"\n\n  \n" + json.dumps({"id": 99, "text": "last"}).encode()
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
    (tmp_path / "c.jsonl.zst").write_bytes(zst(data))
    tables = [read_columns(s, ["id", "text"]) for s in discover([str(tmp_path)])]
    assert tables[0].num_rows == 31
    assert tables[1].equals(tables[0]) and tables[2].equals(tables[0])


def test_several_frames_and_the_zstd_tool_are_read(tmp_path: Path) -> None:
    data = lines(40)
    half = data.index(b"\n", len(data) // 2) + 1
    # Two frames, as pzstd, zstdmt or `cat a.zst b.zst` give.
    (tmp_path / "frames.jsonl.zst").write_bytes(zst(data[:half]) + zst(data[half:]))
    assert read_columns(discover([str(tmp_path / "frames.jsonl.zst")])[0], ["id"])[
        "id"
    ].to_pylist() == list(range(40))
    tool = shutil.which("zstd")
    if tool is None:
        return  # the reference encoder is not installed here; the frames above still ran
    plain = tmp_path / "tool.jsonl"
    plain.write_bytes(data)
    subprocess.run([tool, "-q", "-19", "--check", str(plain)], check=True)
    shard = discover([str(tmp_path / "tool.jsonl.zst")])[0]
    assert read_columns(shard, ["id"])["id"].to_pylist() == list(range(40))


def test_a_truncated_zst_shard_is_an_input_error_naming_file_and_row(tmp_path: Path) -> None:
    data = lines(3000)
    packed = zst(data)
    path = tmp_path / "t.jsonl.zst"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    # The rows that survive the cut, as a decoder that stops at the damage sees them.
    whole = 0
    with open_decompressed(io.BytesIO(path.read_bytes()), "zstd") as stream, pytest.raises(OSError):
        for block in line_blocks(stream, 4096):
            whole += block.count(b"\n")
    assert 0 < whole < 3000
    shard = discover([str(path)])[0]
    readers: list[Any] = [
        lambda: shard_rows(shard),
        lambda: read_columns(shard, ["text"]),
        lambda: list(iter_columns(shard, ["text"], 500)),
        lambda: write_filtered(shard, np.ones(3000, np.bool_), Location(tmp_path / "out")),
    ]
    for read in readers:
        with pytest.raises(InputError, match="not a valid Zstandard file") as e:
            read()
        assert e.value.path == str(path)
        assert e.value.row is not None and abs(e.value.row - whole) <= 1, (e.value.row, whole)
    assert not (tmp_path / "out" / "t.jsonl.zst").exists()  # nothing half-written is left


@pytest.mark.parametrize(
    "bad", [b"not zstd at all\n", b"\x28\xb5\x2f\xfd", b"\x28\xb5\x2f\xfd" * 9]
)
def test_a_corrupt_zst_shard_is_an_input_error(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "c.jsonl.zst"
    path.write_bytes(bad)
    with pytest.raises(InputError, match=r"c\.jsonl\.zst, row 0: not a valid Zstandard file"):
        shard_rows(discover([str(path)])[0])


def test_filtered_zst_shards_are_zstd_streams_of_the_kept_lines(tmp_path: Path) -> None:
    data = lines(1000)
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "a.jsonl.zst"
    src.write_bytes(zst(data))
    shard = discover([str(src)])[0]
    keep = np.arange(1000) % 3 != 0
    # Pieces of 64 lines: one frame however many pieces, byte for byte the kept lines.
    kept = write_filtered(shard, keep, Location(tmp_path / "out"), rows=64)
    assert kept == int(keep.sum())
    got = (tmp_path / "out" / "a.jsonl.zst").read_bytes()
    assert got[:4] == b"\x28\xb5\x2f\xfd"
    want = b"".join(line for line, k in zip(data.splitlines(keepends=True), keep, strict=True) if k)
    assert unzst(got) == want
    tool = shutil.which("zstd")
    if tool is not None:
        out = subprocess.run([tool, "-dc"], input=got, capture_output=True, check=True)
        assert out.stdout == want


def test_the_compressor_writes_gzip_as_gzip_compress_does() -> None:
    data = lines(200)
    out = io.BytesIO()
    pack = Compressor(out, "gzip")
    pack.write(data[:1000])
    pack.write(data[1000:])
    pack.finish()
    assert out.getvalue() == gzip.compress(data, mtime=0)
    out = io.BytesIO()
    pack = Compressor(out, "zstd")
    pack.write(data)
    pack.finish()
    assert not out.closed and unzst(out.getvalue()) == data
    # Abandoned after an error: nothing more is written, and closing twice is harmless.
    out = io.BytesIO()
    pack = Compressor(out, "zstd")
    pack.write(data)
    before = out.getvalue()
    pack.close()
    pack.close()
    assert out.getvalue() == before and not out.closed


def test_documents_round_trip_through_zst(tmp_path: Path) -> None:
    row = {
        "url": "https://example.org/a",
        "text_list": ["A cat on a mat.", "Another sentence."],
        "image_info": [{"raw_url": "https://example.org/c.png", "matched_text_index": 0}],
    }
    src = tmp_path / "d.jsonl.zst"
    src.write_bytes(zst((json.dumps(row) + "\n").encode() * 3))
    docs = read_documents(src)
    assert docs.format == "mmc4" and docs.table.num_rows == 3
    out = tmp_path / "out.jsonl.zst"
    assert write_documents(docs.table, out, format="mmc4") == 3
    plain = tmp_path / "out.jsonl"
    write_documents(docs.table, plain, format="mmc4")
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    assert unzst(out.read_bytes()) == plain.read_bytes()
    assert [json.loads(x)["text_list"] for x in plain.read_text().splitlines()] == [
        row["text_list"]
    ] * 3
    assert read_documents(out).table["segments"].equals(docs.table["segments"])


def test_cli_dedups_zst_shards_and_writes_them_back_compressed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    data = lines(120, dup_every=4)  # rows 4, 8, ... copy the row before
    (src / "sub" / "a.jsonl.zst").write_bytes(zst(data))
    pq.write_table(pa.table({"id": [1000], "text": [doc(0)]}), src / "b.parquet")
    out = tmp_path / "out"
    r = cli("dedup", src, "-o", out, "--method", "exact", "--id-column", "id", "-q")
    assert r.returncode == 0, r.stderr
    rows = pq.read_table(out / "clusters.parquet").to_pylist()
    assert [r["shard"] for r in rows] == ["b.parquet"] + ["sub/a.jsonl.zst"] * 120
    removed = {r["id"] for r in rows if not r["keep"]}
    assert removed == {0} | {i for i in range(4, 120, 4)}  # row 0 repeats b.parquet's text
    kept = [
        json.loads(x)["id"] for x in unzst((out / "sub" / "a.jsonl.zst").read_bytes()).splitlines()
    ]
    assert kept == [i for i in range(120) if i not in removed]
    counts = json.loads((out / "summary.json").read_text())["counts"]
    assert (counts["documents"], counts["removed"]) == (121, len(removed))


def test_cli_reports_a_truncated_zst_shard(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    packed = zst(lines(3000))
    (src / "t.jsonl.zst").write_bytes(packed[: len(packed) // 2])
    r = cli("dedup", src, "-o", tmp_path / "out", "-q")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert "t.jsonl.zst, row " in r.stderr and "not a valid Zstandard file" in r.stderr


ZSTD = [zst(data) for data in LINES]


@FUZZ
@given(
    mutated(ZSTD)  # a damaged Zstandard stream
    | mutated(LINES).map(zst)  # damaged lines, intact stream
    | st.binary(max_size=100).map(lambda b: b"\x28\xb5\x2f\xfd" + b)
)
@example(b"\x28\xb5\x2f\xfd")  # a frame header cut short
@example(ZSTD[0] + b"trailing bytes")  # a stream followed by what is not a frame
def test_zst_json_lines_bytes_read_or_raise_input_error(data: bytes) -> None:
    in_tmp("shard.jsonl.zst", data, read_every_way)


def test_convert_and_tokenize_read_zst_shards(tmp_path: Path) -> None:
    row = {
        "url": "https://example.org/a",
        "text_list": ["A cat on a mat.", "Another sentence."],
        "image_info": [{"raw_url": "https://example.org/c.png", "matched_text_index": 0}],
    }
    src = tmp_path / "in"
    src.mkdir()
    (src / "d.jsonl.zst").write_bytes(zst((json.dumps(row) + "\n").encode() * 3))
    r = cli("convert", src, "-o", tmp_path / "obelics", "--to", "obelics", "-q")
    assert r.returncode == 0, r.stderr
    assert pq.read_table(tmp_path / "obelics" / "d.parquet").num_rows == 3
    r = cli("convert", src, "-o", tmp_path / "mmc4", "--to", "mmc4", "-q")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "mmc4" / "d.jsonl.zst"  # compressed as its input was
    assert [json.loads(x)["text_list"] for x in unzst(out.read_bytes()).splitlines()] == [
        row["text_list"]
    ] * 3
    (src / "t.jsonl.zst").write_bytes(zst(lines(5)))
    vocab = tmp_path / "cl100k_base.tiktoken"  # its split pattern; every byte a token
    vocab.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    r = cli(
        "tokenize",
        src / "t.jsonl.zst",
        "-o",
        tmp_path / "tok",
        "--column",
        "text",
        "--tokenizer",
        vocab,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    tokens = pq.read_table(tmp_path / "tok" / "t.parquet")["tokens"].to_pylist()
    assert tokens == [len(doc(i).encode()) for i in range(5)]
