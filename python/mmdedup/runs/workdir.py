"""The one scaffold of every corpus run: a work directory of units that are written atomically
and marked done, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..io import (
    atomic_write,
)
from ..storage import Location, durable_together, is_url
from .dirs import (
    claim_remote_work_dir,
    claim_work_dir,
    finish_remote_work_dir,
    finish_work_dir,
)


class WorkDir:
    """Files of one run, with atomic writes and completion markers.

    A work directory is local (``root``), or an fsspec URL (``remote``: ``s3://bucket/run/``,
    ``gs://`` ...) that every node of a cluster reads and writes. A remote one keeps a local
    cache in ``root``, private to the process: a unit writes its files there, and
    :meth:`mark` uploads them (each object appears only once completely uploaded) before it
    uploads the unit's marker, so a unit is done only when its marker exists and its files are
    whole; a file is read (:meth:`local`) by downloading it into the cache, once per process.
    Files are written once (a unit that runs again writes the same bytes), so a cached copy is
    never stale. Pickled (to a Ray worker), a remote work directory opens a cache of the
    worker's own: no node needs another's disk. ``run`` names the run that owns the remote
    directory (new each time it is emptied, kept by ``--resume``): a cache belongs to one run.
    """

    def __init__(self, root: Path, remote: str | None = None, run: str = "") -> None:
        self.root = root
        self.remote = remote.rstrip("/") if remote else None
        self.run = run
        self._fs: Any = None
        self._written: set[str] = set()
        self._synced: dict[str, tuple[int, int]] = {}
        self._done: set[str] = set()
        # Objects found missing: a unit reads only what finished stages wrote, so an object
        # missing then stays missing (unless this process writes it).
        self._missing: set[str] = set()
        if self.remote is None:
            (root / "done").mkdir(parents=True, exist_ok=True)
        else:
            root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def attach(cls, remote: str, run: str) -> WorkDir:
        """This process's handle on run ``run`` of the remote work directory ``remote``, with a
        local cache of its own under the process's temporary directory (the cache of an earlier
        run there is removed)."""
        import shutil
        import tempfile

        remote = remote.rstrip("/")
        held = _ATTACHED.get(remote)
        if held is None or held.run != run:
            if held is not None:
                shutil.rmtree(held.root, ignore_errors=True)
            _remove_dead_caches()
            root = Path(tempfile.mkdtemp(prefix=f"{_CACHE}{_host()}-{os.getpid()}-"))
            _ATTACHED[remote] = cls(root, remote, run)
        return _ATTACHED[remote]

    def detach(self) -> None:
        """Removes this process's cache of a remote work directory."""
        import shutil

        if self.remote is not None and _ATTACHED.get(self.remote) is self:
            del _ATTACHED[self.remote]
            shutil.rmtree(self.root, ignore_errors=True)

    def __reduce__(self) -> Any:
        if self.remote is not None:
            # A module-level function: pickled by reference (a classmethod would be by value).
            return (attach_remote, (self.remote, self.run))
        return (WorkDir, (self.root,))

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.remote)
        return self._fs

    def _url(self, rel: str) -> str:
        return f"{self.remote}/{rel}"

    def path(self, rel: str) -> Path:
        """The local path to write ``rel`` to (published by the next :meth:`mark`)."""
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if self.remote is not None:
            self._written.add(rel)
            self._missing.discard(rel)
        return p

    def local(self, rel: str) -> Path:
        """The local path to read ``rel`` from: for a remote work directory, downloaded into
        the cache first (a missing object gives a path that does not exist)."""
        p = self.root / rel
        if self.remote is None or p.exists() or rel in self._missing:
            return p
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.download")
        try:
            self.fs.get_file(self._url(rel), str(tmp))
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            self._missing.add(rel)
            return p
        os.replace(tmp, p)
        st = p.stat()
        self._synced[rel] = (st.st_size, st.st_mtime_ns)
        return p

    def list(self, rel: str, suffix: str = "") -> list[str]:
        """The names of the files directly in directory ``rel`` that end with ``suffix``,
        sorted."""
        if self.remote is None:
            d = self.root / rel
            names = [p.name for p in d.iterdir() if p.is_file()] if d.is_dir() else []
        else:
            try:
                entries = self.fs.ls(self._url(rel), detail=True, refresh=True)
            except FileNotFoundError:
                entries = []
            names = [e["name"].rsplit("/", 1)[-1] for e in entries if e["type"] == "file"]
        return sorted(n for n in names if n.endswith(suffix) and not n.startswith("."))

    def publish(self) -> None:
        """Uploads every file written (:meth:`path`) since the last publication and changed
        since it was last uploaded or downloaded; nothing for a local work directory."""
        if self.remote is None:
            return
        for rel in sorted(self._written):
            p = self.root / rel
            if not p.exists():
                continue  # a piece the unit merged and removed
            st = p.stat()
            if self._synced.get(rel) != (st.st_size, st.st_mtime_ns):
                self.fs.put_file(str(p), self._url(rel))
                self._synced[rel] = (st.st_size, st.st_mtime_ns)
        self._written.clear()

    def remove(self, rel: str) -> None:
        """Deletes the file or directory ``rel`` (the files of a stage that starts again; a
        marker ``done/<unit>``): for a remote work directory its objects too, and this
        process's record of them."""
        import contextlib
        import shutil

        p = self.root / rel
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        if self.remote is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._url(rel), recursive=True)
        self.fs.invalidate_cache(self._url(rel))

        def under(name: str) -> bool:
            return name == rel or name.startswith(rel + "/")

        self._written = {n for n in self._written if not under(n)}
        self._synced = {n: s for n, s in self._synced.items() if not under(n)}
        self._missing = {n for n in self._missing if not under(n)}
        self._done = {u for u in self._done if not under(f"done/{u}")}

    def done(self, unit: str) -> bool:
        if self.remote is None:
            return (self.root / "done" / unit).exists()
        url = self._url(f"done/{unit}")
        if unit not in self._done:
            self.fs.invalidate_cache(url)  # a listing cached earlier may predate the marker
        if unit not in self._done and self.fs.exists(url):
            self._done.add(unit)
        return unit in self._done

    @contextmanager
    def unit(self, name: str) -> Iterator[None]:
        """The writing of unit ``name``, marked done when the block ends without error: its
        files made durable first, all together (:func:`mmdedup.storage.durable_together`; in
        a unit the local engine runs through :func:`mmdedup.storage.background_syncs`, on one
        more thread while this one goes on). On a remote work directory the files are uploaded
        and the marker written here."""
        if self.remote is not None:
            yield
            self.mark(name)
            return
        with durable_together(then=lambda: self.mark(name)):
            yield

    def mark(self, unit: str) -> None:
        if self.remote is None:
            with atomic_write(self.root / "done" / unit) as f:
                f.write(b"")
        else:
            self.publish()
            self.fs.pipe_file(self._url(f"done/{unit}"), b"")
            self._done.add(unit)
        _crash_point(unit)

    def save(self, rel: str, arr: npt.NDArray[Any]) -> None:
        with atomic_write(self.path(rel)) as f:
            np.save(f, arr, allow_pickle=False)

    def load(self, rel: str, mmap: bool = False) -> npt.NDArray[Any]:
        arr: npt.NDArray[Any] = np.load(
            self.local(rel), mmap_mode="r" if mmap else None, allow_pickle=False
        )
        return arr


