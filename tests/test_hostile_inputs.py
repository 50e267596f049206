"""Hostile and careless inputs to the readers (the 2026-12 hostile-input review, the input
readers and the interleaved layouts): each is read as the README promises, or stops with an
error naming the file and the row. Every input is made here, in ``tmp_path``.

The command line runs as a subprocess (``python -m mmdedup``), so a traceback shows as one.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import mmdedup
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmdedup.errors import InputError
from mmdedup.formats import FORMATS, read_documents, write_documents
from mmdedup.formats.markdown import image_references
from mmdedup.io import discover, iter_columns
from mmdedup.runs.interleaved.paragraphs import text_view as _view
from PIL import Image

TEXT = "A paragraph about rivers and stones that is long enough to be shingled properly, twice."


def doc(i: int) -> str:
    """A text of its own (no near-duplicate of another ``doc``)."""
    rng = random.Random(i)
    return " ".join(f"w{rng.randrange(10_000)}" for _ in range(40))


def mmdedup_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmdedup", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def fails(r: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one-line error of a failed run, which must hold each of ``words``."""
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "panicked" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    return r.stderr


def clusters(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "clusters.parquet").to_pylist()


def png(value: int, size: int = 48) -> bytes:
    b = io.BytesIO()
    xs = np.arange(size, dtype=np.uint16)
    pixels = ((xs[:, None] * (value + 1) + xs[None, :] * 3) % 256).astype(np.uint8)
    Image.fromarray(pixels).save(b, "PNG")
    return b.getvalue()


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def obelics_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "texts": pa.array([[f"{TEXT} {i % 3}", None] for i in range(rows)]),
            "images": pa.array([[None, f"http://x/{i % 3}.jpg"] for i in range(rows)]),
            "metadata": pa.array(["[null, null]"] * rows),
        }
    )


def mmc4_row(i: int) -> dict[str, Any]:
    return {
        "url": f"http://example.com/{i}",
        "text_list": [f"{TEXT} {i}", "Second one."],
        "image_info": [{"raw_url": f"http://x/{i}.jpg", "matched_text_index": 0}],
    }


# -- #3: a folder of mixed layouts ---------------------------------------------------------------


def test_each_shard_is_read_and_written_in_its_own_layout(tmp_path: Path) -> None:
    src = tmp_path / "mixed"
    src.mkdir()
    pq.write_table(obelics_table(6), src / "part.parquet")
    write_jsonl(src / "docs.jsonl", [mmc4_row(i) for i in range(4)])
    ok(mmdedup_cli("dedup", src, "-o", tmp_path / "out", "-q"))
    out = tmp_path / "out"
    assert pq.read_table(out / "part.parquet").column_names[:2] == ["texts", "images"]
    assert all("text_list" in json.loads(x) for x in (out / "docs.jsonl").read_text().splitlines())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["formats"] == ["mmc4", "obelics"]
    assert summary["documents"]["status"]["empty"] == 0


def test_a_shard_of_no_known_layout_is_an_error_naming_it(tmp_path: Path) -> None:
    src = tmp_path / "mixed"
    src.mkdir()
    pq.write_table(obelics_table(3), src / "a.parquet")
    write_jsonl(src / "b.jsonl", [{"id": 1, "text": TEXT}])
    fails(mmdedup_cli("dedup", src, "-o", tmp_path / "out"), "b.jsonl", "cannot tell the layout")


def test_a_layout_given_that_a_shard_does_not_have_is_an_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "text": [TEXT, TEXT]}), tmp_path / "t.parquet")
    r = mmdedup_cli(
        "convert",
        tmp_path / "t.parquet",
        "--format",
        "obelics",
        "--to",
        "mmc4",
        "-o",
        tmp_path / "o",
    )
    fails(r, "t.parquet", "not obelics", "'images'", "'texts'")
    with pytest.raises(InputError, match="not mmc4: no 'text_list'"):
        read_documents(write_jsonl(tmp_path / "t.jsonl", [{"text": TEXT}]), format="mmc4")


