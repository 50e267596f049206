"""Every layout: lossless round trips, conversions between layouts, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from mmdedup import InputError
from mmdedup.cli import main
from mmdedup.formats import FORMATS, detect_format, read_documents, write_documents

# Two documents as (kind, value) sequences; each ends with text so that MMC4's
# "image before its sentence" rule keeps the order in every layout.
DOCS: list[list[tuple[str, str]]] = [
    [
        ("image", "content_image/aa.png"),
        ("text", "A cat sits."),
        ("text", "It naps."),
        ("image", "content_image/bb.png"),
        ("text", "The end."),
    ],
    [("text", "Only text here.")],
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _md(doc: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"![pic]({v})" if k == "image" else v for k, v in doc)


def make(layout: str, d: Path, docs: list[list[tuple[str, str]]] = DOCS) -> Path:
    """A small file of ``docs`` in ``layout``, with extra fields that must be carried."""
    if layout in ("obelics", "omnicorpus", "infimm"):
        images = [[v if k == "image" else None for k, v in doc] for doc in docs]
        texts = [[v if k == "text" else None for k, v in doc] for doc in docs]
        cols: dict[str, Any] = {"url": [f"http://site/{i}" for i in range(len(docs))]}
        if layout == "infimm":
            cols |= {"text_list": texts, "image_list": images}
        else:
            cols |= {"images": images, "texts": texts}
        if layout == "obelics":
            cols["metadata"] = [
                json.dumps(
                    [{"src": v, "alt_text": "pic"} if k == "image" else None for k, v in doc]
                )
                for doc in docs
            ]
            cols["general_metadata"] = [json.dumps({"url": f"u{i}"}) for i in range(len(docs))]
        if layout == "omnicorpus":
            cols["metadata"] = pa.array(
                [
                    [{"p_hash": 7, "dup": 1} if k == "image" else None for k, _ in doc]
                    for doc in docs
                ],
                pa.list_(pa.struct([("p_hash", pa.uint64()), ("dup", pa.int32())])),
            )
        path = d / f"{layout}.parquet"
        pq.write_table(pa.table(cols), path)
        return path
    rows: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if layout == "mmc4":
            texts = [v for k, v in doc if k == "text"]
            info, n = [], 0
            for k, v in doc:
                if k == "text":
                    n += 1
                else:
                    info.append(
                        {
                            "image_name": v,
                            "raw_url": f"http://x/{v}",
                            "matched_text_index": n,
                            "matched_sim": 0.25,
                        }
                    )
            rows.append(
                {
                    "url": f"http://site/{i}",
                    "text_list": texts,
                    "image_info": info,
                    "similarity_matrix": [[0.1] * len(texts)] * len(info),
                }
            )
        elif layout == "pin":
            rows.append(
                {
                    "id": str(i),
                    "meta": {"language": "en"},
                    "md": _md(doc),
                    "content_image": [v for k, v in doc if k == "image"],
                    "overall_image": None,
                }
            )
        else:
            rows.append(
                {
                    "id": str(i),
                    "content": _md(doc),
                    "lang": "en",
                    "img_list": [{"url": v, "sha256": "ab"} for k, v in doc if k == "image"],
                }
            )
    return _write_jsonl(d / f"{layout}.jsonl", rows)


def sequence(path: Path, fmt: str | None = None) -> list[list[tuple[str, str]]]:
    """(kind, value) per segment; an image's value is its file name, wherever it points."""
    table = read_documents(path, format=fmt).table
    return [
        [
            (
                s["kind"],
                s["text"]
                if s["kind"] == "text"
                else (s["image_path"] or s["image_url"]).rsplit("/", 1)[-1],
            )
            for s in segs
        ]
        for segs in table.column("segments").to_pylist()
    ]


EXPECTED = [[(k, v.rsplit("/", 1)[-1] if k == "image" else v) for k, v in doc] for doc in DOCS]


@pytest.mark.parametrize("layout", list(FORMATS))
def test_detect_and_read(layout: str, tmp_path: Path) -> None:
    src = make(layout, tmp_path)
    assert detect_format(src) == layout
    assert sequence(src) == EXPECTED


@pytest.mark.parametrize("layout", list(FORMATS))
def test_round_trip_is_lossless(layout: str, tmp_path: Path) -> None:
    src = make(layout, tmp_path)
    out = tmp_path / "out" / src.name
    docs = read_documents(src)
    assert write_documents(docs.table, out, format=layout) == len(DOCS)
    if src.suffix == ".parquet":
        assert pq.read_table(out).equals(pq.read_table(src))
    else:  # the same objects; MMC4 and PIN keep their usual key order, byte for byte
        assert [json.loads(x) for x in out.read_text().splitlines()] == [
            json.loads(x) for x in src.read_text().splitlines()
        ]
        if layout != "wanjuan":
            assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("source", list(FORMATS))
