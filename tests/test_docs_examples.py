"""Every YAML config shown in README.md and docs/ loads and builds a router."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from polyroute.config import config_from_data
from polyroute.router import Router

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def config_blocks() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for n, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and "providers" in data:
                found.append((f"{path.name}#{n}", block))
    return found


@pytest.mark.parametrize(("where", "block"), config_blocks(), ids=lambda x: x)
def test_documented_config_is_valid(where: str, block: str) -> None:
    config = config_from_data(yaml.safe_load(block), file=where)
    Router(config).close()
