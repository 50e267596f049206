"""Turning what users hand us into Arrow arrays the Rust core reads zero-copy."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import polars as pl
import pyarrow as pa

from .errors import InputError

__all__ = [
    "ArrowLike",
    "ArrowStreamExportable",
    "Column",
    "Tabular",
    "as_series",
    "to_arrow",
    "to_tabular",
]

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


Column: TypeAlias = pl.Series | pa.Array | pa.ChunkedArray


class ArrowStreamExportable(Protocol):
    """Anything exporting an Arrow stream through the Arrow PyCapsule interface (a DuckDB
    relation, a ``pa.RecordBatchReader``, a pandas or Polars frame, ...)."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


@dataclass(frozen=True)
class Tabular:
    """A table a user gave, whatever its kind, read once: its column names, its columns (as the
    core reads them, without a copy where the kind allows), and the way back to that kind.

    Attributes:
        names: The column names.
        column: A column by name: a ``pl.Series``, ``pa.Array`` or ``pa.ChunkedArray``.
        append: The table with more columns (Arrow arrays, one value per row) after its own,
            as the kind :func:`to_tabular` documents for the input.
    """

    names: list[str]
    column: Callable[[str], Column]
    append: Callable[[dict[str, pa.Array]], Any]


def to_tabular(data: Any, name: str = "data") -> Tabular:
    """A table of any kind that exports Arrow, read once (a stream or a lazy query is consumed
    or collected here, and only here). What :attr:`Tabular.append` gives back:

    ====================================================  ======================================
    given                                                 given back
    ====================================================  ======================================
    ``pl.DataFrame``, ``pl.LazyFrame`` (collected once)   ``pl.DataFrame``
    ``pa.Table``, ``pa.RecordBatchReader`` (read once)    ``pa.Table``
    ``pa.RecordBatch``                                    ``pa.RecordBatch``
    ``pandas.DataFrame``                                  ``pandas.DataFrame`` (same index)
    ``datasets.Dataset`` (Hugging Face)                   ``datasets.Dataset``
    anything with ``__arrow_c_stream__`` (DuckDB, ...)    ``pa.Table``
    ====================================================  ======================================

    Raises:
        TypeError: ``data`` exports no table; the message names its type.
    """
    pandas, hf = sys.modules.get("pandas"), sys.modules.get("datasets")  # given one, imported
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return _polars(data)
    if isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    if isinstance(data, pa.Table | pa.RecordBatch):
        return _pyarrow(data)
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return _pandas(data)
    if hf is not None and isinstance(data, hf.Dataset | hf.DatasetDict | hf.IterableDataset):
        return _hf_dataset(data, name)
    if hasattr(data, "__arrow_c_stream__"):
        try:
            table = pa.table(data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
            raise TypeError(
                f"`{name}` must be a table; {_type_name(data)} exports an Arrow stream of "
                f"something else, a single column? ({e})"
            ) from e
        return _pyarrow(table)
    raise TypeError(
        f"`{name}` must be a table: a polars DataFrame or LazyFrame, a pyarrow Table, "
        "RecordBatch or RecordBatchReader, a pandas DataFrame, a Hugging Face Dataset, or "
        f"anything exporting `__arrow_c_stream__` (a DuckDB relation, ...); got {_type_name(data)}"
    )


def _type_name(data: Any) -> str:
    kind = type(data)
    return f"{kind.__module__}.{kind.__qualname__}"


def as_series(values: Column) -> pl.Series:
    """A column as a ``pl.Series`` (copied from Arrow when it is not one)."""
    return values if isinstance(values, pl.Series) else pl.Series(values)


def _polars(df: pl.DataFrame) -> Tabular:
    def append(columns: dict[str, pa.Array]) -> pl.DataFrame:
        return df.with_columns([pl.Series(k, v) for k, v in columns.items()])

    return Tabular(list(df.columns), lambda c: df[c], append)


def _pyarrow(table: pa.Table | pa.RecordBatch) -> Tabular:
    def append(columns: dict[str, pa.Array]) -> pa.Table | pa.RecordBatch:
        out = table
        for k, v in columns.items():
            out = out.append_column(k, v)
        return out

    return Tabular(list(table.column_names), lambda c: table[c], append)


def _pandas(df: Any) -> Tabular:
    import pandas as pd

    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise InputError(f"the columns of a pandas DataFrame must have distinct names: {names}")

    def column(c: str) -> Column:
        values = df[df.columns[names.index(c)]]
        array: pa.Array = pa.array(values, from_pandas=True)
        return array

    def append(columns: dict[str, pa.Array]) -> Any:
        nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
        # Arrays, not Series, so that nothing is aligned on the index.
        new = {k: v.to_pandas(types_mapper=nullable.get).array for k, v in columns.items()}
        return df.assign(**new)

    return Tabular(names, column, append)


def _hf_dataset(ds: Any, name: str) -> Tabular:
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        raise TypeError(
            f"`{name}` is a Hugging Face DatasetDict; pass one of its splits "
            f"({', '.join(map(repr, ds))}), e.g. ds[{next(iter(ds), 'train')!r}]"
        )
    if not isinstance(ds, datasets.Dataset):
        raise TypeError(
            f"`{name}` is a Hugging Face IterableDataset, which streams; make it a Dataset "
            "first (datasets.Dataset.from_generator, or load_dataset without streaming=True)"
        )
    rows = ds.with_format("arrow")  # the selection, shuffle or filter applied

    def append(columns: dict[str, pa.Array]) -> Any:
        out = ds
        for k, v in columns.items():
            out = out.add_column(k, v)
        return out

    return Tabular(list(ds.column_names), lambda c: rows[c], append)
