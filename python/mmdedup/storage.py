"""Where shards live: local paths or any fsspec URL (``s3://``, ``gs://``, ``hf://``,
``memory://`` ...). Local writes are atomic (temporary name, then rename); on object stores an
object only appears once completely uploaded, which gives the same guarantee.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow.fs as pafs

__all__ = [
    "Location",
    "allocate",
    "atomic_write",
    "background_syncs",
    "create_npy",
    "durable_rename",
    "durable_together",
    "is_url",
    "staged_write",
    "sync_file",
]


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_url(text: str) -> bool:
    return "://" in text and not text.startswith("file://")


# Per thread: the files written inside `durable_together` and what follows their syncs (None
# outside), and the syncing thread of the `background_syncs` running its unit (if any).
_deferred = threading.local()


def _pending() -> dict[Path, None] | None:
    pending: dict[Path, None] | None = getattr(_deferred, "files", None)
    return pending


class _Syncer:
    """One thread that makes units' files durable and then runs what follows (their
    done-markers), in the order the units handed them over."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[list[Path], Callable[[], None]] | None]
        self._queue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mmdedup-sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # after a failure nothing more is marked
            files, then = item
            try:
                for path in files:
                    _fsync(path, written_here=True)
                then()
            except BaseException as e:  # re-raised by close() on the stage's thread
                self._error = e

    def submit(self, files: list[Path], then: Callable[[], None]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((files, then))

    def close(self) -> None:
        """Waits until everything handed over is durable and marked; raises the first error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


@contextmanager
def background_syncs() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Yields ``within(fn)``, which runs ``fn`` (a unit) on the calling thread with the syncs of
    its :func:`durable_together` blocks that have a ``then`` handed to one thread of this block:
    the unit's files are made durable there and then ``then`` (its done-marker) runs, while
    the unit's thread goes on with its next unit and the disk catches up. The block ends once
    every unit handed over is durable and marked (a failure to sync or mark is raised here); a
    unit not yet marked when the process dies runs again on ``--resume``, as before."""
    syncer = _Syncer()

    def within(fn: Callable[[], None]) -> None:
        outer = getattr(_deferred, "syncer", None)
        _deferred.syncer = syncer
        try:
            fn()
        finally:
            _deferred.syncer = outer

    try:
        yield within
    finally:
        syncer.close()


@contextmanager
def durable_together(then: Callable[[], None] | None = None) -> Iterator[None]:
    """Makes the files this thread writes inside the block (through :func:`atomic_write`,
    :func:`sync_file` and :func:`durable_rename`) durable together when the block ends, then
    runs ``then`` (a unit's done-marker): in a unit run by :func:`background_syncs`, on its
    thread, while this one goes on; else here, file after file. A block that raises syncs nothing and does
    not run ``then``: its unit is not marked, and runs again. Nested blocks join the outer
    one."""
    if _pending() is not None:
        yield
        if then is not None:
            _deferred.then.append(then)  # after the outer block's files
        return
    _deferred.files, _deferred.then = {}, []
    try:
        yield
        files, thens = list(_deferred.files), [*_deferred.then, *([then] if then else [])]
    finally:
        _deferred.files = _deferred.then = None

    def after() -> None:
        for t in thens:
            t()

    syncer: _Syncer | None = getattr(_deferred, "syncer", None)
    if syncer is not None and thens:
        syncer.submit(files, after)
        return
    for path in files:
        _fsync(path, written_here=True)
    after()


def _fsync(path: Path, written_here: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if written_here:
            return  # a piece the block wrote, then merged and removed
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Writes to a temporary file beside ``path`` and renames it into place on success, its
    content durable first (or, inside :func:`durable_together`, when the block ends)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    pending = _pending()
    try:
        # mkstemp creates the file 0600; a result gets the mode any other tool's would.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if pending is None:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if pending is not None:
        pending[path] = None


def sync_file(path: Path) -> None:
    """Makes what was written to ``path`` (also through a memory map) durable, like
    :func:`atomic_write` does for its files (inside :func:`durable_together`, when the block
    ends); the GIL is released while the disk catches up."""
    pending = _pending()
    if pending is not None:
        pending[path] = None
    else:
        _fsync(path)


def durable_rename(tmp: Path, path: Path) -> None:
    """Renames the written file ``tmp`` to ``path``, its content durable first (or, inside
    :func:`durable_together`, when the block ends)."""
    pending = _pending()
    if pending is None:
        _fsync(tmp)
    os.replace(tmp, path)
    if pending is not None:
        pending[path] = None


@contextmanager
def staged_write(target: Location) -> Iterator[IO[bytes]]:
    """Writes ``target`` whole or not at all, however long the writing takes: a local file
    through :func:`atomic_write`; on a remote file system, into a local temporary file that is
    then uploaded (an object appears only once its upload is complete)."""
    if target.is_local:
        with atomic_write(target.local()) as f:
            yield f
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix="mmdedup-upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        target.fs.makedirs(target.parent_path(), exist_ok=True)
        target.fs.put_file(tmp, target.path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def allocate(path: Path, size: int) -> None:
    """Reserves ``size`` bytes of disk for ``path`` (created or extended), so that writing into
    a memory map of it later cannot fail with a bus error on a full disk: a full disk shows here,
    as an ``OSError`` (ENOSPC) that names the path."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise OSError(e.errno, e.strerror, str(path)) from None
            # No fallocate on this file system: write the zeros.
            chunk = b"\0" * (1 << 20)
            done = os.fstat(fd).st_size
            os.lseek(fd, done, os.SEEK_SET)
            while done < size:
                done += os.write(fd, chunk[: min(len(chunk), size - done)])
    finally:
        os.close(fd)


def create_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> None:
    """Creates ``path``, a ``.npy`` file of zeros for workers to fill through memory maps, with
    its disk space reserved (see :func:`allocate`); atomic: it appears whole or not at all."""
    import numpy as np

    tmp = path.with_suffix(".tmp")
    np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape).flush()
    allocate(tmp, tmp.stat().st_size)
    os.replace(tmp, path)


class Location:
    """A local path or a file system URL, with the few operations mmdedup needs."""

    def __init__(self, where: str | os.PathLike[str]) -> None:
        text = os.fspath(where)
        self.fs: Any = None
        self.path: str
        if is_url(text):
            import fsspec

            self.fs, self.path = fsspec.core.url_to_fs(text)
            self.protocol = text.split("://", 1)[0]
        else:
            self.path = str(Path(text.removeprefix("file://")).resolve())
            self.protocol = ""

    @property
    def is_local(self) -> bool:
        return self.fs is None

    def local(self) -> Path:
        if self.fs is not None:
            raise ValueError(f"{self} is not a local path")
        return Path(self.path)

    def __str__(self) -> str:
        return f"{self.protocol}://{self.path}" if self.protocol else self.path

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, name: str) -> Location:
        return Location(f"{self}/{name}" if self.fs is not None else Path(self.path) / name)

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path)) if self.fs is not None else Path(self.path).exists()

    def size(self) -> int:
        return (
            int(self.fs.size(self.path)) if self.fs is not None else Path(self.path).stat().st_size
        )

    def read_bytes(self) -> bytes:
        if self.fs is not None:
            return bytes(self.fs.cat_file(self.path))
        return Path(self.path).read_bytes()

    def open_read(self) -> IO[bytes]:
        """The file opened for reading: a local file, or a file object of its file system that
        reads it a block at a time (seekable)."""
        if self.fs is None:
            return open(self.path, "rb")
        return self.fs.open(self.path, "rb")  # type: ignore[no-any-return]

    def arrow(self) -> tuple[str, pafs.FileSystem | None]:
        """``(path, filesystem)`` for PyArrow's readers."""
        if self.fs is None:
            return self.path, None
        return self.path, pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    @contextmanager
    def write(self) -> Iterator[IO[bytes]]:
        """Writes this file whole or not at all (see :func:`staged_write`): a writer that
        raises leaves no file, and no object cut short on object storage."""
        with staged_write(self) as f:
            yield f

    def files(self) -> list[Location]:
        """Every file under this directory, recursively."""
        if self.fs is None:
            return [Location(p) for p in Path(self.path).rglob("*") if p.is_file()]
        return [Location(f"{self.protocol}://{p}") for p in self.fs.find(self.path)]

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.path)) if self.fs is not None else Path(self.path).is_dir()

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.path)) if self.fs is not None else Path(self.path).is_file()

    def parent(self) -> Location:
        """The directory this file or directory is in."""
        if self.fs is None:
            return Location(Path(self.path).parent)
        return Location(f"{self.protocol}://{self.parent_path()}")

    def glob(self) -> list[Location]:
        """The files matching this location as a glob pattern."""
        if self.fs is None:
            import glob

            return [Location(p) for p in glob.glob(self.path, recursive=True)]
        return [Location(f"{self.protocol}://{p}") for p in self.fs.glob(self.path)]

    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def relative_to(self, root: str) -> str:
        return self.path[len(root) :].lstrip("/")

    def parent_path(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[0]
