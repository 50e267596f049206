"""The keys and columns a conversion carries: every key of a JSON Lines shard becomes a Parquet
column (not those of its first document only), whatever the pieces it is read in; what cannot
be a column stays in ``extra``; what cannot be carried at all is an error, never a silent drop."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup import load_tokenizer
from mmdedup.errors import InputError
from mmdedup.formats import read_documents, write_documents
from mmdedup.formats.parquet_out import MAX_KEY_COLUMNS
from mmdedup.formats.pieces import ROW_GROUP
from mmdedup.runs import convert_files, tokenize_files
from test_hostile_inputs import fails, mmdedup_cli, ok
from test_shardwise_memory import files

# Several row groups: a key first seen in the last one is first seen in a later block.
N = 2 * ROW_GROUP + 300
LATE = 2 * ROW_GROUP + 17


def mmc4_row(i: int, **keys: Any) -> dict[str, Any]:
    info = [{"raw_url": f"http://x/{i}.png", "matched_text_index": 0}] if i % 3 == 0 else []
    return {"text_list": [f"Sentence {i}.", "Next."], "image_info": info, **keys}


def pin_row(i: int, **keys: Any) -> dict[str, Any]:
    return {"md": f"Text {i}.\n\n![](http://x/{i}.png)", "content_image": [], **keys}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def late_keys(i: int) -> dict[str, Any]:
    """Keys that only some documents have, first seen at row 0, 5, 700 and :data:`LATE`."""
    keys: dict[str, Any] = {"id": f"d{i}"}
    if i % 5 == 0:
        keys["lang"] = "en" if i % 2 else "fr"
    if i >= 700 and i % 7 == 0:
        keys["score"] = i / 4
    if i >= LATE and i % 2:
        keys["late"] = {"n": i, "tags": ["a", str(i)]}
    return keys


def source_keys(layout: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    core = {"mmc4": ("text_list", "image_info"), "pin": ("md", "content_image")}[layout]
    return [{k: v for k, v in r.items() if k not in core} for r in rows]


@pytest.mark.parametrize(("layout", "to"), [("mmc4", "obelics"), ("pin", "omnicorpus")])
def test_every_key_of_the_shard_becomes_a_column(tmp_path: Path, layout: str, to: str) -> None:
    make = mmc4_row if layout == "mmc4" else pin_row
    rows = [make(i, **late_keys(i)) for i in range(N)]
    src = write_jsonl(tmp_path / "in" / "docs.jsonl", rows)
    whole = convert_files([str(src)], tmp_path / "whole", to=to)
    # A piece of 4 KiB holds a few dozen documents: the late keys come in a later piece.
    tiny = convert_files([str(src)], tmp_path / "tiny", to=to, memory=64 * 1024)
    assert whole.documents_out == tiny.documents_out == N
    assert whole.keys_in_extra == tiny.keys_in_extra == []
    assert files(tmp_path / "tiny") == files(tmp_path / "whole")  # the README's promise
    out = tmp_path / "whole" / "docs.parquet"
    schema = pq.read_schema(out)
    core = ["images", "texts", "metadata"]
    assert schema.names == [*core, "id", "lang", "score", "late"]  # order of first appearance
    assert schema.field("score").type == pa.float64()
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    table = pq.read_table(out)
    got = table.drop_columns(core).to_pylist()
    for i, (want, have) in enumerate(zip(source_keys(layout, rows), got, strict=True)):
        # Every value of every row is there; a document without a key has null.
        assert have == {k: want.get(k) for k in ("id", "lang", "score", "late")}, i


def test_a_key_of_a_later_block_comes_back_to_json_lines(tmp_path: Path) -> None:
    rows = [mmc4_row(i, **late_keys(i)) for i in range(N)]
    src = write_jsonl(tmp_path / "in" / "docs.jsonl", rows)
    convert_files([str(src)], tmp_path / "pq", to="obelics", memory=64 * 1024)
    convert_files([str(tmp_path / "pq" / "docs.parquet")], tmp_path / "back", to="mmc4")
    back = [
        json.loads(line) for line in (tmp_path / "back" / "docs.jsonl").read_text().splitlines()
    ]
    assert len(back) == N
    for want, have in zip(rows, back, strict=True):
        # The keys a document did not have come back as null: the columns are the shard's.
        assert list(have) == ["text_list", "image_info", "id", "lang", "score", "late"]
        assert {k: v for k, v in have.items() if v is not None and k != "image_info"} == {
            k: v for k, v in want.items() if k != "image_info"
        }


@pytest.mark.parametrize(
    "conflict",
    [
        {"score": "high"},  # a number in the first rows, a string at LATE
        {"images": ["mine"]},  # a column OBELICS writes
        {"doc_id": "mine"},  # names mmdedup gives its own columns
        {"segments": 3},
        {"extra": {"a": 1}},
    ],
    ids=["mixed-types", "core-name", "doc_id", "segments", "extra"],
)
def test_keys_that_cannot_be_columns_all_stay_in_extra(
    tmp_path: Path, conflict: dict[str, Any]
) -> None:
    rows = [mmc4_row(i, id=i, score=i) for i in range(N)]
    rows[LATE].update(conflict)  # in the last block only
    src = write_jsonl(tmp_path / "in" / "docs.jsonl", rows)
    convert_files([str(src)], tmp_path / "whole", to="obelics")
    tiny = convert_files([str(src)], tmp_path / "tiny", to="obelics", memory=64 * 1024)
    assert not tiny.errors
    assert files(tmp_path / "tiny") == files(tmp_path / "whole")
    out = tmp_path / "whole" / "docs.parquet"
    # The summary says which output keeps the keys in `extra`, and why.
    ((output, why),) = tiny.keys_in_extra
    assert Path(output) == tmp_path / "tiny" / "docs.parquet"
    name = next(iter(conflict))
    assert repr(name) in why and ("no one type" in why) == (name == "score")
    assert pq.read_schema(out).names == ["images", "texts", "metadata", "extra"]
    table = pq.read_table(out)
    extra = [json.loads(e) for e in table.column("extra").to_pylist()]
    assert extra == source_keys("mmc4", rows)  # every key and value, as read
    assert table.column("images").to_pylist()[LATE] == [None, None]  # the layout's own
    # Read back, the keys are keys again; the Parquet file reads as it was written.
    convert_files([str(out)], tmp_path / "back", to="mmc4")
    back = [
        json.loads(line) for line in (tmp_path / "back" / "docs.jsonl").read_text().splitlines()
    ]
    assert [{k: v for k, v in r.items() if k != "image_info"} for r in back] == [
        {k: v for k, v in r.items() if k != "image_info"} for r in rows
    ]
    again = read_documents(out).table
    assert again.column("extra").to_pylist() == table.column("extra").to_pylist()


def test_too_many_keys_stay_in_extra(tmp_path: Path) -> None:
    rows = [mmc4_row(i, **{f"k{i}": i}) for i in range(MAX_KEY_COLUMNS + 1)]
    src = write_jsonl(tmp_path / "docs.jsonl", rows)
    convert_files([str(src)], tmp_path / "out", to="obelics")
    table = pq.read_table(tmp_path / "out" / "docs.parquet")
    assert table.column_names == ["images", "texts", "metadata", "extra"]
    assert [json.loads(e) for e in table.column("extra").to_pylist()] == source_keys("mmc4", rows)
    fewer = write_jsonl(tmp_path / "few" / "docs.jsonl", rows[:MAX_KEY_COLUMNS])
    convert_files([str(fewer)], tmp_path / "out2", to="obelics")
    assert len(pq.read_schema(tmp_path / "out2" / "docs.parquet").names) == 3 + MAX_KEY_COLUMNS


def test_a_key_named_like_a_field_of_a_json_lines_layout_is_an_error(tmp_path: Path) -> None:
    rows = [pin_row(i, id=i) for i in range(N)]
    rows[LATE]["text_list"] = ["mine"]
    src = write_jsonl(tmp_path / "in" / "docs.jsonl", rows)
    err = fails(
        mmdedup_cli("convert", src, "--to", "mmc4", "-o", tmp_path / "out", "--memory", "64MB"),
        str(src),
        f"docs.jsonl:{LATE}",
        "'text_list'",
        "rename",
    )
    assert "Parquet layout" in err  # the way out that keeps it
    assert not (tmp_path / "out" / "docs.jsonl").exists()
    # To a Parquet layout the key is a column of its own (it would stay in extra were it
    # named like one of the layout's).
    ok(mmdedup_cli("convert", src, "--to", "obelics", "-o", tmp_path / "pq"))
    table = pq.read_table(tmp_path / "pq" / "docs.parquet")
    assert table.column("text_list").to_pylist() == [None] * LATE + [["mine"]] + [None] * (
        N - LATE - 1
    )


def obelics_table(n: int, **columns: list[Any]) -> pa.Table:
    return pa.table(
        {
            "images": [[None, f"http://x/{i}.png"] for i in range(n)],
            "texts": [[f"Text {i}.", None] for i in range(n)],
            "metadata": [json.dumps([None, None])] * n,
            **columns,
        }
    )


@pytest.mark.parametrize(
    ("column", "to"),
    [("md", "pin"), ("text_list", "mmc4"), ("content", "wanjuan"), ("image_list", "infimm")],
)
def test_a_parquet_column_named_like_a_field_the_layout_writes_is_an_error(
    tmp_path: Path, column: str, to: str
) -> None:
    src = tmp_path / "in" / "web.parquet"
    src.parent.mkdir()
    pq.write_table(obelics_table(5, **{column: [f"mine {i}" for i in range(5)]}), src)
    fails(
        mmdedup_cli("convert", src, "--to", to, "-o", tmp_path / "out"),
        str(src),
        f"'{column}'",
        f"{to} writes",
        "rename",
    )
    assert not any((tmp_path / "out").glob("web.*"))
    # Another layout carries it.
    ok(mmdedup_cli("convert", src, "--to", "omnicorpus", "-o", tmp_path / "omni"))
    table = pq.read_table(tmp_path / "omni" / "web.parquet")
    assert table.column(column).to_pylist() == [f"mine {i}" for i in range(5)]


@pytest.mark.parametrize("column", ["doc_id", "segments"])
def test_a_parquet_column_named_like_a_canonical_column_is_an_error(
    tmp_path: Path, column: str
) -> None:
    src = tmp_path / "in" / "web.parquet"
    src.parent.mkdir()
    pq.write_table(obelics_table(3, **{column: ["a", "b", "c"]}), src)
    for to in ("mmc4", "obelics"):
        fails(
            mmdedup_cli("convert", src, "--to", to, "-o", tmp_path / to),
            str(src),
            f"'{column}'",
            "rename",
        )
    with pytest.raises(InputError, match=f"'{column}'.*rename"):
        read_documents(src)
    vocab = tmp_path / "cl100k_base.tiktoken"
    vocab.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    with pytest.raises(InputError, match=f"web.parquet.*'{column}'"):
        tokenize_files([str(src)], tmp_path / "tok", tokenizer=load_tokenizer(vocab))


def test_a_parquet_extra_column_that_is_not_json_objects(tmp_path: Path) -> None:
    """``extra`` holds the keys that are not columns; a column so named that holds anything
    else is kept as it is by the same layout, and an error where it would become keys."""
    src = tmp_path / "in" / "web.parquet"
    src.parent.mkdir()
    pq.write_table(obelics_table(3, extra=["plain", "text", "here"], url=["u0", "u1", "u2"]), src)
    ok(mmdedup_cli("convert", src, "--to", "obelics", "-o", tmp_path / "same"))
    assert pq.read_table(tmp_path / "same" / "web.parquet").equals(pq.read_table(src))
    for to in ("mmc4", "omnicorpus"):
        fails(
            mmdedup_cli("convert", src, "--to", to, "-o", tmp_path / to),
            str(src),
            "web.parquet:0",
            "'extra'",
            "not JSON",
            "rename",
        )


def test_the_same_layout_keeps_an_extra_column_as_it_is(tmp_path: Path) -> None:
    """A Parquet file whose keys stayed in ``extra`` (mixed types) written again as its own
    layout, after the documents that mixed them are gone, is still the same columns."""
    rows = [mmc4_row(i, id=i, score=i if i else "zero") for i in range(20)]
    src = write_jsonl(tmp_path / "docs.jsonl", rows)
    convert_files([str(src)], tmp_path / "pq", to="obelics")
    docs = read_documents(tmp_path / "pq" / "docs.parquet").table.slice(1)
    write_documents(docs, tmp_path / "again.parquet", format="obelics")
    again = pq.read_table(tmp_path / "again.parquet")
    assert again.column_names == ["images", "texts", "metadata", "extra"]
    assert [json.loads(e) for e in again.column("extra").to_pylist()] == source_keys(
        "mmc4", rows[1:]
    )


def test_keys_clashing_with_carried_columns(tmp_path: Path) -> None:
    """A table with columns and an ``extra`` of keys (a Parquet source whose keys stayed there,
    or one built in Python): keys named like a column stay in ``extra`` in Parquet and are an
    error in JSON Lines, naming the document."""
    src = tmp_path / "in" / "web.parquet"
    src.parent.mkdir()
    extra = [json.dumps({"k": i}) for i in range(4)]
    extra[2] = json.dumps({"k": 2, "url": "other"})
    pq.write_table(obelics_table(4, url=[f"u{i}" for i in range(4)], extra=extra), src)
    convert_files([str(src)], tmp_path / "omni", to="omnicorpus")
    table = pq.read_table(tmp_path / "omni" / "web.parquet")
    assert table.column_names == ["images", "texts", "metadata", "url", "extra"]
    assert table.column("extra").to_pylist() == extra
    with pytest.raises(InputError, match=r"web\.parquet:2: the key .url. is also a column carried"):
        convert_files([str(src)], tmp_path / "mmc4", to="mmc4")
    # Without the clash, the keys become columns (and keys again in JSON Lines).
    extra[2] = json.dumps({"k": 2})
    pq.write_table(obelics_table(4, url=[f"u{i}" for i in range(4)], extra=extra), src)
    convert_files([str(src)], tmp_path / "omni2", to="omnicorpus")
    assert pq.read_schema(tmp_path / "omni2" / "web.parquet").names[-2:] == ["url", "k"]
    convert_files([str(src)], tmp_path / "mmc4", to="mmc4")
    lines = [json.loads(x) for x in (tmp_path / "mmc4" / "web.jsonl").read_text().splitlines()]
    assert [(r["url"], r["k"]) for r in lines] == [(f"u{i}", i) for i in range(4)]


def test_the_cli_says_when_keys_stay_in_extra(tmp_path: Path) -> None:
    rows = [mmc4_row(i, score=i if i else "zero") for i in range(20)]
    src = write_jsonl(tmp_path / "in" / "docs.jsonl", rows)
    r = mmdedup_cli("convert", src, "--to", "obelics", "-o", tmp_path / "out")
    ok(r)
    assert "docs.parquet: the source's keys are in the JSON column `extra`" in r.stderr
    assert "the key 'score' has no one type" in r.stderr
    rows = [mmc4_row(i, score=i) for i in range(20)]
    src = write_jsonl(tmp_path / "in2" / "docs.jsonl", rows)
    r = mmdedup_cli("convert", src, "--to", "obelics", "-o", tmp_path / "out2")
    ok(r)
    assert "extra" not in r.stderr
