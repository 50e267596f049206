"""Exceptions raised by mmdedup.

Every class subclasses a built-in, so ``except ValueError`` or ``except OSError`` in code that
does not know mmdedup still catches them.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["InputError", "MmdedupError", "OnError", "ParameterError", "on_error_mode"]

OnError = Literal["record", "raise", "keep", "skip"]
"""What becomes of a row that cannot be read (invalid UTF-8, malformed JSON, a value of the
wrong type): ``"record"`` it (file, row and problem) and go on, or ``"raise"`` an
:class:`InputError` naming them. ``"keep"`` and ``"skip"`` are earlier names of ``"record"``."""


class MmdedupError(Exception):
    """Base class of every mmdedup error."""


class ParameterError(MmdedupError, ValueError):
    """A parameter is out of its domain; the message names it."""


class InputError(MmdedupError, ValueError):
    """Input data cannot be used: a missing column, a wrong type, an unreadable shard or row.

    Attributes:
        path: The file the problem is in, when there is one.
        row: The 0-based row (within ``path`` when given), when the problem is in one row.
    """

    path: str | None
    row: int | None

    def __init__(self, message: str, *, path: str | None = None, row: int | None = None) -> None:
        self.path = path
        self.row = row
        # One line, whatever a library's message held (newlines, control bytes of a bad file).
        message = " ".join("".join(c if c.isprintable() else " " for c in message).split())
        where = []
        if path is not None:
            where.append(path)
        if row is not None:
            where.append(f"row {row}")
        prefix = ", ".join(where)
        super().__init__(
            f"{prefix}: {message}" if prefix and not message.startswith(prefix) else message
        )


def on_error_mode(value: str) -> Literal["record", "raise"]:
    """``"record"`` or ``"raise"`` for any :data:`OnError` value; anything else is a
    :class:`ParameterError`."""
    mode = {"keep": "record", "skip": "record"}.get(value, value)
    if mode == "record":
        return "record"
    if mode == "raise":
        return "raise"
    raise ParameterError(f"`on_error` must be record or raise, got {value!r}")
