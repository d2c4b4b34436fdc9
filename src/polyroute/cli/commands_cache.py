"""``polyroute cache stats|clear``: the response cache on disk."""

from __future__ import annotations

import click

from polyroute.cli.state import State, config_options, guarded, json_option, pass_state


def _store(state: State, directory: str | None):  # type: ignore[no-untyped-def]
    from polyroute.cache.store import ResponseCache
    from polyroute.config.cost import CacheConfig, resolve_path
    from polyroute.errors import ConfigError

    cfg = state.load_config(required=False)
    if directory is None:
        if cfg is None or cfg.cache is None:
            raise ConfigError("no response cache configured",
                              fix="add `cache: {}` to the config, or pass --dir PATH")
        if cfg.cache.backend == "redis":
            from polyroute.cache.redis_store import RedisResponseCache
            from polyroute.cost.wiring import cache_url

            return RedisResponseCache(cache_url(cfg), namespace=cfg.cache.namespace,
                                      prefix=cfg.cache.prefix)
        directory = str(resolve_path(cfg.cache.directory, cfg.source))
    size = (cfg.cache.size_limit_mb if cfg is not None and cfg.cache is not None
            else CacheConfig().size_limit_mb)
    return ResponseCache(directory, size_limit_mb=size)


_dir_option = click.option("--dir", "directory", metavar="PATH",
                           help="Cache folder (default: the config's cache.directory).")


@click.group()
def cache() -> None:
    """The response cache: entries, size, namespaces; clear it."""


@cache.command()
@_dir_option
@config_options
@json_option
@pass_state
@guarded
def stats(state: State, directory: str | None, as_json: bool) -> None:
    """Entries, size on disk and entries per namespace (expired entries are removed first).

    Hit rates are in ``polyroute usage`` (the ledger records every hit)."""
    from polyroute.cli import render

    store = _store(state, directory)
    try:
        data = store.stats()
        data["namespaces"] = store.namespaces()
    finally:
        store.close()
    if as_json:
        render.emit_json(data)
        return
    out = render.console()
    if data.get("backend") == "redis":
        out.print(render.table("Response cache (Redis)", ["", ""], [
            ("server", data["server"]), ("prefix", data["prefix"]),
            ("entries", f"{data['entries']:,}"),
            *[(f"namespace {ns}", f"{n:,}") for ns, n in sorted(data["namespaces"].items())],
        ]))
        return
    out.print(render.table("Response cache", ["", ""], [
        ("folder", data["directory"]),
        ("entries", f"{data['entries']:,}"),
        ("size", f"{data['size_bytes'] / 2**20:,.2f} MiB of "
                 f"{data['size_limit_bytes'] / 2**20:,.0f} MiB"),
        ("expired, removed now", str(data["expired_removed"])),
        *[(f"namespace {ns}", f"{n:,}") for ns, n in sorted(data["namespaces"].items())],
    ]))


@cache.command()
@_dir_option
@click.option("--namespace", metavar="NAME", help="Only this namespace's entries.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@config_options
@pass_state
@guarded
def clear(state: State, directory: str | None, namespace: str | None, yes: bool) -> None:
    """Remove every cached answer (or one namespace's)."""
    what = f"namespace '{namespace}'" if namespace else "every entry"
    if not yes:
        click.confirm(f"Remove {what} from the response cache?", abort=True)
    store = _store(state, directory)
    try:
        removed = store.clear(namespace)
    finally:
        store.close()
    click.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}")