# Remote work directories this process has opened (see WorkDir.attach).
_ATTACHED: dict[str, WorkDir] = {}


_CACHE = "mmdedup-cache-"


def _host() -> str:
    import socket

    return socket.gethostname().replace("/", "_") or "host"


def _remove_dead_caches() -> None:
    """Removes the caches that processes of this host left behind when they were killed
    (``mmdedup-cache-<host>-<pid>-*`` whose process is gone): a process removes its own cache
    when its run ends, but a killed one cannot."""
    import shutil
    import tempfile

    host = _host()
    for d in Path(tempfile.gettempdir()).glob(f"{_CACHE}{host}-*-*"):
        held, _, pid = d.name[len(_CACHE) :].rpartition("-")[0].rpartition("-")
        if held != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass  # alive, under another user


def attach_remote(remote: str, run: str) -> WorkDir:
    """:meth:`WorkDir.attach`, what a pickled remote work directory becomes in a worker."""
    return WorkDir.attach(remote, run)


def write_signature_parts(
    work: WorkDir, dtype: np.dtype[Any], shape: tuple[int, ...], parts: list[tuple[int, str, int]]
) -> None:
    """For a remote work directory, whose units cannot share one mapped file: the layout of the
    per-part signature files ``signatures/<tag>.npy`` (first row, tag, rows) that
    :func:`load_signatures` puts together."""
    spec = {"dtype": dtype.str, "shape": list(shape), "parts": [list(p) for p in parts]}
    with atomic_write(work.path("signatures.json")) as f:
        f.write(json.dumps(spec).encode())


def load_signatures(work: WorkDir) -> npt.NDArray[Any]:
    """The signatures of every document, memory-mapped: the one file of a local work directory,
    or for a remote one the parts put together into the local cache (once per process)."""
    if work.remote is None:
        return work.load("signatures.npy", mmap=True)
    path = work.root / "signatures.npy"
    if not path.exists():
        spec = json.loads(work.local("signatures.json").read_text())
        tmp = path.with_name(f".signatures.{os.getpid()}.tmp")
        mm = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.dtype(spec["dtype"]), shape=tuple(spec["shape"])
        )
        for off, tag, rows in spec["parts"]:
            part = work.local(f"signatures/{tag}.npy")
            mm[off : off + rows] = np.load(part, mmap_mode="r", allow_pickle=False)
            part.unlink()
        mm.flush()
        del mm
        os.replace(tmp, path)
    arr: npt.NDArray[Any] = np.load(path, mmap_mode="r", allow_pickle=False)
    return arr


