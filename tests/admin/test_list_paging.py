"""Registry lists filter and paginate in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.admin import Registry, RegistryValidationError


def _provider(i: int, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identifier": f"p{i:02d}", "name": f"P {i}", "provider_type": "openai",
        "api_endpoint": f"https://api{i}.example.test/v1", "auth_method": "custom",
        "capabilities": ["tools"],
    }
    data.update(over)
    return data


@pytest.fixture
def seeded(reg: Registry) -> Registry:
    for i in range(7):
        over: dict[str, Any] = {}
        if i % 2:
            over["status"] = "inactive"
        if i % 3 == 0:
            over["capabilities"] = ["tools", "vision"]
        if i == 4:
            over["provider_type"] = "ollama"
        reg.create("provider", _provider(i, **over), actor="t")
    return reg


def test_pages_cover_every_row_once_in_id_order(seeded: Registry) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        rows, total = seeded.list_page("provider", limit=3, offset=offset)
        assert total == 7
        seen += [r.identifier for r in rows]
        offset += len(rows)
        if offset >= total:
            break
    assert seen == [f"p{i:02d}" for i in range(7)]
    assert seeded.list_page("provider", limit=3, offset=99) == ([], 7)


def test_filters_run_with_paging_and_count_the_filtered_rows(seeded: Registry) -> None:
    rows, total = seeded.list_page("provider", limit=2, status="inactive")
    assert total == 3 and [r.identifier for r in rows] == ["p01", "p03"]
    rows, total = seeded.list_page("provider", capabilities="vision")
    assert total == 3 and [r.identifier for r in rows] == ["p00", "p03", "p06"]
    rows, total = seeded.list_page("provider", provider_type="ollama", status="active")
    assert total == 1 and rows[0].identifier == "p04"
    # a filter left as None is no filter; an unknown one a typed error
    assert seeded.list_page("provider", status=None)[1] == 7
    with pytest.raises(RegistryValidationError, match="filtered by 'colour'"):
        seeded.list("provider", colour="red")


def test_capability_filter_matches_whole_items_only(seeded: Registry) -> None:
    # 'vis' and the LIKE wildcards must not match 'vision'
    for needle in ("vis", "%", "_ision", 'vision"'):
        assert seeded.list_page("provider", capabilities=needle)[1] == 0


def test_list_without_arguments_is_unchanged(seeded: Registry) -> None:
    assert [r.identifier for r in seeded.list("provider")] == [f"p{i:02d}" for i in range(7)]
