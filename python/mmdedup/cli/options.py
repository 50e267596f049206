"""What every corpus command shares: the options that mean the same everywhere, and the rule
that an option given on the command line must apply to the run it is given to."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..storage import is_url

F = TypeVar("F", bound=Callable[..., Any])

# `--on-error` takes one vocabulary in every command. Earlier names are still accepted.
ON_ERROR = ("record", "raise")
_ON_ERROR_ALIASES = {"keep": "record", "skip": "record"}


class _OnError(click.Choice[str]):
    """``record`` or ``raise``; ``keep`` and ``skip`` (earlier names of ``record``) too."""

    def __init__(self) -> None:
        super().__init__(list(ON_ERROR))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            value = _ON_ERROR_ALIASES.get(value.lower(), value)
        return super().convert(value, param, ctx)


def on_error(where: str) -> Callable[[F], F]:
    """``--on-error record|raise``; ``where`` says what becomes of a recorded row."""
    return click.option(
        "--on-error",
        type=_OnError(),
        default="record",
        show_default=True,
        help="A row that cannot be read (invalid UTF-8, malformed JSON, a value of the wrong "
        f"type): record it with its file, row and problem and go on ({where}), or stop at the "
        "first with an error naming them.",
    )


def threads(f: F) -> F:
    return click.option(
        "--threads",
        type=click.IntRange(1),
        default=None,
        help="Worker threads (default: all cores).",
    )(f)


def overwrite(f: F) -> F:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace the results of an earlier run in OUTDIR (never an input).",
    )(f)


def resume(what: str) -> Callable[[F], F]:
    return click.option(
        "--resume",
        is_flag=True,
        help=f"Continue an interrupted run (same inputs and options): {what}; the results are "
        "identical to an uninterrupted run.",
    )


def _work_dir_value(remote: bool) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A local path, or (``remote``) an fsspec URL kept as written (``Path`` would fold its
    ``//``)."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        del ctx, param
        if value is None:
            return None
        if is_url(value):
            if remote:
                return value
            raise click.BadParameter(
                f"{value}: this command keeps its work directory on a local file system; a work "
                "directory on object storage (an fsspec URL) is for mmdedup dedup (text and "
                "interleaved documents), convert and tokenize"
            )
        return Path(value)

    return convert


def work_dir(what: str, remote: bool = False) -> Callable[[F], F]:
    where = (
        " A URL (s3://bucket/run/, gs://...) puts it on object storage that every node of a "
        "--engine ray cluster reads and writes."
        if remote
        else ""
    )
    return click.option(
        "--work-dir",
        type=str,
        callback=_work_dir_value(remote),
        default=None,
        help=f"Where {what} go (default: OUTDIR/.mmdedup-work, removed when the run succeeds "
        f"unless --keep-work-dir).{where}",
    )


def keep_work_dir(f: F) -> F:
    return click.option(
        "--keep-work-dir",
        is_flag=True,
        help="Leave the work directory in place after a successful run (it is always left "
        "after an interrupted one, for --resume).",
    )(f)


def work_dir_line(summary: dict[str, Any]) -> str | None:
    """The printed summary's word on the work directory: removed, or kept and how large."""
    w = summary.get("work_dir")
    if not w:
        return None
    size = w["bytes"] / 2**20
    if w["kept"]:
        return f"work directory kept: {w['path']} ({size:,.1f} MiB)"
    return f"work directory removed ({size:,.1f} MiB; --keep-work-dir keeps it)"


def engine(where: str) -> Callable[[F], F]:
    """``--engine local|ray`` and ``--address``; ``where`` says where the work directory must be
    for Ray."""

    def deco(f: F) -> F:
        f = click.option(
            "--address", default=None, help="Ray cluster address (default: start a local one)."
        )(f)
        return click.option(
            "--engine",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help="Run the stages in this process, or as Ray tasks (pip install "
            f"'mmdedup[ray]'; the results are the same). {where}",
        )(f)

    return deco


def quiet(f: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")(f)


def given(ctx: click.Context, name: str) -> bool:
    """Whether the user set the option (on the command line or through the environment)."""
    return ctx.get_parameter_source(name) in (
        ParameterSource.COMMANDLINE,
        ParameterSource.ENVIRONMENT,
    )


def _flag(ctx: click.Context, name: str) -> str:
    for p in ctx.command.params:
        if p.name == name and isinstance(p, click.Option):
            flag = max(p.opts, key=len)
            return f"{flag}/{max(p.secondary_opts, key=len)}" if p.secondary_opts else flag
    return name


def refuse(ctx: click.Context, names: Iterable[str], why: str) -> None:
    """A usage error (exit 2) when any option of ``names`` was given: it does not apply
    ``why``, so accepting it would silently do nothing."""
    bad = [_flag(ctx, n) for n in names if given(ctx, n)]
    if bad:
        these = "s " + ", ".join(bad) + " do" if len(bad) > 1 else " " + bad[0] + " does"
        raise click.UsageError(f"option{these} not apply {why}", ctx)


def marked(ctx: click.Context, tag: str) -> list[str]:
    """The options whose help starts with ``tag`` (such as ``[interleaved]``)."""
    return [
        str(p.name)
        for p in ctx.command.params
        if isinstance(p, click.Option) and (p.help or "").startswith(tag)
    ]
