"""``polyroute batch``: 1,000 rows against a stand-in with injected failures, killed
with SIGKILL mid-run and resumed — every row ends in exactly one answer or one typed
error, none is missing, and no row already written is sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from batch_standin import SECRET, ScriptedResponder, batch_config
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer

SUPPORT = Path(__file__).resolve().parents[1] / "support"
ROWS = 1000

CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import echo_provider
    from polyroute.cli import main
    from polyroute.plugins import PluginRegistry
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])
    main.main(args=sys.argv[2:], obj=registry, prog_name="polyroute")
""")


def kind(i: int) -> str:
    """What row ``i`` is scripted to end in (the error's cause, for a failed call)."""
    if i % 200 == 50:
        return "BatchInputError"  # a key the row format does not have
    if i % 10 == 3:
        return "ServerError"  # a 500 on its only candidate: NoRouteError, nothing left
    if i % 10 == 7:
        return "BadRequestError"  # a 400
    if i % 100 == 99:
        return "AuthenticationError"  # a 401 whose body echoes the key
    return "ok"


def write_input(path: Path) -> None:
    lines = []
    for i in range(ROWS):
        row: dict[str, Any] = {"id": f"r{i:04d}", "prompt": f"row r{i:04d}"}
        k = kind(i)
        if k == "BatchInputError":
            row["tempreature"] = 0.2
        elif k != "ok":
            status = {"ServerError": 500, "BadRequestError": 400, "AuthenticationError": 401}[k]
            row["prompt"] += f" FAIL-{status}"
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")


def output_rows(path: Path) -> list[dict[str, Any]]:
    """Complete lines only (a line torn by the kill is what a resume cuts off)."""
    data = path.read_bytes()
    return [json.loads(x) for x in data[:data.rfind(b"\n") + 1].splitlines() if x.strip()]


def config_file(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "polyroute.yaml"
    cfg.write_text(yaml.safe_dump(batch_config(url, ledger={"path": str(tmp_path / "u.db")})))
    return cfg


@pytest.mark.standin
def test_a_kill_9_mid_batch_then_resume_leaves_every_row_exactly_once(
    scripted: tuple[StandinServer, ScriptedResponder], registry: PluginRegistry,
    tmp_path: Path,
) -> None:
    server, responder = scripted
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src)
    cfg = config_file(tmp_path, server.url)
    responder.open_for = 300  # the 301st request on waits: the kill finds a batch mid-run
    args = ["--config", str(cfg), "batch", str(src), "-o", str(out), "--agent", "bot",
            "--concurrency", "8", "--no-progress"]
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(SUPPORT), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        # waiting on a condition (300 rows on disk), bounded only against a hang
        while not (out.exists() and len(output_rows(out)) >= 300):
            if child.poll() is not None:
                pytest.fail(f"the batch exited early: {child.communicate()[1]}")
            assert time.monotonic() < deadline, "the batch never reached 300 rows"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None and child.returncode is None:
            child.kill()
        child.communicate(timeout=30)  # reaps it and closes its pipes
    assert child.returncode == -signal.SIGKILL
    responder.release()
    before = output_rows(out)
    done_at_kill = {r["id"] for r in before}
    assert 300 <= len(done_at_kill) < ROWS  # killed mid-run, for real
    with out.open("a") as f:
        f.write('{"id": "r09')  # as if the kill had landed mid-write: a torn last line
    responder.open_for = None
    sent_before = len(responder.prompts)

    result = CliRunner().invoke(main, args, obj=registry)

    assert result.exit_code == 1, result.output  # some rows failed, on purpose
    rows = output_rows(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == ROWS  # no duplicate, none missing
    assert set(ids) == {f"r{i:04d}" for i in range(ROWS)}
    resent = [p for p in responder.prompts[sent_before:] if p.split()[1] in done_at_kill]
    assert resent == []  # done rows were not sent again
    for row in rows:
        i = int(row["id"][1:])
        expected = kind(i)
        if expected == "ok":
            assert row["ok"] is True and row["answer"] == f"standin says: row r{i:04d}"
            assert row["call_id"] and row["cost_usd"] > 0
        else:
            assert row["ok"] is False
            err = row["error"]
            if expected == "BatchInputError":
                assert err["type"] == expected and "tempreature" in err["message"]
            else:  # one candidate: the call ends in NoRouteError, naming why
                assert (err["type"], err["cause"]) == ("NoRouteError", expected), row
                assert expected in err["message"]
    assert SECRET not in out.read_text()  # the 401 bodies echoed the key: masked
    summary = result.output
    assert "answered" in summary and "failed" in summary


@pytest.mark.standin
def test_a_finished_batch_run_again_sends_nothing(
    scripted: tuple[StandinServer, ScriptedResponder], registry: PluginRegistry,
    tmp_path: Path,
) -> None:
    server, responder = scripted
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"id": i, "prompt": f"q {i}"}) + "\n" for i in range(20)))
    cfg = config_file(tmp_path, server.url)
    args = ["--config", str(cfg), "batch", str(src), "-o", str(out), "--agent", "bot"]
    first = CliRunner().invoke(main, args, obj=registry)
    assert first.exit_code == 0, first.output
    assert len(responder.prompts) == 20
    again = CliRunner().invoke(main, args, obj=registry)
    assert again.exit_code == 0, again.output
    assert len(responder.prompts) == 20
    assert "20 already done, 0 to send" in again.output
    assert len(output_rows(out)) == 20