def test_a_layout_given_keeps_the_shards_container(tmp_path: Path) -> None:
    rows = [
        {"texts": [f"{TEXT} {i}", None], "images": [None, f"http://x/{i}.png"]} for i in range(3)
    ]
    write_jsonl(tmp_path / "o.jsonl", rows)
    out = tmp_path / "out"
    ok(mmdedup_cli("dedup", tmp_path / "o.jsonl", "--format", "obelics", "-o", out, "-q"))
    assert [json.loads(x)["texts"][0] for x in (out / "o.jsonl").read_text().splitlines()] == [
        r["texts"][0] for r in rows
    ]


# -- #5: image references in linear time ---------------------------------------------------------

# The regexes image_references replaces (quadratic on many `![` without `](`).
OLD_CLOSED = re.compile(
    r"!\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
OLD_OPEN = re.compile(r"!\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="![]()\\<>\"' \n\tab", max_size=40))
def test_image_references_find_what_the_regex_found(text: str) -> None:
    for closed, old in ((True, OLD_CLOSED), (False, OLD_OPEN)):
        want = [(m.start(), m.end(), m.group(1)) for m in old.finditer(text)]
        assert image_references(text, closed=closed) == want


@pytest.mark.parametrize(
    "text", ["![" * 200_000, "```\n" + "![" * 200_000 + "\n```", "![\\" * 130_000]
)
def test_image_references_of_400_kb_of_brackets_take_linear_time(text: str) -> None:
    t = time.perf_counter()
    assert image_references(text) == [] and image_references(text, closed=False) == []
    seg = {"kind": "text", "text": text + " ![a](b.png)", "meta": None}
    assert [ref["image_path"] for _, _, ref, _ in _view([seg], True).images] == ["b.png"]
    assert time.perf_counter() - t < 5  # a hang guard: about 10 ms (the regex: about 100 min)


def test_a_pin_row_of_400_kb_of_brackets_is_deduplicated_quickly(tmp_path: Path) -> None:
    md = "![" * 200_000
    write_jsonl(tmp_path / "pin.jsonl", [{"id": "1", "md": md}, {"id": "2", "md": md + " x"}])
    t = time.perf_counter()
    ok(mmdedup_cli("dedup", tmp_path / "pin.jsonl", "-o", tmp_path / "out", "-q"))
    assert time.perf_counter() - t < 60  # a hang guard: about 2 s (before: hours)


# -- #8: symlinked shards (the Hugging Face hub cache) ------------------------------------------


def hub_cache(root: Path) -> Path:
    """``snapshots/abc/data/*``, each a symlink to ``blobs/<hash>`` (no extension)."""
    blobs, data = root / "blobs", root / "snapshots" / "abc" / "data"
    blobs.mkdir(parents=True)
    data.mkdir(parents=True)
    pq.write_table(
        pa.table({"text": [TEXT, TEXT, "Another text, not like it at all."]}), blobs / "3f2a"
    )
    (blobs / "77aa").write_bytes(png(1))
    (data / "train-00000.parquet").symlink_to("../../../blobs/3f2a")
    (data / "img.png").symlink_to("../../../blobs/77aa")
    return data


def test_symlinked_shards_count_under_their_own_names(tmp_path: Path) -> None:
    data = hub_cache(tmp_path / "hub")
    link = data / "train-00000.parquet"
    shards = discover([str(data), str(link), str(link.resolve().parent / ".." / "snapshots")])
    assert [(s.name, s.format) for s in shards] == [("train-00000.parquet", "parquet")]
    for given_as in (data, link):
        out = tmp_path / f"out-{given_as.name}"
        ok(mmdedup_cli("dedup", given_as, "-o", out, "-q"))
        assert pq.read_table(out / "train-00000.parquet").num_rows == 2
    out = tmp_path / "images"
    ok(mmdedup_cli("images", data / "img.png", data / "img.png", "-o", out, "-q"))
    assert [r["key"] for r in clusters(out)] == [str(data / "img.png")]


# -- #9, #26, #27, #28: JSON Lines -----------------------------------------------------------


