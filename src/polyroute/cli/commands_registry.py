"""``polyroute registry export|plan|apply``: the registry as code, beside the admin API.

``export`` writes the registry's own entries as YAML (secrets as masks or
``env:`` references, never in clear); ``plan FILE`` shows what applying FILE would
create, change and delete, and the fingerprint of the registry it compared
against; ``apply FILE --fingerprint FP`` applies it in one audited transaction and
refuses if the registry changed since that plan.
"""

from __future__ import annotations

from typing import Any

import click

from polyroute.cli.commands_admin import open_registry, registry_options
from polyroute.cli.state import guarded, json_option

__all__ = ["registry"]


def _dump(doc: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False))


def _load(path: str) -> Any:
    import yaml

    from polyroute.errors import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", file=path,
                          fix="check the path (write one with `polyroute registry export`)"
                          ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=path,
                          fix="correct the YAML syntax") from None


@click.group()
def registry() -> None:
    """The registry as code: export it, plan a file against it, apply a file."""


@registry.command()
@click.argument("file", type=click.Path(dir_okay=False, writable=True), required=False)
@registry_options
@guarded
def export(file: str | None, url: str | None, actor: str) -> None:
    """Write providers, models, templates, routes, agents, budgets and the credentials
    they name (masked, or env: references) as YAML, to FILE or stdout."""
    from polyroute.admin.ascode import export_document

    with open_registry(url) as reg:
        doc, fingerprint = export_document(reg)
    text = _dump(doc)
    if file is None:
        click.echo(text, nl=False)
    else:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"exported the registry at {fingerprint} to {file}", err=True)


@registry.command()
@click.argument("file", type=click.Path(dir_okay=False))
@registry_options
@json_option
@guarded
def plan(file: str, url: str | None, actor: str, as_json: bool) -> None:
    """What applying FILE would create (+), change (~) and delete (-)."""
    from polyroute.admin.ascode import plan_document
    from polyroute.cli import render

    with open_registry(url) as reg:
        result = plan_document(reg, _load(file), source=file)
    if as_json:
        render.emit_json({**result.as_json(), "missing_credentials":
                          result.missing_credentials})
        return
    for change in result.changes:
        click.echo(str(change))
    for name in result.missing_credentials:
        click.echo(f"! credential {name} is not stored here: apply will refuse until it is "
                   f"(polyroute keys set {name})")
    click.echo(f"Plan: {result.summary()}.")
    click.echo(f"Registry fingerprint: {result.fingerprint}")
    if result.changes:
        click.echo(f"Apply with: polyroute registry apply {file} "
                   f"--fingerprint {result.fingerprint}")


@registry.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--fingerprint", metavar="FP",
              help="The fingerprint `registry plan` printed: refuse if the registry changed "
                   "since. Without it, the file is applied to whatever the registry holds.")
@registry_options
@guarded
def apply(file: str, fingerprint: str | None, url: str | None, actor: str) -> None:
    """Make the registry match FILE in one audited transaction (all or nothing)."""
    from polyroute.admin.ascode import apply_document

    with open_registry(url) as reg:
        result = apply_document(reg, _load(file), actor=actor, expect=fingerprint, source=file)
    for change in result.changes:
        click.echo(str(change))
    click.echo(f"Applied: {result.summary()}.")
