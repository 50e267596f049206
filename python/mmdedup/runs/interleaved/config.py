"""The rules of an interleaved run, and how its inputs are recognized."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pyarrow as pa

from ...dedup import DedupConfig, parse_keep
from ...errors import InputError, ParameterError
from ...formats import FORMATS
from ...io import discover

ImageKey = Literal["url", "bytes", "phash"]


ParagraphScope = Literal["corpus", "domain", "off"]


MarkdownMode = Literal["auto", "strip", "keep"]


REASONS = (
    "near_duplicate",
    "identical_images",
    "repeated_image",
    "frequent_image",
    "duplicate_paragraph",
)
"""Why something was removed (``removals.parquet`` ``reason``)."""


@dataclass(frozen=True)
class MultimodalConfig:
    """The rules of an interleaved-document dedup; recorded in ``summary.json``.

    Attributes:
        text: MinHash parameters of the near-duplicate rule (``method`` must be minhash).
        near_duplicates: Remove near-duplicate documents (rule 4).
        image_weight: Set tokens each remaining image adds to its document's set.
        image_key: What makes two images the same: ``url``, ``bytes`` or ``phash``.
        image_distance: For ``phash``: largest Hamming distance between the same image.
        image_frequency: Remove images found in more than this many documents (0: off).
        repeated_images: Remove later copies of an image within one document.
        identical_images: Keep one of the documents with the same non-empty image set.
        paragraphs: Remove repeated paragraphs corpus-wide, within a web domain, or not.
        markdown: Strip markdown markup before hashing text: ``auto`` for markdown layouts
            (PIN, WanJuan), or ``strip``/``keep`` for all.
        keep: Which document of a group stays: ``first``, ``longest``, ``max:FIELD`` or
            ``min:FIELD`` (a column, or a key of the JSON in ``extra``, ``meta`` or
            ``general_metadata``; numbers or ISO dates).
        format: The layout of the inputs (None: detected per file).
    """

    text: DedupConfig = field(default_factory=DedupConfig)
    near_duplicates: bool = True
    image_weight: int = 8
    image_key: ImageKey = "url"
    image_distance: int = 0
    image_frequency: int = 10
    repeated_images: bool = True
    identical_images: bool = True
    paragraphs: ParagraphScope = "corpus"
    markdown: MarkdownMode = "auto"
    keep: str = "first"
    format: str | None = None

    def __post_init__(self) -> None:
        if self.text.method != "minhash":
            raise ParameterError("interleaved documents are deduplicated with --method minhash")
        if self.image_key not in ("url", "bytes", "phash"):
            raise ParameterError(f"image key must be url, bytes or phash, got {self.image_key!r}")
        if self.image_distance and self.image_key != "phash":
            raise ParameterError("an image distance needs --image-key phash")
        if not 0 <= self.image_distance <= 32:
            raise ParameterError(f"image distance must be in 0..32, got {self.image_distance}")
        if self.image_frequency < 0 or self.image_weight < 0:
            raise ParameterError("image frequency and image weight must not be negative")
        if self.paragraphs not in ("corpus", "domain", "off"):
            raise ParameterError(f"paragraphs must be corpus, domain or off: {self.paragraphs!r}")
        if self.markdown not in ("auto", "strip", "keep"):
            raise ParameterError(f"markdown must be auto, strip or keep: {self.markdown!r}")
        if self.format is not None and self.format not in FORMATS:
            raise ParameterError(f"unknown layout {self.format!r}; one of {', '.join(FORMATS)}")
        parse_keep(self.keep)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.text.to_dict()
        return d


def is_interleaved(inputs: Sequence[str], column: str) -> str | None:
    """The layout of the first input when it is an interleaved layout without ``column``."""
    from ...formats import detect_format

    shard = discover(list(inputs))[0]
    try:
        fmt = detect_format(shard)
        if shard.format == "parquet":
            from ...io import parquet_file

            names = set(parquet_file(shard).schema_arrow.names)
        else:
            from ...formats.files import jsonl_rows

            first = next((r for r in jsonl_rows(shard) if isinstance(r, dict)), {})
            names = set(first)
    except (InputError, pa.ArrowInvalid, OSError):
        return None  # not readable as a layout: the text dedup reports what is wrong
    return None if column in names else fmt
