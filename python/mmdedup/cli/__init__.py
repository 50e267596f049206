"""The ``mmdedup`` command line: click only; each command parses its options, calls one function
of :mod:`mmdedup.runs` and prints its summary."""

from __future__ import annotations

import errno
from typing import Any

import click

from .. import _core
from ..errors import MmdedupError
from ..runs.progress import configure_logging

__all__ = ["main", "os_error_message"]


def os_error_message(e: OSError) -> str:
    """One line for a file system error: what happened, where, and how to go on."""
    where = f" ({e.filename})" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return (
            f"no space left on device{where}; free some space, then run the same command again "
            "with --resume to go on (dedup, images), or again (convert, tokenize)"
        )
    if e.errno == errno.EROFS:
        return f"read-only file system{where}; choose a writable -o (and --work-dir)"
    return f"{e.strerror or e}{where}"


class _Group(click.Group):
    """Every command ends in one line, never a traceback: mmdedup's errors and file system errors
    exit with 1, Ctrl-C with 130 after saying how to go on."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MmdedupError as e:
            raise click.ClickException(str(e)) from e
        except OSError as e:
            raise click.ClickException(os_error_message(e)) from e
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted: run the same command with --resume to go on where it stopped",
                err=True,
            )
            ctx.exit(130)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(_core.__version__, prog_name="mmdedup")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log each stage's progress to stderr (-vv: and debug lines). Without a terminal "
    "(Slurm, Kubernetes, nohup) these lines are on by default, in place of progress bars.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the log lines to this file.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or as one JSON object per line.",
)
def main(verbose: int, log_file: str | None, log_format: str) -> None:
    """Remove exact and near-duplicate documents from training corpora.

    \b
    Quick start:
      mmdedup dedup shards/*.parquet -o out/
      mmdedup dedup data/ -o out/ --method exact
      mmdedup dedup crawl/*.jsonl.gz -o out/ --threshold 0.7 --keep max:quality

    Run `mmdedup COMMAND --help` for the options of a command.

    \b
    Exit codes:
      0    the run finished
      1    an error, named in one line (bad input, a parameter, a full disk, ...), or a
           run in which every input row failed (its results are still written)
      2    a usage error (an unknown or invalid option)
      130  interrupted (Ctrl-C); `--resume` goes on from where it stopped
    """
    configure_logging(verbose=verbose, log_file=log_file, fmt=log_format)


def fail_if_nothing_read(rows: int, errors: int, what: str, outdir: str) -> None:
    """Exit 1 when every input row of a run failed: a scheduler must not take that for success.
    The results (which say why each failed) are written before."""
    if rows and errors == rows:
        raise click.ClickException(
            f"every one of the {rows:,} {what} failed to read; the reasons are in "
            f"{outdir.rstrip('/')}/"
        )


def _register() -> None:
    from .convert import convert
    from .dedup import dedup
    from .images import images
    from .inspect import inspect_cmd
    from .tokenize import tokenize

    for command in (dedup, images, convert, tokenize, inspect_cmd):
        main.add_command(command)


_register()