def test_a_text_that_is_not_a_string_is_a_row_error(tmp_path: Path) -> None:
    rows: list[Any] = [{"id": i, "text": doc(i)} for i in range(8)]
    rows[2]["text"], rows[4]["text"], rows[5]["text"], rows[6]["text"] = 7, {"a": "x"}, ["x"], True
    src = write_jsonl(tmp_path / "t.jsonl", rows)
    fails(
        mmdedup_cli("dedup", src, "-o", tmp_path / "o1", "--on-error", "raise"),
        "t.jsonl, row 2",
        "holds a number",
    )
    ok(mmdedup_cli("dedup", src, "-o", tmp_path / "o2", "--on-error", "record", "-q"))
    got = {r["row"]: r["error"] for r in clusters(tmp_path / "o2") if r["status"] == "error"}
    assert got == {
        2: "key 'text' holds a number, not a string",
        4: "key 'text' holds an object, not a string",
        5: "key 'text' holds a list, not a string",
        6: "key 'text' holds a boolean, not a string",
    }
    assert (tmp_path / "o2" / "t.jsonl").read_bytes() == src.read_bytes()  # kept untouched
    # Texts that only look like numbers or JSON stay texts.
    texts = ["12", "true", "{not json}", "[1, 2]", '{"a": 1}', "-3e5"]
    src = write_jsonl(tmp_path / "s.jsonl", [{"text": t} for t in texts])
    shard = discover([str(src)])[0]
    [piece] = list(iter_columns(shard, ["text"], 100, text="text"))
    assert piece["text"].to_pylist() == texts


def test_a_byte_order_mark_is_skipped_and_kept(tmp_path: Path) -> None:
    lines = [json.dumps({"text": doc(i)}).encode() for i in range(3)]
    src = tmp_path / "bom.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    ok(mmdedup_cli("dedup", src, "-o", tmp_path / "out", "-q"))
    assert [r["status"] for r in clusters(tmp_path / "out")] == ["unique"] * 3
    assert (tmp_path / "out" / "bom.jsonl").read_bytes() == src.read_bytes()
    read = read_documents(write_jsonl(tmp_path / "m.jsonl", [mmc4_row(0)]))
    (tmp_path / "bom_mmc4.jsonl").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "m.jsonl").read_bytes())
    assert read_documents(tmp_path / "bom_mmc4.jsonl").table.num_rows == read.table.num_rows == 1


@pytest.mark.parametrize("escape", ["\\udfff", "\\ud800", "\\ud800x"])
def test_a_lone_surrogate_is_a_row_error(tmp_path: Path, escape: str) -> None:
    lines = [json.dumps({"text": doc(i)}) for i in range(4)]
    lines[3] = '{"text": "' + escape + ' and more text"}'
    lines[1] = '{"text": "a pair \\ud83d\\ude00 is a character", "id": "\\\\ud800"}'
    src = tmp_path / "s.jsonl"
    src.write_text("\n".join(lines) + "\n")
    fails(
        mmdedup_cli("dedup", src, "-o", tmp_path / "o1", "--on-error", "raise"),
        "s.jsonl, row 3",
        "lone surrogate",
    )
    ok(mmdedup_cli("dedup", src, "-o", tmp_path / "o2", "--on-error", "record", "-q"))
    assert [r["status"] for r in clusters(tmp_path / "o2")] == ["unique"] * 3 + ["error"]
    assert (tmp_path / "o2" / "s.jsonl").read_bytes() == src.read_bytes()
    docs = read_documents(write_jsonl(tmp_path / "m.jsonl", [mmc4_row(0)] * 2), on_error="skip")
    (tmp_path / "m.jsonl").write_text(
        (tmp_path / "m.jsonl").read_text().replace("Second one.", escape, 1)
    )
    bad = read_documents(tmp_path / "m.jsonl", on_error="skip")
    assert [(p.row, p.message) for p in bad.errors] == [
        (0, "a lone surrogate escape (not a character)")
    ]
    assert bad.table.num_rows == docs.table.num_rows - 1


