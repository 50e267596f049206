"""Turning what users hand us into Arrow arrays the Rust core reads zero-copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .errors import InputError

__all__ = ["ArrowLike", "to_arrow"]

ArrowLike = Any
"""A ``pl.Series``, ``pa.Array``, ``pa.ChunkedArray``, anything exporting ``__arrow_c_array__``
or ``__arrow_c_stream__``, or a Python sequence of ``str | bytes | None``."""


def to_arrow(values: ArrowLike, name: str = "texts") -> Any:
    """Returns an object the core accepts through the Arrow PyCapsule interface."""
    if isinstance(values, pa.Array | pa.ChunkedArray) and pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)  # dictionary-encoded text: its values
    if type(values).__module__.startswith("polars"):
        import polars as pl

        if isinstance(values, pl.Series):
            if values.dtype == pl.Null:  # all None, no type given: null texts
                return pa.nulls(len(values), pa.string())
            if isinstance(values.dtype, pl.Categorical | pl.Enum):
                return values.cast(pl.String)
    if hasattr(values, "__arrow_c_stream__") or hasattr(values, "__arrow_c_array__"):
        return values
    if isinstance(values, str | bytes):
        raise InputError(
            f"`{name}` must be a sequence of texts, not a single {type(values).__name__}"
        )
    if isinstance(values, Sequence) or hasattr(values, "__iter__"):
        try:
            return pa.array(list(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise InputError(f"`{name}` must hold only str, bytes or None: {e}") from e
    raise InputError(f"`{name}` must be an Arrow array, a Polars Series or a sequence of str")
