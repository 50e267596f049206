"""Markdown documents (PIN-14M ``md``, WanJuan ``content``) to segments and back.

Parsing is done by the Rust core (pulldown-cmark; CommonMark with GFM tables and ``$`` math).
Each block is one text segment; an image splits the block it is in. Images are ``![alt](src)``,
reference-style ``![alt][ref]`` and HTML ``<img>`` tags; ``![x](y)`` in code stays text.

Round trip: a text segment's ``text`` is its markdown source; what lies between segments is kept
in ``meta["md_before"]`` (omitted when it is the default: nothing before the first segment, a
blank line between segments), what follows the last in ``meta["md_tail"]``, and an image's exact
source in ``meta["md_source"]``, so writing the segments back gives the input byte for byte.

Repair of dangling image links: ``![alt]()`` (no src) and ``![alt][ref]`` with no definition are
not images; they stay in the text unchanged and are counted.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from .. import _core
from .._arrow import ArrowLike, to_arrow
from .model import Segment, image, segment_meta, text, with_meta

__all__ = [
    "document_texts",
    "image_references",
    "parse_markdown",
    "render_markdown",
    "split_markdown",
]


# The alt text of `![alt](src)`: up to the first `]` not escaped by a backslash (stopping, too, at a
# backslash before a line end or at the end, where `\\.` finds no character to escape).
_ALT = re.compile(r"[^\]\\]*(?:\\.[^\]\\]*)*")
_SRC = re.compile(r"\(\s*<?([^)\s>]+)")
_SRC_CLOSED = re.compile(r"""\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)""")


def image_references(text: str, *, closed: bool = True) -> list[tuple[int, int, str]]:
    """``(start, end, src)`` of each image reference ``![alt](src "title")`` of a text, code
    included, left to right and not overlapping. With ``closed=False`` the reference ends after
    ``src`` (no title or ``)`` needed).

    It finds what ``finditer`` of the regex ``!\\[(?:[^\\]\\\\]|\\\\.)*\\]`` then ``src``'s
    pattern finds (the tests compare them), in linear time: that regex takes time quadratic in
    the number of ``![`` without a closing ``](``, as each scans to the end of the text. Here
    the alt texts of all the ``![`` before a ``]`` end at that ``]`` (or at the same stop), so
    it is scanned to once.

    >>> image_references('A ![cat](c.png "Tom") and ![![x](y)')
    [(2, 21, 'c.png'), (26, 35, 'y')]
    """
    src = _SRC_CLOSED if closed else _SRC
    out: list[tuple[int, int, str]] = []
    pos, n = 0, len(text)
    while (start := text.find("![", pos)) >= 0:
        alt = _ALT.match(text, start + 2)
        end = alt.end() if alt else start + 2
        if end < n and text[end] == "]":
            m = src.match(text, end + 1)
            if m:
                out.append((start, m.end(), m.group(1)))
                pos = m.end()
                continue
        # Every `![` before `end` has its alt text end there too, and fails the same way.
        pos = end + 1
    return out


def parse_markdown(docs: ArrowLike) -> pa.Table:
    """Splits markdown documents into flat text and image segments.

    Args:
        docs: Markdown strings (a ``pl.Series``, ``pa.Array``, ... or a list); nulls give none.

    Returns:
        A table with one row per segment: ``doc`` (input row), ``kind`` (``"text"`` or
        ``"image"``), ``text`` (plain text, markup stripped: what dedup should hash; null for
        images), ``markdown`` (the source), ``src`` and ``alt`` (images), ``before`` (the source
        between the previous segment and this one), ``start`` and ``end`` (byte offsets).

    >>> t = parse_markdown(["# Cats\\n\\nA *fat* cat: ![Tom](tom.png)\\n\\n```\\n![x](y)\\n```"])
    >>> t.select(["kind", "text", "src"]).to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'kind': 'text', 'text': 'Cats', 'src': None},
     {'kind': 'text', 'text': 'A fat cat:', 'src': None},
     {'kind': 'image', 'text': None, 'src': 'tom.png'},
     {'kind': 'text', 'text': '![x](y)', 'src': None}]
    """
    batch, _, _ = _core.parse_markdown(to_arrow(docs, "docs"))
    return pa.Table.from_batches([pa.record_batch(batch)])


def split_markdown(docs: list[str | None]) -> list[tuple[list[Segment], int]]:
    """Segments of each markdown document for the canonical table, and its dangling links.

    >>> [(s["kind"], s["text"]) for s in split_markdown(["Hi ![a](b.png)"])[0][0]]
    [('text', 'Hi'), ('image', None)]
    """
    batch, tails, dangling = _core.parse_markdown(pa.array(docs, pa.string()))
    rows = pa.record_batch(batch).to_pylist()
    tail = pa.array(tails).to_pylist()
    counts = pa.array(dangling).to_pylist()
    out: list[tuple[list[Segment], int]] = [([], int(c)) for c in counts]
    for r in rows:
        segs = out[r["doc"]][0]
        meta: dict[str, Any] = {}
        default_before = "" if not segs else "\n\n"
        if r["before"] != default_before:
            meta["md_before"] = r["before"]
        if r["kind"] == "text":
            segs.append(text(r["markdown"], meta or None))
        else:
            meta["alt_text"] = r["alt"]
            meta["md_source"] = r["markdown"]
            src: str = r["src"]
            if src not in r["markdown"]:  # reference-style: the source names a label
                meta["md_src"] = src
            remote = "://" in src or src.startswith("data:")
            segs.append(image(url=src if remote else None, path=None if remote else src, meta=meta))
    for i, (segs, _) in enumerate(out):
        rest = tail[i] or ""
        if not segs and rest:
            # Nothing but blank lines or link definitions: keep it all as one text segment.
            segs.append(text(rest))
        elif rest:
            m = segment_meta(segs[-1]) or {}
            m["md_tail"] = rest
            segs[-1] = with_meta(segs[-1], m)
    return out


def render_markdown(segments: list[Segment], *, prefer: str = "path") -> str:
    """Markdown of segments: the source kept by :func:`split_markdown`, or ``![alt](src)``.

    ``src`` is the image's path, else its URL (``prefer="url"``: the other way round).

    >>> doc = "Intro.\\n\\n![A cat](cat.png 'c')\\n\\nEnd.\\n"
    >>> render_markdown(split_markdown([doc])[0][0]) == doc
    True
    >>> render_markdown([text("Hi"), image(url="http://x/y.png")])
    'Hi\\n\\n![](http://x/y.png)'
    """
    parts: list[str] = []
    for i, seg in enumerate(segments):
        m = segment_meta(seg)
        m = m if isinstance(m, dict) else {}
        parts.append(m.get("md_before", "" if i == 0 else "\n\n"))
        if seg["kind"] == "text":
            parts.append(seg["text"] or "")
        else:
            src = image_src(seg, prefer)
            source = m.get("md_source")
            if source is None or not (src == m.get("md_src") or src in source):
                alt = str(m.get("alt_text") or "").replace("]", "\\]")
                source = f"![{alt}]({src})"
            parts.append(source)
        parts.append(m.get("md_tail", ""))
    return "".join(parts)


def image_src(seg: Segment, prefer: str = "path") -> str:
    """Where an image segment points: its path, else its URL (or the other way round)."""
    path, url = seg.get("image_path"), seg.get("image_url")
    return str((url or path) if prefer == "url" else (path or url) or "")


def document_texts(table: pa.Table, *, markdown: bool | None = None) -> pa.Array:
    """The text of each document for dedup: its text segments joined by a blank line.

    Args:
        table: The canonical table (see :mod:`mmdedup.formats.model`).
        markdown: Strip markdown markup (links, emphasis, headings, code fences); by default
            when the table was read from a markdown layout (PIN, WanJuan).

    Returns:
        A ``pa.StringArray``, one text per document (empty when it has no text).

    >>> from mmdedup.formats import make_table
    >>> t = make_table(["a:0"], [[text("# Cats"), image(url="c.png"), text("A *fat* cat.")]],
    ...                pa.table({}))
    >>> document_texts(t, markdown=True).to_pylist()
    ['Cats\\n\\nA fat cat.']
    >>> document_texts(t, markdown=False).to_pylist()
    ['# Cats\\n\\nA *fat* cat.']
    """
    if markdown is None:
        fmt = (table.schema.metadata or {}).get(b"mmdedup.format", b"")
        markdown = fmt in (b"pin", b"wanjuan")
    docs = [
        [s["text"] or "" for s in segs or [] if s["kind"] == "text"]
        for segs in table.column("segments").to_pylist()
    ]
    if not markdown:
        return pa.array(["\n\n".join(d) for d in docs], pa.string())
    # Each segment parsed on its own, so block boundaries stay where the segments are.
    flat = [t for d in docs for t in d]
    parsed = parse_markdown(flat).to_pylist()
    plain: list[list[str]] = [[] for _ in flat]
    for r in parsed:
        if r["kind"] == "text":
            plain[r["doc"]].append(r["text"])
    out, k = [], 0
    for d in docs:
        out.append("\n\n".join(p for j in range(k, k + len(d)) for p in plain[j]))
        k += len(d)
    return pa.array(out, pa.string())
