"""Start the OpenAI and Anthropic stand-ins on fixed loopback ports, to try
``polyroute chat`` (and anything else) offline, with no key and no cost.

    python examples/standins.py                 # OpenAI on :8765, Anthropic on :8766
    python examples/standins.py --anthropic-fault 529   # its first answer is a 529

Then point a config at them (docs/cli.md shows one) and, in another shell,
``OPENAI_API_KEY=x ANTHROPIC_API_KEY=x polyroute chat hi --agent pricing_agent``.
Ctrl-C stops them.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from polyroute.testing.standin import Fault, StandinServer
from polyroute_anthropic.standin import AnthropicResponder
from polyroute_openai.standin import OpenAIResponder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openai-port", type=int, default=8765)
    parser.add_argument("--anthropic-port", type=int, default=8766)
    parser.add_argument("--anthropic-fault", type=int, metavar="STATUS",
                        help="answer the Anthropic stand-in's first request with this status")
    args = parser.parse_args(argv)
    openai = StandinServer(OpenAIResponder(), port=args.openai_port)
    anthropic = StandinServer(AnthropicResponder(), port=args.anthropic_port)
    if args.anthropic_fault:
        anthropic.push(Fault.status(args.anthropic_fault))
    with openai, anthropic:
        print(f"OpenAI stand-in:    {openai.url}/v1")
        print(f"Anthropic stand-in: {anthropic.url}")
        print("Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
