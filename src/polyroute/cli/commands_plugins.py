"""``polyroute plugins``: what is loaded, what each plugin registered, what failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import State, guarded, json_option, pass_state

if TYPE_CHECKING:
    from polyroute.plugins.manager import PluginRegistry


@dataclass
class PluginInfo:
    name: str
    source: str
    provider_types: list[str] = field(default_factory=list)
    templates: int = 0
    models: int = 0
    strategies: list[str] = field(default_factory=list)
    error: str | None = None


@click.command()
@json_option
@pass_state
@guarded
def plugins(state: State, as_json: bool) -> None:
    """List loaded plugins and what they registered, and plugins that failed to load.

    Exits 0 even when some plugin failed: the others still work.
    """
    from polyroute.cli import render

    registry = state.registry
    infos = plugin_infos(registry)
    failures = [
        {"name": f.name, "entry_point": f.value, "error": f.error} for f in registry.failures
    ]
    if as_json:
        render.emit_json({"plugins": [asdict(i) for i in infos], "failures": failures})
        return
    out = render.console()
    out.print(render.table(
        "Plugins", ["plugin", "source", "provider types", "templates", "models", "strategies"],
        [(i.name, i.source, ", ".join(i.provider_types) or "-", i.templates, i.models,
          ", ".join(i.strategies) or "-") for i in infos],
    ))
    for i in infos:
        if i.error:
            out.print(f"[yellow]warning: plugin {render.safe(i.name)}: {render.safe(i.error)}[/]")
    if failures:
        t = render.table(
            "Failed to load", ["plugin", "entry point", "error"],
            [(f["name"], f["entry_point"], f["error"]) for f in failures],
        )
        t.title_style = "bold red"
        out.print(t)
    else:
        out.print("[green]no plugin failed to load[/]")


def plugin_infos(registry: PluginRegistry) -> list[PluginInfo]:
    """One entry per registered plugin. Templates, models and strategies are counted by
    calling each plugin's registration hooks again (they are cheap and IO-free)."""
    import importlib.metadata

    from polyroute.plugins.manager import ENTRY_POINT_GROUP

    pm = registry.pm
    dists: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        if dist is not None:
            dists.setdefault(ep.name, f"{dist.name} {dist.version}")
    infos: dict[str, PluginInfo] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        if name.startswith("polyroute."):
            source = "built-in"
        elif name in dists:
            source = dists[name]
        else:
            source = "registered in code"
        infos[name] = PluginInfo(name=name, source=source)
    for ptype, origin in sorted(registry.provider_type_origin.items()):
        if origin in infos:
            infos[origin].provider_types.append(ptype)
    for hook_name, attr in (
        ("polyroute_register_templates", "templates"),
        ("polyroute_register_models", "models"),
        ("polyroute_register_strategies", "strategies"),
    ):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            name = pm.get_name(impl.plugin) or repr(impl.plugin)
            info = infos.get(name)
            if info is None:
                continue
            seen: list[Any] = []
            try:
                impl.function(register=lambda *a, _s=seen: _s.append(a))
            except Exception as exc:
                info.error = f"{hook_name} failed: {type(exc).__name__}: {exc}"
                continue
            if attr == "strategies":
                info.strategies = [str(a[0]) for a in seen]
            else:
                setattr(info, attr, len(seen))
    # built-ins first, as they were when the seam registered them before entry points
    return sorted(infos.values(), key=lambda i: i.source != "built-in")
