"""The built-in secret backends, registered on import (``polyroute.config`` imports
this package, so any config can use them):

- ``file:PATH`` — a file only its owner may read (Docker/Kubernetes secrets);
- ``aws-sm:NAME[#FIELD]`` — AWS Secrets Manager (``pip install 'polyroute[aws-secrets]'``);
- ``vault:MOUNT/PATH#FIELD`` — HashiCorp Vault KV v2 (``pip install 'polyroute[vault]'``).

Each is cached for ``ttl`` seconds (``POLYROUTE_SECRET_TTL`` overrides: 300 by
default, 30 for files) and re-read when a provider answers 401/403. The vendor
SDKs are imported on the first read, never at import.
"""

from __future__ import annotations

from polyroute.secret_backends.aws import AwsSecretsManagerBackend
from polyroute.secret_backends.file import FileBackend
from polyroute.secret_backends.vault import VaultBackend
from polyroute.secret_refs import register_backend

__all__ = ["AwsSecretsManagerBackend", "FileBackend", "VaultBackend", "register_builtin"]


def register_builtin() -> None:
    for backend in (FileBackend(), AwsSecretsManagerBackend(), VaultBackend()):
        register_backend(backend)


register_builtin()
