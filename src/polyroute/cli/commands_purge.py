"""``polyroute purge``: apply retention to the usage ledger and the response cache."""

from __future__ import annotations

import click

from polyroute.cli.state import State, config_options, guarded, json_option, pass_state


@click.command()
@click.option("--older-than", "older_than", type=float, metavar="DAYS",
              help="Delete what is older than DAYS (default: ledger.retention_days and "
                   "cache.retention_days).")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@config_options
@json_option
@pass_state
@guarded
def purge(state: State, older_than: float | None, dry_run: bool, as_json: bool) -> None:
    """Delete ledger rows and cached answers past their retention (run it from cron)."""
    from polyroute.cli import render
    from polyroute.privacy.retention import purge as run_purge

    cfg = state.load_config(required=True)
    assert cfg is not None
    report = run_purge(cfg, older_than_days=older_than, dry_run=dry_run)
    data = {"dry_run": dry_run, "ledger_calls": report.ledger_calls,
            "ledger_attempts": report.ledger_attempts, "cache_entries": report.cache_entries,
            "ledger_cutoff": report.ledger_cutoff, "cache_cutoff": report.cache_cutoff}
    if as_json:
        render.emit_json(data)
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb}: {report.ledger_calls} ledger call(s), {report.ledger_attempts} "
               f"attempt(s), {report.cache_entries} cached answer(s)")
    if cfg.ledger is None and cfg.cache is None:
        click.echo("the config has no ledger: or cache: section: nothing is stored")
    elif report.ledger_cutoff is None and report.cache_cutoff is None:
        click.echo("nothing has a retention limit: set ledger.retention_days or "
                   "cache.retention_days, or pass --older-than DAYS")
