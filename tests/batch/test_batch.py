"""``Router.batch``/``abatch`` and the JSONL row format: order, per-row typed errors,
bounded concurrency, the low priority tag, the cost check before anything is sent,
and input the row parser must survive."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from batch_standin import ScriptedResponder, batch_config
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.errors import BudgetExceeded, ConfigError, NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.router.batch import estimate_batch
from polyroute.router.batch_file import BatchInputError, parse_rows, read_done
from polyroute.routing.guards import Guard
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, ChatResponse, Message, RoutingHints


def req(text: str, **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot", tags=tags))


class Watch(Guard):
    """Sees every call: its priority tag, and how many calls are in flight at once."""

    name = "watch"

    def __init__(self) -> None:
        self.priorities: list[str | None] = []
        self.inflight = self.peak = 0
        self._lock = threading.Lock()

    def before_call(self, request: ChatRequest) -> ChatResponse | None:
        with self._lock:
            self.priorities.append(request.routing.tags.get("priority"))
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
        return None

    def _left(self) -> None:
        with self._lock:
            self.inflight -= 1

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        self._left()

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        self._left()


@pytest.fixture
def router(scripted: tuple[StandinServer, ScriptedResponder],
           registry: PluginRegistry) -> Any:
    server, _ = scripted
    watch = Watch()
    r = Router(batch_config(server.url), registry=registry, guards=[watch])
    r.watch = watch  # type: ignore[attr-defined]
    yield r
    r.close()


@pytest.mark.standin
def test_batch_answers_in_order_and_one_failure_stops_nothing(router: Any) -> None:
    requests = [req(f"q{i}" + (" FAIL-500" if i % 4 == 1 else "")) for i in range(40)]
    out = router.batch(requests, concurrency=4)
    assert len(out) == 40
    for i, o in enumerate(out):
        if i % 4 == 1:
            assert isinstance(o, NoRouteError) and "ServerError" in str(o)
        else:
            assert isinstance(o, ChatResponse) and o.message.text == f"standin says: q{i}"
    assert router.watch.peak <= 4


@pytest.mark.standin
async def test_abatch_bounds_concurrency_and_keeps_order(router: Any) -> None:
    out = await router.abatch([req(f"a{i}") for i in range(30)], concurrency=3)
    assert [o.message.text for o in out] == [f"standin says: a{i}" for i in range(30)]
    assert router.watch.peak <= 3


@pytest.mark.standin
def test_batch_rows_go_at_low_priority_unless_they_say_otherwise(router: Any) -> None:
    router.batch([req("x"), req("y", priority="high")], concurrency=1)
    assert sorted(router.watch.priorities, key=str) == ["high", "low"]


@pytest.mark.standin
def test_a_batch_over_its_cost_limit_sends_nothing(
    router: Any, scripted: tuple[StandinServer, ScriptedResponder]
) -> None:
    _, responder = scripted
    requests = [req(f"q{i}") for i in range(50)]
    est = estimate_batch(router, requests)
    # 100 max_tokens at $2/MTok out + the prompt at $1/MTok, per request
    assert est.requests == 50 and est.unpriced == 0
    # the agent's max_tokens (100) bounds each output: 100 at $2/MTok + a short prompt
    assert 50 * 100 * 2e-6 < est.usd < 50 * (100 * 2e-6 + 50 * 1e-6)
    with pytest.raises(BudgetExceeded) as info:
        router.batch(requests, max_cost_usd=est.usd / 2)
    assert "nothing was sent" in str(info.value)
    assert responder.prompts == []
    assert len(router.batch(requests, max_cost_usd=est.usd)) == 50  # at the limit: runs


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_bad_concurrency_is_refused_by_name(router: Any, bad: Any) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        router.batch([req("x")], concurrency=bad)


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_bad_cost_limit_is_refused_by_name(router: Any, bad: float) -> None:
    with pytest.raises(ConfigError, match="max_cost_usd"):
        router.batch([req("x")], max_cost_usd=bad)


# --- the row format ----------------------------------------------------------------------

def test_bad_rows_become_their_own_typed_errors() -> None:
    lines = [
        '{"id": "a", "prompt": "fine"}',
        "not json",
        '["a", "list"]',
        '{"id": "b"}',
        '{"id": "c", "prompt": "x", "tempreature": 1}',
        '{"id": "d", "prompt": "x", "params": {"temperature": "hot"}}',
        '{"id": {"nested": 1}, "prompt": "x"}',
        '{"id": "e", "messages": [{"role": "user", "content": "hi"}], "system": "be brief"}',
        "",
    ]
    rows = parse_rows(lines, {"agent": "bot"})
    by_id = {r.id: r for r in rows}
    assert by_id["a"].request is not None and by_id["a"].request.routing.agent == "bot"
    assert "not JSON" in str(by_id["line-2"].error)
    assert "JSON object" in str(by_id["line-3"].error)
    assert "prompt" in str(by_id["b"].error)
    assert "tempreature" in str(by_id["c"].error)
    assert "temperature" in str(by_id["d"].error)
    assert "'id'" in str(by_id["line-7"].error)
    e = by_id["e"].request
    assert e is not None and [m.role for m in e.messages] == ["system", "user"]
    assert all(isinstance(r.error, BatchInputError) for r in rows if r.request is None)


def test_command_line_targets_apply_only_to_rows_that_name_none() -> None:
    rows = parse_rows(['{"id": 1, "prompt": "a"}', '{"id": 2, "prompt": "b", "agent": "x"}',
                       '{"id": 3, "prompt": "c", "task": "t"}'], {"model": "p:m"})
    hints = [r.request.routing for r in rows if r.request is not None]
    assert [(h.agent, h.task, h.model) for h in hints] == [
        (None, None, "p:m"), ("x", None, None), (None, "t", None)]


def test_two_rows_with_one_id_refuse_the_batch_up_front() -> None:
    with pytest.raises(BatchInputError, match="lines 1 and 3 share the id '7'"):
        parse_rows(['{"id": 7, "prompt": "a"}', '{"id": 8, "prompt": "b"}',
                    '{"id": "7", "prompt": "c"}'])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.text(max_size=80),
    st.dictionaries(st.sampled_from(["id", "prompt", "messages", "params", "tags", "agent",
                                     "priority", "x"]),
                    st.one_of(st.none(), st.integers(), st.text(max_size=10), st.booleans(),
                              st.lists(st.integers(), max_size=2),
                              st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)),
                    max_size=5).map(json.dumps),
), max_size=12))
def test_any_input_lines_parse_to_rows_or_a_typed_error(lines: list[str]) -> None:
    try:
        rows = parse_rows(lines)
    except BatchInputError:
        return  # duplicate ids: the one whole-batch refusal
    assert all((r.request is None) != (r.error is None) for r in rows)
    assert all(isinstance(r.error, BatchInputError) for r in rows if r.error is not None)


def test_a_torn_last_line_is_cut_off_and_not_counted_done(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "ok": true}\n{"id": "b", "ok": true}\n{"id": "c", "o')
    assert read_done(out) == {"a", "b"}
    assert out.read_text().endswith('"b", "ok": true}\n')


def test_a_file_this_command_did_not_write_is_not_appended_to(tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my notes\n")
    with pytest.raises(BatchInputError, match="not a batch output row"):
        read_done(out)
    assert out.read_text() == "my notes\n"


@pytest.mark.standin
def test_once_the_spend_reaches_the_limit_the_rest_is_not_sent_and_resumes_later(
    router: Any, scripted: tuple[StandinServer, ScriptedResponder], tmp_path: Path
) -> None:
    from polyroute.router.batch import NotSent
    from polyroute.router.batch_file import run_file

    _, responder = scripted
    # max_tokens=1, but the stand-in answers with more tokens than that (as a provider
    # ignoring the cap would): the real spend outruns the worst-case estimate
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "prompt": f"{i} " + "word " * 50,
                                       "params": {"max_tokens": 1}}) + "\n"
                           for i in range(20)))
    rows = [r.request for r in parse_rows(src.read_text().splitlines(), {"agent": "bot"})]
    limit = estimate_batch(router, [r for r in rows if r is not None]).usd
    out = tmp_path / "out.jsonl"
    first = run_file(router, src, out, concurrency=1, max_cost_usd=limit,
                     defaults={"agent": "bot"})
    assert first.not_sent > 0 and first.answered + first.not_sent == 20
    assert len(responder.prompts) == first.answered  # not-sent rows never left
    assert first.spent_usd >= limit
    assert len(out.read_text().splitlines()) == first.answered  # and were not written
    second = run_file(router, src, out, concurrency=1, defaults={"agent": "bot"})
    assert (second.skipped_done, second.answered) == (first.answered, first.not_sent)
    assert len({json.loads(x)["id"] for x in out.read_text().splitlines()}) == 20
    sent = router.batch([req("a"), req("b")], concurrency=1,
                        max_cost_usd=estimate_batch(router, [req("a"), req("b")]).usd)
    assert not any(isinstance(o, NotSent) for o in sent)  # an honest provider: all sent


@pytest.mark.standin
def test_the_cli_shows_a_progress_bar_with_spend(
    scripted: tuple[StandinServer, ScriptedResponder], registry: PluginRegistry, tmp_path: Path
) -> None:
    import yaml
    from click.testing import CliRunner

    from polyroute.cli import main

    server, _ = scripted
    cfg = tmp_path / "polyroute.yaml"
    cfg.write_text(yaml.safe_dump(batch_config(server.url)))
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}"}) + "\n" for i in range(5)))
    result = CliRunner().invoke(main, ["--config", str(cfg), "batch", str(src), "-o",
                                       str(tmp_path / "o.jsonl"), "--agent", "bot"],
                                obj=registry, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "5 rows, 0 already done, 5 to send; estimate: worst case $" in result.output
    bar = next(line for line in result.output.splitlines() if line.startswith("batch"))
    assert "5/5" in bar and "ETA" in bar and "spent $0.0" in bar
    assert "answered 5, failed 0 (none), not sent 0" in result.output