def _crash_point(unit: str) -> None:
    """Test hooks: ``MMDEDUP_CRASH_AFTER=<unit>`` kills the process (SIGKILL) right after that
    unit is marked done, to prove that ``--resume`` recovers from any point;
    ``MMDEDUP_INTERRUPT_AFTER=<unit>`` sends it SIGINT there, as Ctrl-C would."""
    if os.environ.get("MMDEDUP_CRASH_AFTER") == unit:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("MMDEDUP_INTERRUPT_AFTER") == unit:
        os.kill(os.getpid(), signal.SIGINT)


@contextmanager
def npy_out(path: Path, dtype: np.dtype[Any], length: int) -> Iterator[Callable[[Any], None]]:
    """Writes a 1-D ``.npy`` of known length in pieces, atomically: yields ``write(piece)``."""
    written = 0
    with atomic_write(path) as f:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (length,)})

        def write(arr: npt.NDArray[Any]) -> None:
            nonlocal written
            f.write(np.ascontiguousarray(arr, dtype=dtype).data)  # no copy
            written += len(arr)

        yield write
        if written != length:
            raise AssertionError(f"{path}: wrote {written} of {length} rows")


def default_work_dir(out: Location) -> Path:
    """Beside the results for a local OUTDIR; for a remote one, a local directory named after it
    (so ``--resume`` finds it again)."""
    if out.is_local:
        return out.local() / ".mmdedup-work"
    import hashlib
    import tempfile

    digest = hashlib.sha1(str(out).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mmdedup-work-{digest}"


def remote_url(work_dir: str | os.PathLike[str] | None) -> str | None:
    """``work_dir`` when it is an fsspec URL (a work directory on object storage)."""
    return os.fspath(work_dir) if work_dir is not None and is_url(os.fspath(work_dir)) else None


@contextmanager
def open_work_dir(
    work_dir: str | os.PathLike[str] | None, out: Location, *, resume: bool, manifest: str
) -> Iterator[WorkDir]:
    """A run's work directory, claimed for the run (see :func:`~mmdedup.runs.dirs.claim_work_dir`
    and :func:`~mmdedup.runs.dirs.claim_remote_work_dir`): ``work_dir`` as given, an fsspec URL
    (with this process's cache, removed when the run ends), or the default beside OUTDIR."""
    remote = remote_url(work_dir)
    if remote is not None:
        with claim_remote_work_dir(remote, resume=resume, manifest=manifest) as name:
            work = WorkDir.attach(remote, name)
            try:
                yield work
            finally:
                work.detach()
        return
    root = Path(work_dir) if work_dir is not None else default_work_dir(out)
    with claim_work_dir(root, resume=resume, manifest=manifest, default=work_dir is None):
        yield WorkDir(root)


def finish_run_work_dir(
    work_dir: str | os.PathLike[str] | None, out: Location, *, keep: bool
) -> dict[str, Any]:
    """After a successful run: its work directory's account, removed unless ``keep`` (see
    :func:`~mmdedup.runs.dirs.finish_work_dir`)."""
    remote = remote_url(work_dir)
    if remote is not None:
        return finish_remote_work_dir(remote, keep=keep, out=out)
    root = Path(work_dir) if work_dir is not None else default_work_dir(out)
    return finish_work_dir(root, keep=keep, default=work_dir is None, out=out)


def check_manifest(
    work: WorkDir,
    name: str,
    new: dict[str, Any],
    resume: bool,
    ignore: tuple[str, ...] = (),
    describe: Callable[[dict[str, Any]], list[str]] | None = None,
) -> None:
    """Writes the run's manifest ``name``; with ``resume``, first refuses a work directory whose
    manifest differs (another format version, other inputs or parameters; keys in ``ignore``
    aside). ``describe(old)`` says what differs in words (default: the differing keys, and
    for a dictionary of parameters, each parameter that changed)."""
    path = work.local(name)
    if resume and path.exists():
        old = json.loads(path.read_text())
        if old.get("version") != new.get("version"):
            raise InputError(
                f"{work.remote or work.root} was written by another mmdedup version (work directory format "
                f"{old.get('version')}, this version writes {new.get('version')}); drop --resume"
            )
        differ = describe(old) if describe else _differences(old, new, ignore)
        if differ:
            raise InputError(
                f"{work.remote or work.root} belongs to a run with other inputs or parameters "
                f"({'; '.join(differ)}); drop --resume to start again"
            )
    with atomic_write(work.path(name)) as f:
        f.write(json.dumps(new, indent=1).encode())
    work.publish()


def _differences(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...]) -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if k in ignore or a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [
                f"{k}.{p} was {a.get(p)!r}, now {b.get(p)!r}"
                for p in sorted(set(a) | set(b))
                if a.get(p) != b.get(p)
            ]
        else:
            out.append(f"{k} differs")
    return out
