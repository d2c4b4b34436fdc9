"""``polyroute route``: a dry run of the routing decision, no network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.hints import build_request, capability_options, target_options
from polyroute.cli.state import (
    EXIT_FAILED,
    State,
    config_options,
    guarded,
    json_option,
    pass_state,
)

if TYPE_CHECKING:
    from polyroute.router import Router
    from polyroute.routing.experiments import Assignment
    from polyroute.routing.plan import Deployment, Plan
    from polyroute.routing.rules import RuleVerdict
    from polyroute.types import ChatRequest


@dataclass(frozen=True, slots=True)
class Row:
    tier: int
    order: int | None
    """Position in the call order (1-based), ``None`` if skipped."""
    provider: str
    model: str
    reason: str | None
    """``None`` if usable, else why it is skipped."""
    note: str | None = None
    """A remark on a usable candidate (``max_latency_ms`` not judged, say)."""

    @property
    def status(self) -> str:
        if self.reason is not None:
            return self.reason
        return "ok" if self.note is None else f"ok ({self.note})"


@click.command()
@click.argument("agent", required=False)
@click.option("--explain", is_flag=True,
              help="Show the source, strategy, every tier with skip reasons, params, and "
                   "what each budget will do.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None,
              help="Simulate a call with this max_tokens (budgets reserve for it).")
@click.option("--max-cost", type=click.FloatRange(min=0), default=None,
              help="Simulate a call with this max_cost_usd.")
@click.option("--max-latency-ms", type=float, default=None,
              help="Simulate a call with this max_latency_ms (judged on observed p95).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Simulate a call with this routing tag (repeatable), e.g. tenant=free, or "
                   "user=alice: the experiment variant that user gets.")
@click.option("--prompt", "prompt", default=None, metavar="TEXT",
              help="Simulate this prompt (rules on prompt_tokens/complexity read it).")
@click.option("--prompt-file", "prompt_file", type=click.File("r", encoding="utf-8"),
              default=None, help="Simulate the prompt in this file ('-': stdin).")
@click.option("--min-quality", type=float, default=None,
              help="Simulate a call with this min_quality (0-100, models: quality).")
@target_options(agent=False)
@capability_options
@config_options
@json_option
@pass_state
@guarded
def route(
    state: State, agent: str | None, explain: bool, max_tokens: int | None,
    max_cost: float | None, max_latency_ms: float | None, task: str | None, model: str | None,
    fallbacks: tuple[str, ...], tools: bool, vision: bool, json_schema: bool,
    capabilities: tuple[str, ...], as_json: bool, tags: tuple[str, ...] = (),
    prompt: str | None = None, prompt_file: Any = None, min_quality: float | None = None,
) -> None:
    """Dry-run the routing of a call: which candidates, in which order.

    Give an AGENT, --task or --model (or nothing, for the config's default).
    Flags such as --tools simulate a request that needs that capability.
    Exits 1 if no candidate is usable.
    """
    import math

    from polyroute.cli import render
    from polyroute.config.rules import env_override_note
    from polyroute.types import GenerationParams

    if max_cost is not None and not math.isfinite(max_cost):
        raise click.BadParameter("must be a finite number of USD", param_hint="--max-cost")
    if prompt is not None and prompt_file is not None:
        raise click.UsageError("give --prompt or --prompt-file, not both")
    text = prompt_file.read() if prompt_file is not None else prompt
    request = build_request(
        text if text is not None else "(dry run)", agent=agent, task=task, model=model,
        fallbacks=fallbacks,
        tools=tools, vision=vision, json_schema=json_schema, capabilities=capabilities,
        params=GenerationParams(max_tokens=max_tokens) if max_tokens else None,
    )
    if max_latency_ms is not None:
        request.routing.max_latency_ms = max_latency_ms
    if max_cost is not None:
        request.routing.max_cost_usd = max_cost
    request.routing.tags = _parse_tags(tags)
    if min_quality is not None:
        request.routing.min_quality = min_quality
    with state.router() as router:
        request, assignment = router.experiments.assign(request)  # the variant that decides
        plan = router.plan(request)
        rows = explain_rows(router, request, plan)
        budget = budget_verdicts(router, request, plan, rows)
        ranked = router.rankings(request, plan) if plan.tiers else []
        ranks = {f"{r.dep.provider}/{r.dep.model}": r for tier in ranked for r in tier}
        verdicts = router.planner.rules.explain(request, router.planner.plain_source)
        env_note = env_override_note(router.config, request.routing.agent)
        template = _prompt_facts(router.config, request.routing.agent)
    usable = [r for r in rows if r.reason is None]
    needed = sorted(c.value for c in request.required_capabilities())
    if as_json:
        from polyroute.cli.facts import describe_params

        render.emit_json({
            "source": plan.description, "strategy": plan.strategy,
            "experiment": None if assignment is None else {
                "name": assignment.experiment, "variant": assignment.variant,
                "how": assignment.how},
            "required_capabilities": needed, "params": describe_params(plan.params),
            "rules": [{"rule": v.name, "matched": v.matched, "why": v.why, "target": v.target}
                      for v in verdicts],
            "env_override": env_note,
            "system_prompt": template,
            "candidates": [
                {"tier": r.tier, "order": r.order, "provider": r.provider, "model": r.model,
                 "status": "ok" if r.reason is None else "skipped", "reason": r.reason,
                 "note": r.note,
                 "budget": budget.get(f"{r.provider}/{r.model}"),
                 **_rank_json(ranks.get(f"{r.provider}/{r.model}"))}
                for r in rows
            ],
        })
    elif explain:
        _print_rules(verdicts, env_note, bool(request.routing.model))
        if template is not None:
            render.console().print(
                f"[bold]system:[/]   agent template ({len(template['template'])} chars; "
                f"variables: {render.safe(', '.join(template['variables']) or 'none')}; "
                f"defaults: {render.safe(', '.join(template['defaults']) or 'none')}) "
                "unless the call brings its own system message")
        _print_explain(plan, rows, needed, ranks, budget, assignment)
    else:
        out = render.console()
        for r in usable:
            out.print(f"{render.safe(r.provider)}/{render.safe(r.model)}")
    if not usable:
        if not as_json:
            render.console(stderr=True).print(
                f"[bold red]error: no usable candidate for {render.safe(plan.description)}[/]"
            )
            for r in rows:
                render.console(stderr=True).print(
                    f"[red]  - {render.safe(r.provider)}/{render.safe(r.model)} skipped: "
                    f"{render.safe(r.reason)}[/]"
                )
        raise click.exceptions.Exit(EXIT_FAILED)


def _prompt_facts(config: Any, agent: str | None) -> dict[str, Any] | None:
    """The agent's system prompt template and its variables (``routing/prompts.py``)."""
    import string

    cfg = config.agents.get(agent) if agent else None
    if cfg is None or cfg.system_prompt is None:
        return None
    names = string.Template(cfg.system_prompt).get_identifiers()
    return {"template": cfg.system_prompt, "variables": [f"${n}" for n in names],
            "defaults": sorted(cfg.prompt_vars)}


def _parse_tags(tags: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{tag!r} is not KEY=VALUE", param_hint="--tag")
        out[key.strip()] = value.strip()
    return out


def _print_rules(verdicts: list[RuleVerdict], env_note: str | None, explicit: bool) -> None:
    """Which conditional rule decided, and why each earlier one did not."""
    from polyroute.cli import render

    out = render.console()
    if env_note:
        out.print(f"[bold]agent:[/]    {render.safe(env_note)}")
    if explicit and verdicts == []:
        out.print("[bold]rules:[/]    not consulted (the call names a model)")
        return
    if not verdicts:
        return
    out.print("[bold]rules:[/]    tried in order, the first match decides")
    for v in verdicts:
        mark = "[green]matched[/]" if v.matched else "no match"
        out.print(f"  {render.safe(v.name)} → {render.safe(v.target)}: {mark} "
                  f"({render.safe(v.why)})")
    if not verdicts[-1].matched:
        out.print("  (no rule matched: the call keeps its own route)")


def _rank_json(k: Any) -> dict[str, Any]:
    return {"score": k.score if k else None, "why": k.why if k else None}


def budget_verdicts(router: Router, request: ChatRequest, plan: Plan, rows: list[Row]
                    ) -> dict[str, str]:
    """Per usable candidate, what the budget guard will do with this call (reserve,
    refuse, downgrade, warn) and its worst case; reads counters, reserves nothing."""
    from polyroute.budgets.guard import CostGuard
    from polyroute.budgets.per_call import MaxCostGuard
    from polyroute.routing.plan import Deployment

    guard = next((g for g in router.guards if isinstance(g, CostGuard | MaxCostGuard)), None)
    if guard is None:
        return {}
    if plan.params.model_fields_set or plan.params.extra:  # as the router will send it
        request = request.model_copy(update={"params": request.params.merged_over(plan.params)})
    return {f"{r.provider}/{r.model}": guard.verdict(Deployment(r.provider, r.model), request)
            for r in rows if r.reason is None}


def explain_rows(router: Router, request: ChatRequest, plan: Plan) -> list[Row]:
    """Every candidate of the plan's source, tier by tier: usable ones in the order
    the strategy chose, then the skipped ones with their reasons."""
    source_tiers: tuple[tuple[Deployment, ...], ...] = router.planner.source(request).tiers
    skipped = list(plan.skipped)
    planned = iter(plan.tiers)
    rows: list[Row] = []
    order = 0
    for t, tier in enumerate(source_tiers, start=1):
        skipped_here: list[Row] = []
        any_usable = False
        for dep in tier:
            if skipped and (skipped[0].provider, skipped[0].model) == (dep.provider, dep.model):
                outcome = skipped.pop(0)
                skipped_here.append(Row(t, None, dep.provider, dep.model, outcome.reason))
            else:
                any_usable = True
        if any_usable:
            for dep in next(planned, []):
                order += 1
                rows.append(Row(t, order, dep.provider, dep.model, None, plan.notes.get(dep)))
        rows += skipped_here
    return rows


def _print_explain(
    plan: Plan, rows: list[Row], needed: list[str], ranks: dict[str, Any] | None = None,
    budget: dict[str, str] | None = None, experiment: Assignment | None = None,
) -> None:
    from polyroute.cli import render
    from polyroute.cli.facts import describe_params

    out = render.console()
    out.print(f"[bold]source:[/]   {render.safe(plan.description)}")
    out.print(f"[bold]strategy:[/] {render.safe(plan.strategy)}")
    if experiment is not None:
        out.print(f"[bold]experiment:[/] {render.safe(experiment.experiment)} → variant "
                  f"{render.safe(experiment.variant)} ({render.safe(experiment.how)})")
    out.print(f"[bold]requires:[/] {render.safe(', '.join(needed) or 'nothing special')}")
    t = render.table(
        None, ["tier", "#", "candidate", "status"],
        [(r.tier, r.order if r.order is not None else "-", f"{r.provider}/{r.model}", r.status)
         for r in rows],
    )
    out.print(t)
    if ranks:
        out.print(render.table(
            f"why this order ({plan.strategy})", ["#", "candidate", "score", "why this rank"],
            [(r.order, f"{r.provider}/{r.model}",
              "-" if (k := ranks[f"{r.provider}/{r.model}"]).score is None else f"{k.score:g}",
              k.why) for r in rows if r.order is not None and f"{r.provider}/{r.model}" in ranks],
        ))
    params: dict[str, Any] = describe_params(plan.params)
    text = ", ".join(f"{k}={v}" for k, v in params.items()) or "none (provider defaults)"
    out.print(f"[bold]params:[/]   {render.safe(text)}")
    if budget and any(v != "no budget" for v in budget.values()):
        out.print("[bold]budget:[/]   what the budget guard will do with this call")
        for r in rows:
            verdict = budget.get(f"{r.provider}/{r.model}")
            if verdict is not None:
                out.print(f"  {render.safe(f'{r.provider}/{r.model}')}: {render.safe(verdict)}")
