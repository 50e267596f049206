"""Layouts that store a document as markdown: PIN-14M and WanJuan (JSON Lines).

PIN-14M: ``md`` with images as ``![alt](content_image/<sha256>.png)`` (files beside the part),
``content_image`` (the image paths, in order), ``overall_image``, ``meta`` and ``id``. WanJuan:
``content`` with ``![](url)`` and ``img_list`` (``{url, sha256, ...}`` per image).

See :mod:`mmdedup.formats.markdown` for the segments and the byte-exact round trip. Repairs
(counted): dangling image links stay text; a PIN ``content_image`` that is not the list of
``![alt](src)`` references of ``md`` (in order, those in code included) is rebuilt from ``md``. A WanJuan ``img_list`` entry whose url is not an
image of ``content`` is an error (it would be lost).
"""

from __future__ import annotations

from typing import Any

from .base import Layout, RowError, RowResult, clean_meta, json_kind
from .markdown import image_references, image_src, render_markdown, split_markdown
from .model import Segment, segment_meta, with_meta

__all__ = ["PIN", "WANJUAN"]


class MarkdownLayout(Layout):
    """A markdown document field plus a list describing its images."""

    container = "jsonl"

    def __init__(self, name: str, md: str, images: str, order: tuple[str, ...], prefer: str):
        self.name, self.md, self.images, self.order = name, md, images, order
        self.core = (md, images)
        self.prefer = prefer  # which of an image's path and URL goes into the markdown

    def lost_images(self, segments: list[Segment]) -> int:
        """Images that would not be images in the markdown written (they land in code)."""
        written = split_markdown([render_markdown(segments, prefer=self.prefer)])[0][0]
        count = sum(1 for s in segments if s["kind"] == "image")
        return count - sum(1 for s in written if s["kind"] == "image")

    def read_rows(self, rows: list[dict[str, Any]]) -> list[RowResult | RowError]:
        docs = [r.get(self.md) for r in rows]
        bad = {i for i, d in enumerate(docs) if d is not None and not isinstance(d, str)}
        split = split_markdown([None if i in bad else d for i, d in enumerate(docs)])
        out: list[RowResult | RowError] = []
        for i, (row, (segments, dangling)) in enumerate(zip(rows, split, strict=True)):
            if i in bad:
                out.append(RowError(f"`{self.md}` is not a string"))
                continue
            repairs = []
            if dangling:
                repairs.append(f"{dangling} dangling image link(s) (no src) kept as text")
            try:
                repairs += self.attach(segments, row.get(self.images), docs[i] or "")
            except RowError as e:
                out.append(e)
                continue
            out.append(RowResult(segments, repairs))
        return out

    def attach(self, segments: list[Segment], listed: Any, md: str) -> list[str]:
        """Checks the image list against the images of the markdown; returns repairs."""
        raise NotImplementedError


def _references(md: str) -> list[str]:
    """The src of each `![alt](src` anywhere in the text, code included."""
    return [src for _, _, src in image_references(md, closed=False)]


class PinLayout(MarkdownLayout):
    """PIN's ``content_image`` lists every ``![alt](src)`` of ``md`` in order, those inside
    code included (the handbook has callout images in code blocks, which are not images in
    markdown and so not image segments)."""

    def matches(self, keys: set[str], types: dict[str, Any]) -> bool:
        return self.md in keys  # `md` is PIN's own name; content_image may be left out

    def attach(self, segments: list[Segment], listed: Any, md: str) -> list[str]:
        refs = _references(md)
        if listed is not None and listed != refs:
            return [f"content_image {listed!r} is not the image references of md {refs!r}: rebuilt"]
        return []

    def write_row(self, segments: list[Segment]) -> dict[str, Any]:
        md = render_markdown(segments, prefer=self.prefer)
        return {self.md: md, self.images: _references(md)}


class WanjuanLayout(MarkdownLayout):
    def attach(self, segments: list[Segment], listed: Any, md: str) -> list[str]:
        if listed is not None and not isinstance(listed, list):
            raise RowError(f"`{self.images}` is {json_kind(listed)}, not a list")
        pool = list(listed or [])
        for i, seg in enumerate(segments):
            if seg["kind"] != "image":
                continue
            src = image_src(seg, self.prefer)
            hit = next((e for e in pool if isinstance(e, dict) and e.get("url") == src), None)
            if hit is None:
                continue
            pool.remove(hit)
            meta = segment_meta(seg) or {}
            meta.update({k: v for k, v in hit.items() if k != "url"})
            segments[i] = with_meta({**seg, "image_url": src, "image_path": None}, meta)
        if pool:
            raise RowError(f"`{self.images}` has {len(pool)} entries not in `{self.md}`: {pool!r}")
        return []

    def write_row(self, segments: list[Segment]) -> dict[str, Any]:
        entries = []
        for seg in segments:
            if seg["kind"] != "image":
                continue
            meta = clean_meta(seg)
            extra = (
                {k: v for k, v in meta.items() if k != "alt_text"} if isinstance(meta, dict) else {}
            )
            entries.append({"url": image_src(seg, self.prefer), **extra})
        return {self.md: render_markdown(segments, prefer=self.prefer), self.images: entries}


PIN = PinLayout(
    "pin", "md", "content_image", ("id", "meta", "quality_signals", "md", "content_image"), "path"
)
WANJUAN = WanjuanLayout("wanjuan", "content", "img_list", ("id", "content", "img_list"), "url")
