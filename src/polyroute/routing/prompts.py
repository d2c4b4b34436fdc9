"""Per-agent system prompt templates: ``agents.<name>.system_prompt`` with variables.

A template is a ``string.Template``: ``$name`` or ``${name}``, ``$$`` for a dollar
sign. Nothing else is interpreted (no attribute access, no format specs), so a
variable's value can never reach into the program. Values come from the call's
``prompt_vars`` over the agent's ``prompt_vars`` defaults; a variable neither gives is
a ``PromptTemplateError`` (a ``ConfigError``) naming the agent, the variable and the
fix, raised before any provider is called.

The rendered prompt becomes the call's first message when the call brings no system
message of its own: a call overrides its agent, as with sampling parameters.
"""

from __future__ import annotations

import string

from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.types import ChatRequest, Message

__all__ = ["PromptTemplateError", "render_system_prompt", "with_agent_prompt"]


class PromptTemplateError(ConfigError):
    """An agent's system prompt template needs a variable the call did not give."""


def render_system_prompt(config: PolyrouteConfig, agent: str,
                         variables: dict[str, str] | None = None) -> str | None:
    """``agent``'s system prompt with ``variables`` (over its defaults), or ``None``."""
    cfg = config.agents.get(agent)
    if cfg is None or cfg.system_prompt is None:
        return None
    values = {**cfg.prompt_vars, **(variables or {})}
    try:
        return string.Template(cfg.system_prompt).substitute(values)
    except KeyError as exc:
        name = str(exc.args[0]) if exc.args else "?"
        given = ", ".join(sorted(values)) or "none"
        raise PromptTemplateError(
            f"agent '{agent}''s system_prompt needs ${name}, which the call's prompt_vars "
            f"and the agent's prompt_vars do not give (given: {given})",
            file=config.source, field=f"agents.{agent}.system_prompt",
            fix=f"pass prompt_vars={{'{name}': ...}} with the call, or set "
                f"agents.{agent}.prompt_vars.{name}",
        ) from None


def with_agent_prompt(request: ChatRequest, config: PolyrouteConfig) -> ChatRequest:
    """``request`` with its agent's system prompt first, if the agent has one and the
    call has no system message (else ``request`` itself)."""
    agent = request.routing.agent
    if agent is None:
        return request
    cfg = config.agents.get(agent)
    if cfg is None or cfg.system_prompt is None:
        return request
    if any(m.role == "system" for m in request.messages):
        return request
    text = render_system_prompt(config, agent, request.routing.prompt_vars)
    assert text is not None
    return request.model_copy(update={"messages": [Message.system(text), *request.messages]})
