"""Running the dedup stages as Ray tasks.

Every unit of a stage (a shard, a partition) becomes one task; the tasks read and write the
same work directory: on a file system all nodes see, or on object storage (an fsspec URL, see
:class:`mmdedup.runs.workdir.WorkDir`), where each worker process keeps a cache of its own. The
files and their contents are those of the local engine, so results are identical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import MmdedupError

__all__ = ["engine_map_units", "ray_map_units"]


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
