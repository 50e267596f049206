"""The directories of a run, and the promises mmdedup keeps about them.

- **The work directory is mmdedup's own.** A run empties its work directory only when mmdedup
  created it: it then holds the marker ``.mmdedup-workdir``. A directory that exists, is not
  empty and has no marker is refused, so ``--work-dir`` pointed at the photos, the current
  directory or a shared scratch folder deletes nothing.
- **One run at a time.** A run holds an exclusive lock (``flock``) on its output directory and
  on its work directory for as long as it runs; a second run is refused with the holder's pid.
- **Outputs never land on inputs.** OUTDIR and the work directory may not be an input
  directory, lie inside one, or hold an input file.
- **Only its own files are replaced.** Before writing a file into OUTDIR, a run lists it in
  ``OUTDIR/.mmdedup-outputs.json``. A later run refuses an OUTDIR holding such files unless
  given ``--overwrite`` (which deletes exactly the listed files, so no stale shard of the earlier
  run is left behind) or ``--resume``; it refuses an OUTDIR holding any file it did not list.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "a.jsonl").write_text("{}\\n")
>>> with open_run(d / "out", inputs=[str(d / "a.jsonl")], shards=[d / "a.jsonl"]) as run:
...     run.declare(["a.jsonl"])
...     _ = (d / "out" / "a.jsonl").write_text("{}\\n")
>>> sorted(p.name for p in (d / "out").iterdir())
['.mmdedup-outputs.json', 'a.jsonl']
>>> with open_run(d / "out", inputs=[str(d / "a.jsonl")], shards=[]) as run:
...     pass
Traceback (most recent call last):
...
mmdedup.errors.InputError: ...out holds the results of an earlier run (a.jsonl); pass --overwrite to replace them, or --resume to finish an interrupted run
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import _core
from ..errors import InputError, ParameterError
from ..storage import Location, is_url
from .overlap import check_no_overlap

__all__ = [
    "LOCK",
    "MARKER",
    "OUTPUTS",
    "Run",
    "check_writable",
    "claim_remote_work_dir",
    "claim_work_dir",
    "finish_remote_work_dir",
    "finish_work_dir",
    "local_work_dir",
    "lock",
    "open_run",
]

MARKER = ".mmdedup-workdir"
LOCK = ".mmdedup.lock"
# In a work directory: the bytes of the files a run removed before it ended, counted in its
# size (``{"bytes": n}``).
EARLY = "removed-early.json"
OUTPUTS = ".mmdedup-outputs.json"
# The work directory's name inside OUTDIR when none is given. Work directories of versions before
# the marker are recognised only there, by their manifest.
DEFAULT_WORK_NAME = ".mmdedup-work"
_LEGACY_MANIFESTS = ("manifest.json", "manifest-interleaved.json")


def _os_message(e: OSError) -> str:
    return e.strerror or str(e)


@contextmanager
def lock(directory: Path, what: str) -> Iterator[None]:
    """Holds an exclusive lock on ``directory`` until the block ends, through the file
    ``directory/.mmdedup.lock`` that records the holder's pid and is removed when the block ends;
    refuses when another process holds it."""
    path = directory / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise InputError(f"cannot write to {what} {directory}: {_os_message(e)}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise InputError(
                f"{what} {directory} is in use by another mmdedup run (pid {holder}); wait for "
                "it to end, or choose another directory"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)  # releases the lock


def check_writable(directory: Path, what: str) -> None:
    """Creates ``directory`` (and its parents) or says in one line why it cannot."""
    if directory.exists() and not directory.is_dir():
        raise ParameterError(f"{what} {directory} is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {what} {directory}: {_os_message(e)}") from e
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"cannot write to {what} {directory}: permission denied")


def _is_owned(root: Path, default: bool) -> bool:
    if (root / MARKER).exists():
        return True
    return default and any((root / m).exists() for m in _LEGACY_MANIFESTS)


@contextmanager
def claim_work_dir(
    root: Path, *, resume: bool, manifest: str, default: bool = False
) -> Iterator[Path]:
    """Makes ``root`` this run's work directory: created and marked if new, refused if it holds
    anything that mmdedup did not create, locked, and emptied unless resuming a run whose
    ``manifest`` is there. ``default``: the directory is the one mmdedup chose (inside OUTDIR).
    """
    what = "the work directory" if default else "--work-dir"
    if root.exists() and not root.is_dir():
        raise ParameterError(f"{what} {root} is a file, not a directory")
    if root.exists() and any(root.iterdir()) and not _is_owned(root, default):
        raise InputError(
            f"{what} {root} is not empty and was not created by mmdedup; mmdedup empties its "
            "work directory, so it only uses a new or empty one, or one it made (marked by "
            f"{MARKER}). Choose another --work-dir"
        )
    check_writable(root, what)
    marker = root / MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"created_by": "mmdedup"}) + "\n")
    with lock(root, what):
        if not (resume and (root / manifest).exists()):
            _empty(root)
        yield root


def finish_work_dir(
    root: Path, *, keep: bool, default: bool, out: Location | None = None
) -> dict[str, Any]:
    """After a successful run: the work directory's size, and unless ``keep`` its removal (all
    of it when mmdedup chose it inside OUTDIR; a ``--work-dir`` is emptied and stays marked, to
    be used again). A directory that mmdedup does not own is left alone. OUTDIR (``out``) is
    then marked finished, so that a ``--resume`` of it is refused instead of starting over."""
    files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    size = sum(p.stat().st_size for p in files if p.name not in (MARKER, LOCK, EARLY))
    size += _early_bytes(root)
    removed = not keep and root.is_dir() and (root / MARKER).exists()
    if removed:
        with lock(root, "the work directory"):
            _empty(root)
        if default:
            shutil.rmtree(root)
        if out is not None:
            _mark_finished(out)
    return {"path": str(root), "bytes": size, "kept": not removed}


def _early_bytes(root: Path) -> int:
    """Bytes of the files a run removed before it ended (see :data:`EARLY`)."""
    try:
        return int(json.loads((root / EARLY).read_text())["bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _mark_finished(out: Location) -> None:
    """Marks OUTDIR's run finished, its work directory removed: a ``--resume`` of it is refused
    instead of starting over."""
    if (out / OUTPUTS).exists():
        data = json.loads((out / OUTPUTS).read_bytes())
        with (out / OUTPUTS).write() as f:
            f.write(json.dumps({**data, "finished": True}, indent=1).encode() + b"\n")


def local_work_dir(work_dir: str | os.PathLike[str] | None, what: str) -> Path | None:
    """``work_dir`` as a local path; a URL is refused for runs (``what``) that keep their work
    directory on a local file system."""
    if work_dir is None:
        return None
    text = os.fspath(work_dir)
    if is_url(text):
        raise ParameterError(
            f"--work-dir {text}: {what} keeps its work directory on a local file system; a work "
            "directory on object storage (an fsspec URL) is for every corpus command of mmdedup"
        )
    return Path(text)


@contextmanager
def claim_remote_work_dir(url: str, *, resume: bool, manifest: str) -> Iterator[str]:
    """:func:`claim_work_dir` for a work directory on an object store (an fsspec URL): created
    and marked if new, refused if it holds objects that mmdedup did not write, emptied unless
    resuming a run whose ``manifest`` is there. Yields the run's name (kept in the marker, new
    each time the directory is emptied), which keys the local caches of every process (see
    :class:`mmdedup.runs.workdir.WorkDir`). Object stores have no locks: one run at a time per
    remote work directory is the caller's to ensure."""
    import uuid

    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    path = path.rstrip("/")
    try:
        entries = fs.ls(path, detail=False, refresh=True)
    except FileNotFoundError:
        entries = []
    except OSError as e:
        raise InputError(f"cannot list --work-dir {url}: {_os_message(e)}") from e
    marker = f"{path}/{MARKER}"
    owned = fs.exists(marker)
    if entries and not owned:
        raise InputError(
            f"--work-dir {url} is not empty and was not created by mmdedup; mmdedup empties its "
            f"work directory, so it only uses a new or empty one, or one it made (marked by "
            f"{MARKER}). Choose another --work-dir"
        )
    run = ""
    if owned:
        run = str(json.loads(fs.cat_file(marker)).get("run", ""))
    if not (resume and run and fs.exists(f"{path}/{manifest}")):
        _empty_remote(fs, path, entries)
        run = uuid.uuid4().hex
        try:
            fs.pipe_file(
                marker, (json.dumps({"created_by": "mmdedup", "run": run}) + "\n").encode()
            )
        except OSError as e:
            raise InputError(f"cannot write to --work-dir {url}: {_os_message(e)}") from e
    yield run


