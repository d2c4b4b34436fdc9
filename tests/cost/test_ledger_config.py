"""``ledger.url``: a postgresql:// URL or an ``env:`` reference, anything else a
ConfigError naming the field; its password never shows in the error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.config.loader import config_from_data
from polyroute.errors import ConfigError


def test_a_postgres_url_is_the_ledger_target() -> None:
    cfg = config_from_data({"providers": {}, "ledger": {
        "url": "postgresql+psycopg://u:pw@db:5432/polyroute"}})
    assert cfg.ledger is not None
    assert cfg.ledger.target() == "postgresql://u:pw@db:5432/polyroute"
    assert "pw" not in repr(cfg.ledger)


def test_another_scheme_is_refused_naming_the_field_without_the_password() -> None:
    with pytest.raises(ConfigError) as err:
        config_from_data({"providers": {}, "ledger": {"url": "mysql://u:hunter22@db/x"}})
    text = str(err.value)
    assert "ledger" in text and "url" in text and "postgresql://" in text
    assert "hunter22" not in text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_accepted_or_a_config_error(text: str) -> None:
    try:
        cfg = config_from_data({"providers": {}, "ledger": {"url": text}})
    except ConfigError:
        return
    assert cfg.ledger is not None and cfg.ledger.url is not None