def test_invalid_utf8_is_kept_untouched_with_on_error_keep(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "text": doc(i)}).encode() for i in range(6)]
    lines[4] = b'{"id": 4, "text": "caf\xe9 \xff"}'
    src = tmp_path / "u.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    fails(
        mmdedup_cli("dedup", src, "-o", tmp_path / "o1", "--on-error", "raise"),
        "u.jsonl, row 4",
        "not valid UTF-8",
    )
    ok(
        mmdedup_cli(
            "dedup", src, "-o", tmp_path / "o2", "--on-error", "record", "--id-column", "id"
        )
    )
    rows = clusters(tmp_path / "o2")
    assert [(r["status"], r["keep"]) for r in rows] == [("unique", True)] * 4 + [
        ("error", True),
        ("unique", True),
    ]
    assert rows[4]["error"].startswith("not valid UTF-8")
    assert (tmp_path / "o2" / "u.jsonl").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("end", [b"\r\n", b"\r", b"\n"])
@pytest.mark.parametrize("gz", [False, True])
def test_json_lines_are_copied_byte_for_byte(tmp_path: Path, end: bytes, gz: bool) -> None:
    lines = [json.dumps({"text": doc(i % 4)}).encode() for i in range(10)]
    data = end.join(lines) + end + b"  " + end + lines[0]  # a blank line, no final line end
    src = tmp_path / ("e.jsonl.gz" if gz else "e.jsonl")
    src.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    out = tmp_path / "out"
    ok(mmdedup_cli("dedup", src, "-o", out, "-m", "exact", "-q"))
    keep = [r["keep"] for r in clusters(out)]
    assert keep == [True] * 4 + [False] * 7
    got = (out / src.name).read_bytes()
    assert (gzip.decompress(got) if gz else got) == b"".join(line + end for line in lines[:4])


# -- #29, #31: dictionary-encoded and null text columns ------------------------------------------


def test_a_dictionary_encoded_text_column_is_text(tmp_path: Path) -> None:
    texts = [TEXT, TEXT, "Something else entirely, in its own words.", None]
    pl.DataFrame({"text": pl.Series(texts, dtype=pl.Categorical)}).write_parquet(
        tmp_path / "cat.parquet"
    )
    pq.write_table(pa.table({"text": pa.array(texts).dictionary_encode()}), tmp_path / "d.parquet")
    for name in ("cat.parquet", "d.parquet"):
        out = tmp_path / f"out-{name}"
        ok(mmdedup_cli("dedup", tmp_path / name, "-o", out, "-q"))
        assert [r["status"] for r in clusters(out)] == ["kept", "duplicate", "unique", "empty"]
    plain = mmdedup.minhash(pa.array(texts))
    assert np.array_equal(mmdedup.minhash(pa.array(texts).dictionary_encode()), plain)
    assert np.array_equal(mmdedup.minhash(pl.Series(texts, dtype=pl.Categorical)), plain)
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.Categorical)})
    assert mmdedup.dedup(frame, method="exact")["keep"].to_list() == [True, False, True, True]
    table = pa.table({"text": pa.chunked_array([pa.array(texts).dictionary_encode()])})
    assert mmdedup.dedup(table, keep="longest")["keep"].to_pylist() == [True, False, True, True]


def test_a_polars_column_of_nulls_is_empty_rows() -> None:
    out = mmdedup.dedup(pl.DataFrame({"text": [None, None]}), "text")
    assert out["keep"].to_list() == [True, True] and out["cluster"].null_count() == 2
    assert mmdedup.minhash(pl.Series([None, None])).shape == (2, 128)


# -- #15, #21: interleaved layouts ---------------------------------------------------------------


def test_pin_rows_with_empty_meta_convert_to_parquet_and_back(tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "md": f"{TEXT}\n\n![x](content_image/a.png)",
            "content_image": ["content_image/a.png"],
            "meta": {},
        },
        {"id": "b", "md": "Another doc.", "content_image": [], "meta": {}},
    ]
    write_jsonl(tmp_path / "pin.jsonl", rows)
    ok(
        mmdedup_cli(
            "convert", tmp_path / "pin.jsonl", "--to", "obelics", "-o", tmp_path / "ob", "-q"
        )
    )
    ok(
        mmdedup_cli(
            "convert", tmp_path / "ob" / "pin.parquet", "--to", "pin", "-o", tmp_path / "p", "-q"
        )
    )
    back = [json.loads(x) for x in (tmp_path / "p" / "pin.jsonl").read_text().splitlines()]
    assert [(r["id"], r["meta"]) for r in back] == [("a", {}), ("b", {})]


