"""``polyroute providers``: configured providers, and what else could be configured."""

from __future__ import annotations

import click

from polyroute.cli.state import State, config_options, guarded, json_option, pass_state


@click.command()
@config_options
@json_option
@pass_state
@guarded
def providers(state: State, as_json: bool) -> None:
    """List configured providers (type, template, base URL, whether the key is set),
    then installed templates and provider types not configured yet.

    Keys are never shown, only where they come from. A type or template name is
    usable as ``NAME:model`` without any config entry.
    """
    from polyroute.cli import render
    from polyroute.cli.facts import provider_row

    registry = state.registry
    with state.router() as router:
        rows = [provider_row(router, n, p) for n, p in sorted(router.providers.items())]
        used_types = {r.type for r in rows}
        used_templates = {r.template for r in rows if r.template}
        templates = [t for n, t in sorted(registry.templates.items()) if n not in used_templates]
        types = [
            (n, cls) for n, cls in sorted(registry.provider_types.items()) if n not in used_types
        ]
        if as_json:
            render.emit_json({
                "config": router.config.source,
                "providers": [r.as_json() for r in rows],
                "templates": [
                    {"name": t.name, "type": t.type, "base_url": t.base_url,
                     "api_key_env": list(t.api_key_env), "description": t.description}
                    for t in templates
                ],
                "provider_types": [
                    {"name": n, "plugin": registry.provider_type_origin.get(n),
                     "api_key_env": list(cls.api_key_env),
                     "requires_api_key": cls.requires_api_key}
                    for n, cls in types
                ],
            })
            return
        out = render.console()
        if rows:
            out.print(render.table(
                f"Configured providers ({router.config.source})",
                ["name", "type", "template", "base URL", "key"],
                [(r.name, r.type, r.template, render.safe_url(r.base_url), str(r.key))
                 for r in rows],
            ))
        else:
            out.print("no providers configured"
                      + ("" if router.config.source else " (no config file found)"))
        if templates:
            out.print(render.table(
                "Templates not configured",
                ["template", "type", "base URL", "key env", "description"],
                [(t.name, t.type, render.safe_url(t.base_url),
                  " or ".join(t.api_key_env) or "-", t.description) for t in templates],
            ))
        if types:
            out.print(render.table(
                "Provider types not configured",
                ["type", "plugin", "key env"],
                [(n, registry.provider_type_origin.get(n, "-"),
                  (" or ".join(cls.api_key_env) or "-")
                  + ("" if cls.requires_api_key else " (optional)"))
                 for n, cls in types],
            ))
        if templates or types:
            out.print("[dim]configure one as {template: NAME} or {type: NAME}; "
                      "NAME:model also works without a config entry[/]")
