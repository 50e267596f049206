"""Stage 1 of an images run: the hashes of every image, a batch of images per unit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import InputError
from ...image import image_hashes
from ...image_columns import check_image_type, resolve_images
from ...io import atomic_write, write_table
from ..workdir import WorkDir
from .crops import region_options
from .plan import Plan
from .sources import (
    IMAGE_SUFFIXES,
    check_tar_end,
    image_column,
    member_bytes,
    open_tar,
    tar_step,
)


class Hasher:
    """Hashes every unit of a plan that is not done yet into ``hashes/<unit>.parquet``, and
    lists all units in input order."""

    def __init__(
        self,
        work: WorkDir,
        plan: Plan,
        column: str | None,
        tick: Callable[[int], None],
        memory: int | None = None,
    ) -> None:
        self.work, self.plan, self.column, self.tick = work, plan, column, tick
        p = plan.parameters
        self.hash_kw = {
            "methods": [p["method"]],
            "hash_size": p["hash_size"],
            "mode": p["mode"],
            "pixel_limit": p["pixel_limit"],
            "frames": p.get("frames", "first"),
            "max_frames": p.get("max_frames", 1000),
            "memory": memory,
            **region_options(p),
        }
        self.units: list[str] = []

    def run(self) -> list[str]:
        self.files()
        for f, (path, _) in enumerate(self.plan.parquets):
            self.parquet(f, Path(path))
        for f, (path, _) in enumerate(self.plan.tars):
            self.tar(f, Path(path))
        return self.units

    def _unit(
        self,
        unit: str,
        source: str,
        rows: list[int | None],
        keys: list[str],
        images: Any,
    ) -> None:
        self.units.append(unit)
        if self.work.done(unit):
            self.tick(len(keys))
            return
        missing: dict[int, str] = {}
        if callable(images):  # read only for a unit not yet done
            images = images(missing)
        t = image_hashes(images, **self.hash_kw)
        if missing:  # files named by an image column that could not be read
            messages = t["error"].to_pylist()
            for i, message in missing.items():
                messages[i] = message
            t = t.set_column(
                t.column_names.index("error"), "error", pa.array(messages, pa.string())
            )
        cols: dict[str, Any] = {
            "shard": pa.array([source or k for k in keys], pa.string()),
            "row": pa.array(rows, pa.int64()),
            "key": pa.array(keys, pa.string()),
        }
        if "item" in t.column_names:  # --frames all: a row per frame, the image's first
            cols = {name: col.take(t["item"]) for name, col in cols.items()}
            t = t.drop_columns(["item"])
        cols.update({name: t[name] for name in t.column_names})
        write_table(pa.table(cols), self.work.path(f"hashes/{unit}.parquet"))
        self.tick(len(keys))
        self.work.mark(unit)

    def files(self) -> None:
        paths = [str(p) for p, _ in self.plan.files]
        size = self.plan.batch
        for b, i in enumerate(range(0, len(paths), size)):
            chunk = paths[i : i + size]
            self._unit(f"hash-files-{b:06d}", "", [None] * len(chunk), chunk, chunk)

    def parquet(self, f: int, path: Path) -> None:
        """Record batches of ``batch`` rows; only the image and key columns are read."""
        name = f"parquet-{f:06d}"
        if self.work.done(name):
            self.units.extend(self._listed(name))
            return
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from e
        col = image_column(pf, self.column, str(path))
        check_image_type(pf.schema_arrow.field(col).type, col, str(path))
        names = pf.schema_arrow.names
        key_col = next((k for k in ("key", "url", "path") if k in names and k != col), None)
        start, first = 0, len(self.units)
        columns = [col] + ([key_col] if key_col else [])
        for b, rb in enumerate(pf.iter_batches(batch_size=self.plan.batch, columns=columns)):
            keys = [str(k) for k in rb.column(1).to_pylist()] if key_col else [""] * rb.num_rows
            self._unit(
                f"hash-{name}-{b:06d}",
                str(path),
                list(range(start, start + rb.num_rows)),
                keys,
                functools.partial(_resolved, rb.column(0), str(path), first_row=start, name=col),
            )
            start += rb.num_rows
        self._list(name, self.units[first:])

    def tar(self, f: int, path: Path) -> None:
        """Runs of ``batch`` image members of a webdataset shard; ``row`` is the member's index
        in the archive. The members of a unit that is done are passed over unread."""
        name = f"tar-{f:06d}"
        if self.work.done(name):
            self.units.extend(self._listed(name))
            return
        first, b = len(self.units), 0
        rows: list[int | None] = []
        keys: list[str] = []
        data: list[bytes | None] = []

        def flush() -> None:
            self._unit(
                f"hash-{name}-{b:06d}",
                str(path),
                list(rows),
                list(keys),
                pa.array(data, pa.binary()),
            )
            rows.clear()
            keys.clear()
            data.clear()

        with open_tar(path) as tf:
            idx, last, members = -1, "at its first member", iter(tf)
            while (m := tar_step(functools.partial(next, members, None), path, last)) is not None:
                idx, last = idx + 1, f"after member {m.name!r}"
                # A hard link is read as the member it links to, found only among the earlier
                # members of this archive (tarfile never looks outside it); symbolic links,
                # directories and devices are passed over.
                if (
                    not (m.isfile() or m.islnk())
                    or Path(m.name).suffix.lower() not in IMAGE_SUFFIXES
                ):
                    continue
                if not self.work.done(f"hash-{name}-{b:06d}"):
                    read = functools.partial(member_bytes, tf, m)
                    data.append(tar_step(read, path, f"in member {m.name!r}"))
                rows.append(idx)
                keys.append(m.name)
                if len(rows) == self.plan.batch:
                    flush()
                    b += 1
            tar_step(functools.partial(check_tar_end, tf), path, last)
        if rows:
            flush()
        self._list(name, self.units[first:])

    def _list(self, name: str, units: list[str]) -> None:
        """Records the units of a whole input file, which is then done."""
        with atomic_write(self.work.path(f"units/{name}.json")) as fh:
            fh.write(json.dumps(units).encode())
        self.work.mark(name)

    def _listed(self, name: str) -> list[str]:
        units: list[str] = json.loads((self.work.root / "units" / f"{name}.json").read_text())
        return units


def empty_hashes(method: str) -> pa.Table:
    """The table of a run without images."""
    cols: dict[str, pa.Array] = {
        "shard": pa.array([], pa.string()),
        "row": pa.array([], pa.int64()),
        "key": pa.array([], pa.string()),
        method: pa.array([], pa.binary(32) if method == "pdq" else pa.uint64()),
    }
    if method == "pdq":
        cols["pdq_quality"] = pa.array([], pa.uint8())
    cols.update(
        width=pa.array([], pa.uint32()),
        height=pa.array([], pa.uint32()),
        error=pa.array([], pa.string()),
    )
    return pa.table(cols)


def _resolved(
    column: pa.Array, shard: str, missing: dict[int, str], *, first_row: int, name: str
) -> Any:
    """The images of a batch as the hasher takes them: a Hugging Face ``Image`` struct's bytes,
    or the files its paths (or a string column's) name, relative to the shard; a file that
    cannot be read leaves its row null and its message in ``missing``."""
    return resolve_images(column, shard, first_row=first_row, name=name, errors=missing)
