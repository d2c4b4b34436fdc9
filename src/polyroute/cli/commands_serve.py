"""``polyroute serve``: the admin REST API (``polyroute[admin]``) under uvicorn.

Runs on the embedded SQLite registry with no other set-up; see docs/admin-api.md.
"""

from __future__ import annotations

import copy
from typing import Any

import click

from polyroute.cli.state import EXIT_CONFIG, State, pass_state

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. A non-loopback address needs an admin token "
                   "to exist first (see --init-only).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--registry", "registry_url", metavar="URL", envvar="POLYROUTE_REGISTRY_URL",
              show_envvar=True,
              help="Registry database URL (default: a SQLite file in the user's data dir).")
@click.option("--allow-private-endpoints", is_flag=True,
              envvar="POLYROUTE_ADMIN_ALLOW_PRIVATE_ENDPOINTS", show_envvar=True,
              help="Accept loopback/private provider endpoints (local vLLM, Ollama). "
                   "Cloud metadata addresses stay refused.")
@click.option("--require-approval", is_flag=True,
              envvar="POLYROUTE_ADMIN_REQUIRE_APPROVAL", show_envvar=True,
              help="Two-person approval: deleting a provider, changing a credential or "
                   "raising a budget must be proposed and approved by another admin.")
@click.option("--bootstrap-token-file", metavar="PATH",
              help="Where the first admin token is written on a first run "
                   "(default: ~/.config/polyroute/admin-token, owner-only).")
@click.option("--init-only", is_flag=True,
              help="Create or check the registry and the first admin token, then exit.")
@pass_state
def serve(state: State, host: str, port: int, registry_url: str | None,
          allow_private_endpoints: bool, require_approval: bool,
          bootstrap_token_file: str | None, init_only: bool) -> None:
    """Serve the admin REST API (OpenAPI at /openapi.json, endpoints under /api/admin)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise click.ClickException(
            "polyroute serve needs the admin extra: pip install 'polyroute[admin]'") from None
    from polyroute.admin.api import AdminSettings, create_app
    from polyroute.admin.api.bootstrap import prepare
    from polyroute.errors import PolyrouteError
    from polyroute.secrets import redact

    try:
        ready = prepare(registry_url, host=host, token_file=bootstrap_token_file)
        settings = AdminSettings(allow_private_endpoints=allow_private_endpoints,
                                 config_path=state.config_path(required=False),
                                 plugins=state.registry, keyring=ready.registry.keyring,
                                 require_approval=require_approval)
        app = create_app(settings=settings, registry=ready.registry)
    except PolyrouteError as exc:
        click.echo(f"error: {redact(str(exc))}", err=True)
        raise click.exceptions.Exit(EXIT_CONFIG) from None
    for note in ready.notes:
        click.echo(note, err=True)
    if init_only:
        click.echo("registry ready; not serving (--init-only)", err=True)
        return
    click.echo(f"admin API on http://{host}:{port}/api/admin (OpenAPI: /openapi.json)",
               err=True)
    # uvicorn's access log would print query strings; the app logs path, status and id
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=_log_config())


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the app's request lines (method, path, status, id)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["polyroute.admin.api"] = {
        "handlers": ["default"], "level": "INFO", "propagate": False}
    return config
