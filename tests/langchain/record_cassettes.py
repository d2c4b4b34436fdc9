"""Record the LangChain standard-integration cassettes from polyroute's OpenAI stand-in.

    .venv/bin/python tests/langchain/record_cassettes.py [extra pytest args]

Starts ``StandinServer(OpenAIResponder())`` on loopback, runs
``tests/langchain/test_langchain_standard_integration.py`` with
``--record-mode=all`` and ``POLYROUTE_RECORD_VIA_STANDIN=<server url>`` (the
test module points the provider at the stand-in and records the URIs as
``https://api.openai.com/v1/...``), then prepends a provenance comment to each
cassette. Cassettes of tests that no longer exist are removed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from polyroute.testing.standin import StandinServer
from polyroute_openai.standin import OpenAIResponder

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests/langchain/test_langchain_standard_integration.py"
CASSETTES = ROOT / "cassettes" / "langchain_standard_integration"
HEADER = (
    "# Recorded from polyroute's OpenAI-format stand-in "
    "(polyroute_openai.standin.OpenAIResponder), shaped per "
    "https://platform.openai.com/docs/api-reference/chat; re-record against the real API "
    "with: OPENAI_API_KEY=... pytest tests/langchain/test_langchain_standard_integration.py "
    "--record-mode=once\n"
    "# Checked against openai 3.60.0 (ChatCompletion, ChatCompletionChunk, "
    "CompletionCreateParams) by tests/conformance/test_conformance_cassettes.py.\n"
)


def main(argv: list[str]) -> int:
    if CASSETTES.exists():
        shutil.rmtree(CASSETTES)
    with StandinServer(OpenAIResponder()) as server:
        env = {**os.environ, "POLYROUTE_RECORD_VIA_STANDIN": server.url}
        env.pop("OPENAI_API_KEY", None)
        # test_stream_time only benchmarks on replay; recording runs it once, unbenchmarked.
        cmd = [sys.executable, "-m", "pytest", MODULE, "--record-mode=all", "-q",
               "-W", "ignore::pytest_benchmark.logger.PytestBenchmarkWarning", *argv]
        code = subprocess.call(cmd, cwd=ROOT, env=env)
    for path in sorted(CASSETTES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("# Recorded from"):
            path.write_text(HEADER + text, encoding="utf-8")
    print(f"{len(list(CASSETTES.glob('*.yaml')))} cassettes in {CASSETTES.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
