"""Drop-in stages for other pipelines: per-batch functions that add mmdedup's hashes as columns.

They take and return the batch types pipelines pass around — a ``pa.Table``, a
``pl.DataFrame`` or a ``dict`` of NumPy arrays (Ray Data's ``"numpy"`` format) — so they plug
into Ray Data's ``map_batches``, Polars' ``map_batches`` on a LazyFrame, or a datatrove-style
loop, while the clustering runs once over the collected hashes (or as ``mmdedup dedup
--engine ray`` over files).

Ray Data::

    ds = ray.data.read_parquet("s3://bucket/shards/")
    ds = ds.map_batches(add_signatures, batch_format="pyarrow", fn_kwargs={"column": "text"})

Polars, lazily::

    lf = pl.scan_parquet("shards/*.parquet")
    lf = lf.with_columns(sig=pl.col("text").mmdedup.minhash(num_perm=128))

>>> import pyarrow as pa
>>> t = add_signatures(pa.table({"text": ["a b c d e f", None]}), config=DedupConfig(num_perm=4))
>>> t.schema.field("minhash").type
FixedSizeListType(fixed_size_list<item: uint32>[4])
>>> add_band_keys(t, bands=2, rows=2)["band_keys"].type
ListType(list<item: uint64>)
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
import polars as pl
import pyarrow as pa

from . import _core
from .dedup import DedupConfig, compute_signatures
from .errors import InputError

__all__ = ["add_band_keys", "add_signatures"]

Batch = TypeVar("Batch", pa.Table, pl.DataFrame, dict[str, Any])


def _column(batch: Any, column: str) -> Any:
    names = (
        batch.column_names
        if isinstance(batch, pa.Table)
        else list(batch.keys())
        if isinstance(batch, dict)
        else batch.columns
    )
    if column not in names:
        raise InputError(f"no column {column!r}; the columns are {names}")
    values = batch[column]
    if isinstance(values, np.ndarray):
        return pa.array(values.tolist())
    return values


def _numpy(values: pa.Array) -> np.ndarray[Any, Any]:
    """Ray Data's numpy batches: one row per element (2-D for fixed-size lists)."""
    if pa.types.is_fixed_size_list(values.type):
        k = values.type.list_size
        filled = values.fill_null(pa.scalar([0] * k, values.type)) if values.null_count else values
        return np.asarray(filled.flatten().to_numpy()).reshape(len(values), k)
    if pa.types.is_list(values.type):
        return np.array([np.asarray(v, dtype=np.uint64) for v in values.to_pylist()], dtype=object)
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _attach(batch: Batch, name: str, values: pa.Array) -> Batch:
    if isinstance(batch, pa.Table):
        return cast(Batch, batch.append_column(name, values))
    if isinstance(batch, pl.DataFrame):
        out: Any = batch.with_columns(pl.Series(name, values))
        return cast(Batch, out)
    return cast(Batch, {**batch, name: _numpy(values)})


def add_signatures(
    batch: Batch,
    column: str = "text",
    *,
    config: DedupConfig | None = None,
    output: str | None = None,
) -> Batch:
    """Adds the per-document hashes of ``config.method`` as a column (default: the method's name).

    MinHash: ``fixed_size_list<uint32>[num_perm]``; SimHash: ``uint64``; exact:
    ``fixed_size_binary(16)``. Null, empty and punctuation-only texts get null.
    """
    cfg = config or DedupConfig()
    sigs = compute_signatures(_column(batch, column), cfg)
    mask = pa.array(sigs.empty) if sigs.empty.any() else None
    n = len(sigs)
    if cfg.method == "minhash":
        flat = pa.array(sigs.data.ravel(), pa.uint32())
        values: pa.Array = pa.FixedSizeListArray.from_arrays(flat, cfg.num_perm, mask=mask)
    elif cfg.method == "simhash":
        values = pa.array(sigs.data, pa.uint64(), mask=sigs.empty)
    else:
        values = pa.Array.from_buffers(
            pa.binary(16),
            n,
            [
                pa.array(~sigs.empty).buffers()[1] if mask is not None else None,
                pa.py_buffer(sigs.data),
            ],
        )
    return _attach(batch, output or cfg.method, values)


def add_band_keys(
    batch: Batch, signatures: str = "minhash", *, bands: int, rows: int, output: str = "band_keys"
) -> Batch:
    """Adds the LSH band keys of a MinHash column as ``list<uint64>`` (null where the signature
    is null): documents sharing any key are candidate pairs, so a pipeline can shuffle or
    group by them (explode the list first)."""
    col = _column(batch, signatures)
    arr = (
        col.combine_chunks()
        if isinstance(col, pa.ChunkedArray)
        else pa.array(col)
        if isinstance(col, pl.Series)
        else col
    )
    if not pa.types.is_fixed_size_list(arr.type):
        raise InputError(f"column {signatures!r} must hold MinHash signatures (fixed-size lists)")
    k = arr.type.list_size
    sigs = np.asarray(arr.flatten().to_numpy(), dtype=np.uint32).reshape(-1, k)
    if arr.null_count:
        sigs = np.zeros((len(arr), k), np.uint32)
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False))
        sigs[valid] = np.asarray(arr.drop_null().flatten().to_numpy(), dtype=np.uint32).reshape(
            -1, k
        )
    keys = _core.band_keys(np.ascontiguousarray(sigs), bands=bands, rows=rows)
    offsets = pa.array(np.arange(0, (len(keys) + 1) * bands, bands, dtype=np.int32))
    values = pa.ListArray.from_arrays(
        offsets, pa.array(keys.ravel(), pa.uint64()), mask=arr.is_null() if arr.null_count else None
    )
    return _attach(batch, output, values)
