"""What every layout implements, and the per-segment metadata conventions they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .model import Segment, segment_meta

__all__ = ["Layout", "RowError", "RowResult", "clean_meta", "json_kind"]

# Keys of a segment's meta private to one layout's round trip; other layouts drop them.
_PRIVATE = ("md_", "mmc4_")


class RowError(Exception):
    """A row that cannot be read; the message says why."""


def json_kind(value: Any) -> str:
    """What a value is, in words, for messages.

    >>> json_kind(None), json_kind(3), json_kind(["a"]), json_kind({})
    ('null', 'a number', 'a list', 'an object')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


@dataclass
class RowResult:
    """One row read: its segments, and the repairs made (empty when none)."""

    segments: list[Segment]
    repairs: list[str]


class Layout:
    """A file layout of interleaved documents.

    Attributes:
        name: Its name (``--to`` / ``format=``).
        container: ``"parquet"`` or ``"jsonl"``.
        core: The fields rebuilt from the segments; every other field is carried through.
        required: The fields a file of this layout has (the others may be left out).
        order: Preferred key order when writing JSON Lines (other keys follow in input order).
    """

    name: str = ""
    container: Literal["parquet", "jsonl"] = "parquet"
    core: tuple[str, ...] = ()
    order: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        """The fields without which a file cannot have this layout (checked when it is given,
        not detected)."""
        return self.core[:1]

    def matches(self, keys: set[str], types: dict[str, Any]) -> bool:
        """Whether a file with these columns (and Arrow types, for Parquet) has this layout."""
        return set(self.core) <= keys

    def read_rows(self, rows: list[dict[str, Any]]) -> list[RowResult | RowError]:
        """Segments of each row (a dict of the core fields)."""
        out: list[RowResult | RowError] = []
        for row in rows:
            try:
                out.append(self.read_row(row))
            except RowError as e:
                out.append(e)
        return out

    def read_row(self, row: dict[str, Any]) -> RowResult:
        raise NotImplementedError

    def write_row(self, segments: list[Segment]) -> dict[str, Any]:
        """The core fields of one document."""
        raise NotImplementedError


def clean_meta(seg: Segment, keep: str = "") -> Any:
    """A segment's meta without other layouts' private keys (None when nothing is left).

    >>> from .model import text
    >>> clean_meta(text("x", {"md_before": "", "mmc4_position": 1, "a": 2}), keep="mmc4_")
    {'mmc4_position': 1, 'a': 2}
    """
    meta = segment_meta(seg)
    if not isinstance(meta, dict):
        return meta
    out = {
        k: v
        for k, v in meta.items()
        if not (k.startswith(_PRIVATE) and not (keep and k.startswith(keep)))
    }
    return out or None
