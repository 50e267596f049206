"""The memory budget (``--memory``) and what it sizes: how many partitions a stage cuts its
work into, so that one unit of work fits the budget.

>>> parse_size("4GB"), parse_size("512MiB"), parse_size("1.5G"), parse_size("2KB")
(4294967296, 536870912, 1610612736, 2048)
>>> parse_size("4")
Traceback (most recent call last):
...
mmdedup.errors.ParameterError: --memory 4 is 4 bytes: a forgotten unit? Write 4GB or 4MB (a number without a unit must be at least 1MB)
>>> partitions(10**9, 2**20, most=100)
100
"""

from __future__ import annotations

import math

from ..errors import ParameterError

__all__ = ["MAX_MEMORY", "MAX_PARTITIONS", "MIN_PLAIN_MEMORY", "parse_size", "partitions"]

# More partitions than this cost more in files than they save in memory.
MAX_PARTITIONS = 65_536
# A budget above this is a typing error, not a machine.
MAX_MEMORY = 2**50
# A number without a unit below this is a forgotten unit (``--memory 4``).
MIN_PLAIN_MEMORY = 2**20

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}


def parse_size(text: str) -> int:
    """Bytes from ``4GB``, ``512MiB``, ``1.5G`` or a plain number of bytes (at least 1MB)."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    num = t.rstrip("KMGTP")
    unit = t[len(num) :]
    try:
        value = float(num) * _UNITS[unit]
    except (ValueError, KeyError) as e:
        raise ParameterError(f"cannot read the size {text!r} (try 4GB or 512MB)") from e
    if not math.isfinite(value):
        raise ParameterError(f"the memory budget must be a number of bytes, got {text!r}")
    if value <= 0:
        raise ParameterError(f"the memory budget must be positive, got {text!r}")
    if value > MAX_MEMORY:
        raise ParameterError(f"--memory {text} is more than 1PB; give the budget of one machine")
    if not unit and text.strip().upper() == num and value < MIN_PLAIN_MEMORY:
        raise ParameterError(
            f"--memory {text} is {int(value):,} bytes: a forgotten unit? Write {num}GB or {num}MB "
            "(a number without a unit must be at least 1MB)"
        )
    return max(int(value), 1)


def partitions(need: int, memory: int, *, most: int) -> int:
    """How many partitions cut ``need`` bytes of work so that one holds at most half of
    ``memory``; at least 1, at most ``most`` (say, one per document) and :data:`MAX_PARTITIONS`.
    """
    p = -(-need // max(memory // 2, 1))
    return int(max(1, min(p, max(most, 1), MAX_PARTITIONS)))
