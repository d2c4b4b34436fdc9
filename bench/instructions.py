"""Instructions per routed call, counted by valgrind (callgrind): a before/after that
the machine's load does not move, unlike a timing on a shared 2-core box.

    bench/.venv/bin/python bench/instructions.py                      # this tree
    bench/.venv/bin/python bench/instructions.py --tree /tmp/old      # another checkout
    bench/.venv/bin/python bench/instructions.py --calls 100 achat astream
    bench/.venv/bin/python bench/instructions.py --ablate               # where achat's go
    bench/.venv/bin/python bench/instructions.py --ablate no_parse,no_CostGuard

Each path (``achat``, ``chat``, ``astream``, ``stream``) runs on the benchmark's
router (every feature on, ``bench/polyroute_features.py``) with a transport that
answers at once (components.py's: the async stream is the fake server's 15-event
SSE body framed by the transport's decoder, the sync one ten events already
framed), so only polyroute's own work is counted. A child process warms up,
collects and disables the garbage collector (a collection landing in one run and
not the other would swamp the difference), turns callgrind's instrumentation on,
makes N calls and exits; the calling thread's count is the figure (the ledger
writer's varies with how its rows batched, so it is shown apart). The
figure is (count with N calls - count with none) / N. Needs ``valgrind``.

``--ablate`` counts ``achat`` once per row of ``bench/ablation.py`` (each piece
replaced by a free stand-in) and prints what each piece costs in instructions: the
ablation's answer without the machine's noise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PATHS = ("achat", "chat", "astream", "stream")


def _events() -> list[Any]:
    from polyroute.providers.base import StreamEvent

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Any:
        return StreamEvent(data=json.dumps({
            "id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
        }))

    usage = {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
    return [chunk({"role": "assistant", "content": ""}),
            *[chunk({"content": f"w{i} "}) for i in range(8)],
            chunk({}, "stop", usage=usage), StreamEvent(data="[DONE]")]


def child(path: str, calls: int, row: str = "base") -> None:
    sys.path.insert(0, str(HERE))
    import ablation
    import clients
    from components import FixedStreamTransport
    from polyroute_features import features_config

    from polyroute.router import Router

    events = _events()
    ablation._patch(row)  # "base": nothing taken out

    class Instant(FixedStreamTransport):
        # astream: the fake server's 15-event SSE body in one read, framed by the
        # transport's own decoder (components.py's). stream: ten events already
        # framed, handed up as one batch (as Transport does).
        @contextmanager
        def stream(self, req: Any, timeouts: Any, **kw: Any) -> Iterator[Any]:
            yield None, iter([list(events)])

    async def main() -> None:
        ctx = clients.Ctx(base_url="http://127.0.0.1:9/v1", fail_url="http://127.0.0.1:9/fail/v1")
        router = Router(features_config(ctx)[0], transport=Instant())  # type: ignore[arg-type]
        request = clients._request(agent="bench")
        streamed = request.model_copy(update={"stream": True})

        async def one() -> None:
            if path == "achat":
                await router.achat(request)
            elif path == "chat":
                router.chat(request)
            elif path == "astream":
                async for _ in router.astream(streamed):
                    pass
            else:
                for _ in router.stream(streamed):
                    pass

        for _ in range(50):
            await one()
        gc.collect()
        gc.disable()
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())],
                       capture_output=True, timeout=120, check=False)
        for _ in range(calls):
            await one()
        os._exit(0)  # count nothing of the teardown

    asyncio.run(main())


def count(path: str, calls: int, tree: Path | None, row: str = "base") -> tuple[int, int]:
    """(the calling thread's instructions, every thread's). The calling thread's count
    repeats nearly to the instruction; the ledger writer's depends on how its rows
    happened to batch, so it is shown, not compared."""
    env = {**os.environ, "PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}
    if tree is not None:
        paths = [tree / "src", *sorted((tree / "plugins").glob("polyroute-*/src"))]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
             f"--callgrind-out-file={out}", sys.executable, __file__, "--child", path,
             str(calls), row],
            env=env, capture_output=True, check=True, timeout=1800,
        )
        per_thread: dict[int, int] = {}
        for f in Path(tmp).glob("callgrind.out*"):
            lines = f.read_text(errors="replace").splitlines()
            thread = next((int(x.split()[1]) for x in lines if x.startswith("thread:")), 1)
            totals = [int(x.split()[1]) for x in lines if x.startswith(("summary:", "totals:"))]
            if totals:
                per_thread[thread] = max(totals)
    if 1 not in per_thread:
        raise RuntimeError(f"no count for the main thread in callgrind's output for {path}")
    return per_thread[1], sum(per_thread.values())


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help=f"any of {', '.join(PATHS)} (default: all)")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--tree", type=Path, default=None,
                    help="measure another checkout's polyroute (its src/ and plugins/*/src)")
    ap.add_argument("--ablate", nargs="?", const="all", default=None, metavar="ROWS",
                    help="achat per ablation row (comma-separated; default: every row)")
    a = ap.parse_args()
    tree = a.tree.resolve() if a.tree else None
    if a.ablate is not None:
        ablate(a.ablate, a.calls, tree)
        return
    if unknown := set(a.paths) - set(PATHS):
        ap.error(f"unknown path(s) {sorted(unknown)}: choose from {', '.join(PATHS)}")
    print(f"| path | instructions per call, calling thread ({tree or 'this tree'}) "
          "| every thread (the ledger writer's share varies with batching) |\n|---|---|---|")
    for path in a.paths or PATHS:
        (main_n, all_n), (main_0, all_0) = count(path, a.calls, tree), count(path, 0, tree)
        print(f"| {path} | {(main_n - main_0) / a.calls:,.0f} "
              f"| {(all_n - all_0) / a.calls:,.0f} |", flush=True)


def ablate(rows: str, calls: int, tree: Path | None) -> None:
    sys.path.insert(0, str(HERE))
    from ablation import ROWS

    names = [r for r in ROWS if r != "base"] if rows == "all" else rows.split(",")
    if unknown := set(names) - set(ROWS):
        raise SystemExit(f"unknown row(s) {sorted(unknown)}; rows: {', '.join(ROWS)}")

    def per_call(row: str) -> float:
        return (count("achat", calls, tree, row)[0] - count("achat", 0, tree, row)[0]) / calls

    base = per_call("base")
    print(f"| taken out of Router.achat ({tree or 'this tree'}) | instructions per call "
          f"| saves | share |\n|---|---|---|---|\n| nothing (every feature on) | {base:,.0f} "
          "| — | — |", flush=True)
    for name in names:
        n = per_call(name)
        print(f"| {ROWS[name]} | {n:,.0f} | {base - n:,.0f} | {(base - n) / base:.1%} |",
              flush=True)


if __name__ == "__main__":
    main()
