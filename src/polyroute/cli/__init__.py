"""The ``polyroute`` command line: check a config, list plugins, providers and
models, dry-run a route, and make one call.

Exit codes: 0 success, 1 no usable candidate or the call failed, 2 invalid
config or command line. Nothing here prints a secret: keys show only as
"set (env NAME)"/"missing (NAME)", and error text goes through
``polyroute.secrets.redact``.

Tests inject a plugin registry with ``CliRunner().invoke(main, args, obj=registry)``;
by default every installed plugin is loaded.
"""

from __future__ import annotations

import click

from polyroute.cli.commands_chat import chat
from polyroute.cli.commands_check import check
from polyroute.cli.commands_models import models
from polyroute.cli.commands_plugins import plugins
from polyroute.cli.commands_providers import providers
from polyroute.cli.commands_route import route
from polyroute.cli.state import CONFIG_ENV, make_state

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", metavar="PATH", envvar=CONFIG_ENV, show_envvar=True,
              help="Config file (default: ./polyroute.yaml, then ./polyroute.toml).")
@click.option("--profile", metavar="NAME",
              help="Profile overlay to apply (default: $POLYROUTE_PROFILE).")
@click.option("--debug", is_flag=True, help="Show a traceback for unexpected errors.")
@click.version_option(package_name="polyroute", prog_name="polyroute")
@click.pass_context
def main(ctx: click.Context, config: str | None, profile: str | None, debug: bool) -> None:
    """polyroute: route LLM calls across providers, by agent, task and capability."""
    make_state(ctx, config, profile, debug)


for _command in (check, plugins, providers, models, route, chat):
    main.add_command(_command)

from polyroute.cli.commands_batch import batch  # noqa: E402
from polyroute.cli.commands_cache import cache  # noqa: E402
from polyroute.cli.commands_cost import cost  # noqa: E402
from polyroute.cli.commands_usage import usage  # noqa: E402

for _command in (cost, usage, cache, batch):
    main.add_command(_command)

# the registry's commands: importing them needs only click (polyroute[admin] loads on use)
from polyroute.cli.commands_admin import admin  # noqa: E402
from polyroute.cli.commands_keys import keys  # noqa: E402
from polyroute.cli.commands_registry import registry  # noqa: E402

for _command in (admin, keys, registry):
    main.add_command(_command)

from polyroute.cli.commands_provider_checks import test  # noqa: E402

main.add_command(test)

from polyroute.cli.commands_health import health  # noqa: E402

main.add_command(health)

from polyroute.cli.commands_serve import serve  # noqa: E402

main.add_command(serve)

from polyroute.cli.commands_purge import purge  # noqa: E402

main.add_command(purge)
