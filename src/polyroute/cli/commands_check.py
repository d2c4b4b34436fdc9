"""``polyroute check``: validate a config and build its router, without network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import EXIT_CONFIG, State, config_options, guarded, json_option, pass_state

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.errors import ConfigError
    from polyroute.plugins.manager import PluginRegistry


@click.command()
@click.argument("config_file", metavar="[CONFIG]", required=False, type=click.Path(dir_okay=False))
@config_options
@json_option
@pass_state
@guarded
def check(state: State, config_file: str | None, as_json: bool) -> None:
    """Validate a config: load it, build every provider, resolve every reference.

    Makes no network call. Exits 0 if the config is usable (warnings included),
    2 if it is not, naming the file, the field and the fix of every problem.
    """
    from polyroute.cli import render
    from polyroute.cli.facts import describe_params, model_problems, provider_row
    from polyroute.errors import ConfigError
    from polyroute.router import Router

    if config_file:
        state.config = config_file
    try:
        cfg = state.load_config(required=True)
        assert cfg is not None
        _raise_all(build_problems(cfg, state.registry), cfg.source)
        router = Router(cfg, registry=state.registry)
    except ConfigError as exc:
        if not as_json:
            raise
        render.emit_json({"ok": False, "errors": [_error_json(p) for p in exc.problems],
                          "warnings": []})
        raise click.exceptions.Exit(EXIT_CONFIG) from None
    with router:
        errors, warnings = model_problems(router)
        rows = [provider_row(router, name, p) for name, p in sorted(router.providers.items())]
        for row in rows:
            if row.key.literal:
                warnings.append({
                    "field": f"providers.{row.name}.api_key",
                    "problem": "the key is written in the config file",
                    "fix": "use env:NAME and keep the value in the environment",
                })
            elif row.ready is not None:
                warnings.append({
                    "field": f"providers.{row.name}", "problem": row.ready,
                    "fix": "its candidates are skipped until then",
                })
        for e in errors:
            e["file"] = cfg.source or ""
        if as_json:
            render.emit_json({
                "ok": not errors, "file": cfg.source, "profile": state.profile,
                "providers": [r.as_json() for r in rows],
                "routes": {
                    n: {"strategy": r.strategy, "tiers": r.tiers,
                        "params": describe_params(r.generation_params())}
                    for n, r in cfg.routes.items()
                },
                "agents": {n: {**_agent_json(a), "env_override": cfg.env_overrides.get(n)}
                           for n, a in cfg.agents.items()},
                "rules": [{"rule": r.name, "when": r.when, "route": r.route, "model": r.model}
                          for r in cfg.rules],
                "default": cfg.default, "errors": errors, "warnings": warnings,
            })
            if errors:
                raise click.exceptions.Exit(EXIT_CONFIG)
            return
        _raise_all([ConfigError(e["problem"], file=cfg.source, field=e["field"], fix=e["fix"])
                    for e in errors], cfg.source)
        out = render.console()
        out.print(f"[green]ok[/] {render.safe(cfg.source)}"
                  + (f" (profile {render.safe(state.profile)})" if state.profile else ""))
        out.print(render.table(
            "Providers", ["name", "type", "template", "key"],
            [(r.name, r.type, r.template, str(r.key)) for r in rows],
        ))
        if cfg.routes:
            out.print(render.table(
                "Routes", ["route", "strategy", "tiers", "params"],
                [(n, r.strategy, " → ".join(", ".join(t) for t in r.tiers),
                  _params_text(describe_params(r.generation_params())))
                 for n, r in cfg.routes.items()],
            ))
        if cfg.agents:
            out.print(render.table(
                "Agents", ["agent", "uses", "fallbacks", "params"],
                [(n, f"model {a.model}" if a.model else f"route {a.route}",
                  ", ".join(a.fallbacks) or "-",
                  _params_text(describe_params(a.generation_params())))
                 for n, a in cfg.agents.items()],
            ))
        if cfg.rules:
            out.print(render.table(
                "Rules (tried in order, the first match decides)", ["#", "rule", "when", "uses"],
                [(i, r.name, r.when or "(always)",
                  f"route {r.route}" if r.route else f"model {r.model}")
                 for i, r in enumerate(cfg.rules, start=1)],
            ))
        for name, setting in sorted(cfg.env_overrides.items()):  # 12-factor overrides
            out.print(f"agent {render.safe(name)}: model from environment "
                      f"{render.safe(setting)}")
        default = cfg.default or "(none: calls must name an agent, task or model)"
        out.print(f"default: {render.safe(default)}")
        for w in warnings:
            out.print(f"[yellow]warning: {render.safe(w['field'])}: {render.safe(w['problem'])}"
                      f" — {render.safe(w['fix'])}[/]")


def build_problems(cfg: PolyrouteConfig, registry: PluginRegistry) -> list[ConfigError]:
    """Every problem building a router over ``cfg`` would stop at, not just the first:
    each provider that cannot be built, then each dangling reference."""
    from polyroute.config.providers import implicit_provider_config, provider_settings
    from polyroute.errors import ConfigError, PolyrouteError
    from polyroute.routing.references import reference_problems

    problems: list[ConfigError] = []
    for name, pcfg in cfg.providers.items():
        try:
            settings = provider_settings(name, pcfg, registry, file=cfg.source)
            registry.provider_types[settings.type](settings)
        except ConfigError as exc:
            problems.append(exc)
        except PolyrouteError as exc:
            problems.append(ConfigError(str(exc), file=cfg.source, field=f"providers.{name}",
                                        fix="fix this provider's settings"))

    def known(name: str) -> object | None:
        return cfg.providers.get(name) or implicit_provider_config(name, registry)

    return problems + reference_problems(cfg, registry.strategies, known)


def _raise_all(problems: list[ConfigError], file: str | None) -> None:
    from polyroute.config.loader import combined_error

    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise combined_error(problems, file)


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def _agent_json(agent: Any) -> dict[str, Any]:
    from polyroute.cli.facts import describe_params

    return {"model": agent.model, "route": agent.route, "fallbacks": agent.fallbacks,
            "params": describe_params(agent.generation_params())}


def _error_json(exc: Any) -> dict[str, Any]:
    return {"file": exc.file, "field": exc.field, "problem": exc.reason, "fix": exc.fix}
