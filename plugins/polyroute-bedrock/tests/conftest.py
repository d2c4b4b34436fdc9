"""Shared fixtures for the Bedrock plugin tests: no real AWS config is ever read, and the
``aws-eventstream`` framing is registered the way the router registers it (through the
plugin's hook), so streams sent through polyroute's ``Transport`` decode with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from polyroute.plugins import PluginRegistry
from polyroute_bedrock import plugin as bedrock_plugin


@pytest.fixture(scope="session", autouse=True)
def _aws_eventstream_framing() -> None:
    PluginRegistry.create(load_entrypoints=False, plugins=[bedrock_plugin])


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    # never read the developer's ~/.aws, never reach the instance-metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