def finish_remote_work_dir(url: str, *, keep: bool, out: Location | None = None) -> dict[str, Any]:
    """:func:`finish_work_dir` for a remote work directory: its size, and unless ``keep`` its
    objects removed (the marker stays, so the directory can be used again)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    path = path.rstrip("/")
    try:
        entries = fs.ls(path, detail=False, refresh=True)
        size = int(fs.du(path))
    except FileNotFoundError:
        entries, size = [], 0
    owned = fs.exists(f"{path}/{MARKER}")
    removed = not keep and owned
    if removed:
        _empty_remote(fs, path, entries)
        if out is not None:
            _mark_finished(out)
    return {"path": url, "bytes": size, "kept": not removed}


def _empty_remote(fs: Any, path: str, entries: list[str]) -> None:
    for entry in entries:
        if entry.rstrip("/").rsplit("/", 1)[-1] != MARKER:
            fs.rm(entry, recursive=True)
    fs.invalidate_cache(path)


def _empty(root: Path) -> None:
    """Removes everything in an owned work directory but its marker and lock: its entries side
    by side on the pool's threads (freeing a large file's pages is the kernel's work, done
    without the GIL)."""

    def remove(child: Path) -> None:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()

    children = [c for c in root.iterdir() if c.name not in (MARKER, LOCK)]
    with ThreadPoolExecutor(max(1, min(_core.get_num_threads(), len(children)))) as pool:
        list(pool.map(remove, children))  # re-raises the first error


class Run:
    """An open output directory: :meth:`declare` lists each file before it is written."""

    def __init__(self, out: Location, listed: list[str]) -> None:
        self.out = out
        self._listed = listed
        self._known = set(listed)

    @property
    def outputs(self) -> list[str]:
        """Every file this run (and the run it resumes) wrote or will write, relative names."""
        return list(self._listed)

    def declare(self, names: Iterable[str]) -> None:
        """Records that this run writes ``names`` (relative to OUTDIR); call before writing.

        Raises:
            ParameterError: Two inputs would be written under one output name.
        """
        new: list[str] = []
        for n in names:
            if n in self._known:
                continue
            if n in new:
                raise ParameterError(
                    f"two inputs would be written to {self.out / n}; give inputs whose names differ"
                )
            new.append(n)
        if not new:
            return
        self._listed += new
        self._known.update(new)
        with (self.out / OUTPUTS).write() as f:
            f.write(json.dumps({"outputs": self._listed}, indent=1).encode() + b"\n")


def _files(out: Location, skip: set[str]) -> list[str]:
    """Relative names of the files under OUTDIR, skipping mmdedup's own bookkeeping and work
    directories (those marked, or the legacy default)."""
    if not out.is_local:
        if not out.exists():
            return []
        return sorted(
            rel
            for f in out.files()
            if (rel := f.relative_to(out.path)) not in skip
            and rel.split("/", 1)[0] != DEFAULT_WORK_NAME
        )
    root = out.local()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not _is_owned(here / d, default=(here == root and d == DEFAULT_WORK_NAME))
        )
        for name in sorted(filenames):
            rel = (here / name).relative_to(root).as_posix()
            if rel not in skip:
                found.append(rel)
    return found


def _listed_outputs(out: Location) -> list[str]:
    f = out / OUTPUTS
    if not f.exists():
        return []
    try:
        data = json.loads(f.read_bytes())
        names = data["outputs"]
        if not all(isinstance(n, str) for n in names):
            raise TypeError
        return list(names)
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{f} is damaged; remove it and the files it listed") from e


def _finished(out: Location) -> bool:
    """Whether OUTDIR's listing says its run finished and removed its work directory."""
    f = out / OUTPUTS
    return f.exists() and json.loads(f.read_bytes()).get("finished") is True


