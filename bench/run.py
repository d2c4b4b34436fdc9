"""Run the benchmark: polyroute against the raw HTTP floor and its peers, in one run.

    make bench                       # or: bench/.venv/bin/python bench/run.py
    bench/.venv/bin/python bench/run.py --quick          # one round, fewer calls
    bench/.venv/bin/python bench/run.py --only polyroute,httpx,aiohttp

Starts the fake OpenAI server (bench/fakeserver.py) pinned to one core, then
measures every client in a fresh worker process (bench/worker.py) pinned to
the other, ``--rounds`` times in interleaved rounds, and keeps each metric's
median. Also times imports in fresh interpreters and the routing decision with
1,000 deployments (bench/plan_probe.py). Prints the table, and writes
bench/results/latest.json and bench/results/latest.md. Loopback only; every
loop is bounded in calls and seconds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

X = "\N{MULTIPLICATION SIGN}"
MINUS = "\N{MINUS SIGN}"
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PY = sys.executable

RAW = ["httpx", "httpx2", "aiohttp", "pyreqwest", "rnet", "aiosonic", "niquests", "curl_cffi"]
PEERS = ["openai", "langchain_openai", "litellm"]
POLYROUTE = ["polyroute", "routed_chat_model", "polyroute_fresh_request", "polyroute_httpx",
             "polyroute_pyreqwest", "polyroute_redis_state",
             "polyroute_cache_hit", "polyroute_failover", "polyroute_failed_only", "httpx_500"]
STREAMS = ["aiohttp_stream", "polyroute_stream", "routed_chat_model_stream",
           "langchain_openai_stream"]
SEQUENTIAL_ONLY = {"polyroute_failover", "polyroute_failed_only", "httpx_500"}

LABELS = {
    "httpx": "raw httpx AsyncClient (the stack's floor)",
    "httpx2": "raw httpx2 AsyncClient",
    "aiohttp": "raw aiohttp ClientSession",
    "pyreqwest": "raw pyreqwest (Rust reqwest)",
    "rnet": "raw rnet (Rust)",
    "aiosonic": "raw aiosonic",
    "niquests": "raw niquests AsyncSession",
    "curl_cffi": "raw curl_cffi AsyncSession",
    "openai": "openai AsyncOpenAI (max_retries=0)",
    "langchain_openai": "langchain-openai ChatOpenAI.ainvoke",
    "litellm": "LiteLLM Router.acompletion",
    "polyroute": "polyroute Router.achat (all features on)",
    "routed_chat_model": "polyroute RoutedChatModel.ainvoke",
    "polyroute_fresh_request": "polyroute Router.achat, ChatRequest built per call",
    "polyroute_httpx": "polyroute Router.achat over httpx (async_http=\"httpx\")",
    "polyroute_pyreqwest": "polyroute Router.achat over pyreqwest (async_http=\"pyreqwest\")",
    "polyroute_redis_state": "polyroute Router.achat, state.backend: redis",
    "polyroute_cache_hit": "polyroute cache hit",
    "polyroute_failover": "polyroute failover (500 -> fallback)",
    "polyroute_failed_only": "polyroute failed call alone (500, no fallback)",
    "httpx_500": "raw httpx, 500 answer",
    "aiohttp_stream": "stream: raw aiohttp, SSE decoded line by line",
    "polyroute_stream": "stream: polyroute Router.astream (all features on)",
    "routed_chat_model_stream": "stream: polyroute RoutedChatModel.astream",
    "langchain_openai_stream": "stream: langchain-openai ChatOpenAI.astream",
}

# What "import time" means for each client: the import a user's program does.
IMPORTS = {
    "httpx": "import httpx",
    "httpx2": "import httpx2",
    "aiohttp": "import aiohttp",
    "pyreqwest": "from pyreqwest.client import ClientBuilder",
    "rnet": "import rnet",
    "aiosonic": "import aiosonic",
    "niquests": "import niquests",
    "curl_cffi": "from curl_cffi.requests import AsyncSession",
    "openai": "from openai import AsyncOpenAI",
    "langchain_openai": "from langchain_openai import ChatOpenAI",
    "litellm": "from litellm import Router",
    "polyroute": "import polyroute",
    "polyroute_router": (
        "from polyroute.router import Router; "
        "from polyroute.plugins.manager import default_registry; default_registry()"
    ),
    "routed_chat_model": "from polyroute.langchain import RoutedChatModel",
}
IMPORT_OF = {"polyroute_fresh_request": "polyroute_router", "polyroute_httpx": "polyroute_router",
             "polyroute_pyreqwest": "polyroute_router", "polyroute_redis_state": "polyroute_router",
             "polyroute_cache_hit": "polyroute_router", "polyroute_failover": "polyroute_router",
             "polyroute": "polyroute_router", "polyroute_stream": "polyroute_router",
             "aiohttp_stream": "aiohttp", "routed_chat_model_stream": "routed_chat_model",
             "langchain_openai_stream": "langchain_openai"}

PACKAGES = ["polyroute", "httpx", "httpx2", "aiohttp", "pyreqwest", "rnet", "aiosonic", "niquests",
            "curl_cffi", "openai", "langchain-openai", "langchain-core", "litellm", "pydantic",
            "pydantic-core", "tenacity", "pluggy", "uvloop"]


# --- machine -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    plugins = sorted(
        d.metadata["Name"] for d in metadata.distributions()
        if (d.metadata["Name"] or "").startswith("polyroute-")
    )
    root = TREE or HERE.parent
    try:
        rev = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--",
                                "src", "plugins"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev, dirty = "", ""
    tree = (f"{root} (given with --tree)" if TREE else
            f"this checkout at {rev or '?'}" + (" + uncommitted changes in src/ or plugins/"
                                                if dirty else ""))
    return {
        "tree": tree,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem,
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "packages": versions, "polyroute_plugins": plugins,
    }


def busy_jiffies() -> int | None:
    """Machine-wide busy CPU time so far, in clock ticks (Linux)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(f) - f[3] - (f[4] if len(f) > 4 else 0)  # all but idle and iowait


