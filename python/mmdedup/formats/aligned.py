"""Layouts with aligned ``images`` / ``texts`` lists: OBELICS, OmniCorpus and InfiMM-WebMath.

Position ``i`` holds an image or a text, exactly one of the two non-null. OBELICS adds
``metadata``, a JSON string of a list aligned with the positions; OmniCorpus a ``metadata`` list
of structs (``p_hash``, ``d_hash``, duplicate counts, ...) aligned the same way. A position's
metadata goes to its segment's ``meta`` and comes back from it.

Bad rows: lists of different lengths, or a position with both an image and a text, are errors
(the row cannot be aligned). A position with neither is dropped as a repair, and counted.
"""

from __future__ import annotations

import json
from typing import Any

from .base import Layout, RowError, RowResult, clean_meta, json_kind
from .model import Segment, image, text

__all__ = ["INFIMM", "OBELICS", "OMNICORPUS", "AlignedLayout"]


class AlignedLayout(Layout):
    """Aligned image / text lists, with optional per-position metadata."""

    container = "parquet"

    def __init__(self, name: str, images: str, texts: str, metadata: str | None, json_meta: bool):
        self.name = name
        self.images, self.texts, self.metadata = images, texts, metadata
        self.json_meta = json_meta
        self.core = (images, texts) + ((metadata,) if metadata else ())

    def matches(self, keys: set[str], types: dict[str, Any]) -> bool:
        if not {self.images, self.texts} <= keys:
            return False
        if self.metadata is None:
            return True
        # OBELICS keeps metadata as a JSON string, OmniCorpus as a list.
        kind = str(types.get(self.metadata, "string"))
        return kind.startswith(("string", "large_string")) == self.json_meta

    @property
    def required(self) -> tuple[str, ...]:
        return (self.images, self.texts)

    def read_row(self, row: dict[str, Any]) -> RowResult:
        for name in (self.images, self.texts):
            value = row.get(name)
            if value is not None and not isinstance(value, list):
                raise RowError(f"`{name}` is {json_kind(value)}, not a list")
            for i, entry in enumerate(value or []):
                if entry is not None and not isinstance(entry, str):
                    raise RowError(f"`{name}`[{i}] is {json_kind(entry)}, not a string or null")
        images = row.get(self.images) or []
        texts = row.get(self.texts) or []
        if len(images) != len(texts):
            raise RowError(
                f"`{self.images}` has {len(images)} entries and `{self.texts}` {len(texts)}: "
                "they must have equal length"
            )
        meta = self._metadata(row.get(self.metadata) if self.metadata else None, len(images))
        segments: list[Segment] = []
        repairs: list[str] = []
        for i, (img, txt) in enumerate(zip(images, texts, strict=True)):
            if img is not None and txt is not None:
                raise RowError(f"position {i} has both an image and a text")
            if img is not None:
                segments.append(image(url=img, meta=meta[i]))
            elif txt is not None:
                segments.append(text(txt, meta[i]))
            else:
                repairs.append(f"position {i} has neither an image nor a text: dropped")
        return RowResult(segments, repairs)

    def _metadata(self, raw: Any, n: int) -> list[Any]:
        if raw is None:
            return [None] * n
        if self.json_meta and not isinstance(raw, str):
            raise RowError(f"`{self.metadata}` is {json_kind(raw)}, not a JSON string")
        if isinstance(raw, str):  # OmniCorpus metadata Parquet could not store as structs, too
            try:
                raw = json.loads(raw)
            except ValueError as e:
                raise RowError(f"`{self.metadata}` is not valid JSON: {e}") from e
        if not isinstance(raw, list) or len(raw) != n:
            got = len(raw) if isinstance(raw, list) else type(raw).__name__
            raise RowError(f"`{self.metadata}` must be a list of {n} entries, got {got}")
        return raw

    def write_row(self, segments: list[Segment]) -> dict[str, Any]:
        images = [
            (s["image_url"] or s["image_path"]) if s["kind"] == "image" else None for s in segments
        ]
        texts = [(s["text"] or "") if s["kind"] == "text" else None for s in segments]
        out: dict[str, Any] = {self.images: images, self.texts: texts}
        if self.metadata:
            meta = [clean_meta(s) for s in segments]
            out[self.metadata] = json.dumps(meta) if self.json_meta else meta
        return out


OBELICS = AlignedLayout("obelics", "images", "texts", "metadata", json_meta=True)
OMNICORPUS = AlignedLayout("omnicorpus", "images", "texts", "metadata", json_meta=False)
INFIMM = AlignedLayout("infimm", "image_list", "text_list", None, json_meta=False)