@pytest.mark.parametrize("target", list(FORMATS))
def test_conversions_keep_text_and_image_order(source: str, target: str, tmp_path: Path) -> None:
    src = make(source, tmp_path)
    ext = "parquet" if FORMATS[target].container == "parquet" else "jsonl"
    out = tmp_path / "out" / f"converted.{ext}"
    write_documents(read_documents(src).table, out, format=target)
    assert sequence(out, target) == EXPECTED


def test_carried_fields_survive_a_conversion(tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    write_documents(read_documents(make("pin", tmp_path)).table, out, format="obelics")
    t = pq.read_table(out)
    assert t.column("id").to_pylist() == ["0", "1"]
    assert t.column("meta").to_pylist()[0] == {"language": "en"}


def _obelics(tmp_path: Path, images: list[Any], texts: list[Any]) -> Path:
    path = tmp_path / "bad.parquet"
    good = ([None, "u.png"], ["Hello", None])
    pq.write_table(pa.table({"images": [good[0], images], "texts": [good[1], texts]}), path)
    return path


@pytest.mark.parametrize(
    ("images", "texts", "message"),
    [
        (["a.png"], ["x", "y"], "equal length"),
        (["a.png", None], ["x", "y"], "position 0 has both"),
    ],
)
def test_obelics_bad_rows(
    tmp_path: Path, images: list[Any], texts: list[Any], message: str
) -> None:
    path = _obelics(tmp_path, images, texts)
    with pytest.raises(InputError, match=rf"row 1: .*{message}") as e:
        read_documents(path)
    assert e.value.row == 1 and e.value.path == str(path.resolve())
    docs = read_documents(path, on_error="skip")
    assert docs.table.num_rows == 1 and len(docs.errors) == 1
    assert docs.errors[0].row == 1 and message in docs.errors[0].message


def test_obelics_empty_position_is_a_counted_repair(tmp_path: Path) -> None:
    docs = read_documents(_obelics(tmp_path, ["a.png", None], [None, None]))
    assert docs.table.num_rows == 2
    assert [p.row for p in docs.repairs] == [1]
    assert "neither" in docs.repairs[0].message


def test_mmc4_index_out_of_range_goes_to_the_end(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "text_list": ["a", "b"],
                "image_info": [
                    {"raw_url": "x.png", "matched_text_index": 5},
                    {"raw_url": "y.png", "matched_text_index": 1},
                ],
            }
        ],
    )
    docs = read_documents(path)
    assert sequence(path) == [
        [("text", "a"), ("image", "y.png"), ("text", "b"), ("image", "x.png")]
    ]
    assert len(docs.repairs) == 1 and "matched_text_index 5" in docs.repairs[0].message


def test_mmc4_unsorted_image_info_round_trips(tmp_path: Path) -> None:
    rows = [
        {
            "text_list": ["a", "b"],
            "image_info": [
                {"image_name": "1", "raw_url": "x", "matched_text_index": 1},
                {"image_name": "2", "raw_url": "y", "matched_text_index": 0},
            ],
        }
    ]
    path = _write_jsonl(tmp_path / "m.jsonl", rows)
    write_documents(read_documents(path).table, tmp_path / "o.jsonl", format="mmc4")
    assert json.loads((tmp_path / "o.jsonl").read_text()) == rows[0]


def test_markdown_repairs_and_errors(tmp_path: Path) -> None:
    pin = _write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"md": "a ![x]() b", "content_image": []},
            {"md": "![y](content_image/y.png)", "content_image": ["content_image/z.png"]},
        ],
    )
    docs = read_documents(pin)
    assert [p.row for p in docs.repairs] == [0, 1]
    assert "dangling" in docs.repairs[0].message and "rebuilt" in docs.repairs[1].message
    wj = _write_jsonl(
        tmp_path / "w.jsonl", [{"content": "text", "img_list": [{"url": "http://lost.png"}]}]
    )
    with pytest.raises(InputError, match=r"row 0: .*not in `content`"):
        read_documents(wj)


def test_invalid_json_line_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"text_list": ["a"], "image_info": []}\nnot json\n')
    docs = read_documents(path, on_error="skip")
    assert docs.table.num_rows == 1 and docs.errors[0].row == 1


def test_unknown_layout(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "x.jsonl", [{"text": "plain"}])
    with pytest.raises(InputError, match="cannot tell the layout"):
        read_documents(path)


