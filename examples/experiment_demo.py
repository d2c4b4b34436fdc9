"""An A/B experiment, offline: two variants of one agent on a stand-in, feedback sent,
then ``polyroute usage --experiment`` and its plot.

The support agent normally answers with ``gpt-4.1``; the experiment ``cheaper_model``
sends half of the users (sticky by their ``user`` tag) to ``gpt-4.1-mini``. 200
simulated users ask a question each; a seeded "user rating" scores each answer
(the mini variant is rated a little lower, as a real test might find), and the
demo sends it with ``router.feedback(call_id, score=...)``. Then it prints the
per-variant table (calls, cost, p50/p95, success, fallback, mean feedback with
95 % intervals) and saves the plot.

    python examples/experiment_demo.py                       # plot: docs/img/experiment_demo.png
    python examples/experiment_demo.py --plot /tmp/exp.png
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from polyroute.cli import main as cli
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from polyroute_openai.standin import OpenAIResponder

DEFAULT_PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "experiment_demo.png"


def demo_config(openai_url: str, ledger: Path) -> dict[str, Any]:
    return {
        "providers": {"openai": {"type": "openai", "base_url": f"{openai_url}/v1",
                                 "api_key": "demo-key-not-secret"}},
        "agents": {"support_agent": {"model": "openai:gpt-4.1", "max_tokens": 200}},
        "experiments": {"cheaper_model": {
            "agent": "support_agent", "key": "user",
            "variants": {"control": {"weight": 50},
                         "mini": {"weight": 50, "model": "openai:gpt-4.1-mini"}},
        }},
        "retry": {"attempts": 2, "initial_backoff": 0.01},
        "ledger": {"path": str(ledger)},
    }


def rating(variant: str, rng: random.Random) -> float:
    """A simulated user's score in [0, 1]: control a little better on average."""
    mean = 0.80 if variant == "control" else 0.72
    return min(1.0, max(0.0, rng.gauss(mean, 0.15)))


def run(plot: Path, workdir: Path, users: int = 200, seed: int = 13) -> str:
    """Run the experiment; return the usage table as printed."""
    ledger = workdir / "usage.db"
    rng = random.Random(seed)
    with StandinServer(OpenAIResponder()) as server:
        config = demo_config(server.url, ledger)
        with Router(config) as router:
            for i in range(users):
                user = f"user-{i:03d}"
                resp = router.chat(ChatRequest(
                    messages=[Message.user(f"Where is my order #{1000 + i}?")],
                    routing=RoutingHints(agent="support_agent", tags={"user": user})))
                router.feedback(resp.call_id or "", score=round(rating(resp.variant or "", rng), 3))
    cfg_file = workdir / "polyroute.yaml"
    cfg_file.write_text(yaml.safe_dump(config))
    plot.parent.mkdir(parents=True, exist_ok=True)
    result = CliRunner().invoke(cli, ["--config", str(cfg_file), "usage", "--experiment",
                                      "cheaper_model", "--plot", str(plot)],
                                env={"COLUMNS": "160"})
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return result.output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="where the PNG goes")
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(run(args.plot, Path(tmp), users=args.users), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