def _remove(out: Location, names: Iterable[str]) -> None:
    for name in names:
        target = out / name
        if out.is_local:
            p = target.local()
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
            parent = p.parent
            while parent != out.local() and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        elif target.exists():
            out.fs.rm(target.path)


@contextmanager
def open_run(
    outdir: str | os.PathLike[str],
    *,
    inputs: Sequence[str],
    shards: Iterable[str | os.PathLike[str]],
    resume: bool = False,
    overwrite: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Run]:
    """Opens OUTDIR for a run: refuses inputs, foreign files and earlier results (without
    ``overwrite`` or ``resume``), locks it, and removes the earlier run's files on ``overwrite``.

    Args:
        inputs: What the user named (files, directories, globs).
        shards: The input files found there.
        work_dir: The run's work directory, if it keeps one (checked against the inputs too).
    """
    shards = [os.fspath(s) for s in shards]
    target = os.fspath(outdir)
    out = Location(target)
    check_no_overlap(target, "-o", inputs, shards)
    if work_dir is not None:
        check_no_overlap(os.fspath(work_dir), "--work-dir", inputs, shards)
    if out.is_local:
        check_writable(out.local(), "-o")
        holder: contextlib.AbstractContextManager[None] = lock(out.local(), "-o")
    else:
        holder = contextlib.nullcontext()
    with holder:
        listed = _listed_outputs(out)
        present = _files(out, {LOCK, OUTPUTS})
        # A write cut short by a kill leaves its temporary file beside the output it was for.
        temps = [f for f in present if _temporary_of(f, set(listed))]
        foreign = [f for f in present if f not in listed and f not in temps]
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise InputError(
                f"{target} holds files that mmdedup did not write ({shown}); mmdedup only "
                "writes into a new or empty directory, or over its own earlier results. Choose "
                "another -o"
            )
        if present and not (overwrite or resume):
            shown = ", ".join(present[:3]) + (" ..." if len(present) > 3 else "")
            raise InputError(
                f"{target} holds the results of an earlier run ({shown}); pass --overwrite to "
                "replace them, or --resume to finish an interrupted run"
            )
        if resume and not overwrite and present and _finished(out):
            raise InputError(
                f"{target} holds a finished run whose work directory was removed when it "
                "succeeded: there is nothing to resume. Pass --overwrite to run again (or "
                "--keep-work-dir, next time, to keep what --resume and --index read)"
            )
        if overwrite or resume:
            _remove(out, temps)
        if overwrite and not resume:
            _remove(out, listed)
            _remove(out, [OUTPUTS])
            listed = []
        yield Run(out, listed)


def _temporary_of(name: str, listed: set[str]) -> bool:
    """Whether ``name`` is the temporary file of an atomic write of a listed output
    (``dir/.part.parquet.<random>.tmp`` for ``dir/part.parquet``), left by a killed run."""
    folder, _, base = name.rpartition("/")
    if not (base.startswith(".") and base.endswith(".tmp")):
        return False
    target = base[1:-4].rpartition(".")[0]
    return (f"{folder}/{target}" if folder else target) in listed
