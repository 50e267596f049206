"""Outputs never land on inputs: OUTDIR and the work directory may not be an input directory
(or an input prefix on object storage), lie inside one, or hold an input file."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from ..errors import InputError
from ..storage import Location, is_url

__all__ = ["check_no_overlap"]


def _real(path: str) -> str:
    """A local path (``file://`` URLs included) with its symlinks resolved; a URL as its file
    system's protocol and path, whatever the spelling (``memory://in``, ``memory:///in/``)."""
    if is_url(path):
        loc = Location(path)
        return f"{loc.protocol}://{loc.path.strip('/')}"
    return os.path.realpath(path.removeprefix("file://"))


def _inside(child: str, parent: str) -> bool:
    """Whether ``child`` is ``parent`` or lies under it (both real paths or URLs)."""
    parent = parent.rstrip("/")
    return child == parent or child.startswith(parent + "/")


def _input_directory(given: str, target: str) -> bool:
    """Whether the input ``given`` is a directory that could hold ``target``: a local directory,
    or (for a target on object storage) a prefix of the same file system holding objects."""
    if not is_url(given):
        return os.path.isdir(given.removeprefix("file://"))
    if not is_url(target) or any(c in given for c in "*?["):
        return False
    loc = Location(given)
    return loc.protocol == Location(target).protocol and loc.is_dir()


def check_no_overlap(
    target: str, what: str, inputs: Sequence[str], shards: Iterable[str | os.PathLike[str]]
) -> None:
    """Refuses a ``target`` directory that is an input directory, lies inside one, or holds an
    input file (the next run would read the results as inputs, or they would replace them)."""
    t = _real(target)
    for given in inputs:
        if _inside(t, _real(given)) and _input_directory(given, target):
            where = "is" if t == _real(given) else "lies inside"
            raise InputError(
                f"{what} {target} {where} the input directory {given}: results would replace "
                "or mix with the inputs. Choose a directory outside the inputs"
            )
    for shard in shards:
        s = _real(os.fspath(shard))
        if _inside(s, t):
            raise InputError(
                f"{what} {target} holds the input {os.fspath(shard)}: results would replace or "
                "mix with the inputs. Choose a directory outside the inputs"
            )