@pytest.mark.parametrize("bad", [[1, "x"], [None, "x"], [["x"], "y"], [{"a": 1}]])
def test_mmc4_sentences_that_are_not_strings_are_row_errors(tmp_path: Path, bad: list[Any]) -> None:
    rows = [mmc4_row(0), {**mmc4_row(1), "text_list": bad}, mmc4_row(2)]
    src = write_jsonl(tmp_path / "m.jsonl", rows)
    fails(
        mmdedup_cli("dedup", src, "-o", tmp_path / "o1", "--on-error", "raise"),
        "m.jsonl, row 1",
        "text_list[0]",
    )
    ok(mmdedup_cli("dedup", src, "-o", tmp_path / "o2", "--on-error", "record", "-q"))
    problems = pq.read_table(tmp_path / "o2" / "problems.parquet").to_pylist()
    assert [(p["row"], p["problem"][:12]) for p in problems] == [(1, "text_list[0]")]
    r = mmdedup_cli("convert", src, "--to", "obelics", "-o", tmp_path / "c")
    ok(r)
    assert "m.jsonl, row 1: text_list[0] is" in r.stderr
    assert pq.read_table(tmp_path / "c" / "m.parquet").num_rows == 2


# -- #20, #34, #35, #36: images ------------------------------------------------------------------


