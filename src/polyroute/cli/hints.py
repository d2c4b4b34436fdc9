"""Routing options shared by ``route`` and ``chat``, and the request they describe."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from polyroute.types import ChatRequest, GenerationParams

__all__ = ["build_request", "capability_options", "target_options"]

F = TypeVar("F", bound=Callable[..., Any])

_CAPS = (
    "tools", "parallel_tools", "vision", "json_mode", "json_schema", "streaming",
    "system_prompt", "reasoning", "prompt_caching",
)


def target_options(*, agent: bool) -> Callable[[F], F]:
    """``--task``, ``--model``, ``--fallback`` (and ``--agent`` when ``agent``)."""

    def deco(f: F) -> F:
        f = click.option("--fallback", "fallbacks", multiple=True, metavar="MODEL",
                         help="With --model: a fallback model (repeatable, in order).")(f)
        f = click.option("--model", "-m", metavar="PROVIDER:MODEL",
                         help="Call this model (the agent's params still apply).")(f)
        f = click.option("--task", "-t", metavar="ROUTE", help="Use this task route.")(f)
        if agent:
            f = click.option("--agent", "-a", metavar="NAME", help="Route as this agent.")(f)
        return f

    return deco


def capability_options(f: F) -> F:
    """Flags simulating what a request needs, so candidates lacking it are skipped."""
    f = click.option("--capability", "capabilities", multiple=True, type=click.Choice(_CAPS),
                     help="Require this capability (repeatable).")(f)
    f = click.option("--json-schema", "json_schema", is_flag=True,
                     help="Require structured output (json_schema).")(f)
    f = click.option("--vision", is_flag=True, help="Require image input (vision).")(f)
    f = click.option("--tools", is_flag=True, help="Require tool calling (tools).")(f)
    return f


def build_request(
    prompt: str, *, system: str | None = None, agent: str | None = None,
    task: str | None = None, model: str | None = None, fallbacks: tuple[str, ...] = (),
    tools: bool = False, vision: bool = False, json_schema: bool = False,
    capabilities: tuple[str, ...] = (), params: GenerationParams | None = None,
) -> ChatRequest:
    from polyroute.types import (
        Capability,
        ChatRequest,
        GenerationParams,
        Message,
        RoutingHints,
    )

    if agent and task:
        raise click.UsageError("give an agent or --task, not both (an agent has its own route)")
    if fallbacks and not model:
        raise click.UsageError("--fallback goes with --model")
    for hint, ref in [("--model", model), *(("--fallback", f) for f in fallbacks)]:
        if ref is not None:
            _check_ref(hint, ref)
    needed = {Capability(c) for c in capabilities}
    if tools:
        needed.add(Capability.TOOLS)
    if vision:
        needed.add(Capability.VISION)
    if json_schema:
        needed.add(Capability.JSON_SCHEMA)
    messages = [Message.system(system)] if system else []
    messages.append(Message.user(prompt))
    return ChatRequest(
        messages=messages, params=params or GenerationParams(),
        routing=RoutingHints(
            agent=agent, task=task, model=model, fallbacks=list(fallbacks), capabilities=needed
        ),
    )


def _check_ref(hint: str, ref: str) -> None:
    from polyroute.errors import ConfigError
    from polyroute.routing.plan import parse_model_ref

    try:
        parse_model_ref(ref)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc.reason}; {exc.fix}", param_hint=hint) from None
