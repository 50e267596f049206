"""Byte-level fuzzing of the Python readers of untrusted files: JSON Lines, gzipped JSON Lines
and tar shards of images. Valid files are mutated at random (bytes flipped, inserted, deleted,
repeated, the file cut short; JSON-significant tokens spliced in), or replaced by random bytes,
and read through every entry point. Each read must succeed or raise :class:`mmdedup.InputError`;
any other exception is a bug. (The kernels' parsers of untrusted bytes are fuzzed by libFuzzer:
``fuzz/``, ``scripts/fuzz.sh``.)
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mmdedup.errors import InputError
from mmdedup.formats import FORMATS, detect_format, read_documents
from mmdedup.io import discover, iter_columns, read_columns, shard_rows, shard_stats
from mmdedup.runs import images_files
from PIL import Image

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ROWS: list[dict[str, Any]] = [
    {
        "url": "http://example.com/1",
        "text": "A cat.",
        "text_list": ["A cat sat.", "Second one."],
        "image_info": [{"raw_url": "http://x/1.jpg", "matched_text_index": 0}],
    },
    {"texts": [None, "Caption"], "images": ["http://x/2.png", None], "metadata": "[null, null]"},
    {"md": "# T\n\n![a](b.png) text", "content_image": ["b.png"], "id": 3, "text": None},
    {"content": "Text ![x](u.jpg)", "img_list": [{"url": "u.jpg"}], "text": "\\ud800 é 中"},
]
LINES = [
    b"".join(json.dumps(r).encode() + b"\n" for r in ROWS),
    b"\xef\xbb\xbf" + json.dumps(ROWS[0]).encode() + b"\r\n\r\n" + json.dumps(ROWS[3]).encode(),
    json.dumps(ROWS[1], ensure_ascii=False).encode() + b"\r" + json.dumps(ROWS[2]).encode(),
]
# Spliced in whole: what makes JSON, UTF-8 and gzip readers take their other branches.
TOKENS = [
    b'"',
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\\ud800",
    b"\\udc00",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b'"text": 1',
    b'"text": {}',
    b'"text": [',
    b"\xef\xbb\xbf",
    b"\x1f\x8b\x08\x00",
]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few random edits, as a mutating fuzzer makes them."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "cut", "token"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 3))
        elif op == "cut":
            del data[at:]
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
    return bytes(data)


def tolerated(read: Callable[[], object]) -> None:
    """Runs one read: success or an InputError; anything else fails the test."""
    try:
        read()
    except InputError as e:
        assert str(e), "an InputError says what is wrong"


def read_every_way(path: Path) -> None:
    """Every reader of a JSON Lines file: the shard readers and the layout readers."""
    shard = discover([str(path)])[0]
    tolerated(lambda: shard_rows(shard))
    tolerated(lambda: shard_stats(shard, ["text"]))
    tolerated(lambda: read_columns(shard, ["text"]))
    tolerated(lambda: list(iter_columns(shard, ["text"], 2, text="text")))
    tolerated(lambda: list(iter_columns(shard, ["url"], 1, text="text", problems={})))
    tolerated(lambda: detect_format(path))
    tolerated(lambda: read_documents(path, on_error="skip"))
    for name, layout in FORMATS.items():
        if layout.container == "jsonl":
            for on_error in ("raise", "skip"):
                tolerated(functools.partial(read_documents, path, format=name, on_error=on_error))


def in_tmp(name: str, data: bytes, check: Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        check(path)


@FUZZ
@given(mutated(LINES) | st.binary(max_size=200))
def test_json_lines_bytes_read_or_raise_input_error(data: bytes) -> None:
    in_tmp("shard.jsonl", data, read_every_way)


GZIPPED = [gzip.compress(lines, mtime=0) for lines in LINES]


@FUZZ
@given(
    mutated(GZIPPED)  # a damaged gzip stream
    | mutated(LINES).map(lambda b: gzip.compress(b, mtime=0))  # damaged lines, intact gzip
    | st.binary(max_size=100).map(lambda b: b"\x1f\x8b\x08\x00" + b)
)
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00\x06")  # zlib.error escaped read_columns
def test_gzipped_json_lines_bytes_read_or_raise_input_error(data: bytes) -> None:
    in_tmp("shard.jsonl.gz", data, read_every_way)


def image(fmt: str, value: int) -> bytes:
    b = io.BytesIO()
    Image.new("RGB", (12, 9), (value, 255 - value, 7 * value % 256)).save(b, fmt)
    return b.getvalue()


def tar_shard(members: list[tuple[str, bytes | None, bytes, str]], gz: bool = False) -> bytes:
    """A tar of ``(name, bytes or None, type, link)`` members."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz" if gz else "w") as tf:
        for name, body, kind, link in members:
            m = tarfile.TarInfo(name)
            m.type, m.linkname = kind, link
            if body is not None:
                m.size = len(body)
            tf.addfile(m, io.BytesIO(body) if body is not None else None)
    return b.getvalue()


MEMBERS: list[tuple[str, bytes | None, bytes, str]] = [
    ("000.png", image("PNG", 1), tarfile.REGTYPE, ""),
    ("001.jpg", image("JPEG", 2), tarfile.REGTYPE, ""),
    ("001.txt", b"caption", tarfile.REGTYPE, ""),
    ("002.png", None, tarfile.LNKTYPE, "000.png"),
    ("003.gif", None, tarfile.SYMTYPE, "000.png"),
    ("sub/004.webp", image("WEBP", 3), tarfile.REGTYPE, ""),
]
TARS = [tar_shard(MEMBERS), tar_shard(MEMBERS[:2], gz=True), tar_shard(MEMBERS[1:3])]


def hash_tar(path: Path) -> None:
    tolerated(lambda: images_files([str(path)], path.parent / "out", method="dhash"))


# A run of the images pipeline costs more than a read of a shard: fewer examples.
@settings(FUZZ, max_examples=80)
@given(mutated(TARS) | st.binary(max_size=600))
@example(b"\x1f\x8b")  # a gzip header cut short: tarfile.open raised EOFError
def test_tar_shard_bytes_hash_or_raise_input_error(data: bytes) -> None:
    in_tmp("shard.tar", data, hash_tar)


def test_the_seeds_read_cleanly(tmp_path: Path) -> None:
    """The unmutated files are read in full, so the mutations start from deep in the readers."""
    (tmp_path / "a.jsonl").write_bytes(LINES[0])
    assert read_documents(tmp_path / "a.jsonl").table.num_rows == len(ROWS)
    (tmp_path / "a.jsonl.gz").write_bytes(GZIPPED[0])
    assert shard_rows(discover([str(tmp_path / "a.jsonl.gz")])[0]) == len(ROWS)
    (tmp_path / "a.tar").write_bytes(TARS[0])
    summary = images_files([str(tmp_path / "a.tar")], tmp_path / "out", method="dhash")
    # The hard link gets its target's bytes; the symbolic link is skipped.
    assert summary["counts"]["images"] == 4 and summary["counts"]["errors"] == 0
