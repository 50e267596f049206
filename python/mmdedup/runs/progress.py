"""Progress of a corpus run, for a person at a terminal and for a batch job's log.

A run calls ``progress(stage, units, unit=...)`` before each stage and ticks the returned
callable once per finished unit (a shard, a partition, a batch of images, ...).

- At a terminal (stderr is a TTY), each stage is a progress bar with its count, rate and ETA,
  left on screen as one finished line when the stage ends.
- Elsewhere (Slurm, Kubernetes, ``nohup``, a pipe), the bars would print nothing useful, so
  each stage logs a line when it starts, one every ``every`` seconds while it runs, and one
  when it ends, through the ``mmdedup`` logger (see :func:`configure_logging`).

>>> p = Progress(terminal=False)
>>> tick = p("signatures", 3, unit="shard")
>>> for _ in range(3):
...     tick(1)
>>> p.close()
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from tqdm import tqdm

__all__ = ["Progress", "configure_logging", "log"]

log = logging.getLogger("mmdedup")

# What one unit of each stage is, for the bars and log lines.
UNITS = {
    "signatures": "shard",
    "convert": "shard",
    "tokenize": "shard",
    "write": "shard",
    "scan": "shard",
    "images": "shard",
    "candidates": "partition",
    "paragraphs": "partition",
    "hash": "image",
}


class Progress:
    """Progress bars at a terminal, log lines elsewhere; nothing when ``quiet``."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        terminal: bool | None = None,
        every: float = 30.0,
        stream: IO[str] | None = None,
    ) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.every = every
        self._bar: tqdm[Any] | None = None
        self._stage: tuple[str, int | None, str, float] | None = None
        self._done = 0
        self._last = 0.0

    def __call__(
        self, stage: str, units: int | None, unit: str | None = None
    ) -> Callable[[int], None]:
        self._finish()
        unit = unit or UNITS.get(stage, "unit")
        self._stage, self._done = (stage, units, unit, time.monotonic()), 0
        self._last = time.monotonic()
        if self.quiet:
            return self._count
        if self.terminal:
            self._bar = tqdm(
                total=units, desc=stage, unit=unit, file=self.stream, leave=True, dynamic_ncols=True
            )
            return self._tick_bar
        log.info("%s: %s %s(s) to do", stage, "?" if units is None else units, unit)
        return self._tick_log

    def _count(self, n: int = 1) -> None:
        self._done += n

    def _tick_bar(self, n: int = 1) -> None:
        self._done += n
        assert self._bar is not None
        self._bar.update(n)

    def _tick_log(self, n: int = 1) -> None:
        self._done += n
        now = time.monotonic()
        if now - self._last >= self.every and self._stage is not None:
            self._last = now
            stage, units, unit, t0 = self._stage
            rate = self._done / max(now - t0, 1e-9)
            if units is None or rate <= 0:
                log.info("%s: %d %ss, %.1f/s", stage, self._done, unit, rate)
            else:
                eta = (units - self._done) / rate
                log.info(
                    "%s: %d/%d %ss, %.1f/s, about %.0f s left",
                    stage,
                    self._done,
                    units,
                    unit,
                    rate,
                    eta,
                )

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._stage is not None and not self.quiet and not self.terminal:
            stage, _, unit, t0 = self._stage
            took = time.monotonic() - t0
            log.info("%s: done, %d %ss in %.1f s", stage, self._done, unit, took)
        self._stage = None

    def close(self) -> None:
        """Ends the last stage (its finished line)."""
        self._finish()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    *, verbose: int = 0, quiet: bool = False, log_file: str | None = None, fmt: str = "text"
) -> None:
    """Routes the ``mmdedup`` logger: to stderr (warnings, or info with one ``-v``, debug with
    two; progress lines of a non-terminal run are info), and to ``log_file`` at info or more.
    ``fmt`` is ``text`` or ``json`` (one JSON object per line)."""
    log.handlers.clear()
    log.propagate = False
    level = logging.DEBUG if verbose > 1 else logging.INFO
    log.setLevel(level)
    formatter: logging.Formatter = (
        _JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s mmdedup %(levelname)s %(message)s", "%H:%M:%S")
    )
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    if quiet:
        console.setLevel(logging.ERROR)
    elif verbose or not sys.stderr.isatty():
        console.setLevel(level)
    else:
        console.setLevel(logging.WARNING)
    log.addHandler(console)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(formatter)
        handler.setLevel(level)
        log.addHandler(handler)
