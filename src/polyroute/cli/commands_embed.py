"""``polyroute embed FILE``: embed a corpus through the router, resumably.

FILE is JSONL (each line a string, or an object whose ``--field``, default ``text``,
holds the text; an ``id`` is carried over) or plain text (one text per non-blank
line). Vectors go to ``--out``: ``.jsonl`` (one ``{"i", "id", "space", "vector"}``
per line) or ``.npy`` (a float32 matrix, rows in input order). Progress shows texts
done, ETA and the spend so far.

Resuming: rows are appended to the JSONL output (for ``.npy``, to ``OUT.partial.jsonl``,
turned into the matrix at the end) as each chunk answers, so an interrupted run
(Ctrl-C, a killed process, a provider that gave up) continues where it stopped when
run again with the same FILE and ``--out``. A run that would put vectors of another
embedding space beside the ones already written refuses (exit 1), naming both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from polyroute.cli.state import State, config_options, guarded, pass_state

__all__ = ["embed"]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output .jsonl or .npy (default: FILE.embeddings.jsonl).")
@click.option("--field", default="text", show_default=True,
              help="The JSONL object field holding the text.")
@click.option("--agent", metavar="NAME", help="Embed as this agent (its embedding route).")
@click.option("--route", metavar="NAME", help="An embeddings route of the config.")
@click.option("--model", "-m", metavar="PROVIDER/MODEL", help="An explicit deployment.")
@click.option("--dimensions", type=click.IntRange(min=1), help="Output dimension.")
@click.option("--input-type", type=click.Choice(
    ["document", "query", "classification", "clustering", "similarity"]),
    default="document", show_default=True)
@click.option("--chunk", type=click.IntRange(min=1), default=512, show_default=True,
              help="Texts per router call (the router splits further by provider limits); "
                   "progress is saved after each.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs, CI).")
@config_options
@pass_state
@guarded
def embed(state: State, file: Path, out: Path | None, field: str, agent: str | None,
          route: str | None, model: str | None, dimensions: int | None, input_type: str,
          chunk: int, no_progress: bool) -> None:
    """Embed every text of FILE (JSONL or text) and write the vectors, resumably."""
    from polyroute.errors import PolyrouteError

    records = list(_read(file, field))
    out = out or file.with_name(file.name + ".embeddings.jsonl")
    if out.suffix not in (".jsonl", ".npy"):
        raise click.BadParameter("--out must end in .jsonl or .npy", param_hint="--out")
    rows_path = out if out.suffix == ".jsonl" else out.with_name(out.name + ".partial.jsonl")
    done, space = _resume(rows_path, len(records))
    options: dict[str, Any] = {"agent": agent, "route": route, "model": model,
                               "dimensions": dimensions, "input_type": input_type}
    spent = 0.0
    unknown_cost = False
    cached = 0
    with state.router(required=True) as router, _progress(no_progress) as progress:
        task = progress.add_task("embedding", total=len(records), completed=done, spend="$0")
        with rows_path.open("a", encoding="utf-8") as sink:
            for start in range(done, len(records), chunk):
                part = records[start:start + chunk]
                resp = router.embed([text for _, text in part], **options)
                if space is not None and resp.space != space:
                    raise PolyrouteError(
                        f"{rows_path} holds vectors of embedding space {space}; this run "
                        f"answered in {resp.space}: refusing to mix them — fix: use another "
                        "--out, or the same route/model/--dimensions as before")
                space = resp.space
                for offset, ((rid, _), vec) in enumerate(zip(part, resp.vectors, strict=True)):
                    sink.write(json.dumps({"i": start + offset, "id": rid, "space": space,
                                           "vector": vec}) + "\n")
                sink.flush()
                cached += resp.cache_hits
                if resp.cost_usd is None:
                    unknown_cost = True
                else:
                    spent += resp.cost_usd
                progress.update(task, advance=len(part),
                                spend=f"${spent:.4f}{'+?' if unknown_cost else ''}")
    if out.suffix == ".npy":
        _write_npy(rows_path, out, len(records))
        rows_path.unlink()
    cost = f"${spent:.6f}" + (" (some prices unknown)" if unknown_cost else "")
    click.echo(f"{len(records)} texts → {out} (space {space}; {done} resumed, {cached} from "
               f"the cache, spent {cost})", err=True)


def _read(file: Path, field: str) -> Iterator[tuple[Any, str]]:
    jsonl = file.suffix in (".jsonl", ".ndjson")
    with file.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if not jsonl:
                yield n, line.rstrip("\n")
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(f"{file}:{n} is not JSON ({exc.msg})") from exc
            if isinstance(item, str):
                yield n, item
            elif isinstance(item, dict) and isinstance(item.get(field), str) and item[field]:
                yield item.get("id", n), item[field]
            else:
                raise click.BadParameter(f"{file}:{n} has no non-empty string field "
                                         f"{field!r} (use --field)")


def _resume(rows_path: Path, total: int) -> tuple[int, str | None]:
    """Rows already written (a torn last line is dropped) and their space."""
    if not rows_path.exists():
        return 0, None
    good: list[str] = []
    space = None
    for line in rows_path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            break  # the line a killed run was writing
        if not isinstance(row, dict) or row.get("i") != len(good):
            break
        space = row.get("space")
        good.append(line)
    if len(good) > total:
        raise click.BadParameter(f"{rows_path} has {len(good)} rows but FILE only {total} "
                                 "texts: another corpus's output?", param_hint="--out")
    rows_path.write_text("".join(g + "\n" for g in good), encoding="utf-8")
    return len(good), space


def _write_npy(rows_path: Path, out: Path, total: int) -> None:
    import numpy as np

    vectors = [json.loads(line)["vector"]
               for line in rows_path.read_text(encoding="utf-8").splitlines()]
    matrix = np.asarray(vectors, dtype=np.float32).reshape(total, -1 if total else 0)
    np.save(out, matrix)


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _progress(quiet: bool) -> Any:
    if quiet:
        return _Quiet()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(),
                    TextColumn("spent {task.fields[spend]}"),
                    console=Console(stderr=True))