def own_cpu() -> float:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pin_plan() -> tuple[int | None, int | None]:
    """(server core, client core), or Nones when the machine will not pin."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return cores[-1], cores[0]


# --- processes -----------------------------------------------------------------------


class Server:
    def __init__(self, cpu: int | None, max_seconds: float) -> None:
        cmd = [PY, str(HERE / "fakeserver.py"), "--port", "0", "--watch-pid", str(os.getpid()),
               "--max-seconds", str(max_seconds)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.stop()
            raise RuntimeError("fake server did not start")
        self.port = int(line[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.fail_url = f"http://127.0.0.1:{self.port}/fail/v1"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_worker(client: str, server: Server, cpu: int | None,
               a: argparse.Namespace) -> dict[str, Any]:
    cmd = [PY, str(HERE / "worker.py"), "--client", client, "--base-url", server.base_url,
           "--fail-url", server.fail_url, "--server-pid", str(server.proc.pid),
           "--seq", str(a.seq), "--seq-seconds", str(a.seq_seconds),
           "--calls", str(a.calls), "--conc-seconds", str(a.conc_seconds),
           "--concurrency", "1" if client in SEQUENTIAL_ONLY else str(a.concurrency)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.worker_timeout,
                           env=_env())
    except subprocess.TimeoutExpired:
        return {"client": client, "error": f"worker timed out after {a.worker_timeout}s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    return {"client": client, "error": f"worker exited {p.returncode}: {p.stderr[-600:]}"}


TREE: Path | None = None  # --tree: benchmark another checkout's polyroute


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if TREE is not None:
        paths = [TREE / "src", *sorted((TREE / "plugins").glob("polyroute-*/src"))]
        env["PYTHONPATH"] = os.pathsep.join(
            [str(p) for p in paths] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("LITELLM_LOG", "ERROR")
    env.pop("PYTHONSTARTUP", None)
    return env


def import_probe(stmt: str, cpu: int | None, runs: int) -> dict[str, Any]:
    code = (
        "import os,sys,time,resource\n"
        f"cpu={cpu!r}\n"
        "if cpu is not None and hasattr(os,'sched_setaffinity'): os.sched_setaffinity(0,{cpu})\n"
        "t=time.perf_counter()\n"
        f"{stmt}\n"
        "d=time.perf_counter()-t\n"
        "print(d, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)\n"
    )
    times, rss = [], []
    for _ in range(runs):
        p = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120,
                           env=_env())
        if p.returncode != 0:
            return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"}
        d, r = p.stdout.split()
        times.append(float(d) * 1e3)
        rss.append(float(r))
    return {"ms": statistics.median(times), "ms_min": min(times), "rss_mb": statistics.median(rss)}


def plan_probe(cpu: int | None) -> dict[str, Any]:
    cmd = [PY, str(HERE / "plan_probe.py")] + ([str(cpu)] if cpu is not None else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env())
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-600:]}
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- summarising ---------------------------------------------------------------------


def _median(values: list[Any]) -> Any:
    vals = [v for v in values if isinstance(v, int | float) and v == v]
    return statistics.median(vals) if vals else None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "sequential" in r]
    if not ok:
        first = runs[0] if runs else {}
        return {k: first[k] for k in ("error", "not_present", "trace") if k in first}
    out: dict[str, Any] = {"rounds": len(ok), "notes": ok[-1].get("notes", {})}
    for phase in ("sequential", "concurrent"):
        keys = {k for r in ok if phase in r for k in r[phase]}
        if keys:
            out[phase] = {k: _median([r[phase].get(k) for r in ok if phase in r]) for k in keys}
    out["peak_rss_mb"] = _median([r.get("peak_rss_mb") for r in ok])
    out["errors"] = sum(r.get(p, {}).get("errors", 0)
                        for r in ok for p in ("sequential", "concurrent"))
    return out


def g(d: dict[str, Any] | None, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def fmt(v: Any, spec: str = ".0f", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return f"{v:{spec}}{suffix}"


def analyse(summary: dict[str, Any], imports: dict[str, Any],
            plan: dict[str, Any]) -> dict[str, Any]:
    raw = {c: summary[c] for c in RAW if g(summary.get(c), "concurrent", "rps")}
    floor = max(raw, key=lambda c: raw[c]["concurrent"]["rps"]) if raw else None
    pr = summary.get("polyroute", {})
    httpx = summary.get("httpx", {})
    lite = summary.get("litellm", {})
    rcm, lco = summary.get("routed_chat_model", {}), summary.get("langchain_openai", {})
    fo, fonly = summary.get("polyroute_failover", {}), summary.get("polyroute_failed_only", {})
    cache = summary.get("polyroute_cache_hit", {})
    targets: list[dict[str, Any]] = []

    def target(name: str, measured: str, met: bool | None, margin: str) -> None:
        targets.append({"target": name, "measured": measured,
                        "met": None if met is None else bool(met), "margin": margin})

    cpu_pr = g(pr, "sequential", "cpu_per_call_us")
    cpu_hx = g(httpx, "sequential", "cpu_per_call_us")
    if cpu_pr and cpu_hx:
        over = cpu_pr - cpu_hx
        target("Router.achat CPU/call ≤ raw httpx + 100 µs",
               f"{cpu_pr:.0f} µs vs httpx {cpu_hx:.0f} µs (+{over:.0f} µs)", over <= 100,
               f"{over - 100:+.0f} µs vs the allowance")
    rps_pr, rps_lite = g(pr, "concurrent", "rps"), g(lite, "concurrent", "rps")
    if rps_pr and rps_lite:
        target(f"Router.achat req/s at c=64 ≥ 5{X} LiteLLM Router",
               f"{rps_pr:.0f} vs {rps_lite:.0f} req/s = {rps_pr / rps_lite:.1f}{X}",
               rps_pr >= 5 * rps_lite, f"{rps_pr / rps_lite / 5:.2f} of the target")
    if rps_pr and floor:
        rf = raw[floor]["concurrent"]["rps"]
        judged = len(raw) > 1 and floor != "httpx"  # a floor of httpx alone is no floor
        target(f"Router.achat req/s at c=64 ≥ 0.5{X} fastest raw client ({floor})",
               f"{rps_pr:.0f} vs {rf:.0f} req/s = {rps_pr / rf:.2f}{X}",
               rps_pr >= 0.5 * rf if judged else None,
               f"{rps_pr / rf / 0.5:.2f} of the target" if judged
               else "not judged: run without the other raw clients")
    a, b = g(rcm, "sequential", "p50_ms"), g(lco, "sequential", "p50_ms")
    ca, cb = g(rcm, "sequential", "cpu_per_call_us"), g(lco, "sequential", "cpu_per_call_us")
    ra, rb = g(rcm, "concurrent", "rps"), g(lco, "concurrent", "rps")
    if a and b and ca and cb:
        target("RoutedChatModel.ainvoke faster than ChatOpenAI.ainvoke (p50 and CPU/call)",
               f"p50 {a:.3f} vs {b:.3f} ms; CPU {ca:.0f} vs {cb:.0f} µs/call; "
               f"c=64 {fmt(ra)} vs {fmt(rb)} req/s", a < b and ca < cb,
               f"p50 {a / b:.2f}{X}, CPU {ca / cb:.2f}{X}, "
               f"c=64 req/s {(ra or 0) / (rb or 1):.2f}{X}")
    imp = g(imports, "polyroute", "ms")
    if imp is not None:
        target("import polyroute ≤ 150 ms", f"{imp:.0f} ms", imp <= 150, f"{imp - 150:+.0f} ms")
    rss = g(imports, "polyroute_router", "rss_mb")
    rss_run = g(pr, "peak_rss_mb")
    if rss is not None:
        worst = max(rss, rss_run or 0)
        target("RSS with every first-party plugin loaded ≤ 80 MB",
               f"{rss:.0f} MB loaded; {fmt(rss_run)} MB peak after the run", worst <= 80,
               f"{worst - 80:+.0f} MB")
    c50 = g(cache, "sequential", "p50_ms")
    if c50 is not None:
        target("cache hit p50 ≤ 300 µs", f"{c50 * 1e3:.0f} µs", c50 * 1e3 <= 300,
               f"{c50 * 1e3 - 300:+.0f} µs")
    else:
        target("cache hit p50 ≤ 300 µs", cache.get("not_present") or cache.get("error") or "—",
               None, "not measurable")
    f50, fail50 = g(fo, "sequential", "p50_ms"), g(fonly, "sequential", "p50_ms")
    raw_ok = g(httpx, "sequential", "p50_ms")
    if f50 and fail50:
        added = f50 - fail50
        target("failover adds ≤ 1 ms beyond the failed call",
               f"failover {f50:.3f} ms {MINUS} the failed call alone {fail50:.3f} ms "
               f"= {added:.3f} ms "
               f"added, the fallback's own round trip included (raw httpx round trip: "
               f"{fmt(raw_ok, '.3f')} ms)", added <= 1.0, f"{added - 1.0:+.3f} ms")
    p50 = g(plan, "route_1000", "p50_us")
    if p50 is not None:
        small = g(plan, "agent_10", "p50_us")
        cost, full = g(plan, "route_1000_cost", "p50_us"), g(plan, "route_1000_full", "p50_us")
        target("routing decision ≤ 50 µs p50 for a 1,000-candidate route (plan + first "
               "candidate)",
               f"{p50:.1f} µs (one route of all 1,000, priority); {fmt(small, '.1f')} µs (agent "
               f"route of 10); {fmt(cost, '.0f')} µs (lowest_cost: first tier of 100 priced); "
               f"{fmt(full, '.0f')} µs (every candidate judged, as route --explain)",
               p50 <= 50, f"{p50 - 50:+.1f} µs on the 1,000-candidate route")
    rps_redis = g(summary.get("polyroute_redis_state"), "concurrent", "rps")
    if rps_pr and rps_redis:
        target(f"Router.achat c=64, state.backend redis ≥ 0.8{X} memory (main table's rows)",
               f"{rps_redis:.0f} vs {rps_pr:.0f} req/s = {rps_redis / rps_pr:.2f}{X}",
               rps_redis >= 0.8 * rps_pr, f"{rps_redis / rps_pr / 0.8:.2f} of the target")
    st_raw, st_pr = summary.get("aiohttp_stream", {}), summary.get("polyroute_stream", {})
    c_raw, c_pr = g(st_raw, "concurrent", "cpu_per_call_us"), g(st_pr, "concurrent",
                                                                 "cpu_per_call_us")
    if c_raw and c_pr:
        target(f"streamed Router.astream CPU/call at c=64 ≤ 1.5{X} the raw client's "
               "(aiohttp, SSE decoded)",
               f"{c_pr:.0f} vs {c_raw:.0f} µs = {c_pr / c_raw:.2f}{X}", c_pr <= 1.5 * c_raw,
               f"{c_pr - 1.5 * c_raw:+.0f} µs vs the allowance")
    st_rcm, st_lco = summary.get("routed_chat_model_stream", {}), summary.get(
        "langchain_openai_stream", {})
    a, b = g(st_rcm, "sequential", "p50_ms"), g(st_lco, "sequential", "p50_ms")
    ca, cb = g(st_rcm, "sequential", "cpu_per_call_us"), g(st_lco, "sequential",
                                                           "cpu_per_call_us")
    if a and b and ca and cb:
        target("RoutedChatModel.astream ahead of ChatOpenAI.astream (p50 and CPU/call)",
               f"p50 {a:.3f} vs {b:.3f} ms; CPU {ca:.0f} vs {cb:.0f} µs/call", a < b and ca < cb,
               f"p50 {a / b:.2f}{X}, CPU {ca / cb:.2f}{X}")
    return {"floor": floor, "targets": targets}


def table(summary: dict[str, Any], imports: dict[str, Any], analysis: dict[str, Any],
          order: list[str]) -> str:
    floor = analysis["floor"]
    f_rps = g(summary.get(floor or ""), "concurrent", "rps")
    f_cpu = g(summary.get(floor or ""), "sequential", "cpu_per_call_us")
    l_rps = g(summary.get("litellm"), "concurrent", "rps")
    hx_cpu = g(summary.get("httpx"), "sequential", "cpu_per_call_us")
    head = (f"| client | seq p50 ms | seq p99 ms | CPU/call µs | CPU {X}floor "
            f"| CPU {MINUS} httpx µs | c=64 req/s | req/s {X}floor | req/s {X}LiteLLM "
            "| c=64 p99 ms | peak RSS MB | import ms |")
    rows = [head, "|" + "---|" * 12]
    for c in order:
        s = summary.get(c)
        if s is None:
            continue
        name = LABELS.get(c, c) + (" **← floor**" if c == floor else "")
        if "sequential" not in s:
            why = s.get("not_present") or s.get("error") or "not measured"
            rows.append(f"| {name} | {'not present' if 'not_present' in s else 'error'}: "
                        f"{why[:90]} |" + " |" * 10)
            continue
        if s.get("errors"):
            name += f" ({s['errors']} failed calls)"
        sq, cc = s["sequential"], s.get("concurrent", {})
        cpu, rps = sq.get("cpu_per_call_us"), cc.get("rps")
        imp = g(imports, IMPORT_OF.get(c, c), "ms")
        rows.append(
            f"| {name} | {fmt(sq.get('p50_ms'), '.3f')} | {fmt(sq.get('p99_ms'), '.3f')} "
            f"| {fmt(cpu)} | {fmt(cpu / f_cpu if cpu and f_cpu else None, '.1f', X)} "
            f"| {fmt(cpu - hx_cpu if cpu and hx_cpu else None, '+.0f')} "
            f"| {fmt(rps)} | {fmt(rps / f_rps if rps and f_rps else None, '.2f', X)} "
            f"| {fmt(rps / l_rps if rps and l_rps else None, '.1f', X)} "
            f"| {fmt(cc.get('p99_ms'), '.1f')} | {fmt(s.get('peak_rss_mb'))} | {fmt(imp)} |"
        )
    return "\n".join(rows)


def targets_table(analysis: dict[str, Any]) -> str:
    rows = ["| target | measured | met? | margin |", "|---|---|---|---|"]
    for t in analysis["targets"]:
        met = "—" if t["met"] is None else ("**met**" if t["met"] else "**not met**")
        rows.append(f"| {t['target']} | {t['measured']} | {met} | {t['margin']} |")
    return "\n".join(rows)


def features_line(summary: dict[str, Any]) -> str:
    notes = g(summary.get("polyroute"), "notes") or {}
    parts = []
    for f in ("routing", "breaker", "rate_limit", "health", "budget", "ledger"):
        v = notes.get(f)
        parts.append(f"{f}: " + ("not present" if v is None else "on" if isinstance(v, dict | str)
                                 and not str(v).startswith("section") else str(v)))
    guards = notes.get("guards")
    built = f". Guards built: {', '.join(guards) or 'none'}." if guards is not None else "."
    return "; ".join(parts) + built


def markdown(m: dict[str, Any], summary: dict[str, Any], imports: dict[str, Any],
             plan: dict[str, Any], analysis: dict[str, Any], order: list[str],
             a: argparse.Namespace, server_busy: float | None) -> str:
    pk = m["packages"]
    versions = ", ".join(f"{k} {v}" for k, v in pk.items() if v)
    busy = f"{server_busy:.0%}" if server_busy is not None else "unknown"
    other = m.get("other_processes_cores")
    noise = ("unknown" if other is None else f"{other:.2f} of a core on average" + (
        " — **the machine was not quiet: treat small differences as noise**" if other > 0.1
        else " (quiet)"))
    return f"""# polyroute benchmark — latest run