def test_cli_convert(tmp_path: Path) -> None:
    src = make("pin", tmp_path)
    (tmp_path / "content_image").mkdir()
    (tmp_path / "content_image" / "aa.png").write_bytes(b"png")
    runner = CliRunner()
    assert "Examples" in runner.invoke(main, ["convert", "--help"]).output
    res = runner.invoke(main, ["convert", str(src), "--to", "obelics", "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "2 documents in, 2 out (obelics)" in res.output
    assert "1 image files copied" in res.output
    assert (tmp_path / "o" / "content_image" / "aa.png").read_bytes() == b"png"
    assert sequence(tmp_path / "o" / "pin.parquet") == EXPECTED


HANDBOOK = Path.home() / ".cache" / "mmdedup-corpora" / "interleaved"


@pytest.mark.slow
@pytest.mark.skipif(not HANDBOOK.is_dir(), reason="no handbook corpus in ~/.cache")
def test_handbook_layouts_agree(tmp_path: Path) -> None:
    """The Debian handbook in OBELICS, MMC4 and PIN layouts: the same documents come out."""
    from mmdedup import normalize

    paths = {
        "obelics": HANDBOOK / "handbook.obelics.parquet",
        "mmc4": HANDBOOK / "handbook.mmc4.jsonl",
        "pin": HANDBOOK / "handbook-pin" / "part00" / "part00.jsonl",
    }
    segs = {}
    for fmt, path in paths.items():
        docs = read_documents(path)
        assert docs.format == fmt and not docs.errors and not docs.repairs
        out = tmp_path / path.name
        write_documents(docs.table, out, format=fmt)
        if fmt == "obelics":
            assert pq.read_table(out).equals(pq.read_table(path))
        else:
            assert out.read_bytes() == path.read_bytes()
        segs[fmt] = docs.table.column("segments").to_pylist()

    def texts(fmt: str, i: int) -> str:
        return " ".join(s["text"] for s in segs[fmt][i] if s["kind"] == "text")

    def images(fmt: str, i: int, key: str = "image_url") -> list[Any]:
        return [s[key] for s in segs[fmt][i] if s["kind"] == "image"]

    n = len(segs["obelics"])
    assert n == len(segs["mmc4"]) == len(segs["pin"]) == 3302
    for i in range(n):  # MMC4 puts each image before its matched sentence: the same order
        assert " ".join(texts("obelics", i).split()) == " ".join(texts("mmc4", i).split())
        assert images("obelics", i) == images("mmc4", i)
    # PIN has callout images inside code blocks, which markdown reads as code, not images.
    in_code = [
        i for i in range(n) if len(images("pin", i, "image_path")) < len(images("obelics", i))
    ]
    assert len(in_code) == 104
    skip = set(in_code)
    same = [i for i in range(n) if i not in skip]
    norm_o = normalize([texts("obelics", i) for i in same]).to_pylist()
    norm_p = normalize([texts("pin", i) for i in same]).to_pylist()
    assert norm_o == norm_p
    assert all(
        [json.loads(s["meta"])["alt_text"] for s in segs["pin"][i] if s["kind"] == "image"]
        == [json.loads(s["meta"])["alt_text"] for s in segs["obelics"][i] if s["kind"] == "image"]
        for i in same
    )


def test_write_from_polars(tmp_path: Path) -> None:
    import polars as pl

    frame = pl.from_arrow(read_documents(make("mmc4", tmp_path)).table)
    out = tmp_path / "o.parquet"
    assert write_documents(frame, out, format="infimm") == len(DOCS)
    assert sequence(out) == EXPECTED


def test_document_texts_strip_markdown_for_markdown_layouts(tmp_path: Path) -> None:
    from mmdedup.formats import document_texts

    path = _write_jsonl(tmp_path / "p.jsonl", [{"md": "# T\n\n![a](i.png)\n\nSee [x](u)."}])
    table = read_documents(path).table
    assert document_texts(table).to_pylist() == ["T\n\nSee x."]
    assert document_texts(table, markdown=False).to_pylist() == ["# T\n\nSee [x](u)."]
    obelics = read_documents(make("obelics", tmp_path)).table
    assert document_texts(obelics).to_pylist() == [
        "A cat sits.\n\nIt naps.\n\nThe end.",
        "Only text here.",
    ]


def test_convert_warns_about_images_that_land_in_code(tmp_path: Path) -> None:
    from mmdedup.runs import convert_files

    src = _write_jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "text_list": ["```", "code", "```"],
                "image_info": [{"raw_url": "http://x/a.png", "matched_text_index": 1}],
            }
        ],
    )
    s = convert_files([str(src)], tmp_path / "o", to="wanjuan")
    assert s.documents_out == 1 and [w.row for w in s.warnings] == [0]
    assert "inside a code block" in s.warnings[0].message
