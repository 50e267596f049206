"""Image columns of a table, as the image hasher takes them: encoded bytes, file paths, or
Hugging Face ``Image`` structs (``struct<bytes: binary, path: string>``) whose ``bytes`` may be
null, the image then being the file at ``path``.

A path is the file's own when absolute (or a file system URL, ``s3://...``), else relative to
the directory of the shard that holds the column, as the ``datasets`` library writes it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError
from .storage import Location, is_url

__all__ = ["check_image_type", "resolve_images"]


def _binary(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
    )


def _string(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _fields(kind: pa.DataType) -> tuple[bool, bool]:
    """Whether a struct type has a usable ``bytes`` field and a usable ``path`` field."""
    at_bytes, at_path = kind.get_field_index("bytes"), kind.get_field_index("path")
    has_bytes = at_bytes >= 0 and (
        _binary(kind.field(at_bytes).type) or pa.types.is_null(kind.field(at_bytes).type)
    )
    has_path = at_path >= 0 and (
        _string(kind.field(at_path).type) or pa.types.is_null(kind.field(at_path).type)
    )
    return has_bytes, has_path


def check_image_type(kind: pa.DataType, column: str, path: str | None = None) -> None:
    """Raises an :class:`InputError` naming the column (and ``path``, the shard) unless ``kind``
    is one :func:`resolve_images` reads: binary (encoded images), string (paths), null, or a
    struct with a binary ``bytes`` field, a string ``path`` field, or both."""
    if _binary(kind) or _string(kind) or pa.types.is_null(kind):
        return
    if pa.types.is_struct(kind):
        if any(_fields(kind)):
            return
        what = f"structs without image bytes or a path ({kind})"
    else:
        what = f"values of type {kind}"
    raise InputError(
        f"column {column!r} holds {what}; expected image bytes (binary), image paths (string) "
        "or a Hugging Face Image struct (bytes, path)",
        path=path,
    )


def resolve_images(
    column: pa.Array | pa.ChunkedArray,
    shard: str | os.PathLike[str],
    *,
    first_row: int = 0,
    name: str = "image",
    errors: dict[int, str] | None = None,
) -> pa.Array | pa.ChunkedArray | list[str]:
    """What the image hasher (:func:`mmdedup.image_hashes`) takes for a column of images.

    Args:
        column: Encoded images (binary), paths (string), or Hugging Face ``Image`` structs
            (``bytes`` and ``path``; a row's ``path`` is used where its ``bytes`` is null).
        shard: The file the column was read from (a local path or a file system URL):
            relative paths are relative to its directory.
        first_row: The shard row of the column's first value (for the rows errors name, when
            the column is one batch of a shard).
        name: The column's name, for messages.
        errors: When given, a file that does not exist or cannot be read does not raise: its
            row (an index into ``column``) is recorded here with the message, and its image
            is null.

    Returns:
        - the column itself (or the struct's ``bytes``) when no row needs a file: binary;
        - the paths, resolved, as a list of ``str`` when every row is a local file and none
          holds bytes or is null: the hasher reads them itself, in parallel, within its
          decode memory budget;
        - otherwise a ``large_binary`` array, each row's bytes, or its file read (local or
          through fsspec), or null (the hasher reports a null image on that row). Only such a
          mix is held in memory, one column (a batch) at a time.

    Raises:
        InputError: A file a row names does not exist or cannot be read (naming the shard, the
            row and the file), or the column holds something else (see
            :func:`check_image_type`).
    """
    where = os.fspath(shard)
    check_image_type(column.type, name, where)
    kind = column.type
    if _binary(kind) or pa.types.is_null(kind):
        return column
    if _string(kind):
        paths: list[str | None] = column.to_pylist()
        return _mixed([None] * len(paths), paths, where, first_row, name, errors)
    has_bytes, has_path = _fields(kind)
    data = _field(column, "bytes") if has_bytes else None
    if not has_path:
        assert data is not None
        return data
    path_col = _field(column, "path")
    # Rows whose image is a file: bytes null (or absent), path given, the struct not null.
    wants_file = pc.and_(pc.is_valid(column), pc.is_valid(path_col))
    if data is not None:
        wants_file = pc.and_(wants_file, pc.is_null(data))
    if not pc.any(wants_file).as_py():
        if data is None:  # no row holds bytes nor a path: all null
            return pa.nulls(len(column), pa.binary())
        return data
    needed = pc.if_else(wants_file, path_col, pa.scalar(None, path_col.type)).to_pylist()
    blobs: list[bytes | None] = data.to_pylist() if data is not None else [None] * len(column)
    return _mixed(blobs, needed, where, first_row, name, errors)


def _field(column: pa.Array | pa.ChunkedArray, field: str) -> pa.Array | pa.ChunkedArray:
    """A field of a struct column; null where the struct itself is null."""
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array(
            [pc.struct_field(c, field) for c in column.chunks],
            column.type.field(field).type,
        )
    return pc.struct_field(column, field)


def _mixed(
    blobs: list[bytes | None],
    paths: Sequence[str | None],
    where: str,
    first_row: int,
    name: str,
    errors: dict[int, str] | None = None,
) -> pa.Array | list[str]:
    """Paths (all local, every row one) or, when rows differ, every row's bytes."""
    base = _directory(where)
    resolved = [None if p is None else _resolve(p, base) for p in paths]
    for i, target in enumerate(resolved):
        if target is not None and not _exists(target):
            message = f"column {name!r}: image file {target} does not exist or cannot be reached"
            message += f" (the row's path is {paths[i]!r})" if paths[i] != target else ""
            if errors is None:
                raise InputError(message, path=where, row=first_row + i)
            errors[i] = message
            resolved[i] = None
    if all(b is None for b in blobs) and all(t is not None and not is_url(t) for t in resolved):
        return [t for t in resolved if t is not None]
    out: list[bytes | None] = list(blobs)
    for i, target in enumerate(resolved):
        if target is None or out[i] is not None:
            continue
        try:
            out[i] = Location(target).read_bytes()
        except (OSError, ValueError, ImportError) as e:
            message = f"column {name!r}: cannot read image file {target}: {e}"
            if errors is None:
                raise InputError(message, path=where, row=first_row + i) from e
            errors[i] = message
    return pa.array(out, pa.large_binary())


def _directory(shard: str) -> str:
    if is_url(shard):
        return shard.rstrip("/").rsplit("/", 1)[0]
    return str(Path(shard.removeprefix("file://")).absolute().parent)


def _resolve(path: str, base: str) -> str:
    """A row's path: a URL or an absolute path as it is, else relative to ``base``."""
    if is_url(path):
        return path
    local = path.removeprefix("file://")
    if os.path.isabs(local):
        return local
    if is_url(base):
        return posixpath.join(base, local)
    return os.path.normpath(os.path.join(base, local))


def _exists(target: str) -> bool:
    try:
        return Location(target).exists()
    except (OSError, ValueError, ImportError):  # a URL of a file system fsspec cannot reach
        return False
