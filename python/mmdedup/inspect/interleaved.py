"""Interleaved documents for a report: their segments in reading order, and the token set the
near-duplicate rule hashed (text shingles plus ``image_weight`` tokens per remaining image).

With the run's work directory the set is exact: the text the run hashed and its image keys
(after the repeated- and frequent-image rules) are read from it, for the wanted rows only.
Without it, the text is rebuilt from the document the way the run builds it, and image keys
only for ``--image-key url`` (frequent images cannot be known): the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import _core
from ..dedup import DedupConfig
from ..errors import MmdedupError
from ..formats import FORMATS, segment_meta
from ..formats.base import Layout, RowResult
from ..io import Shard
from .locate import read_positions, read_rows, thumbnail
from .model import Segment
from .similarity import shingle_set

__all__ = ["Doc", "fetch_documents"]

MANIFEST = "manifest-interleaved.json"


@dataclass
class Doc:
    """One document: what to show, the text the rule hashed, and its token set."""

    segments: tuple[Segment, ...]
    text: str
    tokens: list[str]
    note: str | None = None


def _layout(shard: Shard, fmt: str | None, first: dict[str, Any] | None) -> Layout | None:
    if fmt in FORMATS:
        return FORMATS[fmt]
    if shard.format == "parquet":
        path, fs = shard.path.arrow()
        schema = pq.read_schema(path, filesystem=fs)
        keys, types = set(schema.names), {f.name: f.type for f in schema}
    else:
        keys, types = set(first or {}), {}
    for layout in FORMATS.values():
        if layout.container == shard.format and layout.matches(keys, types):
            return layout
    return None


def _segment(seg: dict[str, Any], base: Path | None) -> Segment:
    if seg["kind"] == "text":
        return Segment("text", seg.get("text") or "")
    meta = segment_meta(seg) if seg.get("meta") else None
    alt = str(meta.get("alt_text") or "") if isinstance(meta, dict) else ""
    url, path = seg.get("image_url"), seg.get("image_path")
    label = str(url or path or "")
    src: str | None = None
    if seg.get("image_bytes"):
        src = thumbnail(bytes(seg["image_bytes"])).data_uri
    elif url:
        src = str(url)
    elif path:
        if "://" in path or path.startswith("data:"):
            src = str(path)
        elif base is not None:
            src = (base / path).absolute().as_uri()
    return Segment("image", alt, src, label or "(inline bytes)")


def _image_keys(refs: list[str]) -> list[int]:
    if not refs:
        return []
    digest, _ = _core.exact_hash(pa.array(refs, pa.string()), normalize=False)
    keys = np.ascontiguousarray(digest[:, :8]).view("<u8").ravel()
    return [int(k) for k in keys]


def _tokens(text: str, keys: list[int], cfg: DedupConfig, weight: int) -> list[str]:
    images = [f"\x00image:{k:016x}:{w}" for k in sorted(set(keys)) for w in range(weight)]
    return shingle_set(text, cfg) + images


class _WorkShard:
    """The wanted rows' hashed text and surviving image keys, from the work directory."""

    def __init__(self, work: Path, tag: str, frequent: Any, params: dict[str, Any]) -> None:
        self.work, self.tag = work, tag
        meta = np.load(work / "meta" / f"{tag}.npz")
        self.src_row = np.asarray(meta["src_row"], dtype=np.int64)
        z = dict(np.load(work / "images" / f"{tag}.npz"))
        freq = np.zeros(len(z["key"]), dtype=np.bool_)
        if params.get("image_frequency") and frequent is not None:
            freq = z["ok"] & np.isin(z["key"], frequent)
        use = z["ok"] & ~(z["ok"] & (z["repeated"] | freq))
        self.doc, self.key = z["doc"][use], z["key"][use]

    def get(self, rows: list[int]) -> dict[int, tuple[str, list[int]]]:
        local = {}
        for r in rows:
            d = int(np.searchsorted(self.src_row, r))
            if d < len(self.src_row) and self.src_row[d] == r:
                local[d] = r
        texts = read_positions(self.work / "texts" / f"{self.tag}.parquet", local, ["text"])
        out = {}
        for d, r in local.items():
            keys = [int(k) for k in self.key[self.doc == d]]
            out[r] = (str(texts.get(d, {}).get("text") or ""), keys)
        return out


def fetch_documents(
    wanted: dict[str, list[int]],
    shards: dict[str, Shard],
    params: dict[str, Any],
    work: Path | None,
) -> tuple[dict[tuple[str, int], Doc], list[str]]:
    """The documents ``(shard name, row)`` wanted, and notes on what could not be done."""
    from ..runs.interleaved.paragraphs import strip_markdown as _strip_markdown
    from ..runs.interleaved.paragraphs import text_view as _view

    cfg = DedupConfig(**params["text"])
    weight = int(params.get("image_weight", 0))
    notes: list[str] = []
    order: list[str] = []
    frequent = None
    if work is not None:
        import json

        order = [s["name"] for s in json.loads((work / MANIFEST).read_text())["shards"]]
        if (work / "frequent.npy").is_file():
            frequent = np.load(work / "frequent.npy")
    elif params.get("near_duplicates", True):
        notes.append(
            "the work directory is gone: the token sets are rebuilt from the documents"
            + (
                " (image keys by URL; frequent images are not known)"
                if params.get("image_key") == "url"
                else " without image tokens (image keys are not URLs)"
            )
        )
    out: dict[tuple[str, int], Doc] = {}
    for name, rows in wanted.items():
        shard = shards.get(name)
        if shard is None:
            for r in rows:
                out[(name, r)] = Doc((), "", [], f"shard {name!r} not found")
            continue
        try:
            got = read_rows(shard, rows, None)
        except (MmdedupError, OSError, pa.ArrowException) as e:
            for r in rows:
                out[(name, r)] = Doc((), "", [], f"cannot read {name}: {e}")
            continue
        first = next((v for v in got.values() if isinstance(v, dict)), None)
        layout = _layout(shard, params.get("format"), first)
        base = shard.path.local().parent if shard.path.is_local else None
        hashed = None
        if work is not None and name in order:
            tag = f"{order.index(name):06d}"
            hashed = _WorkShard(work, tag, frequent, params).get(rows)
        for r in rows:
            row = got.get(r)
            if layout is None or not isinstance(row, dict):
                why = row if isinstance(row, str) else "unknown layout or row not found"
                out[(name, r)] = Doc((), "", [], why)
                continue
            res = layout.read_rows([{k: row.get(k) for k in layout.core if k in row}])[0]
            if not isinstance(res, RowResult):
                out[(name, r)] = Doc((), "", [], str(res))
                continue
            segs = tuple(_segment(s, base) for s in res.segments)
            if hashed is not None and r in hashed:
                text, keys = hashed[r]
            else:
                md = layout.name in ("pin", "wanjuan")
                view = _view(res.segments, md)
                pieces = [p for p, _ in view.paragraphs]
                strip = params.get("markdown") == "strip" or (
                    params.get("markdown") == "auto" and md
                )
                text = "\n\n".join(_strip_markdown(pieces) if strip else pieces)
                refs = [
                    str(ref.get("image_url") or ref.get("image_path") or "")
                    for _, _, ref, _ in view.images
                ]
                keys = (
                    _image_keys([x for x in refs if x]) if params.get("image_key") == "url" else []
                )
            out[(name, r)] = Doc(segs, text, _tokens(text, keys, cfg, weight))
    return out, notes
