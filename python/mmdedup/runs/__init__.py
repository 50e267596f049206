"""Corpus runs over files: what every command that reads shards and writes results shares.

:mod:`mmdedup.runs.dirs` owns the directories of a run: the work directory it creates, marks
and locks, and the output directory it writes, never over, into or inside an input.
"""
