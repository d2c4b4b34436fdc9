"""Output: rich tables for people, JSON for scripts, and errors that name the fix.

Everything that may carry provider text (errors, URLs) goes through
``polyroute.secrets.redact`` before it is printed; rich markup in such text is
escaped, never interpreted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyroute.secrets import redact

if TYPE_CHECKING:
    from polyroute.errors import ConfigError, PolyrouteError

__all__ = [
    "config_error",
    "console",
    "emit_json",
    "internal_error",
    "polyroute_error",
    "safe",
    "safe_url",
    "table",
]

_PIPE_WIDTH = 1000
"""Piped output: tables take their natural width, lines are never wrapped."""


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr). Piped output is not wrapped (grep-friendly)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not (hasattr(stream, "isatty") and stream.isatty()) and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=False)


def safe(text: object) -> str:
    """``text`` with secrets masked and rich markup escaped."""
    return escape(redact(str(text)))


def safe_url(url: str | None) -> str:
    """A URL without its user-info (``user:password@``), secrets masked."""
    if not url:
        return "-"
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return redact(url)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*(safe(c) if c is not None else "-" for c in row))
    return t


def emit_json(data: Any) -> None:
    click.echo(redact(json.dumps(data, indent=2, default=str)))


def config_error(exc: ConfigError) -> None:
    out = console(stderr=True)
    many = len(exc.problems) > 1
    head = "error: invalid config" if exc.file or exc.field else "error:"
    out.print(f"[bold red]{head}{f' ({len(exc.problems)} problems)' if many else ''}[/]")
    if exc.file:
        out.print(f"[red]  file:    {safe(exc.file)}[/]")
    for n, problem in enumerate(exc.problems):
        if many:
            out.print(f"[red]  [{n + 1}][/]")
        if problem.field:
            out.print(f"[red]  field:   {safe(problem.field)}[/]")
        out.print(f"[red]  problem: {safe(problem.reason)}[/]")
        if problem.fix:
            out.print(f"[red]  fix:     {safe(problem.fix)}[/]")


def polyroute_error(exc: PolyrouteError) -> None:
    from polyroute.errors import NoRouteError

    out = console(stderr=True)
    if isinstance(exc, NoRouteError):
        out.print(f"[bold red]error: {safe(exc.reason)}[/]")
        for outcome in exc.outcomes:
            verb = "skipped" if outcome.skipped else "failed"
            out.print(
                f"[red]  - {safe(outcome.provider)}/{safe(outcome.model)} {verb}: "
                f"{safe(outcome.reason)}[/]"
            )
        return
    out.print(f"[bold red]error ({type(exc).__name__}): {safe(exc)}[/]")


def internal_error(exc: BaseException) -> None:
    console(stderr=True).print(
        f"[bold red]internal error: {type(exc).__name__}: {safe(exc)}[/]\n"
        "[dim]rerun with `polyroute --debug ...` for a traceback, and please report it[/]"
    )