- **Date:** {m['date']}
- **Machine:** {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']} \
({m['platform']}); fake server pinned to core {a.server_cpu}, client to core {a.client_cpu}
- **Run:** {a.rounds} round(s), medians; sequential {a.seq} calls (≤ {a.seq_seconds}s); \
concurrency {a.concurrency}, {a.calls} calls (≤ {a.conc_seconds}s); busiest the server's core got \
in any scenario: {busy}; other processes used {noise}
- **polyroute features on:** {features_line(summary)}
- **polyroute measured:** {m['tree']}
- **Plugins installed:** {', '.join(m['polyroute_plugins'])}
- **Versions:** {versions}

{table(summary, imports, analysis, order)}

Floor = the fastest raw client by c=64 throughput in this run. CPU/call = client process CPU
time per sequential call. Import = median time of the client's import in a fresh interpreter.

## Targets

{targets_table(analysis)}

Routing decision (`router.plan` and its first candidate, {g(plan, 'deployments') or '—'} \
deployments): p50 {fmt(g(plan, 'route_1000', 'p50_us'), '.1f')} µs / \
p99 {fmt(g(plan, 'route_1000', 'p99_us'), '.1f')} µs for one route of all 1,000; \
p50 {fmt(g(plan, 'agent_10', 'p50_us'), '.1f')} µs for an agent's route of 10; \
p50 {fmt(g(plan, 'route_1000_cost', 'p50_us'), '.1f')} µs for the 1,000 route under lowest_cost; \
p50 {fmt(g(plan, 'route_1000_full', 'p50_us'), '.1f')} µs with every candidate judged.
"""


# --- main ----------------------------------------------------------------------------


def _backend_rows(module: str, server: Server, a: argparse.Namespace,
                  order: list[str]) -> dict[str, Any] | None:
    """``module.measure`` (bench/state_backends.py: the Redis-state row;
    bench/ledger_backends.py: the PostgreSQL-ledger row of issue 14): Router.achat at
    c=64 on each backend in turn, against this run's fake server."""
    if "polyroute" not in order:
        return None
    measure = importlib.import_module(module).measure
    return measure(server.base_url, server.fail_url, server.proc.pid, a.client_cpu,
                   rounds=a.rounds, concurrency=a.concurrency, calls=a.calls,
                   seconds=a.conc_seconds, env=_env(),
                   log=lambda line: print(line, flush=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seq", type=int, default=1000)
    ap.add_argument("--seq-seconds", type=float, default=2.5)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--conc-seconds", type=float, default=4.0)
    ap.add_argument("--import-runs", type=int, default=3)
    ap.add_argument("--worker-timeout", type=float, default=60.0)
    ap.add_argument("--only", default="", help="comma-separated clients (default: all)")
    ap.add_argument("--quick", action="store_true", help="one round, fewer calls")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    ap.add_argument("--tree", type=Path, default=None,
                    help="measure the polyroute of another checkout (its src/ and plugins/*/src "
                         "go first on PYTHONPATH), e.g. a `git archive` of a commit")
    a = ap.parse_args()
    global TREE
    TREE = a.tree.resolve() if a.tree else None
    if a.quick:
        a.rounds, a.seq, a.calls, a.import_runs = 1, 400, 1500, 1
    order = RAW + PEERS + POLYROUTE + STREAMS
    if a.only:
        wanted = a.only.split(",")
        unknown = set(wanted) - set(order)
        if unknown:
            sys.exit(f"unknown clients: {sorted(unknown)}")
        order = [c for c in order if c in wanted]
    a.server_cpu, a.client_cpu = pin_plan()

    started = time.perf_counter()
    j0, own0 = busy_jiffies(), own_cpu()
    m = machine()
    print(f"polyroute benchmark — {m['date']} — {m['cpu']}, {m['cores']} cores, "
          f"Python {m['python']}")
    server = Server(a.server_cpu, max_seconds=900)
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in order}
    try:
        for r in range(a.rounds):
            for c in order:
                if runs[c] and ("not_present" in runs[c][0] or "error" in runs[c][0]):
                    continue
                t = time.perf_counter()
                res = run_worker(c, server, a.client_cpu, a)
                runs[c].append(res)
                tag = (res.get("error") or res.get("not_present") or
                       f"p50 {fmt(g(res, 'sequential', 'p50_ms'), '.3f')} ms, "
                       f"{fmt(g(res, 'concurrent', 'rps'))} req/s")
                took = time.perf_counter() - t
                print(f"  round {r + 1}/{a.rounds} {c:24} {tag[:110]}  ({took:.1f}s)",
                      flush=True)
        state_rows = _backend_rows("state_backends", server, a, order)
        ledger_rows = _backend_rows("ledger_backends", server, a, order)
    finally:
        server.stop()

    print("  imports (fresh interpreters)...", flush=True)
    keys = sorted({IMPORT_OF.get(c, c) for c in order if IMPORT_OF.get(c, c) in IMPORTS}
                  | ({"polyroute", "polyroute_router"} if "polyroute" in order else set()))
    imports = {k: import_probe(IMPORTS[k], a.client_cpu, a.import_runs) for k in keys}
    print("  routing decision with 1,000 deployments...", flush=True)
    plan = plan_probe(a.client_cpu) if "polyroute" in order else {}

    j1, own1, wall = busy_jiffies(), own_cpu(), time.perf_counter() - started
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    other = (None if j0 is None or j1 is None
             else max(0.0, ((j1 - j0) / tick - (own1 - own0)) / wall))
    m["other_processes_cores"] = other
    summary = {c: summarise(runs[c]) for c in order}
    busy = [g(x, "concurrent", "server_core_busy") for rs in runs.values() for x in rs]
    server_busy = max((b for b in busy if b is not None), default=None)
    analysis = analyse(summary, imports, plan)
    if state_rows:
        analysis["targets"].append(state_rows["target"])
        summary["state_backends"] = state_rows
    if ledger_rows:
        analysis["targets"].append(ledger_rows["target"])
        summary["ledger_backends"] = ledger_rows
    md = markdown(m, summary, imports, plan, analysis, order, a, server_busy)
    print()
    print(md)
    print(f"(whole run: {time.perf_counter() - started:.0f}s)")
    if not a.no_write:
        RESULTS.mkdir(exist_ok=True)
        data = {"machine": m, "settings": {k: v for k, v in vars(a).items()},
                "summary": summary, "imports": imports, "routing_decision": plan,
                "analysis": analysis, "server_core_busy_max": server_busy, "runs": runs}
        (RESULTS / "latest.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
        (RESULTS / "latest.md").write_text(md)
        print(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
