"""Profile one client's hot path against the fake server (for docs/benchmark.md).

    bench/.venv/bin/python bench/profiling.py polyroute                    # pyinstrument
    bench/.venv/bin/python bench/profiling.py polyroute --profiler cprofile
    bench/.venv/bin/python bench/profiling.py routed_chat_model --calls 3000
    bench/.venv/bin/python bench/profiling.py polyroute --profiler pyspy   # sampling, native

``polyroute_instant`` and ``routed_chat_model_instant`` isolate polyroute's own
costs (a transport that answers at once, no socket); ``polyroute_httpx`` shows
what the httpx alternative under ``achat`` costs (~0.8 ms of client CPU per call). Output goes to
bench/results/profile-<client>-<profiler>.txt (and .svg for py-spy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402


async def loop(client: clients.Client, calls: int, max_s: float) -> tuple[int, float]:
    deadline = time.perf_counter() + max_s
    c0 = time.process_time()
    n = 0
    for n in range(1, calls + 1):  # noqa: B007
        await client.call()
        if time.perf_counter() > deadline:
            break
    return n, (time.process_time() - c0) / n * 1e6


async def _instant(ctx: clients.Ctx, adapter: bool) -> clients.Client:
    """polyroute with a transport that answers at once: only polyroute's own work remains."""
    from components import FixedTransport

    router, on = await clients._router(ctx, transport=FixedTransport())
    request = clients._request(agent="bench")
    if adapter:
        from polyroute.langchain import RoutedChatModel

        llm = RoutedChatModel(router=router, agent="bench")
        msgs = clients._lc_messages()
        return clients.Client(lambda: llm.ainvoke(msgs), router.aclose, notes=on)
    return clients.Client(lambda: router.achat(request), router.aclose, notes=on)


EXTRA = {
    "polyroute_instant": lambda ctx: _instant(ctx, adapter=False),
    "routed_chat_model_instant": lambda ctx: _instant(ctx, adapter=True),
}


async def run(args: argparse.Namespace, base: str) -> str:
    ctx = clients.Ctx(base_url=base + "/v1", fail_url=base + "/fail/v1")
    factory = EXTRA.get(args.client) or clients.FACTORIES[args.client]
    client = await factory(ctx)
    try:
        await loop(client, 300, 5.0)  # warm-up
        if args.profiler == "pyinstrument":
            from pyinstrument import Profiler

            prof = Profiler(interval=0.0001, async_mode="enabled")
            prof.start()
            n, cpu = await loop(client, args.calls, args.seconds)
            prof.stop()
            text = prof.output_text(unicode=True, color=False, show_all=False)
        elif args.profiler == "cprofile":
            import cProfile
            import io
            import pstats

            pr = cProfile.Profile()
            pr.enable()
            n, cpu = await loop(client, args.calls, args.seconds)
            pr.disable()
            buf = io.StringIO()
            st = pstats.Stats(pr, stream=buf)
            st.sort_stats("tottime").print_stats(45)
            text = buf.getvalue()
        else:  # pyspy: sample this process from outside, native frames off
            out = HERE / "results" / f"profile-{args.client}-pyspy.txt"
            spy = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(os.getpid()),
                 "--rate", "2000", "--format", "raw", "--output", str(out),
                 "--duration", str(int(args.seconds) + 1), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            await asyncio.sleep(0.5)
            n, cpu = await loop(client, 10**9, args.seconds)
            spy.wait(30)
            text = f"py-spy collapsed stacks written to {out}\n"
        head = f"{args.client}: {n} sequential calls, {cpu:.0f} µs CPU per call (profiled)"
        return f"{head}\n\n{text}"
    finally:
        await client.aclose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=sorted([*clients.FACTORIES, *EXTRA]))
    ap.add_argument("--profiler", choices=["pyinstrument", "cprofile", "pyspy"],
                    default="pyinstrument")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        server_cpu = max(os.sched_getaffinity(0) | {1})
    else:
        server_cpu = None
    cmd = [sys.executable, str(HERE / "fakeserver.py"), "--watch-pid", str(os.getpid()),
           "--max-seconds", "300"] + (["--cpu", str(server_cpu)] if server_cpu else [])
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        text = asyncio.run(run(args, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(5)
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"profile-{args.client}-{args.profiler}.txt"
    if args.profiler != "pyspy":
        out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
