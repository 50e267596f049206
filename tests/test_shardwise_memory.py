"""``convert`` and ``tokenize`` within a memory budget: each shard read and written a piece at a
time, the files the same whatever the budget, the peak memory bounded."""

from __future__ import annotations

import base64
import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import random_doc
from mmdedup import load_tokenizer
from mmdedup.cli import main
from mmdedup.formats import read_documents, write_documents
from mmdedup.formats.pieces import ROW_GROUP
from mmdedup.runs import convert_files, tokenize_files
from test_big_shard import POOL, run_measured

# Enough documents for several row groups of output, and for many pieces at 64KB.
N = 2 * ROW_GROUP + 300


def files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".mmdedup" not in p.as_posix()
    }


def _doc(rng: random.Random, i: int) -> list[tuple[str, str]]:
    doc = [("text", random_doc(rng, rng.randrange(1, 30)))]
    for k in range(rng.randrange(3)):
        doc += [("image", f"content_image/{i % 50}-{k}.png"), ("text", random_doc(rng, 5))]
    return doc


def corpus(layout: str, d: Path, n: int = N, seed: int = 1) -> Path:
    """A shard of ``n`` documents in ``layout``, with carried fields whose types change between
    row groups (nulls first, then ints, then floats), and one line that is not JSON."""
    rng = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    docs = [_doc(rng, i) for i in range(n)]
    score = [None if i < ROW_GROUP else i if i < 2 * ROW_GROUP else i + 0.5 for i in range(n)]
    if layout == "obelics":
        cols: dict[str, Any] = {
            "url": [f"http://site/{i}" for i in range(n)],
            "images": [[v if k == "image" else None for k, v in doc] for doc in docs],
            "texts": [[v if k == "text" else None for k, v in doc] for doc in docs],
            "metadata": [json.dumps([None] * len(doc)) for doc in docs],
            "general_metadata": [json.dumps({"url": f"u{i}"}) for i in range(n)],
            "score": pa.array([None if s is None else float(s) for s in score]),
        }
        path = d / "web.parquet"
        pq.write_table(pa.table(cols), path, row_group_size=700)
        return path
    lines = []
    for i, doc in enumerate(docs):
        md = "\n\n".join(f"![]({v})" if k == "image" else v for k, v in doc)
        extra = {"id": str(i), "score": score[i]}
        if layout == "mmc4":
            texts = [v for k, v in doc if k == "text"]
            info, m = [], 0
            for k, v in doc:
                if k == "text":
                    m += 1
                else:
                    info.append({"raw_url": f"http://x/{v}", "matched_text_index": m})
            row = {"text_list": texts, "image_info": info, **extra}
        else:  # pin
            images = [v for k, v in doc if k == "image"]
            row = {"md": md, "content_image": images, **extra}
        lines.append(json.dumps(row))
    lines.insert(N // 2, "{not json")
    data = "".join(line + "\n" for line in lines).encode()
    if layout == "pin":
        (d / "content_image").mkdir()
        for i in range(50):
            for k in range(2):
                (d / "content_image" / f"{i}-{k}.png").write_bytes(b"png %d %d" % (i, k))
    if layout == "mmc4.gz":
        path = d / "docs.jsonl.gz"
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path = d / "docs.jsonl"
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("layout", "to"),
    [
        ("obelics", "obelics"),
        ("obelics", "mmc4"),
        ("mmc4", "obelics"),
        ("mmc4.gz", "pin"),
        ("mmc4.gz", "mmc4"),
        ("pin", "obelics"),
        ("pin", "pin"),
    ],
)
def test_convert_in_pieces_gives_the_same_files(tmp_path: Path, layout: str, to: str) -> None:
    src = corpus(layout, tmp_path / "in")
    whole = convert_files([str(src)], tmp_path / "whole", to=to)
    tiny = convert_files([str(src)], tmp_path / "tiny", to=to, memory=64 * 1024)
    assert files(tmp_path / "tiny") == files(tmp_path / "whole")
    assert whole.documents_out == tiny.documents_out == N
    assert [(p.row, p.message) for p in tiny.errors] == [(p.row, p.message) for p in whole.errors]
    if layout != "obelics":
        assert [p.row for p in tiny.errors] == [N // 2]  # the shard's own row number
    if layout == "pin":
        assert tiny.images_copied == whole.images_copied == 100
    out = next(p for p in (tmp_path / "tiny").iterdir() if not p.name.startswith("."))
    if out.suffix == ".parquet":
        meta = pq.ParquetFile(out).metadata
        assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [
            ROW_GROUP,
            ROW_GROUP,
            N - 2 * ROW_GROUP,
        ]
        # The carried column's type is the whole file's: nulls, then ints, then floats.
        if layout != "obelics":
            assert pq.read_schema(out).field("score").type == pa.float64()


@pytest.mark.parametrize(
    ("layout", "to"), [("obelics", "obelics"), ("mmc4", "obelics"), ("pin", "mmc4")]
)
def test_a_shard_of_one_row_group_is_written_as_before(
    tmp_path: Path, layout: str, to: str
) -> None:
    """A shard of at most one row group gives the file that the whole-table writer gives."""
    src = corpus(layout, tmp_path / "in", n=300)
    convert_files([str(src)], tmp_path / "out", to=to, memory=64 * 1024)
    (out,) = [p for p in (tmp_path / "out").iterdir() if p.is_file() and p.name[0] != "."]
    ref = tmp_path / f"ref{''.join(out.suffixes)}"
    write_documents(read_documents(src, on_error="record").table, ref, format=to)
    assert out.read_bytes() == ref.read_bytes()


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vocab") / "cl100k_base.tiktoken"
    path.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    return path


@pytest.mark.parametrize("layout", ["obelics", "mmc4.gz", "pin"])
def test_tokenize_in_pieces_gives_the_same_files(tmp_path: Path, vocab: Path, layout: str) -> None:
    src = corpus(layout, tmp_path / "in", n=4096 + 700)
    tok = load_tokenizer(vocab)
    kw: dict[str, Any] = {"tokenizer": tok, "ids": True, "text": True}
    whole = tokenize_files([str(src)], tmp_path / "whole", **kw)
    tiny = tokenize_files([str(src)], tmp_path / "tiny", memory=64 * 1024, **kw)
    assert files(tmp_path / "tiny") == files(tmp_path / "whole")
    assert (tiny.documents, tiny.tokens) == (whole.documents, whole.tokens)
    assert [p.row for p in tiny.errors] == [p.row for p in whole.errors]
    meta = pq.ParquetFile(
        tmp_path / "tiny" / src.name.replace(".gz", "").replace(".jsonl", ".parquet")
    ).metadata
    assert meta.num_row_groups == 2


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_tokenize_a_text_column_in_pieces(tmp_path: Path, vocab: Path, suffix: str) -> None:
    rng = random.Random(2)
    texts = [None if i % 97 == 0 else random_doc(rng, 20) for i in range(5000)]
    src = tmp_path / "in"
    src.mkdir()
    if suffix == "parquet":
        pq.write_table(pa.table({"text": texts}), src / "t.parquet", row_group_size=900)
    else:
        (src / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    tok = load_tokenizer(vocab)
    kw: dict[str, Any] = {"tokenizer": tok, "column": "text", "text": True}
    tokenize_files([str(src)], tmp_path / "whole", **kw)
    tokenize_files([str(src)], tmp_path / "tiny", memory=16 * 1024, **kw)
    assert files(tmp_path / "tiny") == files(tmp_path / "whole")
    got = pq.read_table(tmp_path / "tiny" / "t.parquet")
    assert got["doc_id"][4999].as_py() == f"t.{suffix}:4999"


def test_memory_is_in_the_help_and_parsed_as_elsewhere(tmp_path: Path) -> None:
    for command in ("convert", "tokenize"):
        r = CliRunner().invoke(main, [command, "--help"])
        assert "--memory" in r.output and "one unit of work" in r.output, r.output
    src = corpus("mmc4", tmp_path / "in", n=10)
    r = CliRunner().invoke(
        main, ["convert", str(src), "--to", "obelics", "-o", str(tmp_path / "o"), "--memory", "4"]
    )
    assert r.exit_code == 1 and "a forgotten unit?" in r.output, r.output
    r = CliRunner().invoke(
        main,
        [
            "convert",
            str(src),
            "--to",
            "obelics",
            "-o",
            str(tmp_path / "o"),
            "--memory",
            "1MB",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_convert_peak_memory_stays_below_the_shard(tmp_path: Path) -> None:
    """A shard of tens of MB converted with --memory 8MB: the resident peak stays well below
    the shard's size."""
    rng = random.Random(5)
    words = [random_doc(rng, 1) for _ in range(2000)]
    n = 6000
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(1000))
        rows.append(
            {
                "text_list": [text[:2500], text[2500:]],
                "image_info": [{"raw_url": f"http://x/{i}.png", "matched_text_index": 1}],
                "id": i,
            }
        )
    src, warm = tmp_path / "in", tmp_path / "warm"
    src.mkdir()
    warm.mkdir()
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    (src / "big.jsonl").write_bytes(data)
    (warm / "big.jsonl").write_bytes(data[: len(data) // 20].rsplit(b"\n", 1)[0] + b"\n")
    size = len(data)
    assert size > 30 * 2**20
    args = ["convert", str(src), "--to", "obelics", "-q"]
    tight = run_measured(warm, tmp_path / "tight", *args, "--memory", "8MB")
    out = pq.ParquetFile(tmp_path / "tight" / "big.parquet")
    assert out.metadata.num_rows == n
    if POOL:
        assert tight < size / 3, (tight, size)
