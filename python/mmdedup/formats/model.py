"""The canonical in-memory form of interleaved documents: one Arrow row per document.

Columns:

- ``doc_id`` (string): ``"<file name>:<row>"``, stable and global (row is 0-based; for JSON
  Lines, among non-blank lines).
- ``segments`` (list of struct): text and images in reading order, see :data:`SEGMENT`.
- every other column is a document-level field carried through untouched: a Parquet source's
  other columns keep their Arrow type (a column ``doc_id`` or ``segments`` cannot be read); a
  JSON Lines source's other keys are one column ``extra`` holding a JSON object (so keys that
  differ between rows survive).

A segment's ``text`` is the text as its layout spells it (markdown for PIN and WanJuan, plain
for the others). ``meta`` is a JSON value with what the layout keeps per position (OBELICS and
OmniCorpus per-position metadata, MMC4 ``image_info`` fields, WanJuan ``img_list`` entries); the
keys ``alt_text`` (alt text) and ``md_*`` (markdown source details, dropped when writing a
layout without markdown) are shared between layouts.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

__all__ = [
    "SEGMENT",
    "SEGMENTS",
    "Documents",
    "Problem",
    "image",
    "make_table",
    "segment_meta",
    "text",
    "with_meta",
]

SEGMENT = pa.struct(
    [
        ("kind", pa.string()),
        ("text", pa.string()),
        ("image_url", pa.string()),
        ("image_path", pa.string()),
        ("image_bytes", pa.binary()),
        ("meta", pa.string()),
    ]
)
"""One segment: ``kind`` is ``"text"`` or ``"image"``; images have a URL, a path or bytes."""

SEGMENTS = pa.list_(SEGMENT)

Segment = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """Something wrong in one input row: where, and what.

    Attributes:
        path: The file.
        row: The 0-based row (for JSON Lines, among non-blank lines).
        message: The problem, and the repair when one was made.
    """

    path: str
    row: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}, row {self.row}: {self.message}"


@dataclass
class Documents:
    """What a reader returns.

    Attributes:
        table: One row per document (see the module docstring).
        format: The layout read.
        errors: Rows that could not be read; they are not in ``table``.
        repairs: Rows read after a documented repair; they are in ``table``.
    """

    table: pa.Table
    format: str
    errors: list[Problem] = field(default_factory=list)
    repairs: list[Problem] = field(default_factory=list)


def text(value: str, meta: Any = None) -> Segment:
    """A text segment.

    >>> text("Hello")["kind"]
    'text'
    """
    return _seg("text", value, None, None, meta)


def image(url: str | None = None, path: str | None = None, meta: Any = None) -> Segment:
    """An image segment, by URL or by path.

    >>> image(url="http://x/cat.png")["image_url"]
    'http://x/cat.png'
    """
    return _seg("image", None, url, path, meta)


def _seg(
    kind: Literal["text", "image"], value: str | None, url: str | None, path: str | None, meta: Any
) -> Segment:
    return {
        "kind": kind,
        "text": value,
        "image_url": url,
        "image_path": path,
        "image_bytes": None,
        "meta": None if meta is None else _json(meta),
    }


def _json(meta: Any) -> str:
    """JSON of a segment's meta; values JSON has no type for (bytes, dates from Parquet) as
    text (bytes in base64)."""

    def plain(value: Any) -> Any:
        return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)

    return json.dumps(meta, ensure_ascii=False, default=plain)


def segment_meta(seg: Segment) -> Any:
    """The decoded ``meta`` of a segment (None when absent).

    >>> segment_meta(text("x", {"a": 1}))
    {'a': 1}
    """
    raw = seg.get("meta")
    return None if raw is None else json.loads(raw)


def with_meta(seg: Segment, meta: Any) -> Segment:
    """A copy of ``seg`` with another ``meta``.

    >>> segment_meta(with_meta(text("x"), {"b": 2}))
    {'b': 2}
    """
    return {**seg, "meta": None if meta is None else _json(meta)}


def make_table(doc_ids: list[str], segments: list[list[Segment]], carried: pa.Table) -> pa.Table:
    """Builds the canonical table: ``doc_id``, ``segments``, then the carried columns.

    >>> t = make_table(["a:0"], [[text("hi")]], pa.table({"url": ["u"]}))
    >>> t.column_names
    ['doc_id', 'segments', 'url']
    """
    out = pa.table(
        {"doc_id": pa.array(doc_ids, pa.string()), "segments": pa.array(segments, SEGMENTS)}
    )
    for name in carried.column_names:
        out = out.append_column(carried.field(name), carried.column(name))
    return out
