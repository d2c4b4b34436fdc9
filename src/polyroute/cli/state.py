"""What every command shares: where the config is, which plugins, error handling.

Kept free of heavy imports: ``polyroute --help`` only needs click. The router,
the config loader and the plugin registry are imported when a command runs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.plugins.manager import PluginRegistry
    from polyroute.router import Router

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILES",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "State",
    "config_options",
    "guarded",
    "json_option",
    "pass_state",
]

CONFIG_ENV = "POLYROUTE_CONFIG"
DEFAULT_CONFIG_FILES = ("polyroute.yaml", "polyroute.toml")
EXIT_FAILED = 1
"""A call or a dry run found no usable candidate, or a provider failed for good."""
EXIT_CONFIG = 2
"""The config is invalid (also click's exit code for a bad command line)."""

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class State:
    """Options of the ``polyroute`` group, shared by its commands (``ctx.obj``)."""

    config: str | None = None
    profile: str | None = None
    debug: bool = False
    injected_registry: PluginRegistry | None = None

    @property
    def registry(self) -> PluginRegistry:
        """The injected registry (tests) or every installed plugin."""
        if self.injected_registry is None:
            from polyroute.plugins.manager import default_registry

            self.injected_registry = default_registry()
        # the seam does not know the built-in strategies: `check` and `plugins` list them
        from polyroute.routing.strategies import with_builtin_strategies

        return with_builtin_strategies(self.injected_registry)

    def config_path(self, *, required: bool) -> str | None:
        """``--config``, else ``$POLYROUTE_CONFIG``, else ``./polyroute.yaml``/``.toml``."""
        if self.config:
            return self.config
        env = os.environ.get(CONFIG_ENV)
        if env:
            return env
        for name in DEFAULT_CONFIG_FILES:
            if Path(name).is_file():
                return name
        if required:
            from polyroute.errors import ConfigError

            raise ConfigError(
                "no config file found (looked for --config, $POLYROUTE_CONFIG, "
                + ", ".join(f"./{n}" for n in DEFAULT_CONFIG_FILES) + ")",
                fix="pass --config PATH or create ./polyroute.yaml (see docs/config.md)",
            )
        return None

    def load_config(self, *, required: bool) -> PolyrouteConfig | None:
        path = self.config_path(required=required)
        if path is None:
            return None
        from polyroute.config.loader import load_config

        return load_config(path, profile=self.profile)

    def router(self, *, required: bool = False) -> Router:
        """A router over the config (or over no config: explicit models only).

        No network: building a router only validates and builds providers.
        """
        from polyroute.router import Router

        return Router(self.load_config(required=required), registry=self.registry)


def pass_state(f: Callable[..., R]) -> Callable[..., R]:
    """Like ``click.pass_obj`` for ``State``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        return f(_state(click.get_current_context()), *args, **kwargs)

    return wrapper


def _state(ctx: click.Context) -> State:
    state = ctx.find_object(State)
    if state is None:  # a command invoked on its own, without the group
        root = ctx.find_root()
        state = State(injected_registry=_as_registry(root.obj))
        root.obj = state
    return state


def _as_registry(obj: object) -> PluginRegistry | None:
    if obj is None or isinstance(obj, State):
        return None
    from polyroute.plugins.manager import PluginRegistry

    if isinstance(obj, PluginRegistry):
        return obj
    raise TypeError(f"ctx.obj must be a PluginRegistry or None, not {type(obj).__name__}")


def make_state(ctx: click.Context, config: str | None, profile: str | None, debug: bool) -> State:
    """The group callback's work: wrap an injected registry (``obj=``) in a ``State``."""
    obj = ctx.obj
    state = obj if isinstance(obj, State) else State(injected_registry=_as_registry(obj))
    state.config = config or state.config
    state.profile = profile or state.profile
    state.debug = debug or state.debug
    ctx.obj = state
    return state


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        _state(ctx).config = value


def _set_profile(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        _state(ctx).profile = value


def config_options(f: Callable[P, R]) -> Callable[P, R]:
    """``--config``/``--profile`` on a command too, so they may follow its name."""
    f = click.option(
        "--config", "-c", metavar="PATH", expose_value=False, callback=_set_config,
        help="Config file (default: $POLYROUTE_CONFIG, ./polyroute.yaml, ./polyroute.toml).",
    )(f)
    return click.option(
        "--profile", metavar="NAME", expose_value=False, callback=_set_profile,
        help="Profile overlay to apply (default: $POLYROUTE_PROFILE).",
    )(f)


def json_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(f)


def guarded(f: Callable[P, R]) -> Callable[P, R]:
    """Turn polyroute's typed errors into a clear message and an exit code, never a
    traceback: ``ConfigError`` exits 2, every other error 1."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        try:
            return f(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("", err=True)
            ctx.exit(130)
        except Exception as exc:
            from polyroute.cli import render
            from polyroute.errors import ConfigError, PolyrouteError

            if isinstance(exc, ConfigError):
                render.config_error(exc)
                ctx.exit(EXIT_CONFIG)
            if isinstance(exc, PolyrouteError):
                render.polyroute_error(exc)
                ctx.exit(EXIT_FAILED)
            if _state(ctx).debug:
                raise
            render.internal_error(exc)
            ctx.exit(EXIT_FAILED)

    return wrapper