def tar_of(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tf:
        for m in members:
            body = data.get(m.name)
            if body is not None:
                m.size = len(body)
            tf.addfile(m, io.BytesIO(body) if body is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    m = tarfile.TarInfo(name)
    m.type, m.linkname = kind, link
    return m


def test_a_truncated_tar_is_an_error_naming_file_and_member(tmp_path: Path) -> None:
    names = [f"{i:06d}.png" for i in range(6)]
    whole = tar_of(
        tmp_path / "w.tar", [member(n) for n in names], {n: png(i) for i, n in enumerate(names)}
    )
    cut = tmp_path / "cut.tar"
    with tarfile.open(whole) as tf:
        last = tf.getmembers()[-1]
    # Cut in a member's bytes, and in a header (where tarfile itself stops without a word).
    for at, where in ((last.offset_data + 40, "in member"), (last.offset + 100, "after member")):
        cut.write_bytes(whole.read_bytes()[:at])
        r = mmdedup_cli("images", cut, "-o", tmp_path / f"o{at}")
        fails(r, "cut.tar", "not a readable tar file", where)
    gz = tmp_path / "cut.tar.gz"
    packed = gzip.compress(whole.read_bytes())
    gz.write_bytes(packed[: len(packed) // 2])
    fails(mmdedup_cli("images", gz, "-o", tmp_path / "o2"), "cut.tar.gz", "not a readable tar file")


def test_hard_links_in_a_tar_get_their_targets_bytes_from_the_archive_only(tmp_path: Path) -> None:
    shard = tar_of(
        tmp_path / "links.tar",
        [
            member("a.png"),
            member("b.png", tarfile.LNKTYPE, "a.png"),  # the same bytes as a.png
            member("c.png", tarfile.LNKTYPE, "/etc/passwd"),  # outside: never read
            member("d.png", tarfile.LNKTYPE, "zz.png"),  # a later or missing member
            member("e.png", tarfile.SYMTYPE, "a.png"),  # symbolic links are passed over
            member("zz.png"),
        ],
        {"a.png": png(1), "zz.png": png(2)},
    )
    out = tmp_path / "out"
    ok(mmdedup_cli("images", shard, "-o", out, "-q"))
    rows = {r["key"]: r for r in clusters(out)}
    assert sorted(rows) == ["a.png", "b.png", "c.png", "d.png", "zz.png"]
    assert rows["b.png"]["hash"] == rows["a.png"]["hash"] and rows["b.png"]["error"] is None
    assert rows["c.png"]["hash"] is None and rows["c.png"]["error"] == "null image"
    assert rows["d.png"]["error"] == "null image"


@pytest.mark.parametrize(
    ("values", "kind", "words"),
    [
        ([1, 2], pa.int64(), "holds values of type int64"),
        ([[1], [2]], pa.list_(pa.int64()), "holds values of type list<"),
        ([{"x": 1}], pa.struct([("x", pa.int64())]), "holds structs without image bytes or a path"),
    ],
)
def test_a_parquet_image_column_of_another_type_is_an_error_naming_it(
    tmp_path: Path, values: list[Any], kind: pa.DataType, words: str
) -> None:
    pq.write_table(pa.table({"image": pa.array(values, kind)}), tmp_path / "p.parquet")
    fails(
        mmdedup_cli("images", tmp_path / "p.parquet", "-o", tmp_path / "o"),
        "p.parquet",
        "column 'image'",
        words,
    )


def test_a_string_column_names_image_files_relative_to_the_shard(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(png(1))
    (tmp_path / "img" / "b.png").write_bytes(png(1))
    paths = ["img/a.png", str(tmp_path / "img" / "b.png"), "img/gone.png", None]
    pq.write_table(pa.table({"image": pa.array(paths, pa.string())}), tmp_path / "p.parquet")
    ok(mmdedup_cli("images", tmp_path / "p.parquet", "-o", tmp_path / "o", "-q"))
    rows = clusters(tmp_path / "o")
    assert [r["row"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["hash"] == rows[1]["hash"] and rows[0]["error"] is None
    assert rows[0]["cluster"] == rows[1]["cluster"]
    assert "gone.png does not exist" in rows[2]["error"] and rows[2]["hash"] is None
    assert rows[3]["error"] == "null image"


def test_hugging_face_image_structs_and_binary_columns_are_read(tmp_path: Path) -> None:
    kind = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    hf = pa.array([{"bytes": png(1), "path": "a.png"}, {"bytes": None, "path": "b.png"}], kind)
    pq.write_table(
        pa.table({"image": hf, "jpg": pa.array([png(1), png(3)])}), tmp_path / "p.parquet"
    )
    ok(mmdedup_cli("images", tmp_path / "p.parquet", "-o", tmp_path / "o", "-q"))
    errors = [r["error"] for r in clusters(tmp_path / "o")]
    assert errors[0] is None
    assert "image file" in errors[1] and "b.png does not exist" in errors[1]
    (tmp_path / "b.png").write_bytes(png(1))  # the path is relative to the shard's directory
    ok(mmdedup_cli("images", tmp_path / "p.parquet", "-o", tmp_path / "o1", "-q"))
    rows = clusters(tmp_path / "o1")
    assert [r["error"] for r in rows] == [None, None]
    assert rows[0]["hash"] == rows[1]["hash"]
    ok(
        mmdedup_cli(
            "images", tmp_path / "p.parquet", "--column", "jpg", "-o", tmp_path / "o2", "-q"
        )
    )
    assert [r["error"] for r in clusters(tmp_path / "o2")] == [None, None]


# -- malformed interleaved rows: documents or a row error, nothing else --------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
)
JSON = st.recursive(
    SCALARS | st.sampled_from(["\ud800", "x\udfff", "\x00"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
MARKDOWN = st.lists(
    st.sampled_from(
        [
            "![",
            "](",
            ")",
            "a.png",
            " ",
            "\n",
            "\n\n",
            "```",
            "`",
            "*",
            "#",
            "> ",
            "- ",
            "<img src=x>",
            "\\",
            "[r]: u",
            "|a|b|",
            "word",
        ]
    ),
    max_size=12,
).map("".join)
URL = st.none() | st.sampled_from(["http://x/a.png", "b.png", "", "content_image/c.png"]) | JSON


def info_entries() -> st.SearchStrategy[Any]:
    entry = st.fixed_dictionaries(
        {},
        optional={
            "raw_url": URL,
            "image_name": URL,
            "matched_text_index": st.integers(-2, 4) | JSON,
            "matched_sim": JSON,
        },
    )
    return st.lists(entry | JSON, max_size=3) | JSON


MMC4_ROW = st.fixed_dictionaries(
    {},
    optional={
        "text_list": st.lists(st.text(max_size=8) | JSON, max_size=4) | JSON,
        "image_info": info_entries(),
        "url": URL,
        "similarity_matrix": JSON,
    },
)
PIN_ROW = st.fixed_dictionaries(
    {"md": MARKDOWN | JSON},
    optional={"content_image": st.lists(URL, max_size=3) | JSON, "meta": JSON, "id": JSON},
)
WANJUAN_ROW = st.fixed_dictionaries(
    {"content": MARKDOWN | JSON},
    optional={"img_list": st.lists(st.fixed_dictionaries({"url": URL}) | JSON, max_size=2) | JSON},
)


def check_read(path: Path, layout: str) -> None:
    """Reads ``path`` as ``layout``: documents, or InputErrors naming the row; then writes the
    documents read in every layout."""
    try:
        read_documents(path, format=layout, on_error="raise")
    except InputError as e:
        assert e.row is not None or "not " + layout in str(e), e
    try:
        docs = read_documents(path, format=layout, on_error="skip")
    except InputError as e:
        assert "not " + layout in str(e), e  # the file has none of the layout's fields
        return
    for p in docs.errors:
        assert p.message
    for to, fmt in FORMATS.items():
        write_documents(docs.table, path.parent / f"out.{fmt.container}", format=to)


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # escapes surrogates as \\uXXXX
    return path


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(st.lists(MMC4_ROW | JSON, min_size=1, max_size=4))
def test_malformed_mmc4_rows(tmp_path: Path, rows: list[Any]) -> None:
    check_read(write_lines(tmp_path / "m.jsonl", rows), "mmc4")


@FUZZ
@given(st.lists(PIN_ROW | JSON, min_size=1, max_size=4))
def test_malformed_pin_rows(tmp_path: Path, rows: list[Any]) -> None:
    check_read(write_lines(tmp_path / "p.jsonl", rows), "pin")


@FUZZ
@given(st.lists(WANJUAN_ROW | JSON, min_size=1, max_size=4))
def test_malformed_wanjuan_rows(tmp_path: Path, rows: list[Any]) -> None:
    check_read(write_lines(tmp_path / "w.jsonl", rows), "wanjuan")


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={"images": JSON, "texts": JSON, "metadata": JSON}),
        min_size=1,
        max_size=4,
    )
)
def test_malformed_aligned_rows_in_json_lines(tmp_path: Path, rows: list[Any]) -> None:
    check_read(write_lines(tmp_path / "o.jsonl", rows), "obelics")


# Parquet columns: one Arrow type per file, drawn with values of that type.
ENTRY = st.none() | st.text(max_size=6)
STRUCT = pa.struct([("p_hash", pa.string()), ("n", pa.int64())])
COLUMNS: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.list_(pa.string()), st.none() | st.lists(ENTRY, max_size=4)),
    (pa.list_(pa.int64()), st.none() | st.lists(st.none() | st.integers(0, 9), max_size=4)),
    (
        pa.list_(pa.list_(pa.string())),
        st.none() | st.lists(st.none() | st.lists(ENTRY, max_size=2), max_size=3),
    ),
    (pa.string(), ENTRY | MARKDOWN),
    (pa.int64(), st.none() | st.integers(0, 9)),
    (
        pa.list_(STRUCT),
        st.none()
        | st.lists(
            st.none()
            | st.fixed_dictionaries({"p_hash": ENTRY, "n": st.none() | st.integers(0, 3)}),
            max_size=4,
        ),
    ),
]
ALIGNED = {
    "obelics": ("images", "texts", "metadata"),
    "omnicorpus": ("images", "texts", "metadata"),
    "infimm": ("image_list", "text_list"),
}


@st.composite
def parquet_rows(draw: st.DrawFn) -> tuple[str, pa.Table]:
    layout = draw(st.sampled_from(sorted(ALIGNED)))
    n = draw(st.integers(1, 4))
    columns = {}
    for i, name in enumerate(ALIGNED[layout]):
        if i < 2 or draw(st.booleans()):
            kind, values = draw(st.sampled_from(COLUMNS))
            columns[name] = pa.array([draw(values) for _ in range(n)], kind)
    return layout, pa.table(columns)


@FUZZ
@given(parquet_rows())
def test_malformed_aligned_rows_in_parquet(tmp_path: Path, drawn: tuple[str, pa.Table]) -> None:
    layout, table = drawn
    pq.write_table(table, tmp_path / "a.parquet")
    check_read(tmp_path / "a.parquet", layout)
