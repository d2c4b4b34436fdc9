"""``vault:MOUNT/PATH#FIELD``: HashiCorp Vault's KV version 2 engine, through hvac.

``vault:secret/llm/openai#api_key`` reads field ``api_key`` of the latest version
of ``llm/openai`` on the ``secret`` mount (``GET /v1/secret/data/llm/openai``).
The server and token come from ``VAULT_ADDR`` and ``VAULT_TOKEN`` (and
``VAULT_NAMESPACE``), as the vault CLI reads them. A soft-deleted latest version
is an error, not an empty key.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from polyroute.errors import MissingSecretError
from polyroute.secret_backends.common import field_of, split_field, ttl, vendor

__all__ = ["VaultBackend"]


class VaultBackend:
    scheme = "vault"

    def __init__(self) -> None:
        self._client: Any = None
        self._made_for: tuple[str | None, ...] = ()
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        return ttl(300.0)

    def client(self) -> Any:
        settings = (os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN"),
                    os.environ.get("VAULT_NAMESPACE"))
        with self._lock:
            if self._client is None or settings != self._made_for:
                if not settings[0]:
                    raise MissingSecretError("a vault: secret reference needs VAULT_ADDR",
                                             fix="export VAULT_ADDR=https://vault.example:8200")
                hvac = vendor("hvac", feature="a vault: secret reference", extra="vault")
                self._client = hvac.Client(url=settings[0], token=settings[1],
                                           namespace=settings[2])
                self._made_for = settings
            return self._client

    def read(self, reference: str) -> str:
        path, field = split_field(reference)
        mount, _, rest = path.strip("/").partition("/")
        if not mount or not rest:
            raise MissingSecretError(f"vault:{reference} names no secret under a mount",
                                     fix="write vault:MOUNT/PATH#FIELD, e.g. "
                                         "vault:secret/llm/openai#api_key")
        answer = self.client().secrets.kv.v2.read_secret_version(
            path=rest, mount_point=mount, raise_on_deleted_version=True)
        data = (answer or {}).get("data", {}).get("data")
        if not isinstance(data, dict):
            raise MissingSecretError(f"vault:{path} has no data", fix="write the secret first")
        return field_of(data, field, where=f"vault:{path}")
