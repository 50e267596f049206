"""The one scaffold of every corpus run: a work directory of units that are written atomically
and marked done, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InputError
from ..io import (
    atomic_write,
)
from ..storage import Location


class WorkDir:
    """Files of one run, with atomic writes and completion markers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "done").mkdir(parents=True, exist_ok=True)

    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def done(self, unit: str) -> bool:
        return (self.root / "done" / unit).exists()

    def mark(self, unit: str) -> None:
        with atomic_write(self.root / "done" / unit) as f:
            f.write(b"")
        _crash_point(unit)

    def save(self, rel: str, arr: npt.NDArray[Any]) -> None:
        with atomic_write(self.path(rel)) as f:
            np.save(f, arr, allow_pickle=False)

    def load(self, rel: str, mmap: bool = False) -> npt.NDArray[Any]:
        arr: npt.NDArray[Any] = np.load(
            self.root / rel, mmap_mode="r" if mmap else None, allow_pickle=False
        )
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
            f.write(np.ascontiguousarray(arr, dtype=dtype).tobytes())
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


def map_local(
    name: str, fn: Callable[[int], None], count: int, done: Callable[[int], None] | None = None
) -> None:
    """The local engine: the units in order, in this process."""
    for u in range(count):
        fn(u)
        if done:
            done(1)


class Stages:
    """Runs a run's stages: each a number of units through the engine (``map_units``, local or
    Ray), with a progress bar ticked here as units finish (never shipped to a worker) and the
    seconds of each stage."""

    def __init__(
        self,
        progress: Callable[..., Any] | None = None,
        map_units: Callable[..., None] | None = None,
    ) -> None:
        self.progress = progress
        self.map_units = map_units or map_local
        self.seconds: dict[str, float] = {}

    def __call__(
        self,
        name: str,
        count: int,
        fn: Callable[[int], None],
        key: str | None = None,
        docs: Sequence[int] | None = None,
    ) -> None:
        """Runs ``fn(u)`` for ``u`` in ``range(count)``. With ``docs`` (the documents of each
        unit) the progress counts documents, not units: units finish in order on the local
        engine; under Ray they are counted as if they had."""
        t = time.perf_counter()
        tick = None
        if self.progress and docs is None:
            tick = self.progress(name, count)
        elif self.progress and docs is not None:
            tick = _by_documents(self.progress(name, sum(docs), unit="doc"), list(docs))
        self.map_units(name, fn, count, tick)
        key = key or name
        self.seconds[key] = round(self.seconds.get(key, 0.0) + time.perf_counter() - t, 3)


def _by_documents(tick: Callable[[int], Any], docs: list[int]) -> Callable[[int], None]:
    """A tick of ``n`` finished units that counts their documents."""
    done = 0

    def count(n: int = 1) -> None:
        nonlocal done
        tick(sum(docs[done : done + n]))
        done += n

    return count


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
    path = work.root / name
    if resume and path.exists():
        old = json.loads(path.read_text())
        if old.get("version") != new.get("version"):
            raise InputError(
                f"{work.root} was written by another mmdedup version (work directory format "
                f"{old.get('version')}, this version writes {new.get('version')}); drop --resume"
            )
        differ = describe(old) if describe else _differences(old, new, ignore)
        if differ:
            raise InputError(
                f"{work.root} belongs to a run with other inputs or parameters "
                f"({'; '.join(differ)}); drop --resume to start again"
            )
    with atomic_write(work.path(name)) as f:
        f.write(json.dumps(new, indent=1).encode())


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
