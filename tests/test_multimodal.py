"""Interleaved-document dedup: each rule, the records, layouts, bad input and resume."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from mmdedup.cli import main
from mmdedup.formats import read_documents, write_documents
from mmdedup.runs.interleaved import run
from mmdedup.runs.interleaved.config import MultimodalConfig
from mmdedup.runs.interleaved.paragraphs import edit_text, paragraph_spans
from mmdedup.runs.interleaved.paragraphs import text_view as _view

WORDS = [f"w{i}" for i in range(3000)]
LOGO = "http://img.example/logo.png"
BOILER = "Subscribe to our newsletter for weekly stories about gardens, tools and seasons."


def words(seed: int, n: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "."


def img(name: str) -> str:
    return f"http://img.example/{name}.png"


def corpus() -> list[dict[str, Any]]:
    """Documents built to trigger each rule once (see the test below for what each is)."""
    docs: list[dict[str, Any]] = []
    # 0: the first of twelve pages with the logo and the boilerplate; repeats its own picture.
    docs.append(
        {
            "segs": [
                ("image", LOGO),
                ("text", words(0)),
                ("image", img("a")),
                ("text", BOILER),
                ("image", img("a")),
                ("text", "The end of the first story."),
            ],
            "url": "http://one.example/0",
            "date": "2020-01-01",
        }
    )
    for i in range(1, 12):
        docs.append(
            {
                "segs": [
                    ("image", LOGO),
                    ("text", words(i)),
                    ("image", img(f"p{i}")),
                    ("text", BOILER),
                ],
                "url": f"http://{'one' if i < 6 else 'two'}.example/{i}",
                "date": f"2020-02-{i:02d}",
            }
        )
    # 12: page 1's text again, lightly edited, without its picture (a near-duplicate).
    edited = words(1).replace(WORDS[0], "zz").split()
    edited[10] = "edited"
    docs.append(
        {
            "segs": [
                ("image", LOGO),
                ("text", " ".join(edited)),
                ("text", BOILER),
            ],
            "url": "http://two.example/12",
            "date": "2020-03-01",
        }
    )
    # 13: page 2's pictures with another text, newer (identical image sets).
    docs.append(
        {
            "segs": [("image", img("p2")), ("text", words(113))],
            "url": "http://two.example/13",
            "date": "2021-01-01",
        }
    )
    # 14, 15: the same text, different pictures (not duplicates once images weigh).
    for j in (14, 15):
        docs.append(
            {
                "segs": [
                    *[("image", img(f"d{j}-{k}")) for k in range(5)],
                    ("text", words(999, 40)),
                ],
                "url": f"http://two.example/{j}",
                "date": "2020-04-01",
            }
        )
    return docs


def write_obelics(path: Path, docs: list[dict[str, Any]]) -> Path:
    table = pa.table(
        {
            "images": [[v if k == "image" else None for k, v in d["segs"]] for d in docs],
            "texts": [[v if k == "text" else None for k, v in d["segs"]] for d in docs],
            "metadata": [json.dumps([None] * len(d["segs"])) for d in docs],
            "general_metadata": [json.dumps({"url": d["url"], "date": d["date"]}) for d in docs],
        }
    )
    pq.write_table(table, path)
    return path


def dedup(inputs: list[Path], out: Path, *args: str) -> dict[str, Any]:
    r = CliRunner().invoke(main, ["dedup", *map(str, inputs), "-o", str(out), "--overwrite", *args])
    assert r.exit_code == 0, r.output
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def statuses(out: Path) -> list[str]:
    return list(pq.read_table(out / "documents.parquet").column("status").to_pylist())


def test_each_rule(tmp_path: Path) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    out = tmp_path / "out"
    s = dedup([src], out, "--keep", "max:date", "-t", "0.7")
    st_ = statuses(out)
    assert st_[1] == "near_duplicate" and st_[12] == "kept"  # the newer one stays
    assert st_[2] == "identical_images" and st_[13] == "kept"  # the newer one stays
    assert st_[14] == st_[15] == "unique"  # same text, other pictures
    docs = pq.read_table(out / "documents.parquet").to_pylist()
    assert docs[1]["cluster"] == docs[12]["cluster"] == 1 and docs[2]["cluster"] == 2
    removals = pq.read_table(out / "removals.parquet").to_pylist()
    why = Counter((r["row"], r["reason"]) for r in removals)
    kept = [i for i, x in enumerate(st_) if x in ("unique", "kept")]
    logo_rows = [i for i in kept if i <= 12]
    assert all(why[(i, "frequent_image")] == 1 for i in logo_rows)
    assert why[(0, "repeated_image")] == 1
    # The boilerplate stays in page 0 only; its copies name page 0 as the kept one. Page 15
    # repeats page 14's text.
    paras = [r for r in removals if r["reason"] == "duplicate_paragraph"]
    assert sorted(r["row"] for r in paras) == [i for i in logo_rows if i > 0] + [15]
    assert Counter(r["cluster"] for r in paras) == {0: len(logo_rows) - 1, 14: 1}
    # The output: the same layout, without what was removed.
    got = read_documents(out / "web.parquet").table.column("segments").to_pylist()
    assert len(got) == len(kept)
    first = [(x["kind"], x["image_url"] or x["text"]) for x in got[0]]
    assert first == [
        ("text", words(0)),
        ("image", img("a")),
        ("text", BOILER),
        ("text", "The end of the first story."),
    ]
    assert all(BOILER not in (x["text"] or "") for d in got[1:] for x in d)
    assert [x["kind"] for x in got[-1]] == ["image"] * 5  # page 15, its text gone
    assert all(x["image_url"] != LOGO for d in got for x in d)
    # The counts add up.
    d = s["documents"]
    assert d["in"] == d["kept"] + sum(d["removed"].values()) + d["errors"] == 16
    assert s["images"]["removed"] == {"repeated_image": 1, "frequent_image": len(logo_rows)}
    assert s["paragraphs"]["removed"] == len(paras)


def test_switches_and_scopes(tmp_path: Path) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    out = tmp_path / "out"
    s = dedup(
        [src],
        out,
        "--no-near-duplicates",
        "--no-identical-images",
        "--keep-repeated-images",
        "--image-frequency",
        "0",
        "--paragraphs",
        "off",
    )
    assert set(statuses(out)) == {"unique"}
    assert pq.read_table(out / "removals.parquet").num_rows == 0
    assert s["documents"]["kept"] == 16
    # Within a domain: the boilerplate stays once on one.example and once on two.example.
    dedup([src], out, "--paragraphs", "domain", "--no-near-duplicates")
    paras = [
        r for r in pq.read_table(out / "removals.parquet").to_pylist() if r["what"] == "paragraph"
    ]
    assert {r["cluster"] for r in paras} == {0, 6, 14}
    # Images weigh nothing: pages 14 and 15 are the same text.
    dedup([src], out, "--image-weight", "0")
    assert statuses(out)[15] == "near_duplicate"


@pytest.mark.parametrize("layout", ["mmc4", "pin", "omnicorpus"])
def test_same_decisions_in_every_layout(tmp_path: Path, layout: str) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    table = read_documents(src).table
    suffix = "parquet" if layout == "omnicorpus" else "jsonl"
    (tmp_path / layout).mkdir()
    other = tmp_path / layout / f"web.{suffix}"
    write_documents(table, other, format=layout)
    args = ["--keep", "max:date", "-t", "0.7", "--markdown", "strip"]
    dedup([src], tmp_path / "a", *args)
    dedup([other], tmp_path / "b", *args)
    cols = ["status", "cluster", "keep", "images_removed", "paragraphs_removed"]
    a = pq.read_table(tmp_path / "a" / "documents.parquet").select(cols)
    b = pq.read_table(tmp_path / "b" / "documents.parquet").select(cols)
    assert a.equals(b)


def test_bad_rows_and_missing_images(tmp_path: Path) -> None:
    src = tmp_path / "web.parquet"
    pq.write_table(
        pa.table(
            {
                "images": [[None, img("x")], [img("y")], [None, img("gone")]],
                "texts": [["Hello there.", None], ["a", "b"], ["Bye now.", None]],
            }
        ),
        src,
    )
    images = tmp_path / "images.parquet"
    pq.write_table(pa.table({"url": [img("x")], "bytes": [b"\x89PNG not really"]}), images)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["dedup", str(src), "-o", str(out), "--on-error", "raise"])
    assert r.exit_code != 0 and "web.parquet, row 1" in r.output and "equal length" in r.output
    args = ["--image-key", "bytes", "--images", str(images), "--on-error", "record"]
    s = dedup([src], out, *args)
    docs = pq.read_table(out / "documents.parquet").to_pylist()
    assert [(d["row"], d["status"]) for d in docs] == [(0, "unique"), (2, "unique"), (1, "error")]
    assert "equal length" in docs[2]["error"]
    problems = pq.read_table(out / "problems.parquet").to_pylist()
    assert [(p["row"], p["segment"]) for p in problems] == [(2, 1), (1, None)]
    assert "image not found" in problems[0]["problem"]
    assert s["documents"]["errors"] == 1 and s["images"]["errors"] == 1
    # The image that could not be read is kept, not dropped.
    got = read_documents(out / "web.parquet").table.column("segments").to_pylist()
    assert [x["image_url"] for x in got[1] if x["kind"] == "image"] == [img("gone")]


def _png(size: int) -> bytes:
    """One picture (a smooth shape), resized to ``size``."""
    from PIL import Image, ImageDraw

    im = Image.new("L", (256, 256), 40)
    draw = ImageDraw.Draw(im)
    draw.ellipse((30, 50, 150, 200), fill=220)
    draw.rectangle((160, 20, 240, 120), fill=120)
    buf = io.BytesIO()
    im.resize((size, size), Image.Resampling.LANCZOS).save(buf, format="PNG")
    return buf.getvalue()


def test_phash_frequency_counts_resized_copies(tmp_path: Path) -> None:
    # Twelve pages each with the same picture at another size: one image by pHash, twelve by
    # bytes.
    docs = [
        {"segs": [("image", img(f"s{i}")), ("text", words(i))], "url": "", "date": "2020-01-01"}
        for i in range(12)
    ]
    src = write_obelics(tmp_path / "web.parquet", docs)
    images = tmp_path / "images.parquet"
    pq.write_table(
        pa.table(
            {
                "url": [img(f"s{i}") for i in range(12)],
                "bytes": [_png(64 + 8 * i) for i in range(12)],
            }
        ),
        images,
    )
    base = ["--images", str(images), "--no-identical-images"]
    s = dedup([src], tmp_path / "a", *base, "--image-key", "bytes")
    assert s["images"]["removed"]["frequent_image"] == 0
    s = dedup([src], tmp_path / "b", *base, "--image-key", "phash", "--image-distance", "4")
    assert s["images"]["removed"]["frequent_image"] == 12


def test_resume_after_a_crash_gives_the_same_results(tmp_path: Path) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    dedup([src], clean)
    cmd = [sys.executable, "-m", "mmdedup", "dedup", str(src), "-o", str(crashed), "-q"]
    for unit in ("scan-000000", "documents", "paragraphs-00000"):
        env = {**os.environ, "MMDEDUP_CRASH_AFTER": unit}
        r = subprocess.run([*cmd, "--overwrite"], env=env, capture_output=True)
        assert r.returncode == -9, r.stderr
        r = subprocess.run([*cmd, "--resume"], capture_output=True)
        assert r.returncode == 0, r.stderr
        for name in ("documents.parquet", "removals.parquet", "web.parquet"):
            assert pq.read_table(clean / name).equals(pq.read_table(crashed / name)), name


def test_resume_refuses_an_older_work_directory_format(tmp_path: Path) -> None:
    # Format 1 holds MinHash signatures of the native scheme's first definition.
    src = write_obelics(tmp_path / "web.parquet", corpus())
    dedup([src], tmp_path / "out", "--keep-work-dir")
    manifest = tmp_path / "out" / ".mmdedup-work" / "manifest-interleaved.json"
    m = json.loads(manifest.read_text())
    assert m["version"] == 3
    manifest.write_text(json.dumps({**m, "version": 1}))
    r = CliRunner().invoke(main, ["dedup", str(src), "-o", str(tmp_path / "out"), "--resume"])
    assert r.exit_code != 0
    assert "format 1" in r.output and "drop --resume" in r.output


def test_run_refuses_a_text_method() -> None:
    from mmdedup.dedup import DedupConfig
    from mmdedup.errors import ParameterError

    with pytest.raises(ParameterError, match="minhash"):
        MultimodalConfig(text=DedupConfig(method="exact"))
    with pytest.raises(ParameterError, match="phash"):
        MultimodalConfig(image_distance=3)


def test_paragraphs_span_segments_as_the_markdown_does() -> None:
    # A markdown list read as one segment per item is one paragraph, as in a plain layout.
    pin = [
        {"kind": "text", "text": "Intro.", "meta": None},
        {"kind": "text", "text": "* a", "meta": None},
        {"kind": "text", "text": "* b", "meta": json.dumps({"md_before": "\n"})},
        {"kind": "text", "text": "x ![1](c.png) y", "meta": None},
    ]
    v = _view(pin, markdown_layout=True)
    assert [(t, m) for t, m in v.paragraphs] == [
        ("Intro.", [(0, 0)]),
        ("* a\n* b", [(1, 0), (2, 0)]),
        ("x  y", [(3, 0)]),
    ]
    assert [(k, r, ref["image_path"], span) for k, r, ref, span in v.images] == [
        (3, 1, "c.png", (2, 13))
    ]


paragraph = st.text(alphabet="ab \n", min_size=1, max_size=12).filter(lambda t: t.strip())


@given(st.lists(paragraph, min_size=1, max_size=6), st.data())
def test_edit_text_keeps_exactly_the_other_paragraphs(parts: list[str], data: Any) -> None:
    text = "\n\n".join(p.replace("\n\n", "\n") for p in parts)
    spans = paragraph_spans(text)
    n = len(spans)
    drop = set(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n)))
    left = edit_text(text, drop)
    kept = [text[s:e].strip() for i, (s, e) in enumerate(spans) if i not in drop]
    if not kept:
        assert left is None
    else:
        assert left is not None
        assert [left[s:e].strip() for s, e in paragraph_spans(left)] == kept
    assert edit_text(text, set()) == text


def test_python_api_doctest_style(tmp_path: Path) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    s = run([src], tmp_path / "out", config=MultimodalConfig(keep="longest"))
    assert s["mode"] == "interleaved" and s["formats"] == ["obelics"]


def test_partitions_on_disk_give_the_same_results(tmp_path: Path) -> None:
    src = write_obelics(tmp_path / "web.parquet", corpus())
    dedup([src], tmp_path / "one")
    s = dedup([src], tmp_path / "many", "--memory", "64KB")
    assert s["partitions"] >= 4
    for name in ("documents.parquet", "removals.parquet", "web.parquet"):
        a, b = pq.read_table(tmp_path / "one" / name), pq.read_table(tmp_path / "many" / name)
        assert a.equals(b), name


def test_ray_engine_matches_local(tmp_path: Path) -> None:
    """The interleaved run as Ray tasks: byte-identical shards, records and copied image files
    (PIN's relative image paths travel with the shards, declared and copied by the driver)."""
    ray = pytest.importorskip("ray")
    from mmdedup.runs import dedup_files

    src = tmp_path / "in"
    (src / "content_image").mkdir(parents=True)
    docs = corpus()
    table = read_documents(write_obelics(tmp_path / "web.parquet", docs)).table
    write_documents(table.slice(0, 10), src / "a.jsonl", format="pin")
    write_documents(table.slice(10), src / "b.jsonl", format="pin")
    for shard in ("a.jsonl", "b.jsonl"):  # every page also shows a picture kept beside it
        lines = []
        for n, line in enumerate((src / shard).read_text().splitlines()):
            doc = json.loads(line)
            name = f"content_image/{shard[0]}{n}.png"
            doc["md"] += f"\n\n![photo]({name})"
            (src / name).write_bytes(_png(8 + n))
            lines.append(json.dumps(doc))
        (src / shard).write_text("\n".join(lines) + "\n")
    kw: dict[str, Any] = {"layout": "pin", "memory": "64KB"}
    local = dedup_files([str(src)], tmp_path / "local", **kw)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = dedup_files([str(src)], tmp_path / "ray", engine="ray", **kw)
    finally:
        ray.shutdown()
    assert local["partitions"] >= 2 and local["documents"] == remote["documents"]

    def files(out: Path) -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "summary.json"
        }

    got, want = files(tmp_path / "ray"), files(tmp_path / "local")
    assert got == want
    assert sum(name.startswith("content_image/") for name in got) >= 10
    listed = json.loads((tmp_path / "ray" / ".mmdedup-outputs.json").read_text())["outputs"]
    assert {n for n in got if n.startswith("content_image/")} <= set(listed)


def write_pin_with_pictures(table: pa.Table, src: Path) -> Path:
    """``table``'s documents as two PIN shards in ``src`` (the first 10, the rest), each page
    also showing a picture kept beside it (``content_image/...``)."""
    (src / "content_image").mkdir(parents=True)
    write_documents(table.slice(0, 10), src / "a.jsonl", format="pin")
    write_documents(table.slice(10), src / "b.jsonl", format="pin")
    for shard in ("a.jsonl", "b.jsonl"):
        lines = []
        for n, line in enumerate((src / shard).read_text().splitlines()):
            doc = json.loads(line)
            name = f"content_image/{shard[0]}{n}.png"
            doc["md"] += f"\n\n![photo]({name})"
            (src / name).write_bytes(f"picture {shard[0]}{n}".encode() * 50)
            lines.append(json.dumps(doc))
        (src / shard).write_text("\n".join(lines) + "\n")
    return src
