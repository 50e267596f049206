"""The engines that run a run's stages: the local one (units in order, or two at once in
threads) and Ray.

Under Ray every unit of a stage (a shard, a partition) becomes one task; the tasks read and write the
same work directory: on a file system all nodes see, or on object storage (an fsspec URL, see
:class:`mmdedup.runs.workdir.WorkDir`), where each worker process keeps a cache of its own. The
files and their contents are those of the local engine, so results are identical.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import _core
from ..errors import MmdedupError
from ..storage import background_syncs

__all__ = [
    "Stages",
    "engine_map_units",
    "map_local",
    "map_threads",
    "ray_map_units",
]


def ray_map_units(address: str | None, threads: int | None) -> Callable[..., None]:
    """A ``map_units`` for :func:`mmdedup.runs.text.run` that runs each unit as a Ray task."""
    try:
        import ray
    except ImportError as e:
        raise MmdedupError("--engine ray needs Ray: pip install 'mmdedup[ray]'") from e
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": threads}
        try:
            ray.init(**kwargs, log_to_driver=False, include_dashboard=False)
        except (ValueError, ConnectionError, RuntimeError) as e:
            raise MmdedupError(
                f"cannot start or reach Ray at {address or 'this machine'}: {e}"
            ) from e

    @ray.remote
    def _unit(fn: Callable[[int], None], u: int) -> None:
        fn(u)

    def map_units(
        name: str,
        fn: Callable[[int], None],
        count: int,
        tick: Callable[[int], None] | None = None,
    ) -> None:
        del name
        ref = ray.put(fn)
        pending = [_unit.remote(ref, u) for u in range(count)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            ray.get(done)  # re-raises a task's error here, with its message
            if tick:
                tick(len(done))

    return map_units


def engine_map_units(
    engine: str, address: str | None, threads: int | None
) -> Callable[..., None] | None:
    """The ``map_units`` of ``engine``: None (the local engine: each run's own) or Ray tasks."""
    return ray_map_units(address, threads) if engine == "ray" else None


def map_local(
    name: str, fn: Callable[[int], None], count: int, done: Callable[[int], None] | None = None
) -> None:
    """The local engine: the units in order, in this process (each unit's files made durable,
    and the unit marked, on another thread while the next one runs: see
    :func:`mmdedup.storage.background_syncs`)."""
    with background_syncs() as within:
        for u in range(count):
            within(functools.partial(fn, u))
            if done:
                done(1)


def map_threads(threads: int, stages: frozenset[str]) -> Callable[..., None]:
    """The local engine, running two units of the shard stages ``stages`` at once in threads
    when it has ``threads`` ≥ 2 (the kernels release the GIL: one unit's reading, sorting and
    writing overlap the other's hashing), and every other stage's units in order. Each unit
    reads its shard a piece at a time, a piece sized to a quarter of the budget, so two at once
    stay within it; what each unit writes does not depend on which runs beside it.

    With two threads, each unit thread runs its units' kernels itself
    (:func:`mmdedup._core.kernels_on_this_thread`): handing a kernel to the pool and waiting
    for it would move the work to another core (one the scheduler may not have freed yet) while
    this one idles. Once fewer units are left than threads, kernels go to the pool again
    (:func:`mmdedup._core.share_kernels`), so that the last unit has every core. With more
    threads, the two units' kernels share the pool."""
    most = min(threads, 2)

    def each(
        name: str, fn: Callable[[int], None], count: int, done: Callable[[int], None] | None = None
    ) -> None:
        if most < 2 or count < 2 or name not in stages:
            map_local(name, fn, count, done)
            return
        from concurrent.futures import FIRST_COMPLETED, wait

        running: dict[int, int] = {}  # unit -> the thread running it

        # Units' files made durable, and units marked, on one more thread (see map_local).
        with background_syncs() as within:

            def unit(u: int) -> None:
                running[u] = threading.get_ident()
                try:
                    within(functools.partial(fn, u))
                finally:
                    del running[u]

            alone = most >= threads
            pool = _unit_threads(most, alone)
            pending: set[Any] = set()
            try:
                pending = {pool.submit(unit, u) for u in range(count)}
                while pending:
                    # With a timeout, so that a signal is seen even if another thread took it.
                    finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                    for f in finished:
                        f.result()  # the unit's error, if any, stops the stage
                        if done:
                            done(1)
                    if alone and len(pending) < most:
                        _core.share_kernels(True)  # a unit thread has nothing left to run
            except KeyboardInterrupt:
                # Ctrl-C: the units in flight stop at their next Python step (after the kernel
                # call they are in) rather than run to their end; unmarked, they run again on
                # --resume.
                for ident in list(running.values()):
                    _interrupt(ident)
                # A unit that ended meanwhile gets the interrupt in its thread's loop instead:
                # these threads are not used again.
                _drop_unit_threads(most, alone)
                raise
            finally:
                # Units not started are dropped; one running beside a failed one finishes (a
                # unit is atomic: it is marked done, or it runs again on --resume).
                wait([f for f in pending if not f.cancel()])  # those running
                if alone:
                    _core.share_kernels(False)

    return each


# The threads that run units two at once, kept for the life of the process (see map_threads).
_UNIT_THREADS: dict[tuple[int, bool], Any] = {}
_UNIT_LOCK = threading.Lock()


def _unit_threads(width: int, alone: bool) -> Any:
    """``width`` threads that run units; with ``alone``, each runs its units' kernels itself
    (:func:`mmdedup._core.kernels_on_this_thread`). Kept for the life of the process: a thread
    that runs its kernels alone holds a kernel pool of its own until the process ends."""
    from concurrent.futures import ThreadPoolExecutor

    with _UNIT_LOCK:
        pool = _UNIT_THREADS.get((width, alone))
        if pool is None:
            pool = ThreadPoolExecutor(
                width,
                thread_name_prefix="mmdedup-unit",
                initializer=_core.kernels_on_this_thread if alone else None,
            )
            _UNIT_THREADS[(width, alone)] = pool
        return pool


def _drop_unit_threads(width: int, alone: bool) -> None:
    with _UNIT_LOCK:
        pool = _UNIT_THREADS.pop((width, alone), None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _after_fork() -> None:
    """In a forked child, which has none of its parent's threads (nor a lock one of them held)."""
    global _UNIT_LOCK
    _UNIT_LOCK = threading.Lock()
    _UNIT_THREADS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _interrupt(ident: int) -> None:
    """Raises KeyboardInterrupt in the thread ``ident`` at its next bytecode."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
    )


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
