"""``python -m polyroute.admin upgrade [URL]`` / ``check [URL]`` / ``verify [URL]``.

The same as ``polyroute admin db upgrade|check`` and ``admin audit verify`` without
the CLI's dependencies (a container that only has the admin extra, say); the
``polyroute admin db upgrade`` form also backs a SQLite file up first.
"""

from __future__ import annotations

import sys

from polyroute.admin.audit import verify_chain
from polyroute.admin.db import (
    check_revision,
    default_url,
    make_engine,
    session_factory,
    upgrade_to_head,
)
from polyroute.errors import PolyrouteError

USAGE = "usage: python -m polyroute.admin {upgrade|check|verify} [URL]"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("upgrade", "check", "verify"):
        print(USAGE, file=sys.stderr)
        return 2
    url = args[1] if len(args) > 1 else default_url()
    try:
        engine = make_engine(url)
        safe = engine.url.render_as_string(hide_password=True)
        if args[0] == "upgrade":
            print(f"{safe}: at revision {upgrade_to_head(engine)}")
            return 0
        print(f"{safe}: schema at revision {check_revision(engine)}")
        if args[0] == "verify":
            with session_factory(engine)() as session:
                report = verify_chain(session)
            print(report)
            return 0 if report.ok else 1
        return 0
    except PolyrouteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
