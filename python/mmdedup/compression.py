"""Compressed JSON Lines shards: gzip (``.gz``) and Zstandard (``.zst``), read and written as
streams, a block at a time, so that a shard is never decompressed whole into memory.

Zstandard goes through PyArrow's codec (``pa.CompressedInputStream``), which reads streams of
several frames (as ``zstd``, ``pzstd`` and ``zstdmt`` write them) and reports a stream cut short.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import IO, Literal

import pyarrow as pa

__all__ = [
    "DECOMPRESS_ERRORS",
    "Compression",
    "Compressor",
    "compression_of",
    "describe",
    "line_blocks",
    "open_decompressed",
]

Compression = Literal["gzip", "zstd"] | None

SUFFIXES: dict[str, Literal["gzip", "zstd"]] = {".gz": "gzip", ".zst": "zstd"}

# What a damaged stream raises: zlib and gzip errors, EOFError for a gzip stream cut short, and
# OSError (pyarrow's ArrowIOError) for a damaged or truncated Zstandard stream.
DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    pa.ArrowInvalid,
)

# Decompressed bytes read at a time. Small enough that a damaged stream shows within a few
# lines of where it breaks (decompressors raise only once the bytes they can give are read).
_BLOCK = 1 << 16


def compression_of(name: str) -> Compression:
    """The compression a file name says (``.gz`` or ``.zst``, any case), or None."""
    lower = name.lower()
    for suffix, kind in SUFFIXES.items():
        if lower.endswith(suffix):
            return kind
    return None


def describe(kind: Compression) -> str:
    """``"gzip"`` or ``"Zstandard"``: a name for error messages."""
    return "Zstandard" if kind == "zstd" else str(kind)


def open_decompressed(raw: IO[bytes], kind: Compression) -> IO[bytes] | io.BufferedIOBase:
    """A binary stream of the decompressed bytes of ``raw`` (itself when ``kind`` is None), read
    as needed: iterating it gives lines split at ``\\n``. Closing it leaves ``raw`` open."""
    if kind is None:
        return raw
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "zstd":
        stream = pa.CompressedInputStream(_Borrowed(raw), "zstd")
        return io.BufferedReader(stream)
    raise ValueError(f"unknown compression {kind!r}")


def line_blocks(stream: IO[bytes] | io.BufferedIOBase, size: int = _BLOCK) -> Iterator[bytes]:
    """The bytes of ``stream`` in blocks of about ``size`` bytes or more, each ending right
    after a ``\\n`` (the last one may not): splitting each block into lines gives the lines of
    the whole, with a ``\\r\\n`` never cut in two. A line longer than ``size`` is one block.

    Every block but the last ends a line, so when a damaged stream raises, each line given
    before was read whole; the line it was in the middle of is not given."""
    pending: list[bytes] = []  # the start of a line that goes on in the next read
    while block := stream.read(size):
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            pending.append(block)
            continue
        head = block[:cut]
        yield b"".join([*pending, head]) if pending else head
        pending = [block[cut:]] if cut < len(block) else []
    if pending:
        yield b"".join(pending)


class _Borrowed(io.RawIOBase):
    """A file object that reads or writes through ``f`` and, when closed, leaves ``f`` open
    (its owner closes it: an atomic write still has to flush, sync and rename it)."""

    def __init__(self, f: IO[bytes]) -> None:
        super().__init__()
        self._f = f
        self.discard = False  # writes are dropped (an abandoned stream's last bytes)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data) if self.discard else self._f.write(data)

    def flush(self) -> None:
        if not self.discard:
            self._f.flush()


class Compressor:
    """Compresses a stream of bytes into ``out`` as one gzip member or one Zstandard frame,
    a block at a time; :meth:`finish` writes the end of the stream (``out`` stays open), and
    :meth:`close` abandons a stream not finished (after an error) without writing to ``out``.

    gzip output is level 9 with no file name or time in its header, so that the same input
    gives the same bytes; Zstandard output is level 3 (the ``zstd`` tool's default).
    """

    def __init__(self, out: IO[bytes], kind: Literal["gzip", "zstd"]) -> None:
        self._out = out
        self._gzip = zlib.compressobj(9, zlib.DEFLATED, 31) if kind == "gzip" else None
        self._sink = _Borrowed(out)
        self._zstd = (
            pa.CompressedOutputStream(pa.PythonFile(self._sink, mode="w"), "zstd")
            if kind == "zstd"
            else None
        )
        self._done = False

    def write(self, data: bytes) -> None:
        if self._gzip is not None:
            self._out.write(self._gzip.compress(data))
        elif self._zstd is not None:
            self._zstd.write(data)

    def finish(self) -> None:
        self._done = True
        if self._gzip is not None:
            self._out.write(self._gzip.flush())
        elif self._zstd is not None:
            self._zstd.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._sink.discard = True
            if self._zstd is not None:
                self._zstd.close()
