"""``polyroute batch IN.jsonl -o OUT.jsonl``: many requests, resumable, with a progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import State, config_options, guarded, pass_state

if TYPE_CHECKING:
    from polyroute.router.batch_file import BatchSummary


@click.command()
@click.argument("input_file", metavar="IN.jsonl", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "output", required=True, metavar="OUT.jsonl",
              help="Output file: appended to; rows already in it are not sent again.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 512),
              help="Requests in flight at once.")
@click.option("--priority", default="low", show_default=True, metavar="LEVEL",
              help="Rate-limit priority of rows that set none: low, normal, high or a number.")
@click.option("--max-cost", "max_cost", type=click.FloatRange(min=0), metavar="USD",
              help="Refuse to start if the worst-case estimate exceeds USD; stop sending "
                   "once the batch has spent it.")
@click.option("--agent", metavar="NAME", help="Agent for rows that name none.")
@click.option("--task", metavar="ROUTE", help="Task route for rows that name none.")
@click.option("--model", metavar="PROVIDER:MODEL", help="Model for rows that name none.")
@click.option("--no-progress", is_flag=True, help="No progress bar (a summary only).")
@config_options
@pass_state
@guarded
def batch(state: State, input_file: str, output: str, concurrency: int, priority: str,
          max_cost: float | None, agent: str | None, task: str | None, model: str | None,
          no_progress: bool) -> None:
    """Send every row of IN.jsonl through the router into OUT.jsonl.

    Each output row holds the answer or the typed error that row ended in; one
    failure never stops the batch. Run the same command again after a crash or
    Ctrl-C: rows already written are skipped. Exits 1 if any row failed.
    """
    from polyroute.cli import render
    from polyroute.router.batch_file import run_file

    defaults: dict[str, Any] = {k: v for k, v in
                                (("agent", agent), ("task", task), ("model", model)) if v}
    out = render.console(stderr=True)
    progress = None if no_progress else _progress(out)
    task_id = None

    def on_start(s: BatchSummary) -> None:
        nonlocal task_id
        todo = s.total - s.skipped_done
        est = s.estimate.describe() if s.estimate is not None else "-"
        out.print(f"{s.total:,} rows, {s.skipped_done:,} already done, {todo:,} to send; "
                  f"estimate: {render.safe(est)}")
        if progress is not None and todo:
            progress.start()
            task_id = progress.add_task("batch", total=todo, spend=_usd(0.0))

    def on_row(s: BatchSummary) -> None:
        if progress is not None and task_id is not None:
            progress.update(task_id, completed=s.answered + s.failed,
                            spend=_usd(s.spent_usd))

    with state.router() as router:
        try:
            summary = run_file(router, input_file, output, concurrency=concurrency,
                               priority=priority, max_cost_usd=max_cost, defaults=defaults,
                               on_start=on_start, on_row=on_row)
        finally:
            if progress is not None and task_id is not None:
                progress.stop()
    errors = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.errors.items())) or "none"
    out.print(f"answered {summary.answered:,}, failed {summary.failed:,} ({render.safe(errors)})"
              f", not sent {summary.not_sent:,}; spent {_usd(summary.spent_usd)}; "
              f"output {render.safe(output)}")
    if summary.failed or summary.not_sent:
        raise SystemExit(1)


def _usd(x: float) -> str:
    return f"${x:,.4f}" if x >= 0.01 or x == 0 else f"${x:.6f}"


def _progress(console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("spent {task.fields[spend]}"), console=console)
