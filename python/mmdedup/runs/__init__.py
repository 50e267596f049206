"""Corpus runs over files: restartable, memory-bounded, one function per command.

- :func:`dedup_files` (``mmdedup dedup``): text shards (:mod:`mmdedup.runs.text`) or
  interleaved documents (:mod:`mmdedup.runs.interleaved`);
- :func:`images_files` (``mmdedup images``, :mod:`mmdedup.runs.images`);
- :func:`convert_files` (``mmdedup convert``) and :func:`tokenize_files`
  (``mmdedup tokenize``).

What they share lives here too: :mod:`~mmdedup.runs.dirs` (the output and work directories:
never over, into or inside an input; locks; listed outputs), :mod:`~mmdedup.runs.workdir`
(units written atomically and marked done, so ``resume`` continues where a run stopped),
:mod:`~mmdedup.runs.budget` (``--memory``), :mod:`~mmdedup.runs.engine` (the local engine and
Ray tasks), :mod:`~mmdedup.runs.overlap` (outputs never on inputs),
:mod:`~mmdedup.runs.components` (connected components on disk) and
:mod:`~mmdedup.runs.progress` (bars at a terminal, log lines in batch jobs).
"""

from .api import dedup_files, images_files
from .convert import ConvertSummary, convert_files
from .tokenize import TokenizeSummary, tokenize_files

__all__ = [
    "ConvertSummary",
    "TokenizeSummary",
    "convert_files",
    "dedup_files",
    "images_files",
    "tokenize_files",
]
