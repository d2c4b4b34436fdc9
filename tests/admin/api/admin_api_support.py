"""Helpers of the admin API tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from polyroute.admin import Registry
from polyroute.admin.api import AdminSettings

PUBLIC_IP = "93.184.216.34"
API = "/api/admin"


class Dns:
    """The SSRF guard's resolver: a table, public by default; never the network."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host.endswith(".invalid"):
            raise OSError("Name or service not known")
        return self.table.get(host, [PUBLIC_IP])


@dataclass
class Api:
    client: TestClient
    reg: Registry
    settings: AdminSettings
    tokens: dict[str, str]
    dns: Dns

    def headers(self, role: str | None = "admin", **extra: str) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        out.update(extra)
        return out

    def call(self, method: str, path: str, role: str | None = "admin", *,
             if_match: str | None = None, **kwargs: Any) -> Any:
        headers = self.headers(role, **kwargs.pop("headers", {}))
        if if_match is not None:
            headers["If-Match"] = if_match
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def get(self, path: str, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("GET", path, role, **kw)

    def post(self, path: str, body: Any = None, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("POST", path, role, json=body, **kw)

    def put(self, path: str, body: Any, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("PUT", path, role, json=body, **kw)

    def delete(self, path: str, role: str | None = "admin", **kw: Any) -> Any:
        return self.call("DELETE", path, role, **kw)


PROVIDER = {
    "identifier": "acme", "name": "Acme AI", "provider_type": "openai",
    "api_endpoint": "https://api.acme.example/v1", "api_key": "sk-acme-0123456789-SECRET-wxyz",
}


def error_shape(body: Any) -> None:
    """Every error body has exactly this shape."""
    assert set(body) == {"error", "timestamp", "requestId"}, body
    assert set(body["error"]) == {"code", "message", "details", "field", "suggestions"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["suggestions"], list)
    assert isinstance(body["requestId"], str) and body["requestId"]
