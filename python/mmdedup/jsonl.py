"""JSON Lines pieces into Polars frames, faithfully: a row that a JSON reader would read as
something else (invalid UTF-8, a lone surrogate escape, a text key holding a number, an object
or a list) raises an error naming its file and row, or is recorded and read as null."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import polars as pl

from .errors import InputError

__all__ = ["parse_json_lines"]


def parse_json_lines(
    lines: list[bytes],
    where: str,
    start: int,
    text: str | None = None,
    problems: dict[int, str] | None = None,
    hint: str = "",
) -> pl.DataFrame:
    """A piece of JSON Lines as a frame. Rows that cannot be read faithfully (see
    :func:`_unreadable_rows`) raise an error naming the row, or with ``problems`` are recorded
    there and read as their replacement lines.

    The checks cost little when nothing is wrong: a search of the piece for surrogate escapes,
    and a look at the ``text`` values polars read for what a number, object or list would have
    become; only the lines they point at are parsed again, in Python."""

    def parse() -> pl.DataFrame:
        return pl.read_ndjson(io.BytesIO(b"\n".join(lines)), infer_schema_length=None)

    def replace(bad: dict[int, tuple[str, bytes]]) -> list[bytes]:
        fixed = list(lines)
        for k, (message, replacement) in sorted(bad.items()):
            if problems is None:
                raise InputError(message + hint, path=where, row=start + k)
            problems[start + k] = message
            fixed[k] = replacement
        return fixed

    if any(_SURROGATE.search(line) for line in lines):
        suspects = [k for k, line in enumerate(lines) if _SURROGATE.search(line)]
        if bad := _unreadable_rows(lines, text, suspects):
            lines = replace(bad)
    try:
        frame = parse()
    except Exception as e:  # polars raises several types; find the culprit line ourselves
        bad = _unreadable_rows(lines, text)  # invalid UTF-8 is found here
        if not bad:
            raise _locate_json_error(lines, where, start) from e
        lines = replace(bad)
        try:
            frame = parse()
        except Exception as e2:
            raise _locate_json_error(lines, where, start) from e2
    if frame.height != len(lines):
        raise _locate_json_error(lines, where, start)
    if text is not None and text in frame.columns:
        values = frame[text]
        if values.dtype == pl.String:  # a number, object or list would be read as its JSON text
            starts, ends = values.str.starts_with, values.str.ends_with
            suspect = (
                (starts("{") & ends("}"))
                | (starts("[") & ends("]"))
                | values.str.contains(_COERCED_LITERAL)
            )
        else:
            suspect = values.is_not_null()
        rows = np.flatnonzero(suspect.fill_null(False).to_numpy()).tolist()
        if rows and (bad := _unreadable_rows(lines, text, rows)):
            lines = replace(bad)
            frame = parse()
    return frame


# A `\uD800`..`\uDFFF` escape: half of a surrogate pair, or a lone surrogate (no character).
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# What polars makes of a boolean or number in a column of strings (an object or list becomes
# its JSON text, in braces or brackets).
_COERCED_LITERAL = r"^(?:true|false|-?[0-9][0-9.eE+-]*)$"


def _unreadable_rows(
    lines: list[bytes], text: str | None, rows: list[int] | None = None
) -> dict[int, tuple[str, bytes]]:
    """Lines (by index; all, or ``rows``) that cannot be read faithfully: not valid UTF-8, a
    lone surrogate escape (polars refuses some and reads others as NUL), or ``text`` holding a
    number, object, list or boolean (polars would read its JSON text). Each with the problem
    and a line to read in its place: the object without ``text`` and the keys that cannot be
    read. Lines that are not JSON objects are left to :func:`_locate_json_error`."""
    bad: dict[int, tuple[str, bytes]] = {}
    for k in range(len(lines)) if rows is None else rows:
        try:
            decoded = lines[k].decode("utf-8")
        except UnicodeDecodeError as e:
            bad[k] = (f"not valid UTF-8: {e}", b"{}")
            continue
        try:
            value = json.loads(decoded)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        drop = [key for key, v in value.items() if not _encodable(key) or not _encodable(v)]
        if drop:
            what = ", ".join(repr(key) if _encodable(key) else "a key" for key in drop)
            message = f"lone surrogate escape (not a character) in {what}"
            bad[k] = (message, _without(value, [*drop, text]))
        elif text is not None and not isinstance(value.get(text), str | None):
            kind = _JSON_KINDS.get(type(value[text]), type(value[text]).__name__)
            bad[k] = (f"key {text!r} holds {kind}, not a string", _without(value, [text]))
    return bad


_JSON_KINDS: dict[type, str] = {
    int: "a number",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "a list",
}


def _encodable(value: object) -> bool:
    """Whether a JSON value holds no lone surrogate (which UTF-8 cannot encode)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _without(value: dict[str, object], keys: list[str | None]) -> bytes:
    return json.dumps({k: v for k, v in value.items() if k not in keys and _encodable(k)}).encode()


def _locate_json_error(lines: list[bytes], where: str, start: int = 0) -> InputError:
    for row, line in enumerate(lines, start):
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            return InputError(f"not valid UTF-8: {e}", path=where, row=row)
        except ValueError as e:
            return InputError(f"invalid JSON: {e}", path=where, row=row)
        if not isinstance(value, dict):
            return InputError(
                f"expected a JSON object, got {type(value).__name__}", path=where, row=row
            )
    return InputError("cannot read as JSON Lines (mixed value types in one key?)", path=where)
